// Element layouts of the numpy arrays the codec carries: simple numeric dtypes and structured dtypes made
// of them. Knows nothing of Python or numpy; the bindings translate numpy dtypes into these.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace milo {

// Keep in sync with python/milo_fast/_dtypes.py (KIND_CODES).
enum class ElemKind : uint8_t { Bool = 0, I8, I16, I32, I64, U8, U16, U32, U64, F16, F32, F64 };

inline std::size_t elem_size(ElemKind k) {
    static const uint8_t sizes[] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 4, 8};
    return sizes[static_cast<int>(k)];
}
constexpr bool is_float(ElemKind k) { return k >= ElemKind::F16; }
inline bool is_signed_int(ElemKind k) { return k >= ElemKind::I8 && k <= ElemKind::I64; }
inline bool is_unsigned_int(ElemKind k) { return k >= ElemKind::U8 && k <= ElemKind::U64; }

struct Field {
    std::size_t offset = 0;
    ElemKind kind = ElemKind::F64;
    bool big_endian = false;  // only meaningful for sizes > 1
};

struct Layout {
    std::size_t itemsize = 0;
    bool structured = false;       // rows are written as JSON lists of field values
    std::vector<Field> fields;     // one entry for a simple dtype
};

// The document's spelling of a simple dtype ("float64", "int8", "bool", "<f8", ">i4", "|u1" ...) -> field.
// Returns false if the spelling is not one the codec carries.
bool simple_dtype_from_name(const char* s, std::size_t n, Field& out);

// Checked product of dims; false past 2^46 items (the product of the non-zero dims, even when a dim is 0).
bool checked_count(const std::vector<int64_t>& shape, uint64_t& out);

}  // namespace milo

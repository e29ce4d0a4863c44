#include "array_layout.hpp"

#include <cstring>

namespace milo {

namespace {
struct NamedKind { const char* name; ElemKind kind; };
const NamedKind kNames[] = {
    {"bool", ElemKind::Bool},   {"int8", ElemKind::I8},     {"int16", ElemKind::I16},
    {"int32", ElemKind::I32},   {"int64", ElemKind::I64},   {"uint8", ElemKind::U8},
    {"uint16", ElemKind::U16},  {"uint32", ElemKind::U32},  {"uint64", ElemKind::U64},
    {"float16", ElemKind::F16}, {"float32", ElemKind::F32}, {"float64", ElemKind::F64},
};
}  // namespace

bool simple_dtype_from_name(const char* s, std::size_t n, Field& out) {
    out = Field{};
    for (const auto& nk : kNames) {
        if (std::strlen(nk.name) == n && std::memcmp(nk.name, s, n) == 0) {
            out.kind = nk.kind;
            return true;
        }
    }
    // numpy's type strings: byte order, kind, size ("<f8", ">i4", "|b1", "=u2")
    if (n != 3) return false;
    char order = s[0], kind = s[1], size = s[2];
    if (order != '<' && order != '>' && order != '|' && order != '=') return false;
    int sz = size - '0';
    if (sz != 1 && sz != 2 && sz != 4 && sz != 8) return false;
    int idx = -1;
    switch (kind) {
        case 'b': case '?': if (sz == 1) idx = 0; break;
        case 'i': idx = sz == 1 ? 1 : sz == 2 ? 2 : sz == 4 ? 3 : 4; break;
        case 'u': idx = sz == 1 ? 5 : sz == 2 ? 6 : sz == 4 ? 7 : 8; break;
        case 'f': idx = sz == 2 ? 9 : sz == 4 ? 10 : sz == 8 ? 11 : -1; break;
        default: break;
    }
    if (idx < 0) return false;
    out.kind = static_cast<ElemKind>(idx);
    out.big_endian = (order == '>') && sz > 1;
    return true;
}

// At most 2^46 items (times an itemsize of at most 65536 bytes, still below 2^63 bytes): far beyond what a
// document can hold, and never an overflow for numpy.
constexpr uint64_t kMaxItems = uint64_t(1) << 46;

bool checked_count(const std::vector<int64_t>& shape, uint64_t& out) {
    // numpy refuses shapes whose non-zero dimensions multiply past its index range even when another
    // dimension is zero, so the product of the non-zero dimensions must stay in range too.
    uint64_t c = 1;
    bool zero = false;
    for (int64_t d : shape) {
        if (d < 0) return false;
        if (d == 0) { zero = true; continue; }
        if (__builtin_mul_overflow(c, static_cast<uint64_t>(d), &c) || c > kMaxItems) return false;
    }
    out = zero ? 0 : c;
    return true;
}

}  // namespace milo

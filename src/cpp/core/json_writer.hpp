// Writing JSON text: strings, numbers, and numeric arrays straight from their buffers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "array_layout.hpp"
#include "out_buf.hpp"

namespace milo {

struct ArrayView {
    const uint8_t* data = nullptr;
    std::vector<int64_t> shape;
    std::vector<int64_t> strides;  // bytes, may be negative or zero
    Layout layout;
};

// Appends a JSON string literal (with quotes) for the UTF-8 bytes [s, s+n). Only '"', '\\' and control
// characters are escaped; other UTF-8 is copied as is.
void write_json_string(OutBuf& out, const char* s, std::size_t n);

// Appends a double / int as JSON number text. Non-finite doubles are written as NaN, Infinity, -Infinity.
void write_double(OutBuf& out, double v);
void write_int64(OutBuf& out, int64_t v);
void write_uint64(OutBuf& out, uint64_t v);

// Newline and indentation for `level` when indent >= 0; nothing when indent < 0.
void write_newline(OutBuf& out, int indent, int level);

// Appends the nested-list text of the array (a bare value for 0-d). Non-finite floats are written as
// tokens (NaN, Infinity, -Infinity) or, with strict, as strings ("NaN", ...). With indent >= 0, each
// innermost list (or structured row) is on one line, outer dimensions one item per line.
// Returns false, with `out` as it was, when some float element is a NaN other than the canonical quiet
// NaN (text cannot carry it; the caller writes the base64 envelope instead).
bool write_array_text(OutBuf& out, const ArrayView& a, bool strict, int indent, int level);

// Appends the base64 text (with quotes) of the array's elements in C order, little-endian.
void write_array_base64(OutBuf& out, const ArrayView& a);

// Writes the whole envelope of an array: with b64 false the PyMilo text envelope (list, dtype, shape, data
// structure), or the base64 envelope (dtype, shape, [data structure,] data last) when b64 is true or text
// cannot carry one of its NaNs. dtype_json is the dtype's JSON text as it appears at level + 1; scalar marks
// a numpy.generic. Formatting (indent < 0: compact) as the rest of the encoder writes it.
void write_array_envelope(OutBuf& out, const ArrayView& a, bool b64, const char* dtype_json, std::size_t dtype_len,
                          bool scalar, bool strict, int indent, int level);

// Total bytes of the array's data in C order.
uint64_t array_nbytes(const ArrayView& a);

}  // namespace milo

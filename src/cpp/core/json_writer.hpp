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

// An array's base64 text left out of its envelope, to be written straight into the finished document: the text
// goes at `at` of the envelope's buffer (between its quotes), base64_encoded_size(nbytes) bytes of it. src is
// the array's bytes in C order, little-endian (its own buffer, or the copy in tmp).
struct Base64Parts {
    std::size_t at = 0;
    uint64_t nbytes = 0;
    const uint8_t* src = nullptr;
    std::vector<uint8_t> tmp;
    // The text of bytes [lo, hi) (lo a multiple of 3; hi too, or nbytes) into dst, the start of the text.
    void write(char* dst, std::size_t lo, std::size_t hi) const;
};

// The base64 envelope (see write_array_envelope) of a; with `later`, its data's text is not written but
// described in *later, the envelope's quotes around the place it goes.
void write_base64_envelope(OutBuf& out, const ArrayView& a, const char* dtype_json, std::size_t dtype_len, bool scalar,
                           int indent, int level, Base64Parts* later);

}  // namespace milo

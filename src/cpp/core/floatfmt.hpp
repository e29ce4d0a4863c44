// Float <-> shortest round-trip decimal text. Never throws, never allocates.
//
// Text style (all three widths, the same rule as Python's repr(float)):
//   * the digits are the shortest decimal that reads back (at the value's own
//     precision, round-to-nearest-even) to exactly the same bits; among the
//     shortest, the one nearest to the exact value;
//   * with E the decimal exponent of the first digit (value = d.ddd x 10^E):
//       -4 <= E < 16  positional:  "0.0001", "0.1", "3.0", "123.25",
//                                  "9999999999999998.0", "0.0", "-0.0"
//       otherwise     scientific:  "1e-05", "1.5e+16", "5e-324",
//                                  "3.4028235e+38" (no ".0" in the mantissa,
//                                  exponent signed and at least two digits).
//   So the text always has a '.' or an 'e', and is a valid JSON number.
//   For float64 the output is byte-identical to Python's repr(float).
//
// float64 / float32 use their own shortest-digits search and parser (floatfmt.cpp,
// on the power-of-ten table of float_tables.hpp), byte-for-byte and bit-for-bit
// the same as the <charconv> implementation kept in float_reference.hpp, which they
// fall back to for the rare inputs the fast parser cannot decide, and entirely on
// compilers without unsigned __int128 or on big-endian targets. binary16 is built
// on <charconv> from_chars (libstdc++ 12+, MSVC; libc++ only from version 17 on).
#pragma once
#include <cstddef>
#include <cstdint>

namespace milo {

// The size of the buffer the format functions below write to: the text is at
// most 24 chars (no terminating NUL), but the whole buffer may be used as
// scratch (the formatters write whole 8- and 16-byte blocks).
constexpr std::size_t kFloatBufSize = 40;

// Kinds of non-finite values. Writers never emit text for these: the caller
// decides how to spell them (tokens NaN/Infinity, or strings in strict mode).
enum class FloatClass : uint8_t { Finite = 0, NaN = 1, PosInf = 2, NegInf = 3 };

// Is `bits` the NaN that the text form "NaN" decodes to (the canonical quiet
// NaN, positive sign, no payload: 0x7ff8000000000000, 0x7fc00000, 0x7e00)?
// Any other NaN cannot be carried by text.
bool is_canonical_nan64(uint64_t bits);
bool is_canonical_nan32(uint32_t bits);
bool is_canonical_nan16(uint16_t bits);

FloatClass classify64(uint64_t bits);
FloatClass classify32(uint32_t bits);
FloatClass classify16(uint16_t bits);

// Write the shortest decimal text that parses back (at the same precision) to
// exactly the same bits, in the style described at the top of this file.
// Meant for finite values (see classify*): a NaN (any payload) or an infinity
// is written as the token NaN, Infinity or -Infinity.
// Returns the length of the text written at buf (which has kFloatBufSize bytes,
// any of which may be overwritten).
std::size_t format_f64(double v, char* buf);
std::size_t format_f32(float v, char* buf);
std::size_t format_f16(uint16_t bits, char* buf);

// Decimal text of an integer (as std::to_chars writes it), eight digits per step
// with the SWAR digit split of the float formatter. Returns the length written at
// buf, which has at least 24 bytes (all of which may be overwritten).
std::size_t format_u64(uint64_t v, char* buf);
std::size_t format_i64(int64_t v, char* buf);

// Parse one JSON number (RFC 8259 grammar, integer literals included:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? ) starting at `first`,
// rounding the exact decimal value correctly (round-to-nearest-even) to the
// target precision. Returns the pointer past the number, or nullptr when:
//   * [first, last) does not start with a JSON number ("+1", ".5", "-", "inf",
//     "NaN", "-Infinity", "" ...);
//   * the number is directly followed by a char that can never follow a JSON
//     number: a letter, a digit, '.', '+' or '-' ("01", "5.", "1e", "1e+",
//     "0x1p3", "1.5.2", "1-2"), i.e. a malformed number token is rejected as a
//     whole rather than parsed as a valid prefix;
//   * the value overflows the target type (rounds to +-infinity: "1e400" for
//     f64, "1e39" for f32, "65520" for f16). Values below the smallest
//     subnormal round correctly to a subnormal or to a correctly signed zero.
// Never reads at or past `last`. NaN/Infinity tokens are the caller's job.
const char* parse_f64(const char* first, const char* last, double& out);
const char* parse_f32(const char* first, const char* last, float& out);
const char* parse_f16(const char* first, const char* last, uint16_t& out_bits);

// The JSON number token scanner used by parse_*: returns the end of the number
// starting at `first` under the same rules (nullptr if malformed), without
// converting it. *is_integer (if not null) is set to true when the token has
// neither a fraction nor an exponent.
const char* scan_json_number(const char* first, const char* last, bool* is_integer);

// IEEE binary16 <-> binary32/64 conversions. half_to_float is exact; the
// others round to nearest, ties to even, with subnormal results and overflow
// to +-infinity. NaNs stay NaNs with the same sign and the top payload bits
// (the quiet bit included); a NaN whose kept payload would be zero becomes
// quiet (payload 0x200) so that it does not turn into an infinity.
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);       // round-to-nearest-even from float
uint16_t double_to_half(double d);     // round-to-nearest-even from double (no double rounding)

}  // namespace milo

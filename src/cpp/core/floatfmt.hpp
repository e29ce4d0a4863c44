// Float <-> shortest round-trip decimal text. Never throws, never allocates.
#pragma once
#include <cstddef>
#include <cstdint>

namespace milo {

// Enough room for any value written by the functions below.
constexpr std::size_t kFloatBufSize = 40;

// Kinds of non-finite values. Writers never emit text for these: the caller
// decides how to spell them (tokens NaN/Infinity, or strings in strict mode).
enum class FloatClass : uint8_t { Finite = 0, NaN = 1, PosInf = 2, NegInf = 3 };

// Is `bits` the NaN that the text form "NaN" decodes to (the canonical quiet
// NaN, positive sign, no payload)? Any other NaN cannot be carried by text.
bool is_canonical_nan64(uint64_t bits);
bool is_canonical_nan32(uint32_t bits);
bool is_canonical_nan16(uint16_t bits);

FloatClass classify64(uint64_t bits);
FloatClass classify32(uint32_t bits);
FloatClass classify16(uint16_t bits);

// Write the shortest decimal text that parses back (at the same precision) to
// exactly the same bits. Finite values only (see classify*). Always contains
// a '.', 'e' or is "-0.0"/"0.0" so that it reads back as a float, not an int.
// Returns the number of chars written into buf (which has kFloatBufSize bytes).
std::size_t format_f64(double v, char* buf);
std::size_t format_f32(float v, char* buf);
std::size_t format_f16(uint16_t bits, char* buf);

// Parse a JSON number (also accepting an integer literal) from [first, last),
// rounding correctly to the target precision. Returns the pointer past the
// last consumed char, or nullptr if [first, last) does not start with a valid
// JSON number. Does not accept NaN/Infinity tokens (the caller handles them).
const char* parse_f64(const char* first, const char* last, double& out);
const char* parse_f32(const char* first, const char* last, float& out);
const char* parse_f16(const char* first, const char* last, uint16_t& out_bits);

// IEEE binary16 <-> binary32 conversions, exact / round-to-nearest-even.
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);       // round-to-nearest-even from float
uint16_t double_to_half(double d);     // round-to-nearest-even from double (no double rounding)

}  // namespace milo

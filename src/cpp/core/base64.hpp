// Standard base64 (RFC 4648 section 4: alphabet A-Z a-z 0-9 + /, '=' padding).
// Never throws, never allocates. Decoding is strict: the only accepted text for
// a byte string is its one canonical encoding (no whitespace, no line breaks, no
// URL-safe alphabet, no missing or extra padding, zero bits in the padding).
#pragma once
#include <cstddef>
#include <cstdint>

namespace milo {

// Length of the encoding of n bytes (with padding). n must be < SIZE_MAX / 4 * 3.
constexpr std::size_t base64_encoded_size(std::size_t n) { return ((n + 2) / 3) * 4; }

// Encode n bytes from src into dst (which has base64_encoded_size(n) bytes).
// No terminating NUL is written.
void base64_encode(const uint8_t* src, std::size_t n, char* dst);

// Number of bytes the text [src, src+len) decodes to: len / 4 * 3, less one per
// '=' among the last two chars (at most 2, and a final '=' is needed for the one
// before it to count). Returns SIZE_MAX if len is not a multiple of 4. Checks
// nothing else (base64_decode does).
std::size_t base64_decoded_size(const char* src, std::size_t len);

// Decode [src, src+len) into dst, which has base64_decoded_size(src, len) bytes
// (never more than that is written, even for malformed text). Returns SIZE_MAX on
// success, otherwise the index in src of the first offending character:
//   * a char outside the alphabet (whitespace, '-', '_', a NUL, a non-ASCII byte...);
//   * a '=' anywhere but the last one or two positions ("AB=C", "A===", "AB==AAAA");
//   * the last data char when the bits that padding discards are not zero
//     ("QR==" -> 1, "QUJ=" -> 2: the canonical spellings are "QQ==" and "QUI=");
//   * len itself if len is not a multiple of 4 (nothing is written then).
// On failure the contents of dst are unspecified.
std::size_t base64_decode(const char* src, std::size_t len, uint8_t* dst);

namespace detail {

// base64_encode and base64_decode choose, once, between the portable code below and an
// AVX2 version (x86-64 with GCC or Clang, on a CPU that has AVX2, unless the environment
// variable MILO_FAST_NO_SIMD is set to a non-empty value other than "0" at first use).
// Both give the same output and the same error index for every input. Tests and
// benchmarks call the portable code directly through these.
void base64_encode_scalar(const uint8_t* src, std::size_t n, char* dst);
std::size_t base64_decode_scalar(const char* src, std::size_t len, uint8_t* dst);

// Whether base64_encode / base64_decode use the AVX2 code in this process.
bool base64_simd_enabled();

}  // namespace detail

}  // namespace milo

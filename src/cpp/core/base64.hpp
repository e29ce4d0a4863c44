// Standard base64 (RFC 4648, alphabet A-Z a-z 0-9 + /, '=' padding). Never throws.
#pragma once
#include <cstddef>
#include <cstdint>

namespace milo {

// Length of the encoding of n bytes (with padding).
constexpr std::size_t base64_encoded_size(std::size_t n) { return ((n + 2) / 3) * 4; }

// Encode n bytes from src into dst (which has base64_encoded_size(n) bytes).
void base64_encode(const uint8_t* src, std::size_t n, char* dst);

// Number of bytes the text [src, src+len) decodes to, or SIZE_MAX if len is not
// a multiple of 4 or padding is malformed. Does not check the alphabet.
std::size_t base64_decoded_size(const char* src, std::size_t len);

// Decode exactly; dst has base64_decoded_size(src, len) bytes. Returns SIZE_MAX on
// success or the index of the first offending character in src (bad alphabet,
// bad padding, or non-zero bits in the final quantum's padding).
std::size_t base64_decode(const char* src, std::size_t len, uint8_t* dst);

}  // namespace milo

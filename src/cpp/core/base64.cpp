// Standard base64, strict decoding (see base64.hpp for the contract).
//
// Encoding looks up 12 bits at a time (a 4096-entry table of char pairs), six
// input bytes per step in the main loop. Decoding uses four 256-entry tables
// whose entries are already shifted into place; an invalid char sets the top
// bit, so a whole quantum is validated with one test.
#include "base64.hpp"

#include <cstring>

namespace milo {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct EncodeTable {
    char pair[4096][2];
};

constexpr EncodeTable make_encode_table() {
    EncodeTable t{};
    for (int i = 0; i < 4096; ++i) {
        t.pair[i][0] = kAlphabet[i >> 6];
        t.pair[i][1] = kAlphabet[i & 63];
    }
    return t;
}

constexpr uint32_t kInvalid = 0x80000000U;

struct DecodeTable {
    uint32_t shifted[4][256];  // value << 18, << 12, << 6, << 0; kInvalid for non-alphabet chars
};

constexpr int sextet(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

constexpr DecodeTable make_decode_table() {
    DecodeTable t{};
    for (int c = 0; c < 256; ++c) {
        const int v = sextet(static_cast<unsigned char>(c));
        for (int k = 0; k < 4; ++k)
            t.shifted[k][c] = v < 0 ? kInvalid : static_cast<uint32_t>(v) << (18 - 6 * k);
    }
    return t;
}

constexpr EncodeTable kEnc = make_encode_table();
constexpr DecodeTable kDec = make_decode_table();

inline const char* pair_of(uint32_t twelve_bits) { return kEnc.pair[twelve_bits]; }

inline uint32_t quantum(const unsigned char* s) {
    return kDec.shifted[0][s[0]] | kDec.shifted[1][s[1]] | kDec.shifted[2][s[2]] | kDec.shifted[3][s[3]];
}

// Index (within the 4 chars at s) of the first char outside the alphabet.
inline std::size_t first_invalid(const unsigned char* s) {
    for (std::size_t k = 0; k < 4; ++k)
        if (kDec.shifted[3][s[k]] == kInvalid) return k;
    return 0;  // not reached when the quantum was found invalid
}

// Store the low 48 bits of x big-endian at d, and 2 junk bytes after them.
inline void store_be48(uint8_t* d, uint64_t x) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t be = __builtin_bswap64(x << 16);
    std::memcpy(d, &be, 8);
#else
    d[0] = static_cast<uint8_t>(x >> 40);
    d[1] = static_cast<uint8_t>(x >> 32);
    d[2] = static_cast<uint8_t>(x >> 24);
    d[3] = static_cast<uint8_t>(x >> 16);
    d[4] = static_cast<uint8_t>(x >> 8);
    d[5] = static_cast<uint8_t>(x);
#endif
}

}  // namespace

void base64_encode(const uint8_t* src, std::size_t n, char* dst) {
    // Main loop: read 8 bytes (only 6 are used) while at least 8 remain.
    while (n >= 8) {
        const uint64_t x = (uint64_t{src[0]} << 40) | (uint64_t{src[1]} << 32) | (uint64_t{src[2]} << 24) |
                           (uint64_t{src[3]} << 16) | (uint64_t{src[4]} << 8) | uint64_t{src[5]};
        std::memcpy(dst, pair_of(static_cast<uint32_t>(x >> 36)), 2);
        std::memcpy(dst + 2, pair_of(static_cast<uint32_t>(x >> 24) & 0xfff), 2);
        std::memcpy(dst + 4, pair_of(static_cast<uint32_t>(x >> 12) & 0xfff), 2);
        std::memcpy(dst + 6, pair_of(static_cast<uint32_t>(x) & 0xfff), 2);
        src += 6;
        dst += 8;
        n -= 6;
    }
    while (n >= 3) {
        const uint32_t x = (uint32_t{src[0]} << 16) | (uint32_t{src[1]} << 8) | uint32_t{src[2]};
        std::memcpy(dst, pair_of(x >> 12), 2);
        std::memcpy(dst + 2, pair_of(x & 0xfff), 2);
        src += 3;
        dst += 4;
        n -= 3;
    }
    if (n == 2) {
        const uint32_t x = (uint32_t{src[0]} << 16) | (uint32_t{src[1]} << 8);
        std::memcpy(dst, pair_of(x >> 12), 2);
        dst[2] = kAlphabet[(x >> 6) & 63];
        dst[3] = '=';
    } else if (n == 1) {
        const uint32_t x = uint32_t{src[0]} << 16;
        std::memcpy(dst, pair_of(x >> 12), 2);
        dst[2] = '=';
        dst[3] = '=';
    }
}

std::size_t base64_decoded_size(const char* src, std::size_t len) {
    if (len % 4 != 0) return SIZE_MAX;
    if (len == 0) return 0;
    std::size_t pad = 0;
    if (src[len - 1] == '=') pad = src[len - 2] == '=' ? 2 : 1;
    return len / 4 * 3 - pad;
}

std::size_t base64_decode(const char* text, std::size_t len, uint8_t* dst) {
    if (len % 4 != 0) return len;
    if (len == 0) return SIZE_MAX;
    const auto* s = reinterpret_cast<const unsigned char*>(text);
    const std::size_t body = len - 4;  // every quantum but the last has no padding
    std::size_t i = 0;
    // Two quanta per step, with one 8-byte store (6 bytes used, the next 2
    // overwritten by the next step) while dst has room for it: at least one more
    // full quantum and the last one follow, so 6 + 3 + 1 bytes remain.
    uint8_t* d = dst;
    for (; i + 12 <= body; i += 8, d += 6) {
        const uint32_t a = quantum(s + i);
        const uint32_t b = quantum(s + i + 4);
        if ((a | b) & kInvalid) {
            if (a & kInvalid) return i + first_invalid(s + i);
            return i + 4 + first_invalid(s + i + 4);
        }
        store_be48(d, (uint64_t{a} << 24) | b);
    }
    for (; i < body; i += 4, d += 3) {
        const uint32_t a = quantum(s + i);
        if (a & kInvalid) return i + first_invalid(s + i);
        d[0] = static_cast<uint8_t>(a >> 16);
        d[1] = static_cast<uint8_t>(a >> 8);
        d[2] = static_cast<uint8_t>(a);
    }
    // The last quantum: "xxxx", "xxx=" or "xx==".
    const unsigned char* q = s + body;
    std::size_t pad = 0;
    if (q[3] == '=') pad = q[2] == '=' ? 2 : 1;
    const std::size_t data = 4 - pad;
    uint32_t v = 0;
    for (std::size_t k = 0; k < data; ++k) {
        const uint32_t t = kDec.shifted[k][q[k]];
        if (t == kInvalid) return body + k;  // also a '=' in a data position
        v |= t;
    }
    if (pad == 0) {
        d[0] = static_cast<uint8_t>(v >> 16);
        d[1] = static_cast<uint8_t>(v >> 8);
        d[2] = static_cast<uint8_t>(v);
    } else if (pad == 1) {
        if (v & 0xff) return body + 2;  // bits of the third char that no byte holds
        d[0] = static_cast<uint8_t>(v >> 16);
        d[1] = static_cast<uint8_t>(v >> 8);
    } else {
        if (v & 0xffff) return body + 1;
        d[0] = static_cast<uint8_t>(v >> 16);
    }
    return SIZE_MAX;
}

}  // namespace milo

// Standard base64, strict decoding (see base64.hpp for the contract).
//
// Portable code: encoding looks up 12 bits at a time (a 4096-entry table of char
// pairs), six input bytes per step in the main loop. Decoding uses four 256-entry
// tables whose entries are already shifted into place; an invalid char sets the top
// bit, so a whole quantum is validated with one test.
//
// AVX2 code (x86-64, GCC/Clang, chosen at run time): 24 bytes <-> 32 chars per step,
// after Mula & Lemire, "Faster Base64 Encoding and Decoding using AVX2 Instructions"
// (ACM TOW 2018). The vector loops only handle whole steps well inside the buffers;
// the portable code finishes the rest, and a step in which any char is invalid is
// handed back to it too, so the error index is the portable code's by construction.
#include "base64.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MILO_B64_AVX2 1
#include <immintrin.h>
#else
#define MILO_B64_AVX2 0
#endif

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

void encode_scalar(const uint8_t* src, std::size_t n, char* dst) {
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

// Decode s[i, len) into d = dst + i / 4 * 3, given that len is a non-zero multiple of 4,
// i a multiple of 4 no greater than len - 4, and s[0, i) all alphabet chars (decoded
// already). Returns what base64_decode returns for the whole text.
std::size_t decode_from(const unsigned char* s, std::size_t len, std::size_t i, uint8_t* d) {
    const std::size_t body = len - 4;  // every quantum but the last has no padding
    // Two quanta per step, with one 8-byte store (6 bytes used, the next 2
    // overwritten by the next step) while dst has room for it: at least one more
    // full quantum and the last one follow, so 6 + 3 + 1 bytes remain.
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

#if MILO_B64_AVX2

#define MILO_TARGET_AVX2 __attribute__((target("avx2")))

// The same 16 bytes in both 128-bit lanes (vpshufb looks up within each lane).
MILO_TARGET_AVX2 inline __m256i lanes(__m128i x) { return _mm256_broadcastsi128_si256(x); }

// 24 bytes -> 32 chars per step. Each 128-bit lane takes 12 bytes (two 16-byte
// loads, at src and src + 12, so a step reads src[0, 28)); each dword of a lane
// becomes the 4 chars of one 3-byte group.
MILO_TARGET_AVX2 void encode_avx2(const uint8_t* src, std::size_t n, char* dst) {
    // Bytes b0 b1 b2 of a group go to the dword as b1 b0 b2 b1: its low 16-bit word
    // is then b0:b1 and its high word b1:b2 (big-endian pairs), so that sextet
    // 0 = word0 bits 15..10, 1 = word0 bits 9..4, 2 = word1 bits 11..6, 3 = word1 bits 5..0.
    const __m256i spread = lanes(_mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10));
    // Sextets 0 and 2 to the low byte of their word: (word0 & 0xfc00) >> 10 and
    // (word1 & 0x0fc0) >> 6, as the high halves of products by 2^6 and 2^10.
    const __m256i mask02 = _mm256_set1_epi32(0x0fc0fc00);
    const __m256i mul02 = _mm256_set1_epi32(0x04000040);
    // Sextets 1 and 3 to the high byte: (word0 & 0x03f0) << 4 and (word1 & 0x003f) << 8.
    const __m256i mask13 = _mm256_set1_epi32(0x003f03f0);
    const __m256i mul13 = _mm256_set1_epi32(0x01000010);
    // Sextet -> char: add 'A' (0..25), 'a' - 26 (26..51), '0' - 52 (52..61),
    // '+' - 62 (62), '/' - 63 (63), chosen by a 0..13 index (see below).
    const __m256i offsets = lanes(_mm_setr_epi8(65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 0, 0));
    const __m256i c51 = _mm256_set1_epi8(51);
    const __m256i c25 = _mm256_set1_epi8(25);
    while (n >= 28) {
        const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
        const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 12));
        const __m256i in = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
        const __m256i g = _mm256_shuffle_epi8(in, spread);
        const __m256i s02 = _mm256_mulhi_epu16(_mm256_and_si256(g, mask02), mul02);
        const __m256i s13 = _mm256_mullo_epi16(_mm256_and_si256(g, mask13), mul13);
        const __m256i sx = _mm256_or_si256(s02, s13);  // one sextet per byte, in order
        // index: 0 for 0..25, 1 for 26..51, sextet - 50 for 52..63
        __m256i idx = _mm256_subs_epu8(sx, c51);
        idx = _mm256_sub_epi8(idx, _mm256_cmpgt_epi8(sx, c25));
        const __m256i chars = _mm256_add_epi8(sx, _mm256_shuffle_epi8(offsets, idx));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), chars);
        src += 24;
        dst += 32;
        n -= 24;
    }
    encode_scalar(src, n, dst);
}

// 32 chars -> 24 bytes per step.
MILO_TARGET_AVX2 std::size_t decode_avx2(const char* text, std::size_t len, uint8_t* dst) {
    if (len % 4 != 0) return len;
    if (len == 0) return SIZE_MAX;
    const auto* s = reinterpret_cast<const unsigned char*>(text);
    const std::size_t body = len - 4;
    // Validation: a char is in the alphabet iff the bit sets looked up by its low
    // nibble (lo_bad) and by its high nibble (hi_class) are disjoint. Each high
    // nibble has one class bit; lo_bad[l] holds the classes for which low nibble l
    // is not a char of the alphabet:
    //   0x01 high nibble 0, 1, 8..f: nothing valid
    //   0x02 high nibble 2: only '+' (0x2b) and '/' (0x2f)
    //   0x04 high nibble 3: '0'..'9' (low 0..9)
    //   0x08 high nibble 4, 6: 'A'..'O', 'a'..'o' (low 1..f)
    //   0x10 high nibble 5, 7: 'P'..'Z', 'p'..'z' (low 0..a)
    const __m256i lo_bad = lanes(_mm_setr_epi8(0x0b, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03,  //
                                               0x03, 0x03, 0x07, 0x15, 0x17, 0x17, 0x17, 0x15));
    const __m256i hi_class = lanes(_mm_setr_epi8(0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x08, 0x10,  //
                                                 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01));
    // Char -> sextet: add an offset chosen by the high nibble, less one for '/' so
    // that '+' (index 2) and '/' (index 1) differ.
    const __m256i shift = lanes(_mm_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0));
    const __m256i nib = _mm256_set1_epi8(0x0f);
    const __m256i slash = _mm256_set1_epi8('/');
    // Packing: sextets a b c d of a dword -> (a << 6 | b), (c << 6 | d) as words,
    // -> a << 18 | b << 12 | c << 6 | d, whose bytes 2, 1, 0 are the output bytes.
    const __m256i mul_ab = _mm256_set1_epi32(0x01400140);
    const __m256i mul_abcd = _mm256_set1_epi32(0x00011000);
    const __m256i gather = lanes(_mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1));
    const __m256i join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
    std::size_t i = 0;
    uint8_t* d = dst;
    // A step reads s[i, i + 32) and stores d[0, 32): 24 bytes, then 8 that later
    // steps overwrite. dst has room while 11 more body quanta (33 bytes) follow.
    for (; i + 44 <= body; i += 32, d += 24) {
        const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i));
        const __m256i hin = _mm256_and_si256(_mm256_srli_epi32(c, 4), nib);
        const __m256i lon = _mm256_and_si256(c, nib);
        const __m256i bad = _mm256_shuffle_epi8(lo_bad, lon);
        const __m256i cls = _mm256_shuffle_epi8(hi_class, hin);
        if (!_mm256_testz_si256(bad, cls)) break;  // the portable code finds the char
        const __m256i sidx = _mm256_add_epi8(hin, _mm256_cmpeq_epi8(c, slash));
        const __m256i sx = _mm256_add_epi8(c, _mm256_shuffle_epi8(shift, sidx));
        const __m256i w = _mm256_maddubs_epi16(sx, mul_ab);
        const __m256i q = _mm256_madd_epi16(w, mul_abcd);
        const __m256i out = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(q, gather), join);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), out);
    }
    return decode_from(s, len, i, d);
}

#endif  // MILO_B64_AVX2

bool detect_simd() {
#if MILO_B64_AVX2
    const char* off = std::getenv("MILO_FAST_NO_SIMD");
    if (off != nullptr && off[0] != '\0' && std::strcmp(off, "0") != 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

bool simd_enabled() {
    static const bool on = detect_simd();
    return on;
}

}  // namespace

std::size_t base64_decoded_size(const char* src, std::size_t len) {
    if (len % 4 != 0) return SIZE_MAX;
    if (len == 0) return 0;
    std::size_t pad = 0;
    if (src[len - 1] == '=') pad = src[len - 2] == '=' ? 2 : 1;
    return len / 4 * 3 - pad;
}

void base64_encode(const uint8_t* src, std::size_t n, char* dst) {
#if MILO_B64_AVX2
    if (simd_enabled()) return encode_avx2(src, n, dst);
#endif
    encode_scalar(src, n, dst);
}

std::size_t base64_decode(const char* text, std::size_t len, uint8_t* dst) {
#if MILO_B64_AVX2
    if (simd_enabled()) return decode_avx2(text, len, dst);
#endif
    return detail::base64_decode_scalar(text, len, dst);
}

namespace detail {

void base64_encode_scalar(const uint8_t* src, std::size_t n, char* dst) { encode_scalar(src, n, dst); }

std::size_t base64_decode_scalar(const char* text, std::size_t len, uint8_t* dst) {
    if (len % 4 != 0) return len;
    if (len == 0) return SIZE_MAX;
    return decode_from(reinterpret_cast<const unsigned char*>(text), len, 0, dst);
}

bool base64_simd_enabled() { return simd_enabled(); }

}  // namespace detail

}  // namespace milo

// The float64 parser's common path (see floatfmt.cpp, "fast paths", for the method), as an inline function: the
// JSON array readers (json_reader.cpp) call it in their row and item loops, where a call to parse_f64 would cost
// its saved registers on every number; parse_f64 is this function behind a call. The helpers here are floatfmt.cpp's
// too. Internal to the codec core: not part of floatfmt.hpp's contract.
#pragma once

#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "float_tables.hpp"

#if defined(__SIZEOF_INT128__) && !defined(MILO_NO_INT128) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define MILO_FLOAT_FAST 1
#else
#define MILO_FLOAT_FAST 0
#endif

namespace milo {

const char* parse_f64(const char* first, const char* last, double& out);

namespace detail {

// floatfmt.cpp's out-of-line paths of parse_f64_fast: any JSON number with bound checks on every byte, and the
// numbers with a short exponent.
const char* parse_f64_general(const char* first, const char* last, double& out);
const char* parse_f64_exponent(const char* first, const char* last, double& out, const char* e, uint64_t w, int counts);

namespace fp {

#if MILO_FLOAT_FAST
using u128 = unsigned __int128;
#endif

// Chars that can never directly follow a JSON number: digits, ASCII letters,
// '.', '+' and '-'.
struct FollowerTable {
    bool bad[256] = {};
    constexpr FollowerTable() {
        for (int c = '0'; c <= '9'; ++c) bad[c] = true;
        for (int c = 'a'; c <= 'z'; ++c) bad[c] = bad[c - 'a' + 'A'] = true;
        bad[static_cast<unsigned char>('.')] = bad[static_cast<unsigned char>('+')] = true;
        bad[static_cast<unsigned char>('-')] = true;
    }
};
constexpr FollowerTable kFollower;

__attribute__((always_inline)) inline bool bad_follower(char c) { return kFollower.bad[static_cast<unsigned char>(c)]; }

__attribute__((always_inline)) inline uint64_t load8(const char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

constexpr uint64_t kPow10U64[] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
                                  100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL,
                                  1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
                                  1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
                                  1000000000000000000ULL, 10000000000000000000ULL};

// The eight digit values in the bytes of x (first digit in the lowest byte) as a number.
__attribute__((always_inline)) inline uint32_t parse8(uint64_t x) {
    x = (x * 10 + (x >> 8)) & 0x00ff00ff00ff00ffULL;        // pairs
    x = (x * 100 + (x >> 16)) & 0x0000ffff0000ffffULL;      // quads
    return static_cast<uint32_t>((x * 10000 + (x >> 32)) & 0xffffffffULL);
}

// The sign applied by bits (no branch on it).
__attribute__((always_inline)) inline double with_sign(double v, bool neg) {
    uint64_t b;
    std::memcpy(&b, &v, 8);
    b |= static_cast<uint64_t>(neg) << 63;
    std::memcpy(&v, &b, 8);
    return v;
}
inline float with_sign(float v, bool neg) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    b |= static_cast<uint32_t>(neg) << 31;
    std::memcpy(&v, &b, 4);
    return v;
}

constexpr uint64_t kZeros8 = 0x3030303030303030ULL;

// 16 digits at a time with SSE2 (every x86-64 CPU has it): the fraction of a
// shortest double is 15 to 17 digits long.
#if defined(__SSE2__)
#define MILO_PARSE_WIDE 1

// Bit i set where the byte p[i] (16 readable) is a digit: c - '0' (mod 256) is at
// most 9 exactly for the digits, and the saturating c - '0' - 9 is then zero.
__attribute__((always_inline)) inline uint32_t digit_bits16(const char* p) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i over = _mm_subs_epu8(_mm_sub_epi8(v, _mm_set1_epi8('0')), _mm_set1_epi8(9));
    return static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(over, _mm_setzero_si128())));
}

// 5^-k mod 2^64, k <= 16: an exact division by 10^k is a shift and a multiplication.
struct InversePow5 {
    uint64_t v[17] = {};
    constexpr InversePow5() {
        const uint64_t inv5 = 0xcccccccccccccccdULL;  // 5 * inv5 == 1 mod 2^64
        v[0] = 1;
        for (int k = 1; k <= 16; ++k) v[k] = v[k - 1] * inv5;
    }
};
constexpr InversePow5 kInvPow5;

// 0xff x 16 then 0 x 16: 16 bytes from kKeep + 16 - n keep the first n bytes.
alignas(32) constexpr unsigned char kKeep[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// The value of the n (1..16) digits at p (16 bytes readable): the bytes after them
// zeroed, the 16 digit values summed pairwise (pmaddwd) into two 8-digit halves,
// V = D * 10^(16 - n), then D by an exact division.
__attribute__((always_inline)) inline uint64_t parse_leading16(const char* p, int n) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i keep = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kKeep + 16 - n));
    const __m128i d = _mm_and_si128(_mm_sub_epi8(v, _mm_set1_epi8('0')), keep);
    const __m128i z = _mm_setzero_si128();
    const __m128i m10 = _mm_set_epi16(1, 10, 1, 10, 1, 10, 1, 10);
    const __m128i pairs = _mm_packs_epi32(_mm_madd_epi16(_mm_unpacklo_epi8(d, z), m10),
                                          _mm_madd_epi16(_mm_unpackhi_epi8(d, z), m10));  // 8 x 0..99
    const __m128i quads = _mm_madd_epi16(pairs, _mm_set_epi16(1, 100, 1, 100, 1, 100, 1, 100));  // 4 x 0..9999
    const __m128i octs = _mm_madd_epi16(_mm_packs_epi32(quads, quads),
                                        _mm_set_epi16(1, 10000, 1, 10000, 1, 10000, 1, 10000));
    const uint64_t o = static_cast<uint64_t>(_mm_cvtsi128_si64(octs));
    const uint64_t V = (o & 0xffffffffULL) * 100000000 + (o >> 32);
    const int k = 16 - n;
    return (V >> k) * kInvPow5.v[k];
}
#else
#define MILO_PARSE_WIDE 0
#endif

// w * 10^q correctly rounded to a double for 0 < w < 2^64 and -19 <= q <= 0 (a
// normal result), from the high half of one 64 x 64-bit product with the top 64
// bits of the 10^q significand, when that is enough; false when not (about 2 in
// 2^10 cases: then decimal_to_binary). With a = W * M[0] (W = w normalized), the
// exact product, in units of a's high word hi, lies in [hi, hi + 2) (the dropped
// part W * (M[1] + frac) is below W * 2^64). So the rest r of hi below the
// quantum (sh = 10 or 11 bits) decides unless r is half - 1 or half: r <= half - 2
// rounds down, r > half rounds up (at r = mask the window may cross into the next
// quantum, which rounds to the same m + 1).
#if MILO_FLOAT_FAST
__attribute__((always_inline)) inline bool decimal_to_double_1x(uint64_t w, int q, uint64_t& bits) {
    const int l = __builtin_clzll(w);
    const uint64_t W = w << l;
    const u128 a = static_cast<u128>(W) * kPow10Mant[q - kPow10Min][0];
    const uint64_t hi = static_cast<uint64_t>(a >> 64);
    const int top = static_cast<int>(hi >> 63);  // hi >= 2^62: bit 63 or 62 leads
    const int sh = 10 + top;
    const uint64_t half = uint64_t{1} << (sh - 1);
    const uint64_t rest = hi & ((half << 1) - 1);
    if (rest - (half - 1) <= 1) return false;
    const uint64_t m = (hi >> sh) + (rest > half ? 1 : 0);  // in [2^52, 2^53]
    // exponent of the leading bit: P = W * M * 2^64 >= 2^190 (+1 when bit 63 of hi leads)
    const int E = 190 + top + detail::floor_log2_pow10(q) - 127 - l;
    // m carries the hidden bit into the exponent field (and m == 2^53 one more)
    bits = (static_cast<uint64_t>(E + 1022) << 52) + m;
    return true;
}
#endif

#if MILO_FLOAT_FAST && MILO_PARSE_WIDE
// The common shapes without a bound check per byte, when at least kWide bytes are
// readable (inside a JSON array): -?D{1,7}(.D{1,18})? followed by a char that is
// neither 'e'/'E' nor a digit (shortest texts of ordinary magnitudes:
// "-0.873833030462265", "20000.0", "0.5"). One mask of the non-digits among the 32
// bytes after the sign gives the end of the integer part (its first bit) and of
// the fraction (its second): the end of the number, on which the caller's next
// step waits, is known after two loads and a few operations, with no branch and no
// further load on the way. The fraction's value is one 16-byte block (pmaddwd steps,
// no loop and no branch on its length) and a 17th and 18th digit taken without a branch.
// An exponent of 1 to 3 digits is read by parse_f64_exponent. Anything else (19 and more
// fraction digits, 8 and more integer digits, longer exponents, errors) starts over
// on parse_f64_general, and so do short buffers. Reads first[0..32] at most. Used for float64 only (see parse_f32).
constexpr std::ptrdiff_t kWide = 40;

__attribute__((always_inline)) inline const char* parse_f64_fast(const char* first, const char* last, double& out) {
    if (last - first < kWide) return parse_f64_general(first, last, out);
    const bool neg = *first == '-';
    const char* const p = first + (neg ? 1 : 0);
    // bit i: p[i] is not a digit (i < 32); bits 32, 33: the end of the window (two, so
    // that the second ctz below has a bit to find even after 32 digits)
    const uint64_t nd = (digit_bits16(p) | (uint64_t{digit_bits16(p + 16)} << 16)) ^ 0x3ffffffffULL;
    const int n_int = __builtin_ctzll(nd);
    const int end = __builtin_ctzll(nd & (nd - 1));  // the next non-digit (32 or 33 if none)
    uint64_t w;
    if (n_int == 1) {
        w = static_cast<uint64_t>(p[0] - '0');
    } else {
        // none, "01", 8 and more: the general path decides (nullptr, or a long integer part)
        if (n_int == 0 || n_int > 7 || p[0] == '0') return parse_f64_general(first, last, out);
        w = parse8((load8(p) ^ kZeros8) << (64 - 8 * n_int));
    }
    int n_frac = 0;
    const char* e = p + n_int;
    if (*e == '.') {
        n_frac = end - n_int - 1;
        // "1." not followed by a digit, 19 and more fraction digits: the general path
        if (static_cast<unsigned>(n_frac - 1) > 17) return parse_f64_general(first, last, out);
        const char* const f = e + 1;
        const int n16 = n_frac < 16 ? n_frac : 16;
        w = w * kPow10U64[n16] + parse_leading16(f, n16);
        // the 17th and 18th digits, without a branch (f[16], f[17] are readable: f <= p + 8). 18 fraction digits
        // are a shortest double in [0.001, 0.01) (a tree's small class fractions and impurities), 17 significant.
        const int more = n_frac > 16 ? n_frac - 16 : 0;
        const uint64_t d16 = static_cast<uint64_t>(f[16] - '0'), d17 = static_cast<uint64_t>(f[17] - '0');
        w = w * kPow10U64[more] + (more == 2 ? d16 * 10 + d17 : more == 1 ? d16 : 0);
        e = p + end;
    }
    if (bad_follower(*e)) {  // 'e' and 'E' among them
        if ((*e | 0x20) == 'e') return parse_f64_exponent(first, last, out, e, w, (n_int + n_frac) << 8 | n_frac);
        return nullptr;
    }
    const int n_digits = n_int + n_frac;  // leading zeros included
    if (n_digits > 19) return parse_f64_general(first, last, out);
    // No Clinger step for 15 digits and fewer: one path for every digit count, so that no branch depends on
    // how many digits a number has (they vary from number to number: a mispredicted branch costs more than
    // the product)
    const int q = -n_frac;
    if (w == 0) {
        out = with_sign(0.0, neg);
        return e;
    }
    uint64_t bits;
    if (decimal_to_double_1x(w, q, bits)) {
        bits |= static_cast<uint64_t>(neg) << 63;
        std::memcpy(&out, &bits, sizeof bits);
        return e;
    }
    return parse_f64_general(first, last, out);  // near a tie (2 in 2^10): start over, with the full product
}
#endif

// What the array readers call: parse_f64_fast inline where it exists, else parse_f64.
__attribute__((always_inline)) inline const char* parse_f64_inline(const char* first, const char* last, double& out) {
#if MILO_FLOAT_FAST && MILO_PARSE_WIDE
    return parse_f64_fast(first, last, out);
#else
    return parse_f64(first, last, out);
#endif
}

}  // namespace fp
}  // namespace detail
}  // namespace milo

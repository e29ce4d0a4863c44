// The float and integer formatters of floatfmt.hpp (format_f64, format_f32, format_u64, format_i64) as inline
// functions: the JSON array writer (json_writer.cpp) calls them in its row and item loops, where a call would cost
// its saved registers and the loads of its constants on every number; floatfmt.cpp's functions are these behind a
// call. The method (a Schubfach-style shortest-decimal search, its correctness argument) is described in
// floatfmt.cpp, "fast paths". Internal to the codec core: not part of floatfmt.hpp's contract.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "float_parse.hpp"
#include "float_tables.hpp"

#if MILO_FLOAT_FAST
// Always inlined where they are called: each call site then has its own branches (integer or not, zero or not,
// the digit count), which the predictor learns per field of a row instead of for every number at once.
#define MILO_FMT_INLINE __attribute__((always_inline))

namespace milo {
namespace detail {
namespace fmt {

using fp::u128;
using fp::kPow10U64;
using detail::kPow10Mant;
using detail::kPow10Min;

inline double double_of(uint64_t b) { double v; std::memcpy(&v, &b, 8); return v; }

constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

inline void write2(char* p, uint32_t x) { std::memcpy(p, kDigitPairs + 2 * x, 2); }

// Number of decimal digits of 0 < v < 10^19.
MILO_FMT_INLINE inline int decimal_length(uint64_t v) {
    const int t = ((64 - __builtin_clzll(v)) * 1233) >> 12;
    return t + (v >= kPow10U64[t] ? 1 : 0);
}

// value = digits * 10^exp10
struct Decimal {
    uint64_t digits;
    int exp10;
};

// floor(g * cp / 2^128) for the 128-bit g = (g_hi, g_lo), its lowest bit set when
// the quotient is not an integer (see above: bits 61..127 of the product decide).
MILO_FMT_INLINE inline uint64_t round_to_odd(uint64_t g_hi, uint64_t g_lo, uint64_t cp) {
    const u128 a = static_cast<u128>(g_hi) * cp;
    const u128 b = static_cast<u128>(g_lo) * cp;
    uint64_t mid;
    const bool carry = __builtin_add_overflow(static_cast<uint64_t>(a), static_cast<uint64_t>(b >> 64), &mid);
    const uint64_t hi = static_cast<uint64_t>(a >> 64) + (carry ? 1 : 0);
    return hi | ((mid | (static_cast<uint64_t>(b) >> 61)) != 0 ? 1 : 0);
}

// The same with a 64-bit g, for binary32 (cp < 2^30): bits 32..63 decide.
MILO_FMT_INLINE inline uint64_t round_to_odd(uint64_t g, uint64_t cp) {
    const u128 p = static_cast<u128>(g) * cp;
    return static_cast<uint64_t>(p >> 64) | ((static_cast<uint64_t>(p) >> 32) != 0 ? 1 : 0);
}

// The choice among the candidates, from the round-to-odd values of the lower
// bound, v and the upper bound in units of 10^k / 4; `out` is 1 when the bounds
// are excluded. Branch-free: which case applies is data-dependent and unpredictable.
MILO_FMT_INLINE inline Decimal choose(uint64_t vbl, uint64_t vb, uint64_t vbr, uint64_t out, int k) {
    // Conditions as 0/1 integers combined with & and |, so that the compiler does
    // not turn them into branches.
    const uint64_t s = vb >> 2;
    const uint64_t sp = s / 10;
    const uint64_t lo10_in = vbl + out <= sp * 40;      // 10 * sp is in the interval
    const uint64_t hi10_in = sp * 40 + 40 + out <= vbr;  // 10 * (sp + 1) is
    const uint64_t s_in = vbl + out <= s * 4;
    const uint64_t t_in = s * 4 + 4 + out <= vbr;
    const uint64_t mid = s * 4 + 2;
    const uint64_t t_nearer = static_cast<uint64_t>(vb > mid) | (static_cast<uint64_t>(vb == mid) & s);
    const uint64_t d = s + (t_in & ((s_in ^ 1) | t_nearer));
    const uint64_t short10 = lo10_in | hi10_in;
    const uint64_t mask = uint64_t{0} - short10;
    // The multiple of 10 is returned as such, with the same exponent k: for a
    // normal double the digits are then always in [10^15, 10^17) (s is, being
    // c * 2^q / 10^k with 2^52 <= c < 2^53 and 1 <= 2^q / 10^k < 10 (4/3 to 40/3
    // in the irregular case)), which render_decimal64 takes advantage of.
    return {(((sp + hi10_in) * 10) & mask) | (d & ~mask), k};
}

// Shortest decimal of the positive finite double with the given bits (not zero).
MILO_FMT_INLINE inline Decimal shortest64(uint64_t bits) {
    const uint64_t frac = bits & ((uint64_t{1} << 52) - 1);
    const int biased = static_cast<int>(bits >> 52);
    uint64_t c;
    int q;
    if (biased == 0) {
        c = frac;
        q = -1074;
    } else {
        c = frac | (uint64_t{1} << 52);
        q = biased - 1075;
        // An integer below 2^53: its own digits are the shortest (and exact) text.
        // (One test, not a branch per condition: |v| >= 1 is unpredictable in real data.)
        const unsigned sh = static_cast<unsigned>(-q);
        const uint64_t low_bits = c & ((uint64_t{1} << (sh & 63)) - 1);
        if (static_cast<unsigned>(sh <= 52) & static_cast<unsigned>(low_bits == 0)) return {c >> sh, 0};
    }
    const bool irregular = frac == 0 && biased > 1;
    const int k = irregular ? detail::floor_log10_three_quarters_pow2(q) : detail::floor_log10_pow2(q);
    const int h = q + detail::floor_log2_pow10(-k) + 1;  // 1..4
    const uint64_t* gp = kPow10Mant[-k - kPow10Min];
    const uint64_t g_lo = gp[1] + 1;
    const uint64_t g_hi = gp[0] + (g_lo == 0 ? 1 : 0);
    const uint64_t cp = c << (h + 2);        // (4c) << h
    const uint64_t half_ulp = uint64_t{2} << h;  // (2 << h): the regular bounds are 4c -+ 2
    const uint64_t vb = round_to_odd(g_hi, g_lo, cp);
    const uint64_t vbl = round_to_odd(g_hi, g_lo, cp - (half_ulp >> (irregular ? 1 : 0)));
    const uint64_t vbr = round_to_odd(g_hi, g_lo, cp + half_ulp);
    return choose(vbl, vb, vbr, c & 1, k);
}

inline Decimal shortest32(uint32_t bits) {
    const uint32_t frac = bits & ((uint32_t{1} << 23) - 1);
    const int biased = static_cast<int>(bits >> 23);
    uint64_t c;
    int q;
    if (biased == 0) {
        c = frac;
        q = -149;
    } else {
        c = frac | (uint32_t{1} << 23);
        q = biased - 150;
        const unsigned sh = static_cast<unsigned>(-q);
        const uint64_t low_bits = c & ((uint64_t{1} << (sh & 63)) - 1);
        if (static_cast<unsigned>(sh <= 23) & static_cast<unsigned>(low_bits == 0)) return {c >> sh, 0};
    }
    const bool irregular = frac == 0 && biased > 1;
    const int k = irregular ? detail::floor_log10_three_quarters_pow2(q) : detail::floor_log10_pow2(q);
    const int h = q + detail::floor_log2_pow10(-k) + 1;  // 1..4
    const uint64_t g = kPow10Mant[-k - kPow10Min][0] + 1;
    const uint64_t cb = c << 2;
    const uint64_t vb = round_to_odd(g, cb << h);
    const uint64_t vbl = round_to_odd(g, (cb - (irregular ? 1 : 2)) << h);
    const uint64_t vbr = round_to_odd(g, (cb + 2) << h);
    return choose(vbl, vb, vbr, c & 1, k);
}

inline std::size_t write_nonfinite(bool nan, bool neg, char* buf) {
    if (nan) { std::memcpy(buf, "NaN", 3); return 3; }
    if (neg) { std::memcpy(buf, "-Infinity", 9); return 9; }
    std::memcpy(buf, "Infinity", 8);
    return 8;
}

// The eight digits of x < 10^8 as byte values 0..9, the first digit in the lowest
// byte (memory order on a little-endian target): 4 + 4 digits in 32-bit lanes,
// then 2 + 2 in 16-bit lanes, then 1 + 1 in bytes. floor(x / 10^4) =
// (x * 109951163) >> 40 for x < 10^8, floor(x / 100) = (x * 10486) >> 20 for
// x < 10^4 and floor(x / 10) = (x * 103) >> 10 for x < 100; no lane overflows.
// Each step forms (quotient | remainder << lane/2) as (x << lane/2) + quotient *
// (1 - divisor << lane/2), exact modulo 2^64. (Of the variants tried, the best
// in both latency and throughput here.)
MILO_FMT_INLINE inline uint64_t digits8(uint32_t x) {
    const uint64_t q4 = (uint64_t{x} * 109951163) >> 40;
    const uint64_t v4 = (uint64_t{x} << 32) + q4 * (uint64_t{1} - (uint64_t{10000} << 32));
    const uint64_t q2 = ((v4 * 10486) >> 20) & 0x0000007f0000007fULL;
    const uint64_t v2 = (v4 << 16) + q2 * (uint64_t{1} - (uint64_t{100} << 16));
    const uint64_t q1 = ((v2 * 103) >> 10) & 0x000f000f000f000fULL;
    return (v2 << 8) + q1 * (uint64_t{1} - (uint64_t{10} << 8));
}

// Writes (-)d.ddd x 10^E in the text style of floatfmt.hpp, from the 17-char
// digit stream f, a1 (8 chars), a2 (8 chars) whose first n chars are the
// significant digits (f != '0', the rest of the stream is '0's). Every char comes
// from registers (whole 8/16-byte stores, overlapping where a later one corrects
// an earlier one): nothing just written is read back, which would stall on a
// failed store-to-load forwarding. The two positional layouts, "0.000ddd"
// (E < 0) and "ddd.ddd" (E >= 0), are chosen by a branch. (Writing both, the one
// not wanted into a scratch buffer, with no branch, was 3 ns a value slower on
// every data set of benchmarks/cpp/bench_floatfmt.cpp, standard normal values
// included, on the development VM; and where the writer inlines the formatter,
// each field's call site has a branch of its own, which the predictor learns.)
// Uses up to 34 bytes of buf.
__attribute__((always_inline)) inline std::size_t render_stream(bool neg, char f, uint64_t a1, uint64_t a2, int n,
                                                                int E, char* buf) {
    char* p = buf;
    *p = '-';
    p += neg ? 1 : 0;
    if (static_cast<unsigned>(E + 4) < 20u) {  // positional: -4 <= E < 16
        if (E < 0) {
            // "0." then -E-1 zeros then the digits
            std::memcpy(p, "0.000000", 8);
            char* const q = p + 1 - E;
            *q = f;
            std::memcpy(q + 1, &a1, 8);
            std::memcpy(q + 9, &a2, 8);
            return static_cast<std::size_t>(p + 1 - E + n - buf);
        }
        // L = E + 1 digits, '.', the digits from index L on: at least one, the stream's '0' padding giving
        // "ddd.0" for an integer.
        const int L = E + 1;
        *p = f;
        std::memcpy(p + 1, &a1, 8);
        std::memcpy(p + 9, &a2, 8);
        const u128 rest = ((static_cast<u128>(a2) << 64) | a1) >> (8 * (L - 1));  // stream chars L..16
        std::memcpy(p + L + 1, &rest, 16);
        p[L] = '.';
        return static_cast<std::size_t>(p + (n > L ? n : L + 1) + 1 - buf);
    }
    *p = f;
    std::memcpy(p + 1, &a1, 8);
    std::memcpy(p + 9, &a2, 8);
    const u128 rest = (static_cast<u128>(a2) << 64) | a1;  // the digits after the first
    std::memcpy(p + 2, &rest, 16);
    p[1] = '.';
    p += n > 1 ? n + 1 : 1;  // "5e-324": no point after a single digit
    unsigned ae;
    if (E < 0) {
        std::memcpy(p, "e-", 2);
        ae = static_cast<unsigned>(-E);
    } else {
        std::memcpy(p, "e+", 2);
        ae = static_cast<unsigned>(E);
    }
    p += 2;
    if (ae >= 100) {
        *p++ = static_cast<char>('0' + ae / 100);
        ae %= 100;
    }
    write2(p, ae);
    return static_cast<std::size_t>(p + 2 - buf);
}

// Number of significant chars of the digit stream f, d1, d2 (d1, d2: digit values
// 0..9 per byte, first digit in the lowest byte): the index after the last non-zero.
MILO_FMT_INLINE inline int stream_length(uint64_t d1, uint64_t d2) {
    const int n2 = 17 - (__builtin_clzll(d2 | 1) >> 3);
    const int n1 = 9 - (__builtin_clzll(d1 | 1) >> 3);
    return d2 != 0 ? n2 : d1 != 0 ? n1 : 1;
}

constexpr uint64_t kZeros = 0x3030303030303030ULL;

// Renders digits * 10^exp10 (0 < digits < 10^17) with trailing zeros dropped.
MILO_FMT_INLINE inline std::size_t render_decimal64(bool neg, Decimal dec, char* buf) {
    int nd;
    uint64_t D;  // the digits scaled to exactly 17, the first non-zero
    if (dec.digits >= 1000000000000000ULL) {
        // 16 or 17 digits: every double but the subnormals and the small integers
        // (see shortest64). Cheaper than decimal_length, on the critical path.
        // (Arithmetic, not a select: the compiler would branch, on a coin toss.)
        const uint64_t d16 = dec.digits < 10000000000000000ULL;
        nd = 17 - static_cast<int>(d16);
        D = dec.digits * (1 + 9 * d16);
    } else {
        nd = decimal_length(dec.digits);
        D = dec.digits * kPow10U64[17 - nd];
    }
    // 1 + 8 + 8 digits, the divisions side by side
    const uint64_t top = D / 100000000;                                   // [10^8, 10^9)
    const uint32_t f = static_cast<uint32_t>((top * 1441151881) >> 57);  // top / 10^8: 1..9
    const uint64_t d1 = digits8(static_cast<uint32_t>(top - uint64_t{f} * 100000000));
    const uint64_t d2 = digits8(static_cast<uint32_t>(D - top * 100000000));
    return render_stream(neg, static_cast<char>('0' + f), d1 + kZeros, d2 + kZeros, stream_length(d1, d2),
                         dec.exp10 + nd - 1, buf);
}

// The same for 0 < digits < 10^9.
inline std::size_t render_decimal32(bool neg, Decimal dec, char* buf) {
    int nd;
    uint32_t D;  // the digits scaled to exactly 9, the first non-zero
    if (dec.digits >= 1000000) {
        // 7 to 9 digits: every float but the subnormals and the small integers (the
        // digits of a normal float are in [2^23, 10 * 2^24), see choose()).
        const int more = static_cast<int>(dec.digits >= 10000000) + static_cast<int>(dec.digits >= 100000000);
        nd = 7 + more;
        D = static_cast<uint32_t>(dec.digits * kPow10U64[2 - more]);
    } else {
        nd = decimal_length(dec.digits);
        D = static_cast<uint32_t>(dec.digits * kPow10U64[9 - nd]);
    }
    const uint32_t f = D / 100000000;
    const uint64_t d1 = digits8(D - f * 100000000);
    return render_stream(neg, static_cast<char>('0' + f), d1 + kZeros, kZeros, stream_length(d1, 0),
                         dec.exp10 + nd - 1, buf);
}

// x < 10^8 with its leading zeros dropped ("0" for 0): the digits from digits8,
// shifted down past the zero bytes, stored as one 8-byte block.
MILO_FMT_INLINE inline std::size_t write_upto8(uint32_t x, char* buf) {
    const uint64_t d = digits8(x);
    const int zeros = d ? (__builtin_ctzll(d) >> 3) : 7;  // leading zero digits (keep one digit for 0)
    const uint64_t text = (d >> (8 * zeros)) + kZeros;
    std::memcpy(buf, &text, 8);
    return static_cast<std::size_t>(8 - zeros);
}

MILO_FMT_INLINE inline void write_exact8(uint32_t x, char* buf) {
    const uint64_t text = digits8(x) + kZeros;
    std::memcpy(buf, &text, 8);
}

// x < 10^4 with its leading zeros dropped ("0" for 0): two digit pairs from the table, shifted down past the
// zeros, stored as one 4-byte block. About half write_upto8's instructions.
MILO_FMT_INLINE inline std::size_t write_upto4(uint32_t x, char* buf) {
    const uint32_t hi = (x * 5243) >> 19;  // floor(x / 100) for x < 10^4 (5243 / 2^19 exceeds 1/100 by < 2.3e-7)
    const uint32_t lo = x - hi * 100;
    uint16_t a, b;
    std::memcpy(&a, kDigitPairs + 2 * hi, 2);
    std::memcpy(&b, kDigitPairs + 2 * lo, 2);
    const int zeros = static_cast<int>(x < 10) + static_cast<int>(x < 100) + static_cast<int>(x < 1000);
    const uint32_t text = (a | (uint32_t{b} << 16)) >> (8 * zeros);
    std::memcpy(buf, &text, 4);
    return static_cast<std::size_t>(4 - zeros);
}

// kSmall: for integers that are mostly below 10^4 (a tree's child indices, features, sample counts and weights),
// which then take write_upto4. Not the default: where values straddle 10^4 the test is a coin toss (uniform in
// [0, 20000): 3.95 -> 5.96 ns a value, against 3.98 -> 2.78 in [0, 10^4) and 4.01 -> 4.21 in [0, 10^6)).
template <bool kSmall = false>
MILO_FMT_INLINE inline std::size_t u64_text(uint64_t v, char* buf) {
    if (kSmall && v < 10000) return write_upto4(static_cast<uint32_t>(v), buf);
    if (v < 100000000) return write_upto8(static_cast<uint32_t>(v), buf);
    if (v < 10000000000000000ULL) {
        const uint64_t hi = v / 100000000;
        const std::size_t n = write_upto8(static_cast<uint32_t>(hi), buf);
        write_exact8(static_cast<uint32_t>(v - hi * 100000000), buf + n);
        return n + 8;
    }
    const uint64_t top = v / 10000000000000000ULL;  // 1..1844
    const uint64_t rest = v - top * 10000000000000000ULL;
    const uint64_t mid = rest / 100000000;
    const std::size_t n = write_upto8(static_cast<uint32_t>(top), buf);
    write_exact8(static_cast<uint32_t>(mid), buf + n);
    write_exact8(static_cast<uint32_t>(rest - mid * 100000000), buf + n + 8);
    return n + 16;
}

template <bool kSmall = false>
MILO_FMT_INLINE inline std::size_t i64_text(int64_t v, char* buf) {
    *buf = '-';
    const bool neg = v < 0;
    const uint64_t mag = neg ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    return u64_text<kSmall>(mag, buf + neg) + neg;
}

// kSmall: as u64_text's, for the integers among the values.
template <bool kSmall = false>
MILO_FMT_INLINE inline std::size_t format_fast64(double v, char* buf) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    const bool neg = (bits >> 63) != 0;
    const uint64_t a = bits & 0x7fffffffffffffffULL;
    if (a >= 0x7ff0000000000000ULL) return write_nonfinite(a != 0x7ff0000000000000ULL, neg, buf);
    if (a == 0) {
        char* p = buf;
        *p = '-';
        p += neg ? 1 : 0;
        std::memcpy(p, "0.0", 3);
        return static_cast<std::size_t>(p + 3 - buf);
    }
    // An integer below 2^53 in magnitude (a forest's thresholds and impurities at its leaves, class fractions 0
    // and 1, sample weights): its shortest digits are its own, written "D.0" as render_decimal64 would.
    if (a < 0x4340000000000000ULL) {
        const double m = double_of(a);
        const int64_t i = static_cast<int64_t>(m);
        if (static_cast<double>(i) == m) {
            char* p = buf;
            *p = '-';
            p += neg ? 1 : 0;
            p += u64_text<kSmall>(static_cast<uint64_t>(i), p);
            std::memcpy(p, ".0", 2);
            return static_cast<std::size_t>(p + 2 - buf);
        }
    }
    return render_decimal64(neg, shortest64(a), buf);
}

inline std::size_t format_fast32(float v, char* buf) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    const bool neg = (bits >> 31) != 0;
    const uint32_t a = bits & 0x7fffffffU;
    if (a >= 0x7f800000U) return write_nonfinite(a != 0x7f800000U, neg, buf);
    if (a == 0) {
        char* p = buf;
        *p = '-';
        p += neg ? 1 : 0;
        std::memcpy(p, "0.0", 3);
        return static_cast<std::size_t>(p + 3 - buf);
    }
    return render_decimal32(neg, shortest32(a), buf);
}


}  // namespace fmt
}  // namespace detail
}  // namespace milo
#endif  // MILO_FLOAT_FAST

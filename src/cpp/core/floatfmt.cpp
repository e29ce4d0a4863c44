// Float <-> shortest round-trip decimal text (see floatfmt.hpp for the contract).
//
// float64 / float32: formatting by a Schubfach-style shortest-decimal search and
// parsing by Clinger's exact path or a 128-bit Eisel-Lemire style product, both on
// the power-of-ten table of float_tables.hpp (see "fast paths" below for the
// method and why it is exact); parsing falls back to std::from_chars (correctly
// rounded) in the rare cases the fast path cannot decide, and everything falls
// back to <charconv> on compilers without unsigned __int128 or on big-endian
// targets. binary16 (which the standard library does not know) works by exact
// integer arithmetic and std::from_chars. float_reference.hpp keeps the original
// <charconv>-only float64/float32 implementation, the oracle of the tests. The
// formatters themselves are inline functions in float_format.hpp (the array writer
// calls them in its loops); the parser's common path is in float_parse.hpp.
#include "floatfmt.hpp"

#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "float_tables.hpp"
#include "float_parse.hpp"
#include "float_format.hpp"

namespace milo {

namespace {

using namespace detail::fp;  // the parser's helpers, shared with the array readers (float_parse.hpp)

// ---------------------------------------------------------------- bit helpers

inline uint64_t bits_of(double v) { uint64_t b; std::memcpy(&b, &v, 8); return b; }
inline uint32_t bits_of(float v) { uint32_t b; std::memcpy(&b, &v, 4); return b; }
inline double double_of(uint64_t b) { double v; std::memcpy(&v, &b, 8); return v; }
inline float float_of(uint32_t b) { float v; std::memcpy(&v, &b, 4); return v; }

// Where a value lies relative to the two binary16 neighbours around it.
enum Rem : int { kExact = 0, kBelowHalf = 1, kHalf = 2, kAboveHalf = 3 };

// |value| (given as the bits of a finite, non-negative double) truncated toward
// zero to binary16 magnitude bits, and the position of the discarded rest. A
// magnitude of 2^16 or more is reported as infinity (0x7c00), exact.
uint16_t half_trunc(uint64_t abs_bits, Rem& rem) {
    const int biased = static_cast<int>(abs_bits >> 52);
    const uint64_t frac = abs_bits & ((uint64_t{1} << 52) - 1);
    if (biased == 0) {  // zero or a double subnormal: far below half's smallest subnormal
        rem = frac == 0 ? kExact : kBelowHalf;
        return 0;
    }
    const int e = biased - 1023;
    if (e >= 16) { rem = kExact; return 0x7c00; }
    // Bits to drop so that one unit is half's quantum: 2^(e-10) for normal
    // halves, 2^-24 below 2^-14.
    const int s = 42 + (e < -14 ? -14 - e : 0);
    if (s >= 54) { rem = kBelowHalf; return 0; }  // value < 2^-25: below half of the smallest subnormal
    const uint64_t m = frac | (uint64_t{1} << 52);
    const uint64_t q = m >> s;
    const uint64_t r = m & ((uint64_t{1} << s) - 1);
    const uint64_t half = uint64_t{1} << (s - 1);
    rem = r == 0 ? kExact : r < half ? kBelowHalf : r == half ? kHalf : kAboveHalf;
    // Normal: exponent field (e + 15), q in [1024, 2047] carries the hidden bit.
    return static_cast<uint16_t>(e >= -14 ? ((e + 14) << 10) + q : q);
}

inline uint16_t round_even(uint16_t trunc, Rem rem) {
    const bool up = rem == kAboveHalf || (rem == kHalf && (trunc & 1));
    return static_cast<uint16_t>(trunc + (up ? 1 : 0));  // carries into the exponent / infinity
}

// A positive finite binary16 magnitude (or 0x7c00, standing for 2^16) in units of 2^-25.
inline uint64_t half_units(unsigned a) {
    if (a >= 0x7c00U) return uint64_t{1} << 41;
    const unsigned e = a >> 10, m = a & 0x3ffU;
    if (e == 0) return uint64_t{m} << 1;  // m * 2^-24
    return uint64_t{m | 0x400U} << e;     // (1024 + m) * 2^(e - 25)
}

constexpr uint64_t kPow10[] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
                               100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
                               10000000000000ULL, 100000000000000ULL};

// ------------------------------------------------------------- text rendering

// value = (-1)^neg * d[0].d[1]d[2]... * 10^exp10, ndig >= 1, d[0] != '0' unless the value is 0.
std::size_t render(bool neg, const char* d, int ndig, int exp10, char* buf) {
    while (ndig > 1 && d[ndig - 1] == '0') --ndig;
    char* p = buf;
    if (neg) *p++ = '-';
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 >= 0) {
            const int int_digits = exp10 + 1;
            if (ndig <= int_digits) {
                std::memcpy(p, d, ndig); p += ndig;
                for (int i = ndig; i < int_digits; ++i) *p++ = '0';
                *p++ = '.'; *p++ = '0';
            } else {
                std::memcpy(p, d, int_digits); p += int_digits;
                *p++ = '.';
                std::memcpy(p, d + int_digits, ndig - int_digits); p += ndig - int_digits;
            }
        } else {
            *p++ = '0'; *p++ = '.';
            for (int i = -1; i > exp10; --i) *p++ = '0';
            std::memcpy(p, d, ndig); p += ndig;
        }
    } else {
        *p++ = d[0];
        if (ndig > 1) {
            *p++ = '.';
            std::memcpy(p, d + 1, ndig - 1); p += ndig - 1;
        }
        *p++ = 'e';
        int e = exp10;
        if (e < 0) { *p++ = '-'; e = -e; } else { *p++ = '+'; }
        if (e >= 100) { *p++ = static_cast<char>('0' + e / 100); e %= 100; *p++ = static_cast<char>('0' + e / 10); }
        else { *p++ = static_cast<char>('0' + e / 10); }
        *p++ = static_cast<char>('0' + e % 10);
    }
    return static_cast<std::size_t>(p - buf);
}

// Split to_chars' scientific text "[-]d[.ddd]e(+|-)XX[X]" (no sign expected here)
// into digits and exponent. Returns the number of digits.
int split_sci(const char* s, const char* end, char* digits, int& exp10) {
    int n = 0;
    const char* p = s;
    for (; p < end && *p != 'e'; ++p)
        if (*p != '.') digits[n++] = *p;
    ++p;  // 'e'
    const bool eneg = *p == '-';
    ++p;
    int e = 0;
    for (; p < end; ++p) e = e * 10 + (*p - '0');
    exp10 = eneg ? -e : e;
    return n;
}

template <class F>
std::size_t format_shortest(F v, char* buf) {
    if (std::isnan(v)) { std::memcpy(buf, "NaN", 3); return 3; }
    if (std::isinf(v)) {
        if (v < 0) { std::memcpy(buf, "-Infinity", 9); return 9; }
        std::memcpy(buf, "Infinity", 8); return 8;
    }
    const bool neg = std::signbit(v);
    char tmp[48];
    const auto r = std::to_chars(tmp, tmp + sizeof tmp, neg ? -v : v, std::chars_format::scientific);
    char digits[24];
    int exp10 = 0;
    const int n = split_sci(tmp, r.ptr, digits, exp10);
    return render(neg, digits, n, exp10, buf);
}

// -------------------------------------------------------------- JSON scanning

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

struct Scan {
    const char* end = nullptr;
    bool neg = false;
    const char* int_begin = nullptr;   // integer digits [int_begin, int_end)
    const char* int_end = nullptr;
    const char* frac_begin = nullptr;  // fraction digits [frac_begin, frac_end), maybe empty
    const char* frac_end = nullptr;
    int64_t exp = 0;                   // the exponent literal, saturated at +-kExpCap
    bool is_integer = true;
};

constexpr int64_t kExpCap = 100000000000000000;  // 1e17: far beyond any finite value, and e * 10 + 9 cannot overflow

bool scan(const char* first, const char* last, Scan& s) {
    const char* p = first;
    if (p < last && *p == '-') { s.neg = true; ++p; }
    if (p >= last) return false;
    s.int_begin = p;
    if (*p == '0') {
        ++p;
    } else if (*p >= '1' && *p <= '9') {
        ++p;
        while (p < last && is_digit(*p)) ++p;
    } else {
        return false;
    }
    s.int_end = p;
    s.frac_begin = s.frac_end = p;
    if (p < last && *p == '.') {
        ++p;
        s.frac_begin = p;
        while (p < last && is_digit(*p)) ++p;
        if (p == s.frac_begin) return false;
        s.frac_end = p;
        s.is_integer = false;
    }
    if (p < last && (*p == 'e' || *p == 'E')) {
        ++p;
        bool eneg = false;
        if (p < last && (*p == '+' || *p == '-')) { eneg = *p == '-'; ++p; }
        const char* digits = p;
        int64_t e = 0;
        while (p < last && is_digit(*p)) {
            if (e < kExpCap) e = e * 10 + (*p - '0');
            ++p;
        }
        if (p == digits) return false;
        if (e > kExpCap) e = kExpCap;
        s.exp = eneg ? -e : e;
        s.is_integer = false;
    }
    if (p < last && bad_follower(*p)) return false;
    s.end = p;
    return true;
}

// Iterates the significant digits of a scanned number (leading zeros skipped)
// and knows its decimal exponent: value = d1.d2d3... * 10^sci_exp.
struct DigitCursor {
    const char* p;
    const char* int_end;
    const char* frac_begin;  // == int_end when there is no fraction
    const char* frac_end;
    int64_t sci_exp = 0;
    bool zero = false;

    explicit DigitCursor(const Scan& s)
        : p(s.int_begin), int_end(s.int_end), frac_begin(s.frac_begin), frac_end(s.frac_end) {
        while (p < int_end && *p == '0') ++p;
        if (p < int_end) {
            sci_exp = (int_end - p - 1) + s.exp;
            return;
        }
        p = frac_begin;
        while (p < frac_end && *p == '0') ++p;
        if (p < frac_end) {
            sci_exp = -(p - frac_begin + 1) + s.exp;
            return;
        }
        zero = true;
    }
    // Next digit, or -1 when exhausted.
    int next() {
        if (p == int_end) p = frac_begin;  // step over the '.'
        if (p >= frac_end) return -1;
        return *p++ - '0';
    }
};

// Compare the exact decimal value of the scanned number's magnitude with m
// (a positive finite double). Returns -1, 0 or 1.
int compare_exact(const Scan& s, double m) {
    char tmp[96];
    // 60 digits after the point are far more than any binary16 midpoint needs
    // (at most ~20 significant digits), so the text is exact.
    const auto r = std::to_chars(tmp, tmp + sizeof tmp, m, std::chars_format::scientific, 60);
    char md[72];
    int mexp = 0;
    int mn = split_sci(tmp, r.ptr, md, mexp);
    while (mn > 1 && md[mn - 1] == '0') --mn;

    DigitCursor c(s);
    if (c.zero) return -1;
    if (c.sci_exp != mexp) return c.sci_exp < mexp ? -1 : 1;
    for (int i = 0; i < mn; ++i) {
        const int x = c.next();
        const int y = md[i] - '0';
        if (x < 0) return -1;  // input ran out while m still has a non-zero digit ahead (m's last digit is non-zero)
        if (x != y) return x < y ? -1 : 1;
    }
    for (int x = c.next(); x >= 0; x = c.next())
        if (x != 0) return 1;
    return 0;
}

// libstdc++ (12+, fast_float inside) reports out_of_range exactly when the
// correctly rounded result is +-infinity (overflow) or zero from a non-zero
// input (underflow), and then leaves the value alone. Is this out_of_range an
// underflow to zero? Overflow is a number >= 1; an underflow to zero is below
// half the smallest subnormal (2.47e-324 for double, 7.0e-46 for float), so its
// decimal exponent is at most max_zero_exp10. Anything else (a library that
// flags subnormal results, as strtod may) is not trusted and becomes an error.
bool underflows_to_zero(const Scan& s, int64_t max_zero_exp10) {
    DigitCursor c(s);
    return !c.zero && c.sci_exp <= max_zero_exp10;
}

template <class F> constexpr int64_t kMaxZeroExp10 = -324;
template <> constexpr int64_t kMaxZeroExp10<float> = -46;

#if defined(__GNUC__)
#define MILO_COLD __attribute__((noinline, cold))
#else
#define MILO_COLD
#endif

// (Cold: the fast parser's fallback; kept out of line so as not to weigh on it.)
template <class F>
MILO_COLD const char* parse_std(const char* first, const char* last, F& out) {
    Scan s;
    if (!scan(first, last, s)) return nullptr;
    F v{};
    const auto r = std::from_chars(first, s.end, v, std::chars_format::general);
    if (r.ptr != s.end) return nullptr;  // cannot happen: the grammar is a subset of from_chars'
    if (r.ec == std::errc::result_out_of_range) {
        if (!underflows_to_zero(s, kMaxZeroExp10<F>)) return nullptr;
        v = s.neg ? -F(0) : F(0);
    } else if (r.ec != std::errc()) {
        return nullptr;
    }
    out = v;
    return s.end;
}

// ============================================================ fast paths
//
// Formatting (shortest round trip): a Schubfach-style search. For v = c * 2^q,
// the decimals that read back as v are those in the rounding interval
// [v - 2^(q-1), v + 2^(q-1)] (only [v - 2^(q-2), v + 2^(q-1)] when c is the
// smallest significand of a binade above the first one), closed when c is even
// (round-to-nearest-even then reads the bounds back as v), open when c is odd.
// With 10^k <= width < 10^(k+1), the interval holds at least one multiple of
// 10^k and at most one of 10^(k+1). If it holds a multiple of 10^(k+1), that one
// is the shortest decimal (any other candidate has more significant digits, or
// the interval straddles a power of ten, which then is that multiple); otherwise
// the answer is the multiple of 10^k nearest to v: s = floor(v / 10^k) or s + 1,
// whichever is in the interval, the nearer one when both are (an exact tie is
// impossible: it would need a binary ulp below 10^k).
//
// The comparisons are exact with integers. In units of 10^k / 4 the interval
// bounds and v are T = (4c + d) * 2^q / 10^k for d in {-2 or -1, 0, +2}; with g
// the 128-bit significand of 10^-k from float_tables.hpp plus one (so g is above
// the exact value by less than one unit) and the shift h chosen so that
// T = (4c + d) * 2^h * g / 2^128 up to that excess, `round_to_odd` computes
// floor(T) with the lowest bit forced to 1 when T is not an integer. Against the
// even integers 4n and 4n + 2 that round-to-odd value compares exactly as T does.
// The excess moves the product up by less than cp / 2^128 < 2^-69 (cp < 2^59);
// an exact search over every binary exponent of binary64 (counting, for each q,
// the c whose T has a fraction in a given range, with floor sums) shows that a
// non-integer T has a fraction in [2^-65.4, 1 - 2^-60.5]: so floor(T) is never
// disturbed, and bits 61..127 of the low product are zero exactly when T is an
// integer. For binary32 (64-bit g, cp < 2^30, excess < 2^-34) the fractions lie in
// [2^-32, 1 - 2^-34]; the exhaustive float32 test checks that case fully as well.
//
// Parsing: the digits are read eight at a time; w * 10^q with w < 10^19 (at most
// 19 significant digits) is converted by Clinger's exact path when w and 10^|q|
// are exact doubles (floats), else by a 64 x 128-bit product with the truncated
// 10^q significand (an Eisel-Lemire style conversion): the exact product lies in
// [P, P + 2^64), and when the rounding of the whole window is the same, that is the
// correctly rounded result. An undecided window (a result within 2^-74 of a
// rounding boundary: exact dyadic values written with a fraction, like "0.5" when
// 10^-1 is truncated, or real near-ties) is settled exactly when w * 10^q is a
// dyadic rational (q >= -27 and 5^-q divides w); anything else, and more than 19
// significant digits, or an exponent outside the table, goes to std::from_chars.
// float64 texts of the common shape (no exponent, at most 7 integer and 17 fraction
// digits) inside a buffer with 40 bytes left take a wider path first (parse_f64_fast, float_parse.hpp:
// SSE2 digit masks and a 16-digit block, and one 64 x 64-bit product, which decides
// unless the result is within 2^-9 of a rounding boundary); see there.

#if MILO_FLOAT_FAST

using u128 = unsigned __int128;
using detail::kPow10Mant;
using detail::kPow10Min;
using detail::kPow10Max;

// ------------------------------------------------------------------ parsing

// Bytes of x (digits minus '0' where they are digits) with the high bit set
// where the byte of the source was not a digit: no carry crosses a byte.
inline uint64_t non_digit_mask(uint64_t x) {
    return (((x & 0x7f7f7f7f7f7f7f7fULL) + 0x7676767676767676ULL) | x) & 0x8080808080808080ULL;
}

// Reads the digits at p, appending them to w (mod 2^64), returns the end. Eight
// at a time while eight bytes are readable; the last, partial block (0 to 7
// digits) without a branch on its length, which varies from number to number.
inline const char* read_digits(const char* p, const char* last, uint64_t& w) {
    while (last - p >= 8) {
        const uint64_t x = load8(p) ^ 0x3030303030303030ULL;
        const uint64_t nd = non_digit_mask(x);
        if (nd == 0) {
            w = w * 100000000 + parse8(x);
            p += 8;
            continue;
        }
        const int n = __builtin_ctzll(nd) >> 3;  // 0..7 leading digits
        w = w * kPow10U64[n] + parse8((x << (63 - 8 * n)) << 1);
        return p + n;
    }
    while (p < last && is_digit(*p)) {
        w = w * 10 + static_cast<uint64_t>(*p - '0');
        ++p;
    }
    return p;
}

enum class Conv { Ok, Overflow, Undecided };

template <class F> struct Binary;
template <> struct Binary<double> {
    using Bits = uint64_t;
    static constexpr int kMant = 52, kMinExp = -1022, kMaxExp = 1023;
};
template <> struct Binary<float> {
    using Bits = uint32_t;
    static constexpr int kMant = 23, kMinExp = -126, kMaxExp = 127;
};

// The bits of a correctly rounded m * 2^e2 (m < 2^(kMant+1) after rounding, with
// E the exponent of the value before rounding) for the target format.
template <class F>
inline Conv pack(uint64_t m, int E, typename Binary<F>::Bits& out) {
    using B = Binary<F>;
    if (E < B::kMinExp) {  // subnormal (or the smallest normal after rounding up)
        out = static_cast<typename B::Bits>(m);
        return Conv::Ok;
    }
    if (m == (uint64_t{1} << (B::kMant + 1))) {
        m >>= 1;
        ++E;
    }
    if (E > B::kMaxExp) return Conv::Overflow;
    out = static_cast<typename B::Bits>((static_cast<uint64_t>(E - B::kMinExp + 1) << B::kMant) |
                                        (m & ((uint64_t{1} << B::kMant) - 1)));
    return Conv::Ok;
}

// Correctly rounded n * 2^e2 (n > 0).
template <class F>
inline Conv round_dyadic(uint64_t n, int e2, typename Binary<F>::Bits& out) {
    using B = Binary<F>;
    const int E = 63 - __builtin_clzll(n) + e2;
    const int shift = (E < B::kMinExp ? B::kMinExp : E) - B::kMant - e2;  // bits of n below the quantum
    uint64_t m;
    if (shift <= 0) {
        m = n << -shift;  // exact (shift >= -kMant)
    } else if (shift > 64) {
        m = 0;  // below half the smallest subnormal
    } else {
        const uint64_t rest = shift == 64 ? n : n & ((uint64_t{1} << shift) - 1);
        m = shift == 64 ? 0 : n >> shift;
        const uint64_t half = uint64_t{1} << (shift - 1);
        if (rest > half || (rest == half && (m & 1))) ++m;
    }
    return pack<F>(m, E, out);
}

// 5^n for n <= 27 (5^27 < 2^64).
constexpr uint64_t kPow5U64[] = {1ULL, 5ULL, 25ULL, 125ULL, 625ULL, 3125ULL, 15625ULL, 78125ULL, 390625ULL,
                                 1953125ULL, 9765625ULL, 48828125ULL, 244140625ULL, 1220703125ULL,
                                 6103515625ULL, 30517578125ULL, 152587890625ULL, 762939453125ULL,
                                 3814697265625ULL, 19073486328125ULL, 95367431640625ULL, 476837158203125ULL,
                                 2384185791015625ULL, 11920928955078125ULL, 59604644775390625ULL,
                                 298023223876953125ULL, 1490116119384765625ULL, 7450580596923828125ULL};

// w * 10^q correctly rounded to F, for 0 < w < 2^64 and kPow10Min <= q <= kPow10Max.
template <class F>
__attribute__((always_inline)) inline Conv decimal_to_binary(uint64_t w, int q, typename Binary<F>::Bits& out) {
    using B = Binary<F>;
    const int l = __builtin_clzll(w);
    const uint64_t W = w << l;
    const uint64_t* M = kPow10Mant[q - kPow10Min];
    // P = W * M (192 bits) = Yh * 2^128 + Yl * 2^64 + x0; the exact product is in [P, P + 2^64).
    const u128 a = static_cast<u128>(W) * M[0];
    const u128 b = static_cast<u128>(W) * M[1];
    const uint64_t x0 = static_cast<uint64_t>(b);
    uint64_t Yl;
    const bool carry = __builtin_add_overflow(static_cast<uint64_t>(a), static_cast<uint64_t>(b >> 64), &Yl);
    const uint64_t Yh = static_cast<uint64_t>(a >> 64) + (carry ? 1 : 0);  // no overflow: a <= (2^64-1)^2
    const int top = 190 + static_cast<int>(Yh >> 63);  // P >= 2^190: its leading bit
    // value = P * 2^(floor(log2 10^q) - 127 - l): exponent of its leading bit
    const int E = top + detail::floor_log2_pow10(q) - 127 - l;
    // bits of P below the result's quantum: at least 138 (so all of x0 and Yl)
    const int s = top - B::kMant + (E < B::kMinExp ? B::kMinExp - E : 0);
    if (s > 191) return Conv::Undecided;  // far below the smallest subnormal's half: slow path
    const int sh = s - 128;               // bits of Yh below the quantum: 10..63
    const uint64_t m = Yh >> sh;
    const uint64_t mask_h = (uint64_t{1} << sh) - 1;
    const uint64_t half_h = uint64_t{1} << (sh - 1);
    const uint64_t rest_h = Yh & mask_h;
    // The rest of P below the quantum, r = rest_h * 2^64 + Yl, against half = half_h * 2^64:
    // the exact product's rest lies in [r, r + 2^65). Unless rest_h is half_h - 1,
    // half_h or mask_h, it rounds as r does, up when rest_h >= half_h (and the
    // window cannot carry out of the quantum).
    if (rest_h - (half_h - 1) <= 1 || rest_h == mask_h) {
        const u128 r = (static_cast<u128>(rest_h) << 64) | Yl;
        const u128 half = static_cast<u128>(half_h) << 64;
        const u128 mask = (static_cast<u128>(mask_h) << 64) | ~uint64_t{0};
        bool up;
        if (q >= 0 && q <= 55) {  // 10^q is exact, and so is P: decide exactly, ties to even
            up = r > half || (r == half && (x0 != 0 || (m & 1) != 0));
        } else if (r + 2 <= half) {  // the whole window [P, P + 2^64) rounds down
            up = false;
        } else if (r > half && r < mask) {  // ... rounds up, without a carry out of the quantum
            up = true;
        } else {
            // An exact dyadic value (or halfway point) written with a fraction lands here.
            if (q < 0 && q >= -27 && w % kPow5U64[-q] == 0) return round_dyadic<F>(w / kPow5U64[-q], q, out);
            return Conv::Undecided;
        }
        return pack<F>(m + (up ? 1 : 0), E, out);
    }
    return pack<F>(m + (rest_h >= half_h ? 1 : 0), E, out);
}

constexpr double kPow10Double[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
constexpr float kPow10Float[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

// Clinger: w and 10^|q| exact in F, one correctly rounded IEEE operation.
// (Needs FLT_EVAL_METHOD == 0: no excess precision, true of x86-64 SSE and AArch64.)
// Taken on the digit count, not on w itself (w <= 2^53 is a coin toss for
// 16-digit numbers, a mispredicted branch): at most 15 digits for double, 7 for float.
inline bool clinger(uint64_t w, int64_t n_digits, int64_t q, double& out) {
#if FLT_EVAL_METHOD == 0
    if (n_digits <= 15 && q >= -22 && q <= 22) {
        const double d = static_cast<double>(static_cast<int64_t>(w));  // w < 10^15: a signed conversion
        out = q < 0 ? d / kPow10Double[-q] : d * kPow10Double[q];
        return true;
    }
#else
    (void)w; (void)n_digits; (void)q; (void)out;
#endif
    return false;
}
inline bool clinger(uint64_t w, int64_t n_digits, int64_t q, float& out) {
#if FLT_EVAL_METHOD == 0
    if (n_digits <= 7 && q >= -10 && q <= 10) {
        const float f = static_cast<float>(static_cast<int64_t>(w));
        out = q < 0 ? f / kPow10Float[-q] : f * kPow10Float[q];
        return true;
    }
#else
    (void)w; (void)n_digits; (void)q; (void)out;
#endif
    return false;
}

// Any JSON number, with bounds checks on every byte (the general path: short
// buffers, integer parts of 8 digits or more, fractions of 18 digits or more,
// exponents, errors). Out of line, so as not to weigh on parse_f64_fast.
#if defined(__GNUC__)
#define MILO_NOINLINE __attribute__((noinline))
#else
#define MILO_NOINLINE
#endif

template <class F>
inline const char* parse_checked(const char* first, const char* last, F& out) {
    const char* p = first;
    if (p >= last) return nullptr;
    const bool neg = *p == '-';
    p += neg ? 1 : 0;
    if (p >= last || !is_digit(*p)) return nullptr;
    // The integer part: most often a single digit ("0.123", "1.5e-07").
    const char* const int_begin = p;
    uint64_t w = static_cast<uint64_t>(*p++ - '0');
    if (p < last && is_digit(*p)) {
        if (w == 0) return nullptr;  // "01": a leading zero stands alone
        p = read_digits(p, last, w);
    }
    const char* const int_end = p;
    const char* frac_begin = p;
    int64_t n_frac = 0;
    if (p < last && *p == '.') {
        ++p;
        frac_begin = p;
        p = read_digits(p, last, w);
        n_frac = p - frac_begin;
        if (n_frac == 0) return nullptr;
    }
    int64_t e = 0;
    if (p < last && (*p | 0x20) == 'e') {
        ++p;
        bool eneg = false;
        if (p < last && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            ++p;
        }
        const char* const digits = p;
        while (p < last && is_digit(*p)) {
            if (e < kExpCap) e = e * 10 + (*p - '0');
            ++p;
        }
        if (p == digits) return nullptr;
        if (e > kExpCap) e = kExpCap;
        if (eneg) e = -e;
    }
    if (p < last && bad_follower(*p)) return nullptr;

    const int64_t n_digits = (int_end - int_begin) + n_frac;  // leading zeros included
    if (n_digits > 19) {
        // Count the significant digits: w is exact if there are at most 19.
        int64_t sig = n_digits;
        if (*int_begin == '0') {  // "0.000ddd": the fraction digits from the first non-zero one
            const char* const frac_end = frac_begin + n_frac;
            const char* z = frac_begin;
            while (z < frac_end && *z == '0') ++z;
            sig = frac_end - z;
        }
        if (sig > 19) return parse_std(first, last, out);
    }
    const int64_t q = e - n_frac;
    F v;
    if (clinger(w, n_digits, q, v)) {  // w == 0 included: +-0
        out = with_sign(v, neg);
        return p;
    }
    if (w == 0) {
        out = with_sign(F(0), neg);
        return p;
    }
    if (q < kPow10Min || q > kPow10Max) return parse_std(first, last, out);
    typename Binary<F>::Bits bits;
    switch (decimal_to_binary<F>(w, static_cast<int>(q), bits)) {
        case Conv::Ok:
            bits |= static_cast<typename Binary<F>::Bits>(neg) << (sizeof bits * 8 - 1);
            std::memcpy(&out, &bits, sizeof bits);
            return p;
        case Conv::Overflow:
            return nullptr;
        case Conv::Undecided:
            break;
    }
    return parse_std(first, last, out);
}

template <class F>
MILO_NOINLINE const char* parse_general(const char* first, const char* last, F& out) {
    return parse_checked(first, last, out);
}

// parse_f64_fast's numbers with an exponent of 1 to 3 digits ("1.5e-07", "1e+300"):
// e points at the 'e' (at most first[27], and this reads up to first[32]: parse_f64_fast
// leaves 40 readable); w holds the
// n_digits digits (leading zeros included) with n_frac of them after the point,
// counts = n_digits << 8 | n_frac (six arguments: all in registers). Anything else
// starts over on parse_general.
MILO_NOINLINE const char* with_exponent(const char* first, const char* last, double& out, const char* e,
                                        uint64_t w, int counts) {
    const int n_digits = counts >> 8, n_frac = counts & 0xff;
    const bool neg = *first == '-';
    const char* x = e + 1;
    const bool eneg = *x == '-';
    x += (*x == '-' || *x == '+') ? 1 : 0;
    int k = 0, ex = 0;
    while (k < 4 && is_digit(x[k])) {
        ex = ex * 10 + (x[k] - '0');
        ++k;
    }
    // no digit (an error), or 4 and more: the general path
    if (k == 0 || k == 4 || n_digits > 19) return parse_general(first, last, out);
    const char* const end = x + k;
    if (bad_follower(*end)) return nullptr;
    const int q = (eneg ? -ex : ex) - n_frac;
    double v;
    if (clinger(w, n_digits, q, v)) {  // w == 0 included: +-0
        out = with_sign(v, neg);
        return end;
    }
    if (w == 0) {
        out = with_sign(0.0, neg);
        return end;
    }
    if (q < kPow10Min || q > kPow10Max) return parse_general(first, last, out);
    uint64_t bits;
    switch (decimal_to_binary<double>(w, q, bits)) {
        case Conv::Ok:
            bits |= static_cast<uint64_t>(neg) << 63;
            std::memcpy(&out, &bits, sizeof bits);
            return end;
        case Conv::Overflow:
            return nullptr;
        case Conv::Undecided:
            break;
    }
    return parse_std(first, last, out);
}

#endif  // MILO_FLOAT_FAST

}  // namespace

#if MILO_FLOAT_FAST
namespace detail {
const char* parse_f64_general(const char* first, const char* last, double& out) { return parse_general(first, last, out); }
const char* parse_f64_exponent(const char* first, const char* last, double& out, const char* e, uint64_t w, int counts) {
    return with_exponent(first, last, out, e, w, counts);
}
}  // namespace detail
#endif

// ---------------------------------------------------------------- classify

bool is_canonical_nan64(uint64_t bits) { return bits == 0x7ff8000000000000ULL; }
bool is_canonical_nan32(uint32_t bits) { return bits == 0x7fc00000U; }
bool is_canonical_nan16(uint16_t bits) { return bits == 0x7e00U; }

FloatClass classify64(uint64_t bits) {
    const uint64_t a = bits & 0x7fffffffffffffffULL;
    if (a < 0x7ff0000000000000ULL) return FloatClass::Finite;
    if (a > 0x7ff0000000000000ULL) return FloatClass::NaN;
    return (bits >> 63) ? FloatClass::NegInf : FloatClass::PosInf;
}

FloatClass classify32(uint32_t bits) {
    const uint32_t a = bits & 0x7fffffffU;
    if (a < 0x7f800000U) return FloatClass::Finite;
    if (a > 0x7f800000U) return FloatClass::NaN;
    return (bits >> 31) ? FloatClass::NegInf : FloatClass::PosInf;
}

FloatClass classify16(uint16_t bits) {
    const unsigned a = bits & 0x7fffU;
    if (a < 0x7c00U) return FloatClass::Finite;
    if (a > 0x7c00U) return FloatClass::NaN;
    return (bits >> 15) ? FloatClass::NegInf : FloatClass::PosInf;
}

// ------------------------------------------------------------- conversions

float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000U) << 16;
    const uint32_t exp = (h >> 10) & 0x1fU;
    const uint32_t mant = h & 0x3ffU;
    if (exp == 0x1f) return float_of(sign | 0x7f800000U | (mant << 13));
    if (exp == 0) {
        // mant * 2^-24, exact in float; the sign is applied by bits so that -0 stays -0.
        const float mag = static_cast<float>(mant) * 5.9604644775390625e-8f;
        return float_of(sign | bits_of(mag));
    }
    return float_of(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t double_to_half(double d) {
    const uint64_t b = bits_of(d);
    const uint16_t sign = static_cast<uint16_t>((b >> 48) & 0x8000U);
    const uint64_t a = b & 0x7fffffffffffffffULL;
    if (a >= 0x7ff0000000000000ULL) {
        if (a == 0x7ff0000000000000ULL) return static_cast<uint16_t>(sign | 0x7c00U);
        uint16_t payload = static_cast<uint16_t>((a >> 42) & 0x3ffU);
        if (payload == 0) payload = 0x200;
        return static_cast<uint16_t>(sign | 0x7c00U | payload);
    }
    Rem rem;
    const uint16_t t = half_trunc(a, rem);
    return static_cast<uint16_t>(sign | round_even(t, rem));
}

uint16_t float_to_half(float f) {
    const uint32_t b = bits_of(f);
    const uint32_t a = b & 0x7fffffffU;
    if (a > 0x7f800000U) {  // NaN: keep the payload bits ourselves (a cast to double could quiet it)
        const uint16_t sign = static_cast<uint16_t>((b >> 16) & 0x8000U);
        uint16_t payload = static_cast<uint16_t>((a >> 13) & 0x3ffU);
        if (payload == 0) payload = 0x200;
        return static_cast<uint16_t>(sign | 0x7c00U | payload);
    }
    return double_to_half(static_cast<double>(f));  // exact widening, then one rounding
}

// -------------------------------------------------------------- formatting

#if MILO_FLOAT_FAST
std::size_t format_f64(double v, char* buf) { return detail::fmt::format_fast64(v, buf); }
std::size_t format_f32(float v, char* buf) { return detail::fmt::format_fast32(v, buf); }
#else
std::size_t format_f64(double v, char* buf) { return format_shortest(v, buf); }
std::size_t format_f32(float v, char* buf) { return format_shortest(v, buf); }
#endif

#if MILO_FLOAT_FAST
std::size_t format_u64(uint64_t v, char* buf) { return detail::fmt::u64_text(v, buf); }
std::size_t format_i64(int64_t v, char* buf) { return detail::fmt::i64_text(v, buf); }
#else
std::size_t format_u64(uint64_t v, char* buf) { return static_cast<std::size_t>(std::to_chars(buf, buf + 24, v).ptr - buf); }
std::size_t format_i64(int64_t v, char* buf) { return static_cast<std::size_t>(std::to_chars(buf, buf + 24, v).ptr - buf); }
#endif

std::size_t format_f16(uint16_t bits, char* buf) {
    const unsigned a = bits & 0x7fffU;
    const bool neg = (bits & 0x8000U) != 0;
    if (a >= 0x7c00U) return format_shortest(half_to_float(bits), buf);  // NaN / Infinity tokens
    if (a == 0) return render(neg, "0", 1, 0, buf);

    // Exact integer arithmetic in units of 2^-25: every binary16 value and every
    // midpoint between neighbours is such a multiple, below 2^41.
    const uint64_t v = half_units(a);
    const uint64_t lo = (half_units(a - 1) + v) / 2;  // the decimals reading back as `a`
    const uint64_t hi = (v + half_units(a + 1)) / 2;  // lie in [lo, hi] (ties go to even)
    const bool closed = (a & 1) == 0;                 // ... or (lo, hi) for an odd mantissa

    // The decimal with the fewest significant digits in the interval is a
    // multiple of 10^k for the largest k that has a multiple there; take the
    // multiple nearest to v. Scaling everything by 10^-k (k < 0) keeps it exact:
    // a member is found by k = floor(log10 v) - 4, so the scaled values stay
    // below 10^5 * 2^25.
    for (int k = 5; k >= -14; --k) {
        const uint64_t scale = k < 0 ? kPow10[-k] : 1;
        const uint64_t step = k > 0 ? kPow10[k] << 25 : uint64_t{1} << 25;
        const uint64_t L = lo * scale, H = hi * scale, V = v * scale;
        uint64_t n_lo = L / step;
        if (n_lo * step < L || (n_lo * step == L && !closed)) ++n_lo;
        uint64_t n_hi = H / step;
        if (n_hi * step == H && !closed) --n_hi;  // n_hi >= n_lo > 0 here, when it matters
        if (n_lo > n_hi) continue;
        uint64_t n = V / step;
        const uint64_t rest = V - n * step;
        if (2 * rest > step || (2 * rest == step && (n & 1))) ++n;
        if (n < n_lo) n = n_lo;
        if (n > n_hi) n = n_hi;
        char digits[24];
        int nd = 0;
        for (uint64_t t = n; t > 0; t /= 10) digits[nd++] = static_cast<char>('0' + t % 10);
        for (int i = 0; i < nd / 2; ++i) { const char c = digits[i]; digits[i] = digits[nd - 1 - i]; digits[nd - 1 - i] = c; }
        return render(neg, digits, nd, k + nd - 1, buf);
    }
    // Not reached (five significant digits always suffice); a safe answer anyway.
    char tmp[32];
    char digits[24];
    int exp10 = 0;
    const auto r = std::to_chars(tmp, tmp + sizeof tmp, half_to_float(static_cast<uint16_t>(a)),
                                 std::chars_format::scientific, 4);
    const int nd = split_sci(tmp, r.ptr, digits, exp10);
    return render(neg, digits, nd, exp10, buf);
}

// ---------------------------------------------------------------- parsing

const char* scan_json_number(const char* first, const char* last, bool* is_integer) {
    Scan s;
    if (!scan(first, last, s)) return nullptr;
    if (is_integer) *is_integer = s.is_integer;
    return s.end;
}

#if MILO_FLOAT_FAST
const char* parse_f64(const char* first, const char* last, double& out) {
#if MILO_PARSE_WIDE
    return detail::fp::parse_f64_fast(first, last, out);  // (float_parse.hpp)
#else
    return parse_general(first, last, out);
#endif
}
// float32 texts have 6 to 9 digits: the wide path costs more than it saves there
// (207 against 193 instructions a value on the bench's standard normal floats).
const char* parse_f32(const char* first, const char* last, float& out) { return parse_checked(first, last, out); }
#else
const char* parse_f64(const char* first, const char* last, double& out) { return parse_std(first, last, out); }
const char* parse_f32(const char* first, const char* last, float& out) { return parse_std(first, last, out); }
#endif

const char* parse_f16(const char* first, const char* last, uint16_t& out_bits) {
    Scan s;
    if (!scan(first, last, s)) return nullptr;
    double d = 0;
    const auto r = std::from_chars(first, s.end, d, std::chars_format::general);
    if (r.ptr != s.end) return nullptr;
    const uint16_t sign = s.neg ? 0x8000 : 0;
    if (r.ec == std::errc::result_out_of_range) {
        if (!underflows_to_zero(s, kMaxZeroExp10<double>)) return nullptr;
        out_bits = sign;  // underflow far below binary16's range: a signed zero
        return s.end;
    }
    if (r.ec != std::errc()) return nullptr;
    // d is the decimal rounded once, to 53 bits. Rounding d again to 11 bits
    // is only wrong when d landed exactly on a midpoint between two binary16
    // values while the decimal itself was not there: then decide from the
    // exact decimal digits.
    Rem rem;
    const uint16_t t = half_trunc(bits_of(d) & 0x7fffffffffffffffULL, rem);
    uint16_t mag;
    if (rem == kHalf) {
        const int c = compare_exact(s, d < 0 ? -d : d);
        mag = static_cast<uint16_t>(t + ((c > 0 || (c == 0 && (t & 1))) ? 1 : 0));
    } else {
        mag = round_even(t, rem);
    }
    if (mag >= 0x7c00U) return nullptr;  // overflow
    out_bits = static_cast<uint16_t>(sign | mag);
    return s.end;
}

}  // namespace milo

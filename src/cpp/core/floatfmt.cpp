// Float <-> shortest round-trip decimal text (see floatfmt.hpp for the contract).
//
// The digits come from std::to_chars (shortest round-trip for float/double, exact
// digits at a given precision) and the conversions from std::from_chars (correctly
// rounded); this file adds the JSON grammar, the text style, binary16 (which the
// standard library does not know), and the out-of-range policy.
#include "floatfmt.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>

namespace milo {

namespace {

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

// A char that can never directly follow a JSON number.
inline bool bad_follower(char c) {
    const char l = static_cast<char>(c | 0x20);
    return is_digit(c) || (l >= 'a' && l <= 'z') || c == '.' || c == '+' || c == '-';
}

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

template <class F>
const char* parse_std(const char* first, const char* last, F& out) {
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

}  // namespace

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

std::size_t format_f64(double v, char* buf) { return format_shortest(v, buf); }
std::size_t format_f32(float v, char* buf) { return format_shortest(v, buf); }

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

const char* parse_f64(const char* first, const char* last, double& out) { return parse_std(first, last, out); }
const char* parse_f32(const char* first, const char* last, float& out) { return parse_std(first, last, out); }

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

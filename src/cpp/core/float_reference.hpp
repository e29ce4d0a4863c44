// The reference float64/float32 text conversions: the original floatfmt
// implementation on top of std::to_chars (shortest round trip) and
// std::from_chars (correctly rounded), kept verbatim in behaviour.
//
// Header-only and not used by the library's hot paths: the differential tests
// (tests/cpp/test_floatfmt.cpp, tests/cpp/exhaustive_f32.cpp) and the benchmark
// (benchmarks/cpp/bench_floatfmt.cpp) compare the fast implementation in
// floatfmt.cpp with it. Same contract as floatfmt.hpp's format_f64 / format_f32 /
// parse_f64 / parse_f32.
#pragma once
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>

namespace milo {
namespace detail {
namespace reference {

// value = (-1)^neg * d[0].d[1]d[2]... * 10^exp10, ndig >= 1, d[0] != '0' unless the value is 0.
inline std::size_t render(bool neg, const char* d, int ndig, int exp10, char* buf) {
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

// Split to_chars' scientific text "d[.ddd]e(+|-)XX[X]" into digits and exponent.
inline int split_sci(const char* s, const char* end, char* digits, int& exp10) {
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

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A char that can never directly follow a JSON number.
inline bool bad_follower(char c) {
    const char l = static_cast<char>(c | 0x20);
    return is_digit(c) || (l >= 'a' && l <= 'z') || c == '.' || c == '+' || c == '-';
}

struct Scan {
    const char* end = nullptr;
    bool neg = false;
    const char* int_begin = nullptr;
    const char* int_end = nullptr;
    const char* frac_begin = nullptr;
    const char* frac_end = nullptr;
    int64_t exp = 0;
    bool is_integer = true;
};

constexpr int64_t kExpCap = 100000000000000000;

inline bool scan(const char* first, const char* last, Scan& s) {
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

// Decimal exponent of the first significant digit (value = d1.d2d3... * 10^sci_exp);
// zero is reported through `zero`.
inline int64_t sci_exponent(const Scan& s, bool& zero) {
    zero = false;
    const char* p = s.int_begin;
    while (p < s.int_end && *p == '0') ++p;
    if (p < s.int_end) return (s.int_end - p - 1) + s.exp;
    p = s.frac_begin;
    while (p < s.frac_end && *p == '0') ++p;
    if (p < s.frac_end) return -(p - s.frac_begin + 1) + s.exp;
    zero = true;
    return 0;
}

// from_chars reports out_of_range for overflow (a number >= 1) and for an
// underflow to zero; only the latter (decimal exponent at most
// max_zero_exp10) is accepted, as a correctly signed zero.
inline bool underflows_to_zero(const Scan& s, int64_t max_zero_exp10) {
    bool zero = false;
    const int64_t e = sci_exponent(s, zero);
    return !zero && e <= max_zero_exp10;
}

template <class F> constexpr int64_t kMaxZeroExp10 = -324;
template <> constexpr int64_t kMaxZeroExp10<float> = -46;

template <class F>
const char* parse_std(const char* first, const char* last, F& out) {
    Scan s;
    if (!scan(first, last, s)) return nullptr;
    F v{};
    const auto r = std::from_chars(first, s.end, v, std::chars_format::general);
    if (r.ptr != s.end) return nullptr;
    if (r.ec == std::errc::result_out_of_range) {
        if (!underflows_to_zero(s, kMaxZeroExp10<F>)) return nullptr;
        v = s.neg ? -F(0) : F(0);
    } else if (r.ec != std::errc()) {
        return nullptr;
    }
    out = v;
    return s.end;
}

inline std::size_t format_f64(double v, char* buf) { return format_shortest(v, buf); }
inline std::size_t format_f32(float v, char* buf) { return format_shortest(v, buf); }
inline const char* parse_f64(const char* first, const char* last, double& out) { return parse_std(first, last, out); }
inline const char* parse_f32(const char* first, const char* last, float& out) { return parse_std(first, last, out); }

}  // namespace reference
}  // namespace detail
}  // namespace milo

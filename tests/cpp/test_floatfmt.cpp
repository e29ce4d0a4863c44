// Unit tests of src/cpp/core/floatfmt: shortest text, correct rounding, JSON grammar,
// binary16 conversions; the fast float64/float32 paths against the reference
// implementation (float_reference.hpp: std::to_chars / std::from_chars) on random and
// hard cases; the power-of-ten table of float_tables.hpp against exact big-integer
// arithmetic. Returns non-zero on failure.
//
//   test_floatfmt                         run the tests
//   test_floatfmt --print-float-tables    print src/cpp/core/float_tables.hpp (its generator)
#include "floatfmt.hpp"
#include "float_reference.hpp"

#include <cfloat>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "float_reference.hpp"
#include "float_format.hpp"
#include "float_tables.hpp"
#include "test_util.hpp"

using namespace milo;

namespace {

// ------------------------------------------------------------------ helpers

uint64_t bits64(double v) { uint64_t b; std::memcpy(&b, &v, 8); return b; }
uint32_t bits32(float v) { uint32_t b; std::memcpy(&b, &v, 4); return b; }
double from_bits64(uint64_t b) { double v; std::memcpy(&v, &b, 8); return v; }
float from_bits32(uint32_t b) { float v; std::memcpy(&v, &b, 4); return v; }

struct SplitMix64 {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
};

std::string f64s(double v) { char b[kFloatBufSize]; return std::string(b, format_f64(v, b)); }
std::string f32s(float v) { char b[kFloatBufSize]; return std::string(b, format_f32(v, b)); }
std::string f16s(uint16_t h) { char b[kFloatBufSize]; return std::string(b, format_f16(h, b)); }

// Parse the whole string from an exact-size heap copy (so ASan sees any read past `last`).
// Returns true when the whole string was consumed.
template <class T, class Fn>
bool parse_whole(const std::string& s, T& out, Fn fn) {
    std::unique_ptr<char[]> copy(new char[s.size() + 1]);
    std::memcpy(copy.get(), s.data(), s.size());
    const char* first = copy.get();
    const char* last = first + s.size();
    const char* end = fn(first, last, out);
    return end == last;
}
bool p64(const std::string& s, double& out) { return parse_whole(s, out, parse_f64); }
bool p32(const std::string& s, float& out) { return parse_whole(s, out, parse_f32); }
bool p16(const std::string& s, uint16_t& out) { return parse_whole(s, out, parse_f16); }

// The text reads back as a float in JSON: has '.' or 'e' and is one whole JSON number.
bool looks_like_json_float(const std::string& s) {
    if (s.find('.') == std::string::npos && s.find('e') == std::string::npos) return false;
    bool is_int = true;
    const char* end = scan_json_number(s.data(), s.data() + s.size(), &is_int);
    return end == s.data() + s.size() && !is_int;
}

bool roundtrip64(uint64_t b) {
    const double v = from_bits64(b);
    const std::string s = f64s(v);
    double back = 0;
    return looks_like_json_float(s) && p64(s, back) && bits64(back) == b;
}
bool roundtrip32(uint32_t b) {
    const float v = from_bits32(b);
    const std::string s = f32s(v);
    float back = 0;
    return looks_like_json_float(s) && p32(s, back) && bits32(back) == b;
}
bool roundtrip16(uint16_t b) {
    const std::string s = f16s(b);
    uint16_t back = 0;
    return looks_like_json_float(s) && p16(s, back) && back == b;
}

// Decimal digits and exponent of a scientific text "d[.ddd]e[+-]x" (no sign).
struct SciText {
    std::string digits;  // trailing zeros stripped
    int exp10 = 0;
};
SciText sci(const char* b, const char* e) {
    SciText r;
    const char* p = b;
    for (; p < e && *p != 'e'; ++p)
        if (*p != '.') r.digits.push_back(*p);
    ++p;
    const bool neg = *p == '-';
    ++p;
    int x = 0;
    for (; p < e; ++p) x = x * 10 + (*p - '0');
    r.exp10 = neg ? -x : x;
    while (r.digits.size() > 1 && r.digits.back() == '0') r.digits.pop_back();
    return r;
}

// "Exact" text of a double / long double with enough digits, and two texts just
// below and just above it (the last non-zero digit decremented and followed by
// 9s, or a 1 appended far out).
struct Around {
    std::string exact, below, above;
};
Around around(const SciText& t, bool neg) {
    Around a;
    const std::string sign = neg ? "-" : "";
    auto mk = [&](const std::string& digits) {
        std::string s = sign + digits.substr(0, 1);
        if (digits.size() > 1) s += "." + digits.substr(1);
        return s + "e" + std::to_string(t.exp10);
    };
    a.exact = mk(t.digits);
    std::string up = t.digits;
    if (up.size() == 1) up += "0";
    up += "00000000000000000001";
    a.above = mk(up);
    std::string down = t.digits;
    down.back() = static_cast<char>(down.back() - 1);  // last digit is non-zero
    down += "99999999999999999999";
    a.below = mk(down);
    return a;
}

// ------------------------------------------------------------ exact strings

void test_known_strings() {
    CHECK(f64s(0.0) == "0.0");
    CHECK(f64s(-0.0) == "-0.0");
    CHECK(f64s(1.0) == "1.0");
    CHECK(f64s(3.0) == "3.0");
    CHECK(f64s(-3.0) == "-3.0");
    CHECK(f64s(100.0) == "100.0");
    CHECK(f64s(0.1) == "0.1");
    CHECK(f64s(-0.1) == "-0.1");
    CHECK(f64s(1.0 / 3.0) == "0.3333333333333333");
    CHECK(f64s(2.0 / 3.0) == "0.6666666666666666");
    CHECK(f64s(123.25) == "123.25");
    CHECK(f64s(1e-4) == "0.0001");
    CHECK(f64s(1.5e-4) == "0.00015");
    CHECK(f64s(1e-5) == "1e-05");
    CHECK(f64s(1.25e-7) == "1.25e-07");
    CHECK(f64s(1e-7) == "1e-07");
    CHECK(f64s(9999999999999998.0) == "9999999999999998.0");
    CHECK(f64s(1e15) == "1000000000000000.0");
    CHECK(f64s(1e16) == "1e+16");
    CHECK(f64s(1.5e16) == "1.5e+16");
    CHECK(f64s(1e22) == "1e+22");
    CHECK(f64s(1e100) == "1e+100");
    CHECK(f64s(-1e-100) == "-1e-100");
    CHECK(f64s(5e-324) == "5e-324");
    CHECK(f64s(-5e-324) == "-5e-324");
    CHECK(f64s(DBL_MAX) == "1.7976931348623157e+308");
    CHECK(f64s(DBL_MIN) == "2.2250738585072014e-308");
    CHECK(f64s(from_bits64(0x000fffffffffffffULL)) == "2.225073858507201e-308");  // max subnormal
    CHECK(f64s(9007199254740993.0) == "9007199254740992.0");
    CHECK(f64s(0.30000000000000004) == "0.30000000000000004");
    CHECK(f64s(std::numeric_limits<double>::quiet_NaN()) == "NaN");
    CHECK(f64s(std::numeric_limits<double>::infinity()) == "Infinity");
    CHECK(f64s(-std::numeric_limits<double>::infinity()) == "-Infinity");

    CHECK(f32s(0.0f) == "0.0");
    CHECK(f32s(-0.0f) == "-0.0");
    CHECK(f32s(1.0f) == "1.0");
    CHECK(f32s(0.1f) == "0.1");
    CHECK(f32s(1.0f / 3.0f) == "0.33333334");
    CHECK(f32s(16777216.0f) == "16777216.0");
    CHECK(f32s(1e16f) == "1e+16");
    CHECK(f32s(1e-5f) == "1e-05");
    CHECK(f32s(FLT_MAX) == "3.4028235e+38");
    CHECK(f32s(FLT_MIN) == "1.1754944e-38");
    CHECK(f32s(from_bits32(1)) == "1e-45");
    CHECK(f32s(from_bits32(0x007fffff)) == "1.1754942e-38");
    CHECK(f32s(2.5f) == "2.5");

    CHECK(f16s(0x0000) == "0.0");
    CHECK(f16s(0x8000) == "-0.0");
    CHECK(f16s(0x3c00) == "1.0");
    CHECK(f16s(0xbc00) == "-1.0");
    CHECK(f16s(0x4200) == "3.0");
    CHECK(f16s(0x2e66) == "0.1");
    CHECK(f16s(0x3555) == "0.3333");
    CHECK(f16s(0x7bff) == "65500.0");  // 65500 reads back as 65504, the largest half
    CHECK(f16s(0x0001) == "6e-08");
    CHECK(f16s(0x03ff) == "6.1e-05");  // max subnormal 6.097555e-05
    CHECK(f16s(0x0400) == "6.104e-05");  // min normal 6.1035156e-05
    CHECK(f16s(0x6400) == "1024.0");
    CHECK(f16s(0x7c00) == "Infinity");
    CHECK(f16s(0xfc00) == "-Infinity");
    CHECK(f16s(0x7e00) == "NaN");
}

// --------------------------------------------------------------- round trips

void test_powers_of_two() {
    for (int e = -1074; e <= 1023; ++e) {
        const double v = std::ldexp(1.0, e);
        CHECK_MSG(roundtrip64(bits64(v)), "2^%d", e);
        CHECK_MSG(roundtrip64(bits64(-v)), "-2^%d", e);
        CHECK_MSG(roundtrip64(bits64(std::nextafter(v, 0.0))), "below 2^%d", e);
        CHECK_MSG(roundtrip64(bits64(std::nextafter(v, HUGE_VAL))), "above 2^%d", e);
    }
    for (int e = -149; e <= 127; ++e) {
        const float v = std::ldexp(1.0f, e);
        CHECK_MSG(roundtrip32(bits32(v)), "2^%d", e);
        CHECK_MSG(roundtrip32(bits32(-v)), "-2^%d", e);
        CHECK_MSG(roundtrip32(bits32(std::nextafter(v, 0.0f))), "below 2^%d", e);
        CHECK_MSG(roundtrip32(bits32(std::nextafter(v, HUGE_VALF))), "above 2^%d", e);
    }
    for (int e = -24; e <= 15; ++e) {
        const uint16_t h = float_to_half(std::ldexp(1.0f, e));
        CHECK_MSG(half_to_float(h) == std::ldexp(1.0f, e), "2^%d", e);
        CHECK_MSG(roundtrip16(h), "2^%d", e);
    }
}

void test_special_values() {
    const uint64_t specials64[] = {
        0, 0x8000000000000000ULL, 1, 0x8000000000000001ULL, 0x000fffffffffffffULL, 0x0010000000000000ULL,
        0x7fefffffffffffffULL, 0xffefffffffffffffULL, bits64(0.1), bits64(1.0 / 3.0), bits64(1e16),
        bits64(1e-7), bits64(9999999999999998.0), bits64(1e15), bits64(1e-5), bits64(1e-4), bits64(1e23),
        bits64(2.0), bits64(9007199254740993.0), bits64(4.35), bits64(0.3)};
    for (uint64_t b : specials64) CHECK_MSG(roundtrip64(b), "%016llx", static_cast<unsigned long long>(b));
    // integers: printed with ".0" in positional range, and exact
    for (int64_t i = -100000; i <= 100000; i += 7) {
        const std::string s = f64s(static_cast<double>(i));
        CHECK_MSG(s == std::to_string(i) + ".0", "%lld -> %s", static_cast<long long>(i), s.c_str());
    }
    for (int i = 0; i <= 2048; ++i) {
        const std::string s = f16s(float_to_half(static_cast<float>(i)));
        CHECK_MSG(s == std::to_string(i) + ".0", "%d -> %s", i, s.c_str());
    }
    // decimal boundaries of the positional/scientific switch, all widths
    double p = 1;
    for (int e = 0; e <= 22; ++e, p *= 10) {
        const std::string s = f64s(p);
        const bool sci = e >= 16;
        CHECK_MSG((s.find('e') != std::string::npos) == sci, "1e%d -> %s", e, s.c_str());
        CHECK(roundtrip64(bits64(p)));
        CHECK(roundtrip64(bits64(std::nextafter(p, 0.0))));
        CHECK(roundtrip64(bits64(std::nextafter(p, 1e300))));
        CHECK(roundtrip32(bits32(static_cast<float>(p))));
    }
    const uint32_t specials32[] = {0, 0x80000000U, 1, 0x80000001U, 0x007fffffU, 0x00800000U, 0x7f7fffffU,
                                   0xff7fffffU, bits32(0.1f), bits32(1.0f / 3.0f), bits32(1e-7f)};
    for (uint32_t b : specials32) CHECK_MSG(roundtrip32(b), "%08x", b);
}

void test_random_f64(uint64_t n) {
    SplitMix64 rng{12345};
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; ++i) {
        uint64_t b = rng.next();
        if (classify64(b) != FloatClass::Finite) continue;
        if (!roundtrip64(b)) {
            ++bad;
            CHECK_MSG(false, "f64 %016llx -> %s", static_cast<unsigned long long>(b), f64s(from_bits64(b)).c_str());
        }
    }
    CHECK(bad == 0);
    // also random values of ordinary magnitude (a uniform bit pattern is mostly huge or tiny)
    for (uint64_t i = 0; i < n / 4; ++i) {
        const double v = static_cast<double>(rng.next() >> 11) * 0x1p-53 * 2000.0 - 1000.0;
        if (!roundtrip64(bits64(v))) CHECK_MSG(false, "f64 %.17g", v);
    }
}

// Integer-valued doubles (format_f64 writes those below 2^53 as "D.0" from their integer digits): the text the
// reference formatter (std::to_chars shortest) gives, for every integer up to 2^17 in magnitude, the powers of two
// and their neighbours around 2^53, and random integers of every width; and their non-integer neighbours.
void test_integer_values() {
    auto same = [](double v) {
        char want[64];
        const std::string got = f64s(v);
        const std::size_t wn = milo::detail::reference::format_f64(v, want);
        if (got != std::string(want, wn)) {
            CHECK_MSG(false, "%.17g: %s, reference %s", v, got.c_str(), std::string(want, wn).c_str());
            return false;
        }
        return true;
    };
    int bad = 0;
    for (int64_t i = -(int64_t{1} << 17); i <= (int64_t{1} << 17); ++i) bad += !same(static_cast<double>(i));
    for (int k = 0; k <= 60; ++k) {
        const double v = std::ldexp(1.0, k);
        for (double x : {v, -v, std::nextafter(v, 0.0), std::nextafter(v, 1e300), v - 1, v + 1, v + 0.5, v - 0.5})
            bad += !same(x);
    }
    SplitMix64 rng{777};
    for (int n = 0; n < 200000; ++n) {
        const int width = 1 + static_cast<int>(rng.next() % 53);
        const int64_t i = static_cast<int64_t>(rng.next() >> (64 - width));
        const double v = (n & 1) ? -static_cast<double>(i) : static_cast<double>(i);
        bad += !same(v);
        bad += !same(std::nextafter(v, 1e300));
    }
    CHECK(bad == 0);
}

void test_random_f32(uint64_t n) {
    SplitMix64 rng{777};
    uint64_t bad = 0;
    for (uint64_t i = 0; i < n; ++i) {
        const uint32_t b = static_cast<uint32_t>(rng.next());
        if (classify32(b) != FloatClass::Finite) continue;
        if (!roundtrip32(b)) {
            ++bad;
            CHECK_MSG(false, "f32 %08x -> %s", b, f32s(from_bits32(b)).c_str());
        }
    }
    CHECK(bad == 0);
}

// ------------------------------------------------- binary16, exhaustively

// An independent, exact oracle for the shortest binary16 text. All binary16
// values and midpoints are multiples of 2^-25; all candidate decimals
// n*10^k (k >= -13) are multiples of 10^-13. In units of u = 2^-25 * 10^-13
// everything is an integer below 2^127.
using u128 = unsigned __int128;

u128 pow10u(int k) { u128 r = 1; while (k-- > 0) r *= 10; return r; }

// value of positive finite half `a` (or 2^16 for a == 0x7c00) in units of 2^-25
uint64_t half_units(unsigned a) {
    if (a >= 0x7c00) return uint64_t{1} << 41;  // 2^16 * 2^25
    const unsigned e = a >> 10, m = a & 0x3ff;
    if (e == 0) return uint64_t{m} << 1;        // m * 2^-24
    return uint64_t{m | 0x400} << e;             // (1024+m) * 2^(e-25) * 2^25 ... = (1024+m) << e
}

// The digits and scale of the text `s` ("[-]ddd.ddde[+-]x"), as an exact value in units u.
bool text_units(const std::string& s, u128& out, int& sig_digits) {
    std::string digits;
    int frac = 0, exp10 = 0;
    bool in_frac = false;
    size_t i = 0;
    if (i < s.size() && s[i] == '-') ++i;
    for (; i < s.size() && s[i] != 'e'; ++i) {
        if (s[i] == '.') { in_frac = true; continue; }
        digits.push_back(s[i]);
        if (in_frac) ++frac;
    }
    if (i < s.size()) exp10 = std::atoi(s.c_str() + i + 1);
    size_t lead = 0;
    while (lead + 1 < digits.size() && digits[lead] == '0') ++lead;
    std::string sig = digits.substr(lead);
    while (sig.size() > 1 && sig.back() == '0') sig.pop_back();
    sig_digits = static_cast<int>(sig.size());
    u128 n = 0;
    for (char c : digits) n = n * 10 + static_cast<unsigned>(c - '0');
    const int k = exp10 - frac + 13;  // value = n * 10^(k-13); in units: n * 10^k * 2^25
    if (k < 0) return false;
    out = n * pow10u(k) * (u128{1} << 25);
    return true;
}

void test_f16_exhaustive() {
    uint64_t not_shortest = 0, not_nearest = 0, no_roundtrip = 0;
    for (unsigned a = 1; a < 0x7c00; ++a) {
        // interval of decimals that read back as a (ties to even)
        const u128 scale = pow10u(13);
        const u128 v = u128{half_units(a)} * scale;
        const u128 lo = (u128{half_units(a - 1)} + half_units(a)) * scale / 2;
        const u128 hi = (u128{half_units(a)} + half_units(a + 1)) * scale / 2;
        const bool closed = (a & 1) == 0;
        // largest k with a multiple of 10^k inside: fewest digits; nearest such multiple
        int best_digits = 0;
        u128 best = 0;
        for (int k = 18; k >= 0; --k) {  // step 10^k units = 10^(k-13) * 2^-25 ...
            const u128 step = pow10u(k) * (u128{1} << 25);  // 10^(k-13) in units u
            u128 c = (lo / step) * step;
            if (c < lo || (c == lo && !closed)) c += step;
            const bool inside = c < hi || (c == hi && closed);
            if (!inside) continue;
            // candidates c, c+step, ... inside; pick nearest to v
            u128 pick = c;
            for (u128 x = c; x < hi || (x == hi && closed); x += step) {
                const u128 dx = x > v ? x - v : v - x;
                const u128 dp = pick > v ? pick - v : v - pick;
                if (dx < dp) pick = x;
            }
            best = pick;
            u128 n = pick / step;
            while (n % 10 == 0) n /= 10;
            best_digits = 0;
            for (u128 t = n; t > 0; t /= 10) ++best_digits;
            break;
        }
        for (unsigned sign : {0u, 0x8000u}) {
            const uint16_t h = static_cast<uint16_t>(a | sign);
            const std::string s = f16s(h);
            if (!roundtrip16(h)) { ++no_roundtrip; CHECK_MSG(false, "f16 %04x -> %s does not round-trip", h, s.c_str()); continue; }
            u128 got = 0;
            int digits = 0;
            const bool ok = text_units(s, got, digits);
            if (!ok || digits != best_digits) {
                ++not_shortest;
                CHECK_MSG(false, "f16 %04x -> %s has %d digits, shortest has %d", h, s.c_str(), digits, best_digits);
            } else if (got != best) {
                // allow an exact tie in distance
                const u128 dg = got > v ? got - v : v - got, db = best > v ? best - v : v - best;
                if (dg != db) { ++not_nearest; CHECK_MSG(false, "f16 %04x -> %s is not the nearest shortest", h, s.c_str()); }
            }
        }
    }
    CHECK(no_roundtrip == 0);
    CHECK(not_shortest == 0);
    CHECK(not_nearest == 0);
    CHECK(roundtrip16(0x0000));
    CHECK(roundtrip16(0x8000));
}

// The exact decimal of u * 2^-25 (u an integer) as "I.FFFF" text with 25 decimals.
std::string units25_text(u128 u) {
    u128 x = u;
    for (int i = 0; i < 25; ++i) x *= 5;  // u * 5^25 = value * 10^25
    char tmp[64];
    int n = 0;
    do { tmp[n++] = static_cast<char>('0' + static_cast<int>(x % 10)); x /= 10; } while (x > 0);
    while (n < 26) tmp[n++] = '0';
    std::string s;
    for (int i = n - 1; i >= 25; --i) s.push_back(tmp[i]);
    s.push_back('.');
    for (int i = 24; i >= 0; --i) s.push_back(tmp[i]);
    return s;
}

void test_f16_midpoints() {
    // For every pair of adjacent binary16 values, the exact midpoint rounds to the
    // even one, and decimals a hair below / above it round down / up. These are the
    // cases where rounding through double (to the midpoint) and then to half would
    // go wrong without the exact tie-break.
    for (unsigned a = 0; a < 0x7c00; ++a) {
        const u128 mid = (u128{half_units(a)} + half_units(a + 1));  // in units of 2^-26
        // mid/2 in 2^-25 units may be a half-integer: use 2^-26 by doubling the exponent trick
        std::string exact;
        {
            // value = mid * 2^-26 = (mid * 5^26) * 10^-26
            u128 x = mid;
            for (int i = 0; i < 26; ++i) x *= 5;
            char tmp[64];
            int n = 0;
            do { tmp[n++] = static_cast<char>('0' + static_cast<int>(x % 10)); x /= 10; } while (x > 0);
            while (n < 27) tmp[n++] = '0';
            for (int i = n - 1; i >= 26; --i) exact.push_back(tmp[i]);
            exact.push_back('.');
            for (int i = 25; i >= 0; --i) exact.push_back(tmp[i]);
        }
        while (exact.back() == '0') exact.pop_back();
        if (exact.back() == '.') exact.pop_back();  // an integer midpoint (above 2048)
        const bool has_point = exact.find('.') != std::string::npos;
        const std::string above = exact + (has_point ? "" : ".") + "000000000000000000001";
        std::string below = exact;  // exact - one unit in the last place, then .999...
        for (size_t i = below.size(); i-- > 0;) {
            if (below[i] == '.') continue;
            if (below[i] != '0') { --below[i]; break; }
            below[i] = '9';
        }
        below += std::string(has_point ? "" : ".") + "99999999999999999999";
        const uint16_t even = static_cast<uint16_t>((a & 1) ? a + 1 : a);
        for (unsigned sign : {0u, 0x8000u}) {
            const std::string sg = sign ? "-" : "";
            uint16_t h = 0;
            if (a + 1 == 0x7c00) {  // 65520: ties to even = infinity = overflow
                CHECK_MSG(!p16(sg + exact, h), "%s", exact.c_str());
                CHECK_MSG(!p16(sg + above, h), "%s", above.c_str());
                CHECK_MSG(p16(sg + below, h) && h == (0x7bff | sign), "%s", below.c_str());
                continue;
            }
            CHECK_MSG(p16(sg + exact, h) && h == (even | sign), "mid %04x: %s -> %04x", a, exact.c_str(), h);
            CHECK_MSG(p16(sg + above, h) && h == ((a + 1) | sign), "above %04x: %s -> %04x", a, above.c_str(), h);
            CHECK_MSG(p16(sg + below, h) && h == (a | sign), "below %04x: %s -> %04x", a, below.c_str(), h);
            // the same decimals in scientific notation with a trailing-zero-padded mantissa
        }
    }
    // and every half value itself, written exactly with 25 decimals
    for (unsigned a = 0; a < 0x7c00; ++a) {
        uint16_t h = 0;
        const std::string s = units25_text(half_units(a));
        CHECK_MSG(p16(s, h) && h == a, "%s", s.c_str());
    }
}

void test_half_conversions() {
    // half_to_float: against an independent formula
    for (unsigned h = 0; h < 0x10000; ++h) {
        const unsigned e = (h >> 10) & 0x1f, m = h & 0x3ff;
        const float f = half_to_float(static_cast<uint16_t>(h));
        const bool neg = (h & 0x8000) != 0;
        if (e == 0x1f) {
            if (m == 0) CHECK(std::isinf(f) && std::signbit(f) == neg);
            else CHECK(std::isnan(f) && ((bits32(f) >> 13) & 0x3ff) == m && std::signbit(f) == neg);
            CHECK(float_to_half(f) == h);  // NaN payloads and infinities survive the round trip
            continue;
        }
        const float want = (neg ? -1.0f : 1.0f) * (e == 0 ? std::ldexp(static_cast<float>(m), -24)
                                                           : std::ldexp(static_cast<float>(m | 0x400), static_cast<int>(e) - 25));
        CHECK_MSG(bits32(f) == bits32(want), "%04x", h);
        CHECK_MSG(float_to_half(f) == h, "%04x", h);
        CHECK_MSG(double_to_half(static_cast<double>(f)) == h, "%04x", h);
        // midpoints in float and double round to even, and a hair off goes the right way
        if ((h & 0x7fff) < 0x7bff) {
            const uint16_t next = static_cast<uint16_t>(h + 1);
            const double lo = half_to_float(static_cast<uint16_t>(h)), hi = half_to_float(next);
            const double mid = (lo + hi) / 2;  // exact
            const uint16_t even = (h & 1) ? next : static_cast<uint16_t>(h);
            CHECK_MSG(double_to_half(mid) == even, "mid %04x", h);
            CHECK_MSG(float_to_half(static_cast<float>(mid)) == even, "mid %04x", h);
            const double up = std::nextafter(mid, neg ? -HUGE_VAL : HUGE_VAL);
            const double down = std::nextafter(mid, 0.0);
            CHECK_MSG(double_to_half(up) == next, "above mid %04x", h);
            CHECK_MSG(double_to_half(down) == h, "below mid %04x", h);
            CHECK_MSG(float_to_half(std::nextafter(static_cast<float>(mid), neg ? -HUGE_VALF : HUGE_VALF)) == next,
                      "above mid %04x", h);
        }
    }
    // overflow and underflow
    CHECK(float_to_half(65504.0f) == 0x7bff);
    CHECK(float_to_half(65519.99f) == 0x7bff);
    CHECK(float_to_half(65520.0f) == 0x7c00);
    CHECK(float_to_half(-65520.0f) == 0xfc00);
    CHECK(double_to_half(1e300) == 0x7c00);
    CHECK(double_to_half(-1e300) == 0xfc00);
    CHECK(double_to_half(0x1p-25) == 0x0000);                     // tie between 0 and min subnormal -> even (0)
    CHECK(double_to_half(std::nextafter(0x1p-25, 1.0)) == 0x0001);
    CHECK(double_to_half(-0x1p-25) == 0x8000);
    CHECK(double_to_half(0x1.8p-24) == 0x0002);                   // 1.5 * min subnormal -> even (2)
    CHECK(double_to_half(5e-324) == 0x0000);
    CHECK(double_to_half(-5e-324) == 0x8000);
    CHECK(double_to_half(-0.0) == 0x8000);
    CHECK(float_to_half(1e-30f) == 0x0000);
    // no double rounding: just above a half midpoint, but below the float midpoint's float neighbour
    {
        const double mid = (1.0 + (1.0 + 0x1p-10)) / 2;  // between 0x3c00 and 0x3c01
        const double d = mid + 0x1p-40;
        CHECK(double_to_half(d) == 0x3c01);
        CHECK(float_to_half(static_cast<float>(d)) == 0x3c00);  // the float cast already rounded to the tie
    }
    // NaNs
    CHECK(double_to_half(std::numeric_limits<double>::quiet_NaN()) == 0x7e00);
    CHECK(float_to_half(std::numeric_limits<float>::quiet_NaN()) == 0x7e00);
    CHECK(double_to_half(from_bits64(0x7ff0000000000001ULL)) == 0x7e00);  // payload below the kept bits
    CHECK(double_to_half(from_bits64(0x7ff4000000000000ULL)) == 0x7d00);  // signalling, payload kept
    CHECK(double_to_half(from_bits64(0xfff8000000000000ULL)) == 0xfe00);
    CHECK(float_to_half(from_bits32(0x7f800001U)) == 0x7e00);
    CHECK(float_to_half(from_bits32(0x7fa00000U)) == 0x7d00);
    CHECK(float_to_half(from_bits32(0xffc00000U)) == 0xfe00);
    CHECK(double_to_half(std::numeric_limits<double>::infinity()) == 0x7c00);
    CHECK(float_to_half(-std::numeric_limits<float>::infinity()) == 0xfc00);
    // float_to_half agrees with double_to_half on random finite floats
    SplitMix64 rng{99};
    for (int i = 0; i < 200000; ++i) {
        const uint32_t b = static_cast<uint32_t>(rng.next());
        if (classify32(b) != FloatClass::Finite) continue;
        const float f = from_bits32(b);
        CHECK_MSG(float_to_half(f) == double_to_half(static_cast<double>(f)), "%08x", b);
    }
}

// ------------------------------------------------------------------ parsing

void test_grammar() {
    const char* bad[] = {"", "-", "+", "+1", "+0", ".5", "-.5", "5.", "-5.", "01", "-01", "00", "1e", "1E", "1e+",
                         "1e-", "1ee5", "e5", "E5", "1.e5", "1.5.2", "1-2", "1+2", "1e5.5", "1e5e5", "--1", "- 1",
                         " 1", "inf", "-inf", "Inf", "infinity", "Infinity", "-Infinity", "nan", "NaN", "-NaN",
                         "0x1p3", "0x10", "1a", "1f", "1.0f", "1d", "\t1", "٣", "1,5e3.2"};
    for (const char* s : bad) {
        double d = 0; float f = 0; uint16_t h = 0;
        const std::string str(s);
        // a malformed token is never accepted whole, and never partially either
        std::unique_ptr<char[]> copy(new char[str.size() + 1]);
        std::memcpy(copy.get(), str.data(), str.size());
        const char* first = copy.get();
        const char* last = first + str.size();
        if (str == "1,5e3.2") {  // a valid number followed by ',': parsed up to the comma
            CHECK(parse_f64(first, last, d) == first + 1 && d == 1.0);
            continue;
        }
        CHECK_MSG(parse_f64(first, last, d) == nullptr, "f64 accepted '%s'", s);
        CHECK_MSG(parse_f32(first, last, f) == nullptr, "f32 accepted '%s'", s);
        CHECK_MSG(parse_f16(first, last, h) == nullptr, "f16 accepted '%s'", s);
        CHECK_MSG(scan_json_number(first, last, nullptr) == nullptr, "scan accepted '%s'", s);
    }
    // valid numbers followed by a JSON delimiter: parsed up to the delimiter
    const char* ok[] = {"1,", "1]", "1}", "1 ", "1\n", "-0.5e-3,", "0]", "2.5E+2}", "7\t"};
    for (const char* s : ok) {
        const std::string str(s);
        double d = 0;
        const char* end = parse_f64(str.data(), str.data() + str.size(), d);
        CHECK_MSG(end == str.data() + str.size() - 1, "'%s'", s);
    }
    // `last` is honoured: "12345" parsed with last after "12"
    {
        std::unique_ptr<char[]> buf(new char[5]);
        std::memcpy(buf.get(), "12345", 5);
        double d = 0;
        CHECK(parse_f64(buf.get(), buf.get() + 2, d) == buf.get() + 2 && d == 12.0);
        float f = 0;
        CHECK(parse_f32(buf.get(), buf.get() + 3, f) == buf.get() + 3 && f == 123.0f);
        uint16_t h = 0;
        CHECK(parse_f16(buf.get(), buf.get() + 1, h) == buf.get() + 1 && h == 0x3c00);
        CHECK(parse_f64(buf.get(), buf.get(), d) == nullptr);
    }
    // scan_json_number and is_integer
    {
        bool is_int = false;
        const std::string a = "-123", b = "1.0", c = "1e3", z = "0";
        CHECK(scan_json_number(a.data(), a.data() + a.size(), &is_int) == a.data() + a.size() && is_int);
        CHECK(scan_json_number(b.data(), b.data() + b.size(), &is_int) == b.data() + b.size() && !is_int);
        CHECK(scan_json_number(c.data(), c.data() + c.size(), &is_int) == c.data() + c.size() && !is_int);
        CHECK(scan_json_number(z.data(), z.data() + z.size(), &is_int) == z.data() + z.size() && is_int);
    }
}

void test_parse_values() {
    double d = 0; float f = 0; uint16_t h = 0;
    // integers and signs
    CHECK(p64("3", d) && d == 3.0);
    CHECK(p64("-0", d) && bits64(d) == 0x8000000000000000ULL);
    CHECK(p64("0", d) && bits64(d) == 0);
    CHECK(p64("-0.0e5", d) && bits64(d) == 0x8000000000000000ULL);
    CHECK(p64("0e999999999999999999999999", d) && bits64(d) == 0);
    CHECK(p64("123456789012345678901234567890", d) && d == 123456789012345678901234567890.0);
    CHECK(p64("0.1", d) && d == 0.1);
    CHECK(p64("1E2", d) && d == 100.0);
    CHECK(p64("1e+2", d) && d == 100.0);
    CHECK(p64("2.5e-1", d) && d == 0.25);
    CHECK(p32("0.1", f) && f == 0.1f);
    CHECK(p32("-0", f) && bits32(f) == 0x80000000U);
    CHECK(p16("0.1", h) && h == 0x2e66);
    CHECK(p16("-0", h) && h == 0x8000);
    CHECK(p16("1", h) && h == 0x3c00);
    CHECK(p16("65504", h) && h == 0x7bff);
    CHECK(p16("-65504", h) && h == 0xfbff);
    CHECK(p16("65519.99999999999999999999", h) && h == 0x7bff);
    CHECK(p16("2048.9999", h) && h == 0x6800);  // 2049 is a tie between 2048 and 2050 -> even; below it -> 2048
    CHECK(p16("2049", h) && h == 0x6800);
    CHECK(p16("2049.0000000000000000001", h) && h == 0x6801);
    CHECK(p16("2051", h) && h == 0x6802);       // tie between 2050 (odd mantissa) and 2052 -> 2052
    // long inputs: many digits, many leading zeros
    {
        std::string s = "0." + std::string(400, '0') + "1e401";
        CHECK(p64(s, d) && d == 1.0);
        CHECK(p32(s, f) && f == 1.0f);
        CHECK(p16(s, h) && h == 0x3c00);
        std::string t = "1" + std::string(500, '0') + "e-500";
        CHECK(p64(t, d) && d == 1.0);
        std::string u = "0.1" + std::string(1000, '0') + "1";
        CHECK(p64(u, d) && d == 0.1);
    }

    // overflow is an error, never a silent infinity
    CHECK(!p64("1e400", d));
    CHECK(!p64("-1e400", d));
    CHECK(!p64("1e99999999999999999999999", d));
    CHECK(p64("1.7976931348623157e308", d) && d == DBL_MAX);
    CHECK(p64("1.7976931348623158e308", d) && d == DBL_MAX);
    CHECK(!p64("1.7976931348623159e308", d));
    CHECK(!p32("1e39", f));
    CHECK(!p32("-1e39", f));
    CHECK(!p32("3.5e38", f));
    CHECK(p32("3.4028235e38", f) && f == FLT_MAX);
    CHECK(p32("3.40282356e38", f) && f == FLT_MAX);
    CHECK(!p32("3.40282357e38", f));  // above FLT_MAX + half ulp (3.4028235678e38)
    CHECK(!p16("65520", h));
    CHECK(!p16("-65520", h));
    CHECK(!p16("1e5", h));
    CHECK(!p16("1e400", h));

    // underflow rounds correctly to zero or a subnormal
    CHECK(p64("1e-400", d) && bits64(d) == 0);
    CHECK(p64("-1e-400", d) && bits64(d) == 0x8000000000000000ULL);
    CHECK(p64("1e-99999999999999999999999", d) && bits64(d) == 0);
    CHECK(p64("2.4703282292062327e-324", d) && bits64(d) == 0);   // below half the min subnormal
    CHECK(p64("2.4703282292062328e-324", d) && bits64(d) == 1);   // above it
    CHECK(p64("-2.4703282292062328e-324", d) && bits64(d) == 0x8000000000000001ULL);
    CHECK(p64("5e-324", d) && bits64(d) == 1);
    CHECK(p64("7.4e-324", d) && bits64(d) == 1);
    CHECK(p64("7.5e-324", d) && bits64(d) == 2);
    CHECK(p32("7e-46", f) && bits32(f) == 0);
    CHECK(p32("-7e-46", f) && bits32(f) == 0x80000000U);
    CHECK(p32("7.1e-46", f) && bits32(f) == 1);
    CHECK(p32("1e-45", f) && bits32(f) == 1);
    CHECK(p32("1e-50", f) && bits32(f) == 0);
    CHECK(p16("2.98e-8", h) && h == 0);
    CHECK(p16("2.99e-8", h) && h == 1);
    CHECK(p16("-1e-30", h) && h == 0x8000);
    CHECK(p16("1e-400", h) && h == 0);
    CHECK(p16("-1e-400", h) && h == 0x8000);
    CHECK(p16("0.0000000298023223876953125", h) && h == 0);             // exactly 2^-25: tie -> 0
    CHECK(p16("0.0000000298023223876953125000000001", h) && h == 1);
    CHECK(p16("0.0000000298023223876953124999999999", h) && h == 0);
    CHECK(p16("8.94069671630859375e-8", h) && h == 2);                  // 1.5 * 2^-24: tie -> 2
}

// Halfway cases for float32 and float64: the exact midpoint between two adjacent
// values rounds to even, a hair above rounds up, a hair below rounds down.
void test_halfway_f32(uint64_t n) {
    SplitMix64 rng{4242};
    for (uint64_t i = 0; i < n; ++i) {
        uint32_t a = static_cast<uint32_t>(rng.next()) & 0x7fffffffU;
        if (i < 4) a = i == 0 ? 0 : i == 1 ? 0x007fffffU : i == 2 ? 0x7f7fffffU : 0x3f800000U;
        if (a > 0x7f7fffffU) continue;
        const double lo = from_bits32(a);
        const double hi = a == 0x7f7fffffU ? 0x1p128 : static_cast<double>(from_bits32(a + 1));
        const double mid = (lo + hi) / 2;  // exact: 25 significant bits
        char tmp[200];
        const auto r = std::to_chars(tmp, tmp + sizeof tmp, mid, std::chars_format::scientific, 150);
        const Around t = around(sci(tmp, r.ptr), false);
        const uint32_t even = (a & 1) ? a + 1 : a;
        float f = 0;
        if (a == 0x7f7fffffU) {
            CHECK_MSG(!p32(t.exact, f), "%s", t.exact.c_str());
            CHECK_MSG(p32(t.below, f) && bits32(f) == a, "%s", t.below.c_str());
            continue;
        }
        CHECK_MSG(p32(t.exact, f) && bits32(f) == even, "mid %08x %s", a, t.exact.c_str());
        CHECK_MSG(p32(t.above, f) && bits32(f) == a + 1, "above %08x %s", a, t.above.c_str());
        CHECK_MSG(p32(t.below, f) && bits32(f) == a, "below %08x %s", a, t.below.c_str());
        CHECK_MSG(p32("-" + t.exact, f) && bits32(f) == (even | 0x80000000U), "-mid %08x", a);
    }
}

void test_halfway_f64(uint64_t n) {
#if LDBL_MANT_DIG >= 64
    SplitMix64 rng{31337};
    for (uint64_t i = 0; i < n; ++i) {
        uint64_t a = rng.next() & 0x7fffffffffffffffULL;
        if (i < 4) a = i == 0 ? 0 : i == 1 ? 0x000fffffffffffffULL : i == 2 ? 0x7fefffffffffffffULL : 0x3ff0000000000000ULL;
        if (a > 0x7fefffffffffffffULL) continue;
        const long double lo = from_bits64(a);
        const long double hi = a == 0x7fefffffffffffffULL ? 0x1p1024L : static_cast<long double>(from_bits64(a + 1));
        const long double mid = (lo + hi) / 2;  // exact: 54 significant bits fit in long double's 64
        char tmp[1200];
        const auto r = std::to_chars(tmp, tmp + sizeof tmp, mid, std::chars_format::scientific, 1100);
        if (r.ec != std::errc()) { CHECK(false); continue; }
        const Around t = around(sci(tmp, r.ptr), false);
        const uint64_t even = (a & 1) ? a + 1 : a;
        double d = 0;
        if (a == 0x7fefffffffffffffULL) {
            CHECK_MSG(!p64(t.exact, d), "%s", t.exact.c_str());
            CHECK_MSG(p64(t.below, d) && bits64(d) == a, "%s", t.below.c_str());
            continue;
        }
        CHECK_MSG(p64(t.exact, d) && bits64(d) == even, "mid %016llx", static_cast<unsigned long long>(a));
        CHECK_MSG(p64(t.above, d) && bits64(d) == a + 1, "above %016llx", static_cast<unsigned long long>(a));
        CHECK_MSG(p64(t.below, d) && bits64(d) == a, "below %016llx", static_cast<unsigned long long>(a));
    }
#else
    (void)n;
#endif
}

void test_classify() {
    CHECK(classify64(bits64(1.0)) == FloatClass::Finite);
    CHECK(classify64(0x7ff0000000000000ULL) == FloatClass::PosInf);
    CHECK(classify64(0xfff0000000000000ULL) == FloatClass::NegInf);
    CHECK(classify64(0x7ff0000000000001ULL) == FloatClass::NaN);
    CHECK(classify64(0xfff8000000000000ULL) == FloatClass::NaN);
    CHECK(classify64(0x7fefffffffffffffULL) == FloatClass::Finite);
    CHECK(classify32(0x7f800000U) == FloatClass::PosInf);
    CHECK(classify32(0xff800000U) == FloatClass::NegInf);
    CHECK(classify32(0x7f800001U) == FloatClass::NaN);
    CHECK(classify32(0x7f7fffffU) == FloatClass::Finite);
    CHECK(classify16(0x7c00) == FloatClass::PosInf);
    CHECK(classify16(0xfc00) == FloatClass::NegInf);
    CHECK(classify16(0x7c01) == FloatClass::NaN);
    CHECK(classify16(0x7bff) == FloatClass::Finite);
    CHECK(classify16(0x8000) == FloatClass::Finite);
    CHECK(is_canonical_nan64(bits64(std::numeric_limits<double>::quiet_NaN())));
    CHECK(is_canonical_nan64(0x7ff8000000000000ULL));
    CHECK(!is_canonical_nan64(0xfff8000000000000ULL));
    CHECK(!is_canonical_nan64(0x7ff8000000000001ULL));
    CHECK(!is_canonical_nan64(0x7ff0000000000001ULL));
    CHECK(!is_canonical_nan64(0x7ff0000000000000ULL));
    CHECK(is_canonical_nan32(bits32(std::numeric_limits<float>::quiet_NaN())));
    CHECK(!is_canonical_nan32(0xffc00000U));
    CHECK(!is_canonical_nan32(0x7fc00001U));
    CHECK(is_canonical_nan16(0x7e00));
    CHECK(!is_canonical_nan16(0xfe00));
    CHECK(!is_canonical_nan16(0x7e01));
    CHECK(!is_canonical_nan16(0x7c00));
}

// ------------------------------------ the power-of-ten table and its generator

// A non-negative big integer, little-endian 32-bit limbs, just enough for the table.
struct Big {
    std::vector<uint32_t> w;
    explicit Big(uint64_t v = 0) {
        for (; v != 0; v >>= 32) w.push_back(static_cast<uint32_t>(v));
    }
    void mul_small(uint32_t m) {
        uint64_t carry = 0;
        for (uint32_t& x : w) {
            const uint64_t t = uint64_t{x} * m + carry;
            x = static_cast<uint32_t>(t);
            carry = t >> 32;
        }
        if (carry != 0) w.push_back(static_cast<uint32_t>(carry));
    }
    void shl1(uint32_t in) {
        for (uint32_t& x : w) {
            const uint32_t out = x >> 31;
            x = (x << 1) | in;
            in = out;
        }
        if (in != 0) w.push_back(in);
    }
    int bits() const { return w.empty() ? 0 : static_cast<int>(32 * (w.size() - 1)) + 32 - __builtin_clz(w.back()); }
    bool bit(int i) const {
        if (i < 0) return false;
        const size_t k = static_cast<size_t>(i) / 32;
        return k < w.size() && ((w[k] >> (i % 32)) & 1) != 0;
    }
    void trim() { while (!w.empty() && w.back() == 0) w.pop_back(); }
};

int cmp(const Big& a, const Big& b) {
    if (a.w.size() != b.w.size()) return a.w.size() < b.w.size() ? -1 : 1;
    for (size_t i = a.w.size(); i-- > 0;)
        if (a.w[i] != b.w[i]) return a.w[i] < b.w[i] ? -1 : 1;
    return 0;
}

void sub_in_place(Big& a, const Big& b) {  // a -= b, a >= b
    int64_t borrow = 0;
    for (size_t i = 0; i < a.w.size(); ++i) {
        int64_t t = int64_t{a.w[i]} - borrow - (i < b.w.size() ? int64_t{b.w[i]} : 0);
        borrow = t < 0 ? 1 : 0;
        if (t < 0) t += int64_t{1} << 32;
        a.w[i] = static_cast<uint32_t>(t);
    }
    a.trim();
}

Big pow_small(uint32_t base, int n) {
    Big r(1);
    for (int i = 0; i < n; ++i) r.mul_small(base);
    return r;
}

struct U128Parts {
    uint64_t hi, lo;
};

// floor(10^p * 2^(127 - floor(log2 10^p))), by exact big-integer arithmetic.
U128Parts pow10_significand(int p) {
    U128Parts r{0, 0};
    auto set_bit = [&](int i) {  // bit i of the 128-bit result
        if (i >= 64) r.hi |= uint64_t{1} << (i - 64);
        else r.lo |= uint64_t{1} << i;
    };
    if (p >= 0) {
        const Big v = pow_small(10, p);
        const int e = v.bits() - 1;  // leading bit: the top 128 bits from there down
        for (int i = 0; i < 128; ++i)
            if (v.bit(e - i)) set_bit(127 - i);
        return r;
    }
    // 10^p = 1 / d with 2^(L-1) < d < 2^L: floor(log2 10^p) = -L, and the
    // significand is floor(2^(127 + L) / d), by long division.
    const Big d = pow_small(10, -p);
    const int L = d.bits();
    Big rem;
    for (int i = 127 + L; i >= 0; --i) {
        rem.shl1(i == 127 + L ? 1 : 0);
        if (cmp(rem, d) >= 0) {
            sub_in_place(rem, d);
            if (i < 128) set_bit(i);
        }
    }
    return r;
}

void test_pow10_table() {
    using namespace milo::detail;
    uint64_t bad = 0;
    for (int p = kPow10Min; p <= kPow10Max; ++p) {
        const U128Parts want = pow10_significand(p);
        const uint64_t* got = kPow10Mant[p - kPow10Min];
        if (got[0] != want.hi || got[1] != want.lo) {
            ++bad;
            CHECK_MSG(false, "kPow10Mant for 1e%d", p);
        }
        // normalized, and floatfmt's "+1" (an upper bound of the exact value) never carries out
        CHECK_MSG((got[0] >> 63) == 1 && !(got[0] == ~uint64_t{0} && got[1] == ~uint64_t{0}), "1e%d", p);
    }
    CHECK(bad == 0);
    // exact for 0 <= p <= 55 (the parser relies on it): 5^p < 2^128 fits whole
    for (int p = 0; p <= 55; ++p) CHECK_MSG(pow_small(5, p).bits() <= 128, "5^%d", p);
    CHECK(pow_small(5, 56).bits() > 128);

    // The logarithm helpers, exactly, well beyond the ranges used.
    std::vector<int> bits10(1300);  // bits of 10^m
    {
        Big t(1);
        for (int m = 0; m < 1300; ++m) {
            bits10[static_cast<size_t>(m)] = t.bits();
            t.mul_small(10);
        }
    }
    for (int p = -400; p <= 400; ++p) {
        const int want = p >= 0 ? bits10[static_cast<size_t>(p)] - 1 : -bits10[static_cast<size_t>(-p)];
        CHECK_MSG(floor_log2_pow10(p) == want, "floor_log2_pow10(%d)", p);
    }
    for (int q = -1200; q <= 1200; ++q) {
        // largest k with 10^k <= 2^q: 10^k (k >= 1) is never a power of two
        int want = 0;
        if (q >= 0) {
            while (bits10[static_cast<size_t>(want + 1)] <= q) ++want;
        } else {
            int m = 1;
            while (bits10[static_cast<size_t>(m)] < -q + 1) ++m;  // smallest m with 10^m >= 2^-q
            want = -m;
        }
        CHECK_MSG(floor_log10_pow2(q) == want, "floor_log10_pow2(%d)", q);
        const int k3 = floor_log10_three_quarters_pow2(q);
        // check 4 * 10^k3 <= 3 * 2^q < 4 * 10^(k3+1), all terms moved to be integers:
        // 4 * 10^a * 2^b  vs  3 * 10^c * 2^d with non-negative exponents
        auto side = [](uint32_t f, int p10, int p2) {
            Big r = pow_small(10, p10);
            r.mul_small(f);
            for (int i = 0; i < p2; ++i) r.shl1(0);
            return r;
        };
        auto le2 = [&](int k) {
            const int a = k > 0 ? k : 0, c = k < 0 ? -k : 0;  // 4 * 10^a * 2^(-q if q<0)  <=  3 * 10^c * 2^(q if q>0)
            return cmp(side(4, a, q < 0 ? -q : 0), side(3, c, q > 0 ? q : 0)) <= 0;
        };
        CHECK_MSG(le2(k3) && !le2(k3 + 1), "floor_log10_three_quarters_pow2(%d)", q);
    }
}

// The generator of float_tables.hpp (run with --print-float-tables).
void print_float_tables() {
    using namespace milo::detail;
    std::printf(
        "// Generated file: do not edit. Regenerate from the repository root with\n"
        "//   <build dir>/test_floatfmt --print-float-tables > src/cpp/core/float_tables.hpp\n"
        "// tests/cpp/test_floatfmt.cpp holds the generator: it computes every entry with\n"
        "// exact big-integer arithmetic and checks this file against it on every run.\n"
        "//\n"
        "// kPow10Mant[p - kPow10Min] = {hi, lo}: the significand of 10^p normalized to 128\n"
        "// bits and truncated, floor(10^p * 2^(127 - floor(log2(10^p)))), in [2^127, 2^128),\n"
        "// for kPow10Min <= p <= kPow10Max. Exact for 0 <= p <= 55 (5^55 < 2^128).\n"
        "// Used by floatfmt.cpp: shortest formatting needs 10^p for -292 <= p <= 324,\n"
        "// parsing for -342 <= p <= 308.\n"
        "#pragma once\n"
        "#include <cstdint>\n"
        "\n"
        "namespace milo {\n"
        "namespace detail {\n"
        "\n"
        "constexpr int kPow10Min = -342;\n"
        "constexpr int kPow10Max = 324;\n"
        "\n"
        "// floor(log2(10^p)), floor(log10(2^q)) and floor(log10(3/4 * 2^q)); the test checks\n"
        "// them exactly for |p| <= 400 and |q| <= 1200 (beyond what floatfmt.cpp needs).\n"
        "constexpr int floor_log2_pow10(int p) { return (p * 1741647) >> 19; }\n"
        "constexpr int floor_log10_pow2(int q) { return (q * 315653) >> 20; }\n"
        "constexpr int floor_log10_three_quarters_pow2(int q) { return (q * 315653 - 131237) >> 20; }\n"
        "\n"
        "alignas(64) inline constexpr uint64_t kPow10Mant[kPow10Max - kPow10Min + 1][2] = {\n");
    for (int p = -342; p <= 324; ++p) {
        const U128Parts m = pow10_significand(p);
        std::printf("    {0x%016llxULL, 0x%016llxULL},  // 1e%d\n", static_cast<unsigned long long>(m.hi),
                    static_cast<unsigned long long>(m.lo), p);
    }
    std::printf(
        "};\n"
        "\n"
        "}  // namespace detail\n"
        "}  // namespace milo\n");
}

// ------------------------------------------ fast paths against the reference

namespace ref = milo::detail::reference;

std::string ref_f64s(double v) { char b[kFloatBufSize]; return std::string(b, ref::format_f64(v, b)); }
std::string ref_f32s(float v) { char b[kFloatBufSize]; return std::string(b, ref::format_f32(v, b)); }

uint64_t g_diff_format64 = 0, g_diff_format32 = 0, g_diff_parse64 = 0, g_diff_parse32 = 0;

void same_format64(uint64_t b) {
    const double v = from_bits64(b);
    const std::string got = f64s(v), want = ref_f64s(v);
    ++g_diff_format64;
    CHECK_MSG(got == want, "format_f64(%016llx): '%s', reference '%s'", static_cast<unsigned long long>(b),
              got.c_str(), want.c_str());
}
void same_format32(uint32_t b) {
    const float v = from_bits32(b);
    const std::string got = f32s(v), want = ref_f32s(v);
    ++g_diff_format32;
    CHECK_MSG(got == want, "format_f32(%08x): '%s', reference '%s'", b, got.c_str(), want.c_str());
}

// The same end (or nullptr) and, when accepted, the same bits, for an exact-size
// heap copy of s (so that ASan sees any read past `last`).
void same_parse_exact(const std::string& s) {
    std::unique_ptr<char[]> copy(new char[s.size() + 1]);
    std::memcpy(copy.get(), s.data(), s.size());
    const char* first = copy.get();
    const char* last = first + s.size();
    {
        double got = -1.5, want = -1.5;
        const char* e1 = parse_f64(first, last, got);
        const char* e2 = ref::parse_f64(first, last, want);
        ++g_diff_parse64;
        CHECK_MSG(e1 == e2 && (e1 == nullptr || bits64(got) == bits64(want)),
                  "parse_f64('%s'): end %lld bits %016llx, reference end %lld bits %016llx", s.c_str(),
                  e1 ? static_cast<long long>(e1 - first) : -1LL, static_cast<unsigned long long>(bits64(got)),
                  e2 ? static_cast<long long>(e2 - first) : -1LL, static_cast<unsigned long long>(bits64(want)));
    }
    {
        float got = -1.5f, want = -1.5f;
        const char* e1 = parse_f32(first, last, got);
        const char* e2 = ref::parse_f32(first, last, want);
        ++g_diff_parse32;
        CHECK_MSG(e1 == e2 && (e1 == nullptr || bits32(got) == bits32(want)),
                  "parse_f32('%s'): end %lld bits %08x, reference end %lld bits %08x", s.c_str(),
                  e1 ? static_cast<long long>(e1 - first) : -1LL, bits32(got),
                  e2 ? static_cast<long long>(e2 - first) : -1LL, bits32(want));
    }
}

// The parsers take a path without a bound check per byte when at least 32 bytes are
// readable (as inside a JSON array): s alone, then s followed by a separator and
// filler (digits, which must not be taken for the number's own) in buffers of
// exactly 32 bytes (reads past the end show under ASan) and of 48.
void same_parse(const std::string& s) {
    same_parse_exact(s);
    const char* const fill = "0123456789012345678901234567890123456789012345678";
    for (std::size_t total : {std::size_t{32}, std::size_t{48}}) {
        std::string t = s + (total == 32 ? "," : "]");
        if (t.size() < total) t += std::string(fill, total - t.size());
        same_parse_exact(t);
    }
}

void test_format_differential(uint64_t n_random) {
    SplitMix64 rng{20240601};
    // uniform random bit patterns (mostly huge or tiny magnitudes: scientific)
    for (uint64_t i = 0; i < n_random; ++i) {
        const uint64_t b = rng.next();
        same_format64(b);
        same_format32(static_cast<uint32_t>(b >> 32));
    }
    // ordinary magnitudes (positional), and values rounded to a few digits (short texts, trailing zeros)
    for (uint64_t i = 0; i < n_random / 2; ++i) {
        const double u = static_cast<double>(rng.next() >> 11) * 0x1p-53;
        const int e = static_cast<int>(rng.next() % 44) - 22;
        const double v = (u - 0.5) * std::pow(10.0, e);
        same_format64(bits64(v));
        same_format32(bits32(static_cast<float>(v)));
        const double r = std::round(v * 1000.0) / 1000.0;
        same_format64(bits64(r));
        same_format32(bits32(static_cast<float>(r)));
    }
    // every binary exponent: the smallest, largest and a few random significands, and
    // their neighbours (the irregular spacing at the bottom of each binade included)
    for (uint64_t be = 0; be < 2047; ++be) {
        const uint64_t base = be << 52;
        const uint64_t fr[] = {0, 1, 2, 3, (uint64_t{1} << 52) - 1, (uint64_t{1} << 52) - 2, rng.next() >> 12,
                               rng.next() >> 12, rng.next() >> 12, uint64_t{1} << 51};
        for (uint64_t f : fr) {
            same_format64(base | f);
            same_format64((base | f) | 0x8000000000000000ULL);
        }
    }
    for (uint32_t be = 0; be < 255; ++be) {
        const uint32_t base = be << 23;
        const uint32_t fr[] = {0, 1, 2, 3, (1u << 23) - 1, (1u << 23) - 2, static_cast<uint32_t>(rng.next() >> 41),
                               1u << 22};
        for (uint32_t f : fr) same_format32(base | f);
    }
    // around every power of ten (the positional / scientific switch at 1e-5 / 1e-4 and
    // 1e15 / 1e16, digit-count changes) and of two
    for (int e = -325; e <= 308; ++e) {
        char t[16];
        std::snprintf(t, sizeof t, "1e%d", e);
        double p10 = 0;
        std::from_chars(t, t + std::strlen(t), p10);
        const uint64_t b = bits64(p10);
        for (int d = -3; d <= 3; ++d) same_format64(b + static_cast<uint64_t>(static_cast<int64_t>(d)));
        float p10f = 0;
        if (e >= -46 && e <= 38) {
            std::from_chars(t, t + std::strlen(t), p10f);
            const uint32_t bf = bits32(p10f);
            for (int d = -3; d <= 3; ++d) same_format32(bf + static_cast<uint32_t>(d));
        }
    }
    for (int e = -1074; e <= 1023; ++e) {
        const uint64_t b = bits64(std::ldexp(1.0, e));
        for (int d = -2; d <= 2; ++d) same_format64(b + static_cast<uint64_t>(static_cast<int64_t>(d)));
    }
    // integers: small ones, around 2^53 (the end of the integer shortcut) and 10^15..10^17
    for (int64_t i = -20000; i <= 20000; ++i) same_format64(bits64(static_cast<double>(i)));
    for (int64_t d = -1000; d <= 1000; ++d) {
        same_format64(bits64(static_cast<double>((int64_t{1} << 53) + d)));
        same_format64(bits64(1e15 + static_cast<double>(d)));
        same_format64(bits64(1e16 + static_cast<double>(d) * 2));
        same_format32(bits32(static_cast<float>((1 << 24) + d)));
    }
    for (uint64_t i = 0; i < 100000; ++i) {
        const uint64_t m = rng.next() >> (11 + rng.next() % 53);  // integers of every size below 2^53
        same_format64(bits64(static_cast<double>(m)));
        same_format64(bits64(static_cast<double>(m) * 0.5));
        same_format32(bits32(static_cast<float>(m >> 29)));
    }
}

// Positional texts of ordinary magnitudes (the parsers' path without bound checks):
// 1 to 7 integer digits, 1 to 20 fraction digits; the shortest text, the value to
// 15..19 significant digits, and the exact midpoint to its neighbour cut to 15..19
// significant digits with the last digit nudged down and up (near-halfway cases).
void test_parse_positional(uint64_t n) {
    SplitMix64 rng{4242};
    for (uint64_t i = 0; i < n; ++i) {
        const double u = static_cast<double>(rng.next() >> 11) * 0x1p-53;
        const int e = static_cast<int>(rng.next() % 11) - 4;  // 1e-4 .. 1e6
        double v = u * std::pow(10.0, e);
        if (i % 8 == 0) v = static_cast<double>(static_cast<float>(v));  // float32 values printed as double
        if (i % 8 == 1) v = static_cast<double>(rng.next() % 20001) / static_cast<double>(1 + rng.next() % 20000);
        const bool neg = rng.next() % 2 != 0;
        const std::string sign = neg ? "-" : "";
        same_parse(sign + f64s(v));
        char t[400];
        for (int prec = 15; prec <= 19; ++prec) {
            const auto r = std::to_chars(t, t + sizeof t, v, std::chars_format::scientific, prec - 1);
            const SciText st = sci(t, r.ptr);  // digits and exponent
            if (st.exp10 < -6 || st.exp10 > 6) continue;
            std::string d = st.digits;  // trailing zeros stripped: put back those of the integer part
            if (st.exp10 >= 0 && d.size() < static_cast<size_t>(st.exp10) + 1) d.resize(static_cast<size_t>(st.exp10) + 1, '0');
            std::string txt;
            if (st.exp10 >= 0) {
                txt = d.substr(0, static_cast<size_t>(st.exp10) + 1) + "." + d.substr(static_cast<size_t>(st.exp10) + 1);
                if (txt.back() == '.') txt += "0";
            } else {
                txt = "0." + std::string(static_cast<size_t>(-st.exp10 - 1), '0') + d;
            }
            same_parse(sign + txt);
        }
#if LDBL_MANT_DIG >= 64
        const long double lo = v, hi = std::nextafter(v, 1e300);
        const auto rm = std::to_chars(t, t + sizeof t, (lo + hi) / 2, std::chars_format::fixed, 60);
        std::string mid(t, rm.ptr);  // exact (60 decimals are enough here)
        while (mid.back() == '0') mid.pop_back();
        // cut to 15..19 significant digits
        const size_t first_sig = mid.find_first_not_of("0.");
        for (int sig = 15; sig <= 19; ++sig) {
            size_t end = first_sig;
            for (int k = 0; k < sig && end < mid.size(); ++end)
                if (mid[end] != '.') ++k;
            if (end >= mid.size()) continue;
            std::string cut = mid.substr(0, end);
            if (cut.back() == '.') continue;
            same_parse(sign + cut);
            std::string up = cut;  // the last digit nudged up and down (when it can be without a carry)
            if (up.back() < '9') { ++up.back(); same_parse(sign + up); }
            std::string down = cut;
            if (down.back() > '0') { --down.back(); same_parse(sign + down); }
        }
#endif
    }
    // short ones and every shape of integer part and fraction length
    for (const char* c : {"20000.0", "-2.0", "0.0", "-0.0", "0.5", "1.0", "0.25", "1.5", "9999999.5", "1234567.0",
                          "0.1", "0.30000000000000004", "0.49999239500000003", "-0.873833030462265",
                          "0.8624161073825504", "1.7338419556617737", "3.259382486343384", "12345678.5",
                          "0.99999999999999999", "9.9999999999999999", "0.12345678901234567", "0.123456789012345678",
                          "1.23456789012345678", "1234567.1234567890123", "00.5", "01.5", "1.", "1.e5", "-.5", "1.5e",
                          "1.5e+", "0.0000000000000001", "0.00000000000000001", "0.000000000000000000",
                          "0.00000000000000000001", "1.5.2", "1.5-", "1.5+", "1.5a", "1.5E3", "1.5e-3", "7", "-7",
                          "1234567", "12345678", "123456789012345678901234567890"}) {
        same_parse(c);
    }
    for (int ni = 1; ni <= 9; ++ni) {
        for (int nf = 0; nf <= 20; ++nf) {
            std::string t;
            for (int k = 0; k < ni; ++k) t.push_back(static_cast<char>('1' + (k * 7 + nf) % 9));
            if (nf > 0) t.push_back('.');
            for (int k = 0; k < nf; ++k) t.push_back(static_cast<char>('0' + (k * 3 + ni) % 10));
            same_parse(t);
            same_parse("-" + t);
            same_parse("0." + t.substr(static_cast<size_t>(ni) + (nf > 0 ? 1 : 0)) + std::string(nf > 0 ? "" : "5"));
        }
    }
}

void test_parse_differential(uint64_t n_random) {
    SplitMix64 rng{777777};
    // the texts the writer produces, and the same digits in other spellings
    for (uint64_t i = 0; i < n_random; ++i) {
        const uint64_t b = rng.next();
        const double v = from_bits64(b);
        if (classify64(b) != FloatClass::Finite) continue;
        const std::string s = f64s(v);
        same_parse(s);
        if (i % 4 == 0) {
            same_parse(f32s(static_cast<float>(v)));
            same_parse(f64s(static_cast<double>(static_cast<float>(v * 1e-300))));
        }
    }
    for (uint64_t i = 0; i < n_random / 2; ++i) {
        const double u = static_cast<double>(rng.next() >> 11) * 0x1p-53;
        const int e = static_cast<int>(rng.next() % 44) - 22;
        const double v = (u - 0.5) * std::pow(10.0, e);
        same_parse(f64s(v));
        same_parse(f32s(static_cast<float>(v)));
    }
    // random digit strings: 1 to 25 digits, a point anywhere or none, an exponent or none
    // (every decimal exponent range, > 19 digits, leading and trailing zeros, the slow path)
    const char* exps[] = {"", "e", "E", "e+", "e-", "E-"};
    for (uint64_t i = 0; i < n_random; ++i) {
        const int nd = 1 + static_cast<int>(rng.next() % 25);
        std::string d;
        for (int k = 0; k < nd; ++k) d.push_back(static_cast<char>('0' + rng.next() % 10));
        if (rng.next() % 4 == 0) d[0] = '0';
        std::string s = rng.next() % 2 ? "-" : "";
        const int point = static_cast<int>(rng.next() % static_cast<uint64_t>(nd + 1));
        if (d[0] == '0' && point != 1 && nd > 1) d[0] = '1';  // keep it mostly valid JSON
        s += d.substr(0, static_cast<size_t>(point == 0 ? 1 : point));
        if (point != 0 && point < nd) s += "." + d.substr(static_cast<size_t>(point));
        const int ek = static_cast<int>(rng.next() % 6);
        if (ek > 0) s += exps[ek] + std::to_string(rng.next() % 700 - (ek >= 4 ? 0 : 350));
        same_parse(s);
    }
    // 17 to 21 significant digits around exactly representable and halfway values
    for (uint64_t i = 0; i < n_random / 4; ++i) {
        const uint64_t b = rng.next() & 0x7fefffffffffffffULL;
        char tmp[64];
        const auto r = std::to_chars(tmp, tmp + sizeof tmp, from_bits64(b), std::chars_format::scientific, 20);
        std::string s(tmp, r.ptr);
        same_parse(s);
        const size_t epos = s.find('e');
        for (size_t cut : {18u, 19u, 20u, 21u}) same_parse(s.substr(0, cut) + s.substr(epos));
        // the midpoint with the next double, written out exactly when long double can hold it
#if LDBL_MANT_DIG >= 64
        const long double lo = from_bits64(b), hi = from_bits64(b + 1);
        char mt[1200];
        const auto rm = std::to_chars(mt, mt + sizeof mt, (lo + hi) / 2, std::chars_format::scientific, 1100);
        const Around a = around(sci(mt, rm.ptr), false);
        same_parse(a.exact);
        same_parse(a.below);
        same_parse(a.above);
#endif
    }
    // exact dyadic values written with a fraction ("0.5", "1.375", "0.0078125", ...): n / 2^m
    for (int m = 1; m <= 40; ++m) {
        for (int j = 0; j < 50; ++j) {
            const uint64_t n = (j < 5 ? static_cast<uint64_t>(j * 2 + 1) : rng.next() >> (12 + rng.next() % 40)) | 1;
            const double v = std::ldexp(static_cast<double>(n), -m);
            char t[1200];
            const auto r = std::to_chars(t, t + sizeof t, v, std::chars_format::fixed, m);
            same_parse(std::string(t, r.ptr));
            const auto r2 = std::to_chars(t, t + sizeof t, v, std::chars_format::scientific, 60);
            same_parse(std::string(t, r2.ptr));
        }
    }
    // 0.1 in many spellings; powers of ten; subnormal and overflow boundaries
    const char* cases[] = {
        "0.1", "0.10", "0.100000000000000000000", "1e-1", "10e-2", "0.01e1", "0.1000000000000000055511151231257827",
        "0.1000000000000000055511151231257827021181583404541015625",
        "0.09999999999999999167332731531132594682276248931884765625", "0.30000000000000004", "0.3",
        "2.2250738585072011e-308", "2.2250738585072012e-308", "2.2250738585072014e-308", "2.225073858507201e-308",
        "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324", "4.94e-324", "5e-324",
        "1e-323", "3e-324", "2.5e-324", "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
        "1.797693134862315807937289714053e308", "1.797693134862315807937289714054e308", "179769313486231570000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000", "1.4e-45",
        "1.401298464324817e-45", "7.006492321624085e-46", "7.006492321624086e-46", "7e-46", "1.1754943508222875e-38",
        "1.1754942e-38", "1.17549435e-38", "3.4028234663852886e38", "3.4028235677973366e38", "3.4028235677973367e38",
        "3.4028236e38", "9007199254740993", "9007199254740993.0000000001", "9007199254740992.9999999999",
        "9007199254740995", "18446744073709551615", "18446744073709551616", "18446744073709551617e-5",
        "10000000000000000000", "9999999999999999999", "99999999999999999999", "12345678901234567890123",
        "0.000000000000000000000000000000000000000000001", "123456789e-350", "123456789e-330", "1e22", "1e23",
        "8.589973e9", "0e0", "-0e-0", "0.0e999999999999999999999", "1e-99999999999999999999", "-1e+99999999999",
        "5e-1", "0.5", "0.25", "0.125", "1.5", "0.75", "2.5e-1", "7.450580596923828125e-9", "1.1920928955078125e-07",
        "3.0517578125e-05", "0.000030517578125", "4.656612873077392578125e-10", "1.4901161193847656e-08",
    };
    for (const char* c : cases) {
        same_parse(c);
        same_parse(std::string("-") + c);
    }
    for (int e = -400; e <= 400; ++e) {
        same_parse("1e" + std::to_string(e));
        same_parse("9.999999999999999e" + std::to_string(e));
        same_parse("5e" + std::to_string(e));
        same_parse("123456789012345678e" + std::to_string(e));
    }
    for (int z = 0; z <= 30; ++z) {
        same_parse("1" + std::string(static_cast<size_t>(z), '0'));
        same_parse("0." + std::string(static_cast<size_t>(z), '0') + "1");
        same_parse("0." + std::string(static_cast<size_t>(z), '0') + "12345678901234567");
        same_parse("1." + std::string(static_cast<size_t>(z), '0') + "1");
    }
    // grammar: random short strings over the number alphabet; whole-token rejection
    const char alphabet[] = "0123456789.eE+-x ,";
    for (uint64_t i = 0; i < n_random; ++i) {
        const int len = static_cast<int>(rng.next() % 12);
        std::string s;
        for (int k = 0; k < len; ++k) s.push_back(alphabet[rng.next() % (sizeof alphabet - 1)]);
        same_parse(s);
    }
    // a number directly followed by another char, every ASCII char
    for (int c = 0; c < 256; ++c) {
        for (const char* base : {"1", "0", "-0.5", "1e5", "123456789012345678901", "0.1"}) {
            std::string s = base;
            s.push_back(static_cast<char>(c));
            same_parse(s);
        }
    }
}

}  // namespace

// format_u64 / format_i64 against std::to_chars: every power of ten and its neighbours, every length
// of every sign, the extremes, and random values of every magnitude.
#if MILO_FLOAT_FAST
// u64_text<true>, i64_text<true> and format_fast64<true> (float_format.hpp's writers for integers mostly below
// 10^4) give the texts of their general versions, which test_integers and the float tests check against
// std::to_chars, for v, -v and the double v (when exact).
void check_small(uint64_t v) {
    namespace fmt = milo::detail::fmt;
    char a[40], b[40];
    std::size_t na = fmt::u64_text(v, a), nb = fmt::u64_text<true>(v, b);
    CHECK_MSG(na == nb && std::memcmp(a, b, na) == 0, "u64_text<true>(%llu)", static_cast<unsigned long long>(v));
    const int64_t s = static_cast<int64_t>(v & 0x7fffffffffffffffULL);
    for (int64_t x : {s, -s}) {
        na = fmt::i64_text(x, a);
        nb = fmt::i64_text<true>(x, b);
        CHECK_MSG(na == nb && std::memcmp(a, b, na) == 0, "i64_text<true>(%lld)", static_cast<long long>(x));
    }
    const double d = static_cast<double>(v);
    for (double x : {d, -d}) {
        na = fmt::format_fast64(x, a);
        nb = fmt::format_fast64<true>(x, b);
        CHECK_MSG(na == nb && std::memcmp(a, b, na) == 0, "format_fast64<true>(%.17g)", x);
    }
}
#endif

void test_integers(uint64_t n_random) {
    auto check_u = [](uint64_t v) {
        char a[24], b[32];
        const std::size_t na = static_cast<std::size_t>(std::to_chars(a, a + 24, v).ptr - a);
        const std::size_t nb = format_u64(v, b);
        CHECK_MSG(na == nb && std::memcmp(a, b, na) == 0, "format_u64(%llu)", static_cast<unsigned long long>(v));
    };
    auto check_i = [](int64_t v) {
        char a[24], b[32];
        const std::size_t na = static_cast<std::size_t>(std::to_chars(a, a + 24, v).ptr - a);
        const std::size_t nb = format_i64(v, b);
        CHECK_MSG(na == nb && std::memcmp(a, b, na) == 0, "format_i64(%lld)", static_cast<long long>(v));
    };
    uint64_t p = 1;
    for (int k = 0; k < 20; ++k, p *= 10) {
        for (uint64_t d : {p - 1, p, p + 1, 2 * p - 1, 9 * p, p / 2}) {
            check_u(d);
            check_i(static_cast<int64_t>(d));
            check_i(-static_cast<int64_t>(d & 0x7fffffffffffffffULL));
        }
    }
    for (uint64_t v : {uint64_t{0}, ~uint64_t{0}, ~uint64_t{0} - 1, uint64_t{1} << 63}) check_u(v);
    for (int64_t v : {INT64_MIN, INT64_MIN + 1, INT64_MAX, int64_t{0}, int64_t{-1}}) check_i(v);
    SplitMix64 r{42};
    for (uint64_t i = 0; i < n_random; ++i) {
        const uint64_t x = r.next() >> (r.next() % 64);  // all magnitudes
        check_u(x);
        check_i(static_cast<int64_t>(x));
        check_i(-static_cast<int64_t>(x >> 1));
#if MILO_FLOAT_FAST
        check_small(x);
#endif
    }
#if MILO_FLOAT_FAST
    // The writers for integers mostly below 10^4 (write_upto4), every value up to 2 * 10^5 and its negative.
    for (uint64_t v = 0; v < 200000; ++v) check_small(v);
    for (uint64_t v : {~uint64_t{0}, uint64_t{1} << 63, uint64_t{1} << 53, (uint64_t{1} << 53) - 1}) check_small(v);
#endif
}

int main(int argc, char** argv) {
    if (argc == 2 && std::strcmp(argv[1], "--print-float-tables") == 0) {
        print_float_tables();
        return 0;
    }
    const auto t0 = std::chrono::steady_clock::now();
    test_pow10_table();
    test_known_strings();
    test_special_values();
    test_powers_of_two();
    test_classify();
    test_grammar();
    test_parse_values();
    test_half_conversions();
    test_f16_exhaustive();
    test_f16_midpoints();
    test_halfway_f32(20000);
    test_halfway_f64(20000);
    test_integers(300000);
    test_random_f64(2000000);
    test_integer_values();
    test_random_f32(1000000);
    test_format_differential(1500000);
    test_parse_differential(600000);
    test_parse_positional(150000);
    std::printf("differential checks against the reference: format_f64 %llu, format_f32 %llu, parse_f64 %llu, "
                "parse_f32 %llu\n",
                static_cast<unsigned long long>(g_diff_format64), static_cast<unsigned long long>(g_diff_format32),
                static_cast<unsigned long long>(g_diff_parse64), static_cast<unsigned long long>(g_diff_parse32));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("test_floatfmt: %.2f s\n", secs);
    return milo_test::summary("test_floatfmt");
}

// Standalone benchmark of the float text core (src/cpp/core/floatfmt): format and parse
// 2M float64 (standard normal), 2M float64 (uniform random finite bit patterns),
// 2M float64 like a random forest's node tables (see forest_like below), 2M float32
// (standard normal) and 2M int64 (uniform in [-10^9, 10^9), through
// std::to_chars / std::from_chars as json_writer / json_reader do), in ns of thread CPU
// time per value.
// Every row is checked after timing (parse(format(x)) == x bit for bit, and the
// text equals the reference implementation's, src/cpp/core/float_reference.hpp).
//
// Build and run from the repository root:
//
//   g++ -std=c++17 -O2 -Isrc/cpp/core src/cpp/core/floatfmt.cpp benchmarks/cpp/bench_floatfmt.cpp -o /tmp/bench_floatfmt && /tmp/bench_floatfmt
//
// Options: bench_floatfmt [n_values [repeats]] [--ref] [--only=f64|forest|f64bits|f32|i64]
//   n_values  values per data set (default 2000000), repeats: timed passes, the best is
//   reported, the median beside it (default 7); --ref also times the reference
//   (std::to_chars / std::from_chars) implementation on the same data; --only runs one set.
// Wall times are noisy on a loaded machine: check `uptime` (printed first), or count
// instructions instead (per call: the inclusive cost of milo::format_f64 etc. divided by
// n_values times repeats):
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out /tmp/bench_floatfmt 100000 1 --only=f64
//   callgrind_annotate --inclusive=yes /tmp/cg.out | grep milo::
#include "floatfmt.hpp"
#include "float_reference.hpp"
#include "bench_util.hpp"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace milo;

namespace {

struct Timing {
    double best = 0, median = 0;  // ns per value
};

template <class Fn>
Timing time_it(int repeats, std::size_t n, Fn fn) {
    const std::vector<double> t = bench::sorted_ns(repeats, fn);
    return {t.front() / static_cast<double>(n), t[t.size() / 2] / static_cast<double>(n)};
}

void print_row(const char* what, const Timing& t) {
    std::printf("  %-34s %8.2f ns/value (median %8.2f)\n", what, t.best, t.median);
}

// Values joined by ',' into one text, as a JSON array body.
template <class T, class Fmt>
std::size_t format_all(const std::vector<T>& v, std::vector<char>& out, Fmt fmt) {
    char* p = out.data();
    for (const T& x : v) {
        p += fmt(x, p);
        *p++ = ',';
    }
    return static_cast<std::size_t>(p - out.data());
}

template <class T, class Parse>
bool parse_all(const char* p, const char* end, std::vector<T>& v, Parse parse) {
    for (T& x : v) {
        p = parse(p, end, x);
        if (p == nullptr || p >= end || *p != ',') return false;
        ++p;
    }
    return p == end;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

int g_failures = 0;
void check(bool ok, const char* what) {
    if (!ok) {
        ++g_failures;
        std::printf("  CHECK FAILED: %s\n", what);
    }
}

template <class T, class Fmt, class Parse, class RefFmt, class RefParse>
void bench_float(const char* name, const std::vector<T>& values, int repeats, bool with_ref, Fmt fmt, Parse parse,
                 RefFmt ref_fmt, RefParse ref_parse) {
    const std::size_t n = values.size();
    std::vector<char> text(n * kFloatBufSize + 1), ref_text(n * kFloatBufSize + 1);
    std::vector<T> back(n), ref_back(n);
    std::size_t len = 0, ref_len = 0;
    std::printf("%s\n", name);
    print_row("format", time_it(repeats, n, [&] { len = format_all(values, text, fmt); }));
    const char* b = text.data();
    bool ok = true;
    print_row("parse", time_it(repeats, n, [&] { ok = parse_all(b, b + len, back, parse); }));
    ref_len = format_all(values, ref_text, ref_fmt);
    if (with_ref) {
        print_row("format (reference, to_chars)", time_it(repeats, n, [&] { ref_len = format_all(values, ref_text, ref_fmt); }));
        bool rok = true;
        print_row("parse (reference, from_chars)",
                  time_it(repeats, n, [&] { rok = parse_all(b, b + len, ref_back, ref_parse); }));
        check(rok && same_bits(ref_back, values), "reference parse round trip");
    }
    std::printf("  text: %.2f bytes/value\n", static_cast<double>(len) / static_cast<double>(n));
    check(ok && same_bits(back, values), "parse(format(x)) == x");
    check(len == ref_len && std::memcmp(text.data(), ref_text.data(), len) == 0, "text == reference text");
}

// Values as a random forest's node tables hold them: thresholds (midpoints of two float32
// feature values, computed in double), class proportions k/n (n <= 20000), Gini
// impurities, and the short ones (-2.0 thresholds of leaves, 0.0, 0.5, sample counts
// as doubles). Mostly 15-17 significant digits, a quarter short.
std::vector<double> forest_like(std::size_t n, std::mt19937_64& rng) {
    std::vector<double> v(n);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::uniform_real_distribution<double> uni(0.0, 1.0);
    for (double& x : v) {
        const unsigned kind = static_cast<unsigned>(rng() % 20);
        if (kind < 6) {  // threshold: midpoint of two float32 feature values
            const float a = static_cast<float>(normal(rng) * 3.0);
            const float b = static_cast<float>(static_cast<double>(a) + uni(rng) * 0.1);
            x = (static_cast<double>(a) + static_cast<double>(b)) / 2.0;
        } else if (kind < 8) {  // threshold: a float32-rounded value printed as double
            x = static_cast<double>(static_cast<float>(uni(rng) * 10.0));
        } else if (kind < 12) {  // class proportion k / n
            const uint64_t d = 1 + rng() % 20000;
            x = static_cast<double>(rng() % (d + 1)) / static_cast<double>(d);
        } else if (kind < 15) {  // Gini impurity of two classes
            const uint64_t d = 1 + rng() % 20000;
            const double p = static_cast<double>(rng() % (d + 1)) / static_cast<double>(d);
            x = 1.0 - p * p - (1.0 - p) * (1.0 - p);
        } else if (kind < 17) {  // leaf threshold
            x = -2.0;
        } else if (kind < 18) {
            x = (rng() & 1) ? 0.0 : 0.5;
        } else {  // sample counts, weighted sums
            x = static_cast<double>(1 + rng() % 20000);
        }
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t n = 2000000;
    int repeats = 7;
    bool with_ref = false;
    std::string only;
    int pos = 0;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--ref") == 0) { with_ref = true; continue; }
        if (std::strncmp(argv[i], "--only=", 7) == 0) { only = argv[i] + 7; continue; }
        if (pos == 0) n = std::strtoull(argv[i], nullptr, 10);
        else repeats = std::atoi(argv[i]);
        ++pos;
    }
    if (n == 0 || repeats <= 0) {
        std::fprintf(stderr, "usage: bench_floatfmt [n_values [repeats]] [--ref]\n");
        return 2;
    }
    bench::print_load_average();
    std::printf("%zu values per set, best of %d passes\n", n, repeats);

    std::mt19937_64 rng(0);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<double> f64(n), f64bits;
    for (double& x : f64) x = normal(rng);
    f64bits.reserve(n);
    while (f64bits.size() < n) {
        const uint64_t b = rng();
        if (classify64(b) != FloatClass::Finite) continue;
        double x;
        std::memcpy(&x, &b, 8);
        f64bits.push_back(x);
    }
    std::mt19937_64 forest_rng(1);  // its own generator: the other sets stay as they were
    std::vector<double> forest = forest_like(n, forest_rng);
    std::vector<float> f32(n);
    for (float& x : f32) x = static_cast<float>(normal(rng));
    std::uniform_int_distribution<int64_t> uni(-1000000000, 999999999);
    std::vector<int64_t> i64(n);
    for (int64_t& x : i64) x = uni(rng);

    auto f64_fmt = [](double x, char* p) { return format_f64(x, p); };
    auto f64_parse = [](const char* p, const char* e, double& x) { return parse_f64(p, e, x); };
    auto f64_ref_fmt = [](double x, char* p) { return detail::reference::format_f64(x, p); };
    auto f64_ref_parse = [](const char* p, const char* e, double& x) { return detail::reference::parse_f64(p, e, x); };
    auto f32_fmt = [](float x, char* p) { return format_f32(x, p); };
    auto f32_parse = [](const char* p, const char* e, float& x) { return parse_f32(p, e, x); };
    auto f32_ref_fmt = [](float x, char* p) { return detail::reference::format_f32(x, p); };
    auto f32_ref_parse = [](const char* p, const char* e, float& x) { return detail::reference::parse_f32(p, e, x); };

    auto want = [&](const char* name) { return only.empty() || only == name; };
    if (want("f64"))
        bench_float("float64, standard normal", f64, repeats, with_ref, f64_fmt, f64_parse, f64_ref_fmt, f64_ref_parse);
    if (want("forest"))
        bench_float("float64, forest-like (thresholds, proportions, impurities, short)", forest, repeats, with_ref,
                    f64_fmt, f64_parse, f64_ref_fmt, f64_ref_parse);
    if (want("f64bits"))
        bench_float("float64, random finite bit patterns", f64bits, repeats, with_ref, f64_fmt, f64_parse, f64_ref_fmt,
                    f64_ref_parse);
    if (want("f32"))
        bench_float("float32, standard normal", f32, repeats, with_ref, f32_fmt, f32_parse, f32_ref_fmt, f32_ref_parse);

    if (want("i64")) {
        // int64 as json_writer / json_reader handle them (std::to_chars / std::from_chars), for scale.
        std::vector<char> text(n * 24 + 1);
        std::vector<int64_t> back(n);
        std::size_t len = 0;
        std::printf("int64, uniform in [-1e9, 1e9) (std::to_chars / std::from_chars)\n");
        print_row("format", time_it(repeats, n, [&] {
                      len = format_all(i64, text, [](int64_t x, char* p) {
                          return static_cast<std::size_t>(std::to_chars(p, p + 24, x).ptr - p);
                      });
                  }));
        bool ok = true;
        const char* b = text.data();
        print_row("parse", time_it(repeats, n, [&] {
                      ok = parse_all(b, b + len, back, [](const char* p, const char* e, int64_t& x) -> const char* {
                          const auto r = std::from_chars(p, e, x);
                          return r.ec == std::errc() ? r.ptr : nullptr;
                      });
                  }));
        check(ok && same_bits(back, i64), "int64 round trip");
    }
    if (g_failures != 0) {
        std::printf("%d checks FAILED\n", g_failures);
        return 1;
    }
    std::printf("all checks passed\n");
    return 0;
}

// Standalone benchmark of the base64 core (src/cpp/core/base64): encode and decode 16 MB
// of random bytes (21.3 MB of text) with the portable code (milo::detail::*_scalar)
// and with the dispatched code (AVX2 where the CPU has it), in GB/s of binary data,
// from the best of the timed passes (thread CPU time). Output and error indexes are
// checked after timing: both paths give the same text and the same bytes.
//
// Build and run from the repository root:
//
//   g++ -std=c++17 -O2 -Isrc/cpp/core src/cpp/core/base64.cpp benchmarks/cpp/bench_base64.cpp -o /tmp/bench_base64 && /tmp/bench_base64
//
// Options: bench_base64 [n_bytes [repeats]]   (defaults 16777216 and 21)
// MILO_FAST_NO_SIMD=1 makes the dispatched code the portable one too.
// Wall times are noisy on a loaded machine: check `uptime` (printed first), or count
// instructions instead:
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out /tmp/bench_base64 1000000 1
//   callgrind_annotate --inclusive=yes /tmp/cg.out | grep milo::
#include "base64.hpp"
#include "bench_util.hpp"

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace milo;

namespace {

struct Timing {
    double best = 0, median = 0;  // GB/s of binary data
};

template <class Fn>
Timing time_it(int repeats, std::size_t n, Fn fn) {
    const std::vector<double> t = bench::sorted_ns(repeats, fn);  // bytes per ns = GB/s
    return {static_cast<double>(n) / t.front(), static_cast<double>(n) / t[t.size() / 2]};
}

int g_failures = 0;
void check(bool ok, const char* what) {
    if (!ok) {
        ++g_failures;
        std::printf("  CHECK FAILED: %s\n", what);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : std::size_t{16} << 20;
    const int repeats = argc > 2 ? std::atoi(argv[2]) : 21;
    bench::print_load_average();
    std::printf("%zu bytes, %zu chars, best of %d (median), dispatched code: %s\n", n, base64_encoded_size(n), repeats,
                detail::base64_simd_enabled() ? "AVX2" : "portable");

    std::vector<uint8_t> buf(n), back(n), back_s(n);
    uint64_t s = 0x2545f4914f6cdd1dULL;
    for (auto& b : buf) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        b = static_cast<uint8_t>(s >> 32);
    }
    std::string text(base64_encoded_size(n), '\0'), text_s(base64_encoded_size(n), '\0');
    // touch every page before timing
    base64_encode(buf.data(), n, &text[0]);
    detail::base64_encode_scalar(buf.data(), n, &text_s[0]);
    const std::size_t m = base64_decoded_size(text.data(), text.size());
    check(m == n, "decoded size");
    std::size_t r = 0, r_s = 0;

    const Timing es = time_it(repeats, n, [&] { detail::base64_encode_scalar(buf.data(), n, &text_s[0]); });
    const Timing ed = time_it(repeats, n, [&] { base64_encode(buf.data(), n, &text[0]); });
    const Timing ds =
        time_it(repeats, n, [&] { r_s = detail::base64_decode_scalar(text.data(), text.size(), back_s.data()); });
    const Timing dd = time_it(repeats, n, [&] { r = base64_decode(text.data(), text.size(), back.data()); });
    std::printf("  encode  portable   %6.2f GB/s (median %6.2f)\n", es.best, es.median);
    std::printf("  encode  dispatched %6.2f GB/s (median %6.2f)  x%.2f\n", ed.best, ed.median, ed.best / es.best);
    std::printf("  decode  portable   %6.2f GB/s (median %6.2f)\n", ds.best, ds.median);
    std::printf("  decode  dispatched %6.2f GB/s (median %6.2f)  x%.2f\n", dd.best, dd.median, dd.best / ds.best);

    check(text == text_s, "same text from both encoders");
    check(r == SIZE_MAX && r_s == SIZE_MAX, "both decoders accept");
    check(back == buf && back_s == buf, "both decoders give the bytes back");
    // an invalid char near the end: the same index from both
    text[text.size() - 100] = '-';
    check(base64_decode(text.data(), text.size(), back.data()) == text.size() - 100 &&
              detail::base64_decode_scalar(text.data(), text.size(), back_s.data()) == text.size() - 100,
          "error index");
    if (g_failures) std::printf("%d checks FAILED\n", g_failures);
    return g_failures ? 1 : 0;
}

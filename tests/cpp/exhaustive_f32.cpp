// Exhaustive float32 check: for all 2^32 bit patterns, format_f32 -> parse_f32 gives
// back the same bits (finite values), the text is a JSON float number, the text is
// byte-identical to the reference implementation's (float_reference.hpp, on
// std::to_chars), and the non-finite values are written as the NaN / Infinity /
// -Infinity tokens.
// Not part of the default ctest run (its name does not start with test_); it takes
// minutes. Build and run from the repository root:
//
//   g++ -std=c++17 -O2 -pthread -Wall -Wextra -Werror -Isrc/cpp/core src/cpp/core/floatfmt.cpp tests/cpp/exhaustive_f32.cpp -o /tmp/exhaustive_f32 && /tmp/exhaustive_f32
//
// Options: exhaustive_f32 [--no-reference] [threads] [first_hex last_hex]  (inclusive range
// of bit patterns; the default is every pattern, on all hardware threads; --no-reference
// skips the comparison with the reference text, about half of the time).
#include "floatfmt.hpp"
#include "float_reference.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

using namespace milo;

namespace {

std::atomic<uint64_t> g_failed{0};
std::atomic<uint64_t> g_checked{0};
bool g_reference = true;

void check_range(uint64_t first, uint64_t last) {  // inclusive
    uint64_t failed = 0, checked = 0;
    char buf[kFloatBufSize];
    for (uint64_t i = first; i <= last; ++i) {
        const uint32_t b = static_cast<uint32_t>(i);
        float v;
        std::memcpy(&v, &b, 4);
        const std::size_t n = format_f32(v, buf);
        const FloatClass c = classify32(b);
        bool ok;
        if (c == FloatClass::Finite) {
            float back = 0;
            bool is_int = true;
            ok = n < kFloatBufSize && parse_f32(buf, buf + n, back) == buf + n &&
                 std::memcmp(&back, &b, 4) == 0 && scan_json_number(buf, buf + n, &is_int) == buf + n && !is_int;
        } else if (c == FloatClass::NaN) {
            ok = n == 3 && std::memcmp(buf, "NaN", 3) == 0;
        } else if (c == FloatClass::PosInf) {
            ok = n == 8 && std::memcmp(buf, "Infinity", 8) == 0;
        } else {
            ok = n == 9 && std::memcmp(buf, "-Infinity", 9) == 0;
        }
        if (ok && g_reference) {
            char want[kFloatBufSize];
            const std::size_t wn = milo::detail::reference::format_f32(v, want);
            ok = wn == n && std::memcmp(want, buf, n) == 0;
        }
        ++checked;
        if (!ok) {
            if (++failed <= 10) std::fprintf(stderr, "FAILED: %08x -> %.*s\n", b, static_cast<int>(n), buf);
        }
    }
    g_failed += failed;
    g_checked += checked;
}

}  // namespace

int main(int argc, char** argv) {
    unsigned threads = std::thread::hardware_concurrency();
    if (threads == 0) threads = 1;
    uint64_t first = 0, last = 0xffffffffULL;
    if (argc >= 2 && std::strcmp(argv[1], "--no-reference") == 0) {
        g_reference = false;
        --argc;
        ++argv;
    }
    if (argc >= 2) threads = static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10));
    if (argc >= 4) {
        first = std::strtoull(argv[2], nullptr, 16);
        last = std::strtoull(argv[3], nullptr, 16);
    }
    if (threads == 0 || first > last || last > 0xffffffffULL) {
        std::fprintf(stderr, "usage: exhaustive_f32 [--no-reference] [threads] [first_hex last_hex]\n");
        return 2;
    }
    const auto t0 = std::chrono::steady_clock::now();
    // Interleave small chunks so that every thread gets a mix of cheap and costly patterns.
    const uint64_t total = last - first + 1;
    const uint64_t chunk = uint64_t{1} << 20;
    std::atomic<uint64_t> next{0};
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            for (;;) {
                const uint64_t k = next.fetch_add(1);
                const uint64_t lo = first + k * chunk;
                if (k * chunk >= total) break;
                const uint64_t hi = (total - k * chunk) <= chunk ? last : lo + chunk - 1;
                check_range(lo, hi);
            }
        });
    }
    for (auto& th : pool) th.join();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("exhaustive_f32: %llu patterns checked%s in %.1f s on %u threads, %llu failed\n",
                static_cast<unsigned long long>(g_checked.load()),
                g_reference ? " (text == reference text too)" : "", secs, threads,
                static_cast<unsigned long long>(g_failed.load()));
    return g_failed.load() == 0 ? 0 : 1;
}

// What the standalone C++ benchmarks share: thread CPU time, repeated timing, the load average line.
#pragma once
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace bench {

// The thread's CPU time: on a machine shared with other jobs, time spent descheduled is
// not counted (cache and sibling-thread effects still are: compare rows of one run).
inline double cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Thread CPU ns of each of `repeats` calls of fn, sorted (fastest first).
template <class Fn>
std::vector<double> sorted_ns(int repeats, Fn fn) {
    std::vector<double> t;
    for (int r = 0; r < repeats; ++r) {
        const double t0 = cpu_ns();
        fn();
        t.push_back(cpu_ns() - t0);
    }
    std::sort(t.begin(), t.end());
    return t;
}

// The arguments of the benchmarks that take a document: `prog document.json [repeats]`. Reads the file into
// text and sets repeats (default 21); false, with the reason printed, for a missing argument or an unreadable file.
inline bool document_args(int argc, char** argv, std::string& text, int& repeats) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s document.json [repeats]\n", argv[0]);
        return false;
    }
    std::FILE* f = std::fopen(argv[1], "rb");
    if (!f) {
        std::perror(argv[1]);
        return false;
    }
    char buf[1 << 16];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    std::fclose(f);
    repeats = argc > 2 ? std::atoi(argv[2]) : 21;
    return true;
}

// Prints "load average: ..." from /proc/loadavg (nothing where there is none).
inline void print_load_average() {
    if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
        char la[128] = {0};
        if (std::fgets(la, sizeof la, f)) std::printf("load average: %s", la);
        std::fclose(f);
    }
}

}  // namespace bench

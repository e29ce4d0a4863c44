// The number of threads the machine runs at once, asked once per process.
#pragma once

#include <algorithm>
#include <cstdint>
#include <thread>

namespace milo {

// std::thread::hardware_concurrency(), at least 1, asked once: glibc reads /sys/devices/system/cpu/online on every
// call (about 6 us on the development VM), and the writer and the reader decide their threads per array (a
// 100-tree forest's save asked 403 times).
inline unsigned hardware_threads() {
    static const unsigned n = [] {
        const unsigned h = std::thread::hardware_concurrency();
        return h ? h : 1u;
    }();
    return n;
}

// The threads for work that splits into `parts` (jobs, pieces, rows): the machine's, at most 8, at most parts
// (and at least 1).
inline int capped_threads(uint64_t parts) {
    return static_cast<int>(std::max<uint64_t>(1, std::min<uint64_t>({hardware_threads(), 8, parts})));
}

}  // namespace milo

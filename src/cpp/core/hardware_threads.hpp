// The number of threads the machine runs at once, asked once per process.
#pragma once

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

}  // namespace milo

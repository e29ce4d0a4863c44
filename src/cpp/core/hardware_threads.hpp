// The number of threads the machine runs at once, asked once per process; and the codec's way to start a worker.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

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

// A worker thread running fn() (std::system_error if none can be started), made to start on another CPU than the
// calling thread's, then free to run on any the calling thread may. Linux places a new thread on its parent's CPU
// when the others have been idle for a while (a server that loads or saves a model now and then; the benchmarks'
// paced rounds), and there it waits until the parent blocks or the balancer moves it: on the development VM,
// after 20 ms of sleep, a thread started beside 3 ms of work first ran 2.4-3.0 ms later (median of 40), where
// moved at once it ran after 0.12 ms, and loads whose workers had been stuck so were as slow as on one CPU. The
// move is undone by the worker itself before fn() (it waits for the move to be made first, a few microseconds),
// so that the system's choice of CPUs and a process's own restriction (taskset, cpusets) stay as they were.
// away = false: started where the system places it (the last worker of a caller that then only waits for them,
// whose CPU is about to be free: moved too, it would share another's CPU until the balancer took it back; a
// forest's text save took 15.5-16.4 -> 21-24 ms after a sleep).
template <class Fn>
std::thread start_worker(Fn fn, bool away = true) {
#if defined(__linux__)
    cpu_set_t allowed;
    const int here = away ? sched_getcpu() : -1;
    if (here >= 0 && here < CPU_SETSIZE && pthread_getaffinity_np(pthread_self(), sizeof allowed, &allowed) == 0 &&
        CPU_ISSET(here, &allowed) && CPU_COUNT(&allowed) > 1) {
        auto moved = std::make_shared<std::atomic<bool>>(false);
        std::thread t([allowed, moved, fn = std::move(fn)]() mutable {
            while (!moved->load(std::memory_order_acquire)) sched_yield();
            pthread_setaffinity_np(pthread_self(), sizeof allowed, &allowed);
            fn();
        });
        cpu_set_t others = allowed;
        CPU_CLR(here, &others);
        pthread_setaffinity_np(t.native_handle(), sizeof others, &others);  // (a failure leaves it where it is)
        moved->store(true, std::memory_order_release);
        return t;
    }
#endif
    return std::thread(std::move(fn));
}

}  // namespace milo

// hardware_threads.hpp's start_worker: the worker runs its function once, and by then may run on every CPU its
// starter may (the move to another CPU undone), whether it was moved (away) or not, whether the process may use
// every CPU or only one (as under taskset), and with many workers started at once; and a worker that is moved
// starts on another CPU than its starter's when it can (at least once in a hundred tries: the system may still
// move it back, so no single try is asserted).
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "hardware_threads.hpp"
#include "test_util.hpp"

#if defined(__linux__)
namespace {

bool same_set(const cpu_set_t& a, const cpu_set_t& b) { return CPU_EQUAL(&a, &b); }

// Starts `n` workers at once from this thread, each checking its own CPUs against this thread's; returns how many
// began on another CPU than this thread's at the time it was started.
int start_and_check(int n, bool away) {
    cpu_set_t mine;
    CHECK(pthread_getaffinity_np(pthread_self(), sizeof mine, &mine) == 0);
    std::atomic<int> ran{0}, restored{0}, elsewhere{0};
    std::vector<std::thread> pool;
    for (int i = 0; i < n; ++i) {
        const int here = sched_getcpu();
        pool.push_back(milo::start_worker([&, here] {
            if (sched_getcpu() != here) ++elsewhere;
            cpu_set_t theirs;
            if (pthread_getaffinity_np(pthread_self(), sizeof theirs, &theirs) == 0 && same_set(theirs, mine))
                ++restored;
            ++ran;
        }, away));
    }
    for (auto& t : pool) t.join();
    CHECK_MSG(ran == n, "%d of %d workers ran", ran.load(), n);
    CHECK_MSG(restored == n, "%d of %d workers could run on their starter's CPUs", restored.load(), n);
    return elsewhere;
}

}  // namespace
#endif

int main() {
#if defined(__linux__)
    cpu_set_t all;
    CHECK(pthread_getaffinity_np(pthread_self(), sizeof all, &all) == 0);
    int elsewhere = 0;
    for (int i = 0; i < 100; ++i) elsewhere += start_and_check(1, true);
    start_and_check(1, false);
    start_and_check(16, true);
    if (CPU_COUNT(&all) > 1) {
        CHECK_MSG(elsewhere > 0, "no moved worker of 100 began on another CPU than its starter's");
        // This thread on one CPU only (as under taskset): workers are not moved, and stay on that one CPU.
        cpu_set_t one;
        CPU_ZERO(&one);
        for (int c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &all)) { CPU_SET(c, &one); break; }
        CHECK(pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0);
        start_and_check(4, true);
        CHECK(pthread_setaffinity_np(pthread_self(), sizeof all, &all) == 0);
    }
#else
    std::atomic<int> ran{0};
    std::thread t = milo::start_worker([&] { ++ran; });
    t.join();
    CHECK(ran == 1);
#endif
    return milo_test::summary("test_start_worker");
}

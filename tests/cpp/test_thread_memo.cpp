// thread_memo.hpp's MemoPool across fork(): a child forked while another thread of the parent holds the pool's
// mutex (taking or giving back a memo, as an encoder worker does when it starts or ends) must still be able to
// take a memo, instead of waiting forever on a mutex no thread of its own will release.
#include <atomic>
#include <cstdio>
#include <thread>

#if defined(__unix__) || defined(__APPLE__)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#define MILO_TEST_FORK 1
#endif

#include "test_util.hpp"
#include "thread_memo.hpp"

namespace {

struct Memo {
    int uses = 0;
};

}  // namespace

int main() {
#if MILO_TEST_FORK
    using Pool = milo::MemoPool<Memo>;
    // The pool exists before any thread may fork (as the codec makes its pool when it is loaded): a fork while
    // another thread runs the pool's one-time initialization would leave the child waiting on that instead.
    milo::MemoPool<Memo>::get();
    std::atomic<bool> stop{false};
    // Another thread takes and gives back memos without pause: the pool's mutex is held most of the time.
    std::thread busy([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            Memo* m = Pool::get().take();
            ++m->uses;
            Pool::get().give(m);
        }
    });
    constexpr int kForks = 200;
    int hung = 0, failed = 0;
    for (int i = 0; i < kForks; ++i) {
        const pid_t pid = fork();
        if (pid == 0) {  // the child: only this thread; a hang is ended by the alarm (SIGALRM kills it)
            alarm(5);
            Memo* m = Pool::get().take();
            Pool::get().give(m);
            _exit(0);
        }
        if (pid < 0) {
            ++failed;
            continue;
        }
        int status = 0;
        if (waitpid(pid, &status, 0) != pid) {
            ++failed;
        } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) {
            ++hung;
        } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            ++failed;
        }
        if (hung) break;  // (one is enough: each takes the alarm's 5 s)
    }
    stop = true;
    busy.join();
    CHECK_MSG(hung == 0, "a forked child hung taking a memo (%d)", hung);
    CHECK_MSG(failed == 0, "%d forks failed or their children did not exit cleanly", failed);
    // The parent's pool still works after the forks.
    Memo* m = Pool::get().take();
    CHECK(m != nullptr);
    Pool::get().give(m);
#else
    CHECK(true);  // no fork() here
#endif
    return milo_test::summary("test_thread_memo");
}

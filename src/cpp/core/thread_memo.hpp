// A memo a thread keeps for as long as it runs, taken from a pool on its first use and given back when the thread
// ends (json_writer's float64 texts). The codec's workers are new threads on every call: a memo of their own
// would be fresh pages (page faults) and empty every time, where one from the pool is warm. A pool holds as many
// memos as threads have used at once, for the process's life.
//
// fork(): the pool's mutex is taken before a fork and released after it, in the parent and in the child
// (pthread_atfork), so that a child forked while another thread takes or gives back a memo does not inherit the
// mutex held by a thread it does not have (its first threaded save would wait forever). A pool must also be made
// (MemoPool<Memo>::get()) before any thread can fork, as json_writer.cpp does when the library is loaded: a fork
// while another thread ran get()'s one-time initialization would leave the child waiting on that instead.
#pragma once

#include <mutex>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

namespace milo {

template <class Memo>
class MemoPool {
public:
    Memo* take() {
        {
            std::lock_guard<std::mutex> lk(m_);
            if (!free_.empty()) {
                Memo* r = free_.back();
                free_.pop_back();
                return r;
            }
        }
        return new Memo();  // (value-initialized: zero keys, which no lookup asks for)
    }
    void give(Memo* memo) {
        std::lock_guard<std::mutex> lk(m_);
        free_.push_back(memo);
    }
    static MemoPool& get() {
        static MemoPool* pool = make();  // never destroyed: threads may end after static destructors ran
        return *pool;
    }

private:
    std::mutex m_;
    std::vector<Memo*> free_;

    MemoPool() = default;
    static MemoPool* make() {
        MemoPool* p = new MemoPool;
#if defined(__unix__) || defined(__APPLE__)
        // (called once, from get()'s static initialization: the handlers find the pool through get())
        pthread_atfork([] { get().m_.lock(); }, [] { get().m_.unlock(); }, [] { get().m_.unlock(); });
#endif
        return p;
    }
};

// This thread's Memo.
template <class Memo>
Memo& thread_memo() {
    struct Holder {
        Memo* memo = nullptr;
        ~Holder() { if (memo) MemoPool<Memo>::get().give(memo); }
    };
    static thread_local Holder h;
    if (__builtin_expect(!h.memo, 0)) h.memo = MemoPool<Memo>::get().take();
    return *h.memo;
}

}  // namespace milo

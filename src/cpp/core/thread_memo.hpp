// A memo a thread keeps for as long as it runs, taken from a pool on its first use and given back when the thread
// ends (json_writer's float64 texts). The codec's workers are new threads on every call: a memo of their own
// would be fresh pages (page faults) and empty every time, where one from the pool is warm. A pool holds as many
// memos as threads have used at once, for the process's life.
#pragma once

#include <mutex>
#include <vector>

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
        static MemoPool* pool = new MemoPool;  // never destroyed: threads may end after static destructors ran
        return *pool;
    }

private:
    std::mutex m_;
    std::vector<Memo*> free_;
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

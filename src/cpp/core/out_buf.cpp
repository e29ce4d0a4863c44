#include "out_buf.hpp"

#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace milo {

#if defined(__linux__)
namespace {

// The whole pages inside [p, p + n), as [lo, hi): false when there are none.
bool whole_pages(void* p, std::size_t n, std::uintptr_t& lo, std::uintptr_t& hi) {
    static const std::uintptr_t page = [] {
        const long s = sysconf(_SC_PAGESIZE);
        return s > 0 ? static_cast<std::uintptr_t>(s) : std::uintptr_t{4096};
    }();
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    lo = (a + page - 1) / page * page;
    hi = (a + n) / page * page;
    return p && hi > lo;
}

}  // namespace
#endif

void advise_huge_pages(void* p, std::size_t n) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    constexpr std::size_t kMin = std::size_t{4} << 20;
    std::uintptr_t lo, hi;
    if (n < kMin || !whole_pages(p, n, lo, hi)) return;
    madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);  // advice only: errors ignored
#else
    (void)p;
    (void)n;
#endif
}

void populate_pages(void* p, std::size_t n) {
#if defined(__linux__)
    constexpr std::size_t kMin = std::size_t{16} << 10;
#ifdef MADV_POPULATE_WRITE
    constexpr int kPopulateWrite = MADV_POPULATE_WRITE;
#else
    constexpr int kPopulateWrite = 23;  // (Linux 5.14; older libc headers lack the name)
#endif
    std::uintptr_t lo, hi;
    if (n < kMin || !whole_pages(p, n, lo, hi)) return;
    unsigned char resident = 0;  // (a block the heap handed back from earlier work: mapped already)
    if (mincore(reinterpret_cast<void*>(lo), 1, &resident) == 0 && (resident & 1)) return;
    madvise(reinterpret_cast<void*>(lo), hi - lo, kPopulateWrite);  // advice only: errors ignored
#else
    (void)p;
    (void)n;
#endif
}

namespace {

struct MallocStorage final : OutBuf::Storage {
    char* resize(char* p, std::size_t, std::size_t cap) override {
        char* q = static_cast<char*>(std::realloc(p, cap));
        if (q) advise_huge_pages(q, cap);
        return q;
    }
    void release(char* p) override { std::free(p); }
};

MallocStorage g_malloc_storage;

}  // namespace

OutBuf::OutBuf() : storage_(&g_malloc_storage) {}
OutBuf::OutBuf(Storage& storage) : storage_(&storage) {}

OutBuf::~OutBuf() {
    if (p_) storage_->release(p_);
}

void OutBuf::reserve_exact(std::size_t k) {
    if (p_ || k == 0) {
        ensure(k);
        return;
    }
    char* q = storage_->resize(nullptr, 0, k);
    if (!q) throw std::bad_alloc();
    p_ = q;
    cap_ = k;
}

void OutBuf::grow(std::size_t need) {
    // Doubling, with slack beyond what is asked for: a large block that realloc cannot extend in place is
    // copied whole, so a big request (an array's estimated text) must not be followed by a grow for the
    // few bytes after it.
    std::size_t cap = cap_ < 256 ? 256 : cap_ * 2;
    if (cap < need) cap = need + need / 16 + 4096;
    char* q = storage_->resize(p_, n_, cap);
    if (!q) throw std::bad_alloc();
    p_ = q;
    cap_ = cap;
}

}  // namespace milo

// The output buffer of the JSON writer: a growable byte buffer whose storage is pluggable, so the bindings
// can let the writer fill the final Python bytes object itself (no copy of the document at the end).
//
// Growth is geometric through Storage::resize, which may move the block (realloc keeps the contents; for
// large blocks glibc's realloc remaps pages instead of copying them). Blocks of 4 MiB and more are advised
// to the kernel as transparent-huge-page candidates: first touching fresh memory costs a page fault per
// 4 KiB otherwise, which on virtual machines costs more than writing the text (measured in the commit that
// added this file).
#pragma once
#include <cstddef>
#include <cstring>

namespace milo {

// Advise [p, p + n) as a transparent-huge-page candidate when n >= 4 MiB (a no-op elsewhere and on
// systems without madvise). Only whole pages inside the range are advised.
void advise_huge_pages(void* p, std::size_t n);

// Maps the whole pages inside [p, p + n), a buffer about to be written whole, in one call where they are fresh
// (its first page not mapped yet: a new process, or memory the heap gave back): the kernel maps them for less than
// the page faults the writes would take (about 1.4 against 2.1 us a page on the development VM; a 100-tree
// forest's text tables are 5.2K pages). Buffers of 16 KiB and more; advice, whose failure (kernels before 5.14,
// systems without madvise) changes nothing.
void populate_pages(void* p, std::size_t n);

class OutBuf {
public:
    // Where the bytes live. resize(p, used, cap) returns a block of at least `cap` bytes whose first `used`
    // bytes are those of p (p is null on the first call), or null when out of memory.
    struct Storage {
        virtual char* resize(char* p, std::size_t used, std::size_t cap) = 0;
        virtual void release(char* p) = 0;

    protected:
        ~Storage() = default;
    };

    OutBuf();                              // malloc/realloc storage
    explicit OutBuf(Storage& storage);     // caller-provided storage (outlives the buffer)
    ~OutBuf();
    OutBuf(const OutBuf&) = delete;
    OutBuf& operator=(const OutBuf&) = delete;

    std::size_t size() const { return n_; }
    const char* data() const { return p_; }
    char* data() { return p_; }
    bool empty() const { return n_ == 0; }
    char back() const { return p_[n_ - 1]; }

    // Makes room for k more bytes; cur() then has at least k writable bytes. Throws std::bad_alloc.
    void ensure(std::size_t k) {
        if (cap_ - n_ < k) grow(n_ + k);
    }
    // Makes room for exactly k bytes in an empty buffer that has none (else as ensure): for a block whose final
    // size is known, allocated at that size. (With slack, the block freed after use is smaller than the next
    // request, which glibc then maps afresh, one page fault per 4 KiB written, where it would reuse the freed
    // block of the same size.)
    void reserve_exact(std::size_t k);
    char* cur() { return p_ + n_; }
    void advance(std::size_t k) { n_ += k; }
    void truncate(std::size_t n) { n_ = n; }

    void push_back(char c) {
        ensure(1);
        p_[n_++] = c;
    }
    void append(const char* s, std::size_t k) {
        ensure(k);
        std::memcpy(p_ + n_, s, k);
        n_ += k;
    }
    void append(const char* s) { append(s, std::strlen(s)); }
    void append(std::size_t count, char c) {
        ensure(count);
        std::memset(p_ + n_, c, count);
        n_ += count;
    }
    void append(const OutBuf& o) { append(o.data(), o.size()); }

    // Gives up the block: the caller owns it now (with its storage), the buffer is empty.
    char* release() {
        char* p = p_;
        p_ = nullptr;
        n_ = cap_ = 0;
        return p;
    }

private:
    void grow(std::size_t need);

    Storage* storage_;
    char* p_ = nullptr;
    std::size_t n_ = 0;
    std::size_t cap_ = 0;
};

}  // namespace milo

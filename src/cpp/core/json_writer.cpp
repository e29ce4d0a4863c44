#include "json_writer.hpp"

#include <charconv>
#include <algorithm>
#include <atomic>
#include <new>
#include <cstring>
#include <system_error>
#include <thread>

#include "base64.hpp"
#include "float_format.hpp"
#include "floatfmt.hpp"
#include "hardware_threads.hpp"
#include "thread_memo.hpp"

namespace milo {

namespace {

// The formatters inline in the loops below (float_format.hpp), where the compiler allows it.
// kSmall: integers mostly below 10^4 (float_format.hpp's u64_text).
#if MILO_FLOAT_FAST
template <bool kSmall = false>
__attribute__((always_inline)) inline std::size_t f64_text(double v, char* w) { return detail::fmt::format_fast64<kSmall>(v, w); }
template <bool kSmall = false>
__attribute__((always_inline)) inline std::size_t i64_text(int64_t v, char* w) { return detail::fmt::i64_text<kSmall>(v, w); }
template <bool kSmall = false>
__attribute__((always_inline)) inline std::size_t u64_text(uint64_t v, char* w) { return detail::fmt::u64_text<kSmall>(v, w); }
#else
template <bool kSmall = false>
inline std::size_t f64_text(double v, char* w) { return format_f64(v, w); }
template <bool kSmall = false>
inline std::size_t i64_text(int64_t v, char* w) { return format_i64(v, w); }
template <bool kSmall = false>
inline std::size_t u64_text(uint64_t v, char* w) { return format_u64(v, w); }
#endif

inline uint16_t load16(const uint8_t* p, bool big) {
    uint16_t v; std::memcpy(&v, p, 2);
    return big ? __builtin_bswap16(v) : v;
}
inline uint32_t load32(const uint8_t* p, bool big) {
    uint32_t v; std::memcpy(&v, p, 4);
    return big ? __builtin_bswap32(v) : v;
}
inline uint64_t load64(const uint8_t* p, bool big) {
    uint64_t v; std::memcpy(&v, p, 8);
    return big ? __builtin_bswap64(v) : v;
}

// The only float32 magnitude (of all 2^32 patterns, tests/test_float_exhaustive.py) whose shortest text
// double-rounds when read as float64 and cast to float32.
constexpr uint32_t kF32DoubleRoundingTrap = 0x15ae43fdu;

inline std::size_t write_nonfinite(char* w, FloatClass c, bool strict) {
    const char* t = c == FloatClass::NaN ? "NaN" : c == FloatClass::PosInf ? "Infinity" : "-Infinity";
    const std::size_t k = std::strlen(t);
    if (!strict) { std::memcpy(w, t, k); return k; }
    w[0] = '"';
    std::memcpy(w + 1, t, k);
    w[k + 1] = '"';
    return k + 2;
}

// Upper bound of one element's text, the separator that may follow it included.
constexpr std::size_t kMaxElemText = kFloatBufSize + 16;

// A float64's text (its bits b) at w, as write_elem writes it: its length, or SIZE_MAX for a NaN text cannot carry.
template <bool kSmall = false>
__attribute__((always_inline)) inline std::size_t f64_elem(char* w, uint64_t b, bool strict) {
    if (__builtin_expect((b & 0x7ff0000000000000ULL) != 0x7ff0000000000000ULL, 1)) {  // finite
        double v; std::memcpy(&v, &b, 8);
        return f64_text<kSmall>(v, w);
    }
    const FloatClass c = classify64(b);
    if (c == FloatClass::NaN && !is_canonical_nan64(b)) return SIZE_MAX;
    return write_nonfinite(w, c, strict);
}

// The texts of float64 magnitudes written lately on this thread, by their bits (direct-mapped, 8192 entries of
// 32 bytes): a tree's class fractions and impurities repeat (in the 100-tree forest, 266K class fractions that
// are not whole hold 36.6K distinct values), and copying a text found here costs a fraction of finding the
// shortest digits again. Entries only ever map bits to the text the formatter gives them, so an entry left by an
// earlier document or array is as good as a fresh one. Zero is looked up like any other magnitude (a pure
// leaf's class fractions hold one 0.0, in either place: a test for it would be a coin toss): it maps to entry 0,
// which starts as zero's own text, and no other entry's initial key, zero, is ever asked for.
struct F64Memo {
    struct Entry {
        uint64_t a;     // the magnitude's bits (sign cleared)
        char text[23];  // its text (a positive float64's is at most 23 characters: "1.2345678901234567e-308")
        uint8_t len;
    };
    static constexpr unsigned kBits = 13;
    Entry e[std::size_t{1} << kBits];
    F64Memo() : e{} { e[0] = Entry{0, "0.0", 3}; }
    static std::size_t slot(uint64_t a) { return static_cast<std::size_t>((a * 0x9E3779B97F4A7C15ULL) >> (64 - kBits)); }
};
static_assert(sizeof(F64Memo::Entry) == 32, "an entry is half a cache line");

F64Memo& writer_memo() { return thread_memo<F64Memo>(); }

// The pool is made when the library is loaded, before any thread can fork: a fork while a thread ran its
// one-time initialization (the first text save) would leave the child waiting on that forever.
[[maybe_unused]] const bool g_memo_pool_made = (MemoPool<F64Memo>::get(), true);

// f64_elem through the memo: the same text (w has kMaxElemText bytes).
__attribute__((always_inline)) inline std::size_t f64_elem_memo(char* w, uint64_t b, bool strict, F64Memo& m) {
    const uint64_t a = b & 0x7fffffffffffffffULL;
    if (__builtin_expect(a >= 0x7ff0000000000000ULL, 0)) return f64_elem(w, b, strict);  // inf, NaN
    const bool neg = (b >> 63) != 0;
    *w = '-';
    char* const p = w + neg;
    F64Memo::Entry& e = m.e[F64Memo::slot(a)];
    if (e.a == a) {
        std::memcpy(p, e.text, 24);  // (the length byte too: written over by what follows)
        return neg + e.len;
    }
    double v; std::memcpy(&v, &a, 8);
    const std::size_t n = f64_text(v, p);
    if (n <= sizeof e.text) {
        e.a = a;
        std::memcpy(e.text, p, sizeof e.text);
        e.len = static_cast<uint8_t>(n);
    }
    return neg + n;
}

// Writes one element's text at w (which has kMaxElemText bytes) and returns its length, or SIZE_MAX for a
// NaN other than the canonical quiet NaN (text cannot carry it: the caller writes the base64 envelope).
__attribute__((always_inline)) inline std::size_t write_elem(char* w, const uint8_t* p, const Field& f, bool strict) {
    switch (f.kind) {
        case ElemKind::Bool:
            if (*p) { std::memcpy(w, "true", 4); return 4; }
            std::memcpy(w, "false", 5);
            return 5;
        case ElemKind::I8: return i64_text(int8_t(*p), w);
        case ElemKind::U8: return u64_text(*p, w);
        case ElemKind::I16: return i64_text(int16_t(load16(p, f.big_endian)), w);
        case ElemKind::U16: return u64_text(load16(p, f.big_endian), w);
        case ElemKind::I32: return i64_text(int32_t(load32(p, f.big_endian)), w);
        case ElemKind::U32: return u64_text(load32(p, f.big_endian), w);
        case ElemKind::I64: return i64_text(int64_t(load64(p, f.big_endian)), w);
        case ElemKind::U64: return u64_text(load64(p, f.big_endian), w);
        case ElemKind::F16: {
            uint16_t b = load16(p, f.big_endian);
            FloatClass c = classify16(b);
            if (c == FloatClass::Finite) return format_f16(b, w);
            if (c == FloatClass::NaN && !is_canonical_nan16(b)) return SIZE_MAX;
            return write_nonfinite(w, c, strict);
        }
        case ElemKind::F32: {
            uint32_t b = load32(p, f.big_endian);
            FloatClass c = classify32(b);
            if (c != FloatClass::Finite) {
                if (c == FloatClass::NaN && !is_canonical_nan32(b)) return SIZE_MAX;
                return write_nonfinite(w, c, strict);
            }
            float v; std::memcpy(&v, &b, 4);
            if ((b & 0x7fffffffu) == kF32DoubleRoundingTrap) {
                // Its shortest text, 7.038531e-26, reads back exactly as float32 but not when a reader
                // parses float64 first and then casts (PyMilo, np.asarray(list, float32)): one digit more.
                return std::to_chars(w, w + kMaxElemText, v, std::chars_format::scientific, 7).ptr - w;
            }
            return format_f32(v, w);
        }
        case ElemKind::F64: return f64_elem(w, load64(p, f.big_endian), strict);
    }
    return 0;
}

// Writes one item (an element, or a structured row as a list); false for a NaN text cannot carry.
inline bool write_item(OutBuf& out, const uint8_t* p, const Layout& L, bool strict) {
    if (!L.structured) {
        out.ensure(kMaxElemText);
        const std::size_t n = write_elem(out.cur(), p + L.fields[0].offset, L.fields[0], strict);
        if (n == SIZE_MAX) return false;
        out.advance(n);
        return true;
    }
    out.push_back('[');
    bool first = true;
    for (const Field& f : L.fields) {
        out.ensure(kMaxElemText + 1);
        char* w = out.cur();
        if (!first) *w++ = ',';
        const std::size_t n = write_elem(w, p + f.offset, f, strict);
        if (n == SIZE_MAX) return false;
        out.advance(n + !first);
        first = false;
    }
    out.push_back(']');
    return true;
}

bool write_dim(OutBuf& out, const ArrayView& a, const uint8_t* p, std::size_t dim, bool strict, int indent, int level);

// Items [lo, hi) of a plain dtype along the innermost dimension (stride st), each preceded by a comma but item 0:
// one room check per run of items instead of one per item, write_elem's dispatch predictable (the same field
// every time).
bool write_plain_items(OutBuf& out, const uint8_t* p, int64_t lo, int64_t hi, int64_t st, const Field& f, bool strict) {
    constexpr int64_t kRun = 64;
    const uint8_t* q = p + f.offset;
    for (int64_t a = lo; a < hi; a += kRun) {
        const int64_t b = std::min(hi, a + kRun);
        out.ensure(static_cast<std::size_t>(b - a) * (kMaxElemText + 1));
        char* const w0 = out.cur();
        char* w = w0;
        for (int64_t i = a; i < b; ++i) {
            *w = ',';
            w += i != 0;
            const std::size_t k = write_elem(w, q + i * st, f, strict);
            if (k == SIZE_MAX) return false;
            w += k;
        }
        out.advance(static_cast<std::size_t>(w - w0));
    }
    return true;
}

// Items [0, n) of dimension `dim` when the two dimensions after it are small (a tree's values, [n, 1, n_classes]:
// "[[0.25,0.75]]" per node), compact: each item's nested lists written at once, with one room check.
constexpr int64_t kSmallBlock = 16;  // at most this many elements an item
bool write_small_blocks(OutBuf& out, const ArrayView& a, const uint8_t* p, std::size_t dim, bool strict) {
    const int64_t n = a.shape[dim], st = a.strides[dim];
    const int64_t m1 = a.shape[dim + 1], st1 = a.strides[dim + 1];
    const int64_t m2 = a.shape[dim + 2], st2 = a.strides[dim + 2];
    const Field& f = a.layout.fields[0];
    const std::size_t room = 2 + static_cast<std::size_t>(m1) * (2 + static_cast<std::size_t>(m2) * (kMaxElemText + 1));
    F64Memo* const memo = f.kind == ElemKind::F64 && !f.big_endian ? &writer_memo() : nullptr;  // (class fractions)
    for (int64_t i = 0; i < n; ++i) {
        out.ensure(room);
        char* const w0 = out.cur();
        char* w = w0;
        *w = ',';
        w += i != 0;
        *w++ = '[';
        const uint8_t* r = p + i * st + f.offset;
        for (int64_t j = 0; j < m1; ++j) {
            *w = ',';
            w += j != 0;
            *w++ = '[';
            for (int64_t k = 0; k < m2; ++k) {
                *w = ',';
                w += k != 0;
                const uint8_t* q = r + j * st1 + k * st2;
                const std::size_t len = memo ? f64_elem_memo(w, load64(q, false), strict, *memo) : write_elem(w, q, f, strict);
                if (len == SIZE_MAX) return false;
                w += len;
            }
            *w++ = ']';
        }
        *w++ = ']';
        out.advance(static_cast<std::size_t>(w - w0));
    }
    return true;
}

// sklearn's node rows (left_child, right_child, feature, threshold, impurity, n_node_samples,
// weighted_n_node_samples, missing_go_to_left: NODE_DTYPE, whatever the names and offsets), the writer's side of
// json_reader's SkNodeRow: the kinds known at compile time instead of write_elem's dispatch per field, one room
// check per row, and a leaf's "[-1,-1,-2,-2.0," (TREE_LEAF, TREE_UNDEFINED) written as it is. The text is the
// same as write_item's, byte for byte.
bool sk_node_layout(const Layout& L) {
    static constexpr ElemKind kinds[] = {ElemKind::I64, ElemKind::I64, ElemKind::I64, ElemKind::F64,
                                         ElemKind::F64, ElemKind::I64, ElemKind::F64, ElemKind::U8};
    if (!L.structured || L.fields.size() != 8) return false;
    for (std::size_t k = 0; k < 8; ++k)
        if (L.fields[k].kind != kinds[k] || L.fields[k].big_endian) return false;
    return true;
}

struct SkNodeRows {
    std::size_t off[8];
    explicit SkNodeRows(const Layout& L) {
        for (std::size_t k = 0; k < 8; ++k) off[k] = L.fields[k].offset;
    }
    static constexpr std::size_t kMaxRow = 2 + 8 * kMaxElemText;

    // A float64 field and the separator after it, through the memo if one is given (impurities repeat;
    // thresholds hardly do); SIZE_MAX for a NaN text cannot carry. (Inline at each field: each has branches of its
    // own, which the predictor learns: weighted_n_node_samples is always a whole number, a leaf's impurity 0.0, a
    // threshold never whole.) kSmall for the weights: whole numbers, mostly below 10^4.
    template <bool kSmall = false>
    __attribute__((always_inline)) static std::size_t f64(char* w, const uint8_t* p, char sep, bool strict,
                                                          F64Memo* m = nullptr) {
        uint64_t b; std::memcpy(&b, p, 8);
        const std::size_t n = m ? f64_elem_memo(w, b, strict, *m) : f64_elem<kSmall>(w, b, strict);
        if (n == SIZE_MAX) return SIZE_MAX;
        w[n] = sep;
        return n + 1;
    }
    // An integer field (children, feature, sample count: mostly below 10^4; in a larger tree the children's
    // indices pass 10^4 once, in row order) and the separator after it.
    __attribute__((always_inline)) static std::size_t i64(char* w, const uint8_t* p, char sep) {
        int64_t v; std::memcpy(&v, p, 8);
        const std::size_t n = i64_text<true>(v, w);
        w[n] = sep;
        return n + 1;
    }

    // Rows [lo, hi) at p with the given stride, each preceded by a comma but row 0 (as write_outer_range's pieces
    // are joined after the list's '['). False, with rows partly written, for a NaN text cannot carry.
    bool write(OutBuf& out, const uint8_t* p, int64_t lo, int64_t hi, int64_t stride, bool strict) const {
        static constexpr char kLeaf[16] = "[-1,-1,-2,-2.0,";
        const double undefined = -2.0;
        uint64_t undefined_bits; std::memcpy(&undefined_bits, &undefined, 8);
        F64Memo& memo = writer_memo();
        for (int64_t i = lo; i < hi; ++i) {
            const uint8_t* r = p + i * stride;
            out.ensure(kMaxRow);
            char* const w0 = out.cur();
            char* w = w0;
            *w = ',';
            w += i != 0;
            int64_t l, rc, f; uint64_t t;
            std::memcpy(&l, r + off[0], 8); std::memcpy(&rc, r + off[1], 8);
            std::memcpy(&f, r + off[2], 8); std::memcpy(&t, r + off[3], 8);
            std::size_t n;
            if (l == -1 && rc == -1 && f == -2 && t == undefined_bits) {
                std::memcpy(w, kLeaf, 16);
                w += 15;
            } else {
                *w++ = '[';
                w += i64(w, r + off[0], ',');
                w += i64(w, r + off[1], ',');
                w += i64(w, r + off[2], ',');
                if ((n = f64(w, r + off[3], ',', strict)) == SIZE_MAX) return false;
                w += n;
            }
            if ((n = f64(w, r + off[4], ',', strict, &memo)) == SIZE_MAX) return false;
            w += n;
            w += i64(w, r + off[5], ',');
            if ((n = f64<true>(w, r + off[6], ',', strict)) == SIZE_MAX) return false;
            w += n;
            w += u64_text<true>(r[off[7]], w);
            *w++ = ']';
            out.advance(static_cast<std::size_t>(w - w0));
        }
        return true;
    }
};

// Items [lo, hi) of dimension 0, each preceded by its separator, as write_dim writes them.
bool write_outer_range(OutBuf& out, const ArrayView& a, int64_t lo, int64_t hi, bool strict, int indent, int level) {
    const int64_t st = a.strides[0];
    if (a.shape.size() == 1) {
        if (!a.layout.structured) return write_plain_items(out, a.data, lo, hi, st, a.layout.fields[0], strict);
        if (sk_node_layout(a.layout)) return SkNodeRows(a.layout).write(out, a.data, lo, hi, st, strict);
        for (int64_t i = lo; i < hi; ++i) {
            if (i) out.push_back(',');
            if (!write_item(out, a.data + i * st, a.layout, strict)) return false;
        }
    } else {
        for (int64_t i = lo; i < hi; ++i) {
            if (i) out.push_back(',');
            write_newline(out, indent, level + 1);
            if (!write_dim(out, a, a.data + i * st, 1, strict, indent, level + 1)) return false;
        }
    }
    return true;
}

bool write_dim(OutBuf& out, const ArrayView& a, const uint8_t* p, std::size_t dim, bool strict, int indent, int level) {
    const std::size_t nd = a.shape.size();
    const int64_t n = a.shape[dim];
    const int64_t st = a.strides[dim];
    out.push_back('[');
    if (dim + 1 == nd) {
        // innermost: items on one line
        if (sk_node_layout(a.layout)) {
            if (!SkNodeRows(a.layout).write(out, p, 0, n, st, strict)) return false;
            out.push_back(']');
            return true;
        }
        if (!a.layout.structured) {
            if (!write_plain_items(out, p, 0, n, st, a.layout.fields[0], strict)) return false;
            out.push_back(']');
            return true;
        }
        for (int64_t i = 0; i < n; ++i) {
            if (i) out.push_back(',');
            if (!write_item(out, p + i * st, a.layout, strict)) return false;
        }
    } else if (dim + 3 == nd && indent < 0 && !a.layout.structured && a.shape[dim + 1] * a.shape[dim + 2] <= kSmallBlock) {
        if (!write_small_blocks(out, a, p, dim, strict)) return false;
    } else if (dim + 2 == nd && indent < 0 && !a.layout.structured) {
        // lists of lists of a plain dtype, compact (a tree's values, [[0.25,0.75]] per node): a row a step
        const int64_t m = a.shape[dim + 1], st1 = a.strides[dim + 1];
        const Field& f = a.layout.fields[0];
        for (int64_t i = 0; i < n; ++i) {
            out.ensure(2);
            char* w = out.cur();
            *w = ',';
            w[i != 0] = '[';
            out.advance(1 + (i != 0));
            if (!write_plain_items(out, p + i * st, 0, m, st1, f, strict)) return false;
            out.push_back(']');
        }
    } else {
        for (int64_t i = 0; i < n; ++i) {
            if (i) out.push_back(',');
            write_newline(out, indent, level + 1);
            if (!write_dim(out, a, p + i * st, dim + 1, strict, indent, level + 1)) return false;
        }
        if (n) write_newline(out, indent, level);
    }
    out.push_back(']');
    return true;
}

// Calls fn(ptr) for every item in C order.
template <class Fn>
bool for_each_item(const ArrayView& a, Fn&& fn) {
    const std::size_t nd = a.shape.size();
    for (int64_t d : a.shape) if (d == 0) return false;  // no items: fn never stops the walk
    if (nd == 0) return fn(a.data);
    std::vector<int64_t> idx(nd, 0);
    const uint8_t* p = a.data;
    while (true) {
        // innermost loop
        const int64_t n = a.shape[nd - 1], st = a.strides[nd - 1];
        for (int64_t i = 0; i < n; ++i) if (fn(p + i * st)) return true;
        // advance outer indices
        std::size_t d = nd - 1;
        while (d > 0) {
            --d;
            if (++idx[d] < a.shape[d]) { p += a.strides[d]; break; }
            p -= a.strides[d] * (a.shape[d] - 1);
            idx[d] = 0;
            if (d == 0) return false;
        }
        if (nd == 1) return false;
    }
}

}  // namespace

void write_newline(OutBuf& out, int indent, int level) {
    if (indent < 0) return;
    out.push_back('\n');
    out.append(static_cast<std::size_t>(indent) * static_cast<std::size_t>(level), ' ');
}

void write_json_string(OutBuf& out, const char* s, std::size_t n) {
    static const char hex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t start = 0;
    for (std::size_t i = 0; i < n; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s + start, i - start);
        start = i + 1;
        switch (c) {
            case '"': out.append("\\\"", 2); break;
            case '\\': out.append("\\\\", 2); break;
            case '\n': out.append("\\n", 2); break;
            case '\r': out.append("\\r", 2); break;
            case '\t': out.append("\\t", 2); break;
            case '\b': out.append("\\b", 2); break;
            case '\f': out.append("\\f", 2); break;
            default: {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                out.append(e, 6);
            }
        }
    }
    out.append(s + start, n - start);
    out.push_back('"');
}

void write_double(OutBuf& out, double v) {
    uint64_t b; std::memcpy(&b, &v, 8);
    FloatClass c = classify64(b);
    out.ensure(kMaxElemText);
    out.advance(c != FloatClass::Finite ? write_nonfinite(out.cur(), c, false) : format_f64(v, out.cur()));
}

void write_int64(OutBuf& out, int64_t v) {
    out.ensure(32);
    out.advance(format_i64(v, out.cur()));
}

void write_uint64(OutBuf& out, uint64_t v) {
    out.ensure(32);
    out.advance(format_u64(v, out.cur()));
}

bool write_array_text(OutBuf& out, const ArrayView& a, bool strict, int indent, int level) {
    const std::size_t start = out.size();
    if (a.shape.empty()) {
        if (write_item(out, a.data, a.layout, strict)) return true;
        out.truncate(start);
        return false;
    }
    uint64_t count = 1;
    for (int64_t d : a.shape) count *= static_cast<uint64_t>(d);
    // Upper bound of an item's text (the separator included): room is made once, growth is rare.
    std::size_t per_item = a.layout.structured ? 2 : 0;
    for (const Field& f : a.layout.fields) {
        static const uint8_t widths[] = {6, 5, 7, 12, 21, 4, 6, 11, 21, 12, 17, 26};  // by ElemKind, with ','
        per_item += widths[static_cast<int>(f.kind)];
    }
    const int64_t n0 = a.shape[0];
    int threads = capped_threads(static_cast<uint64_t>(n0));
    if (count < (1u << 17) || threads < 2) {
        out.ensure(count * per_item + 16);
        if (write_dim(out, a, a.data, 0, strict, indent, level)) return true;
        out.truncate(start);
        return false;
    }
    // Large array: pieces of dimension 0 written on several threads; the first straight into `out`,
    // the others into buffers of their own, appended after.
    std::vector<OutBuf> parts(static_cast<std::size_t>(threads - 1));
    std::vector<char> ok(static_cast<std::size_t>(threads), 1);
    std::vector<std::thread> pool;
    std::atomic<bool> oom{false};
    out.ensure(count * per_item + 64);  // the whole array's bound: appending the other pieces never grows
    auto piece = [&](int t) {
        try {  // nothing may escape a thread: out of memory is rethrown after the join
            const int64_t lo = n0 * t / threads, hi = n0 * (t + 1) / threads;
            OutBuf& dst = t ? parts[t - 1] : out;
            if (t) dst.ensure(static_cast<std::size_t>((hi - lo) * (count / n0)) * per_item + 16);
            ok[t] = write_outer_range(dst, a, lo, hi, strict, indent, level);
        } catch (const std::bad_alloc&) {
            oom = true;
        }
    };
    out.push_back('[');
    for (int t = 1; t < threads; ++t) {
        try {
            pool.push_back(start_worker([&piece, t] { piece(t); }));
        } catch (const std::system_error&) {  // no thread to be had: this one writes the piece
            piece(t);
        }
    }
    piece(0);
    for (auto& th : pool) th.join();
    if (oom) {
        out.truncate(start);
        throw std::bad_alloc();
    }
    for (char k : ok) {
        if (!k) { out.truncate(start); return false; }
    }
    std::size_t total = 64;
    for (const auto& s : parts) total += s.size();
    out.ensure(total);
    for (const auto& s : parts) out.append(s);
    if (a.shape.size() > 1 && n0) write_newline(out, indent, level);
    out.push_back(']');
    return true;
}

uint64_t array_nbytes(const ArrayView& a) {
    uint64_t n = a.layout.itemsize;
    for (int64_t d : a.shape) n *= static_cast<uint64_t>(d);
    return n;
}

// The array's bytes in C order, little-endian: its own buffer when it is laid out so already (contiguous, no
// big-endian field), else a copy made in tmp.
const uint8_t* le_bytes(const ArrayView& a, std::vector<uint8_t>& tmp) {
    const std::size_t item = a.layout.itemsize;
    bool contiguous = true;
    {
        int64_t expect = static_cast<int64_t>(item);
        for (std::size_t d = a.shape.size(); d-- > 0;) {
            if (a.shape[d] != 1 && a.strides[d] != expect) { contiguous = false; break; }
            expect *= a.shape[d];
        }
    }
    bool swap = false;
    for (const Field& f : a.layout.fields) swap |= f.big_endian;
    if (contiguous && !swap) return a.data;
    tmp.resize(array_nbytes(a));
    uint8_t* dst = tmp.data();
    for_each_item(a, [&](const uint8_t* p) {
        std::memcpy(dst, p, item);
        for (const Field& f : a.layout.fields) {
            if (!f.big_endian) continue;
            uint8_t* q = dst + f.offset;
            std::size_t sz = elem_size(f.kind);
            for (std::size_t i = 0; i < sz / 2; ++i) std::swap(q[i], q[sz - 1 - i]);
        }
        dst += item;
        return false;
    });
    return tmp.data();
}

void write_array_base64(OutBuf& out, const ArrayView& a) {
    const uint64_t nbytes = array_nbytes(a);
    std::vector<uint8_t> tmp;
    const uint8_t* src = le_bytes(a, tmp);
    const std::size_t enc = base64_encoded_size(nbytes);
    out.ensure(enc + 2);
    char* w = out.cur();
    w[0] = '"';
    if (nbytes) base64_encode(src, nbytes, w + 1);
    w[1 + enc] = '"';
    out.advance(enc + 2);
}

void Base64Parts::write(char* dst, std::size_t lo, std::size_t hi) const {
    if (lo < hi) base64_encode(src + lo, hi - lo, dst + lo / 3 * 4);
}

namespace {

void write_key(OutBuf& out, const char* k, int indent, int level, bool first) {
    if (!first) out.push_back(',');
    write_newline(out, indent, level + 1);
    out.push_back('"');
    out.append(k);
    out.append(indent >= 0 ? "\": " : "\":");
}

void write_shape(OutBuf& out, const std::vector<int64_t>& s, int indent) {
    out.push_back('[');
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i) out.append(indent >= 0 ? ", " : ",");
        write_int64(out, s[i]);
    }
    out.push_back(']');
}

}  // namespace

void write_array_envelope(OutBuf& out, const ArrayView& a, bool b64, const char* dtype_json, std::size_t dtype_len,
                          bool scalar, bool strict, int indent, int level) {
    const std::size_t start = out.size();
    if (!b64) {
        out.push_back('{');
        write_key(out, "pymiloed-ndarray-list", indent, level, true);
        if (write_array_text(out, a, strict, indent, level + 1)) {
            write_key(out, "pymiloed-ndarray-dtype", indent, level, false);
            out.append(dtype_json, dtype_len);
            write_key(out, "pymiloed-ndarray-shape", indent, level, false);
            write_shape(out, a.shape, indent);
            write_key(out, "pymiloed-data-structure", indent, level, false);
            out.append(scalar ? "\"numpy.generic\"" : "\"numpy.ndarray\"");
            write_newline(out, indent, level);
            out.push_back('}');
            return;
        }
        out.truncate(start);  // a NaN with a payload or sign: text cannot carry it, base64 can
    }
    // The data last: a reader knows its length from the dtype and shape before it reaches the string.
    write_base64_envelope(out, a, dtype_json, dtype_len, scalar, indent, level, nullptr);
}

void write_base64_envelope(OutBuf& out, const ArrayView& a, const char* dtype_json, std::size_t dtype_len, bool scalar,
                           int indent, int level, Base64Parts* later) {
    out.push_back('{');
    write_key(out, "milo-ndarray-dtype", indent, level, true);
    out.append(dtype_json, dtype_len);
    write_key(out, "milo-ndarray-shape", indent, level, false);
    write_shape(out, a.shape, indent);
    if (scalar) {
        write_key(out, "milo-data-structure", indent, level, false);
        out.append("\"numpy.generic\"");
    }
    write_key(out, "milo-ndarray-b64", indent, level, false);
    if (later) {
        out.push_back('"');
        later->at = out.size();
        later->nbytes = array_nbytes(a);
        later->src = le_bytes(a, later->tmp);
        out.push_back('"');
    } else {
        write_array_base64(out, a);
    }
    write_newline(out, indent, level);
    out.push_back('}');
}

}  // namespace milo

#include "json_writer.hpp"

#include <charconv>
#include <algorithm>
#include <cstring>
#include <thread>

#include "base64.hpp"
#include "floatfmt.hpp"

namespace milo {

namespace {

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

inline void write_nonfinite(std::string& out, FloatClass c, bool strict) {
    const char* t = c == FloatClass::NaN ? "NaN" : c == FloatClass::PosInf ? "Infinity" : "-Infinity";
    if (strict) out.push_back('"');
    out.append(t);
    if (strict) out.push_back('"');
}

// Appends one element's text. `buf` is scratch of at least kFloatBufSize bytes.
inline void write_elem(std::string& out, const uint8_t* p, const Field& f, bool strict) {
    char buf[kFloatBufSize];
    std::size_t n = 0;
    switch (f.kind) {
        case ElemKind::Bool:
            if (*p) out.append("true", 4); else out.append("false", 5);
            return;
        case ElemKind::I8: { auto r = std::to_chars(buf, buf + sizeof buf, int8_t(*p)); n = r.ptr - buf; break; }
        case ElemKind::U8: { auto r = std::to_chars(buf, buf + sizeof buf, unsigned(*p)); n = r.ptr - buf; break; }
        case ElemKind::I16: { auto r = std::to_chars(buf, buf + sizeof buf, int16_t(load16(p, f.big_endian))); n = r.ptr - buf; break; }
        case ElemKind::U16: { auto r = std::to_chars(buf, buf + sizeof buf, load16(p, f.big_endian)); n = r.ptr - buf; break; }
        case ElemKind::I32: { auto r = std::to_chars(buf, buf + sizeof buf, int32_t(load32(p, f.big_endian))); n = r.ptr - buf; break; }
        case ElemKind::U32: { auto r = std::to_chars(buf, buf + sizeof buf, load32(p, f.big_endian)); n = r.ptr - buf; break; }
        case ElemKind::I64: { auto r = std::to_chars(buf, buf + sizeof buf, int64_t(load64(p, f.big_endian))); n = r.ptr - buf; break; }
        case ElemKind::U64: { auto r = std::to_chars(buf, buf + sizeof buf, load64(p, f.big_endian)); n = r.ptr - buf; break; }
        case ElemKind::F16: {
            uint16_t b = load16(p, f.big_endian);
            FloatClass c = classify16(b);
            if (c != FloatClass::Finite) { write_nonfinite(out, c, strict); return; }
            n = format_f16(b, buf);
            break;
        }
        case ElemKind::F32: {
            uint32_t b = load32(p, f.big_endian);
            FloatClass c = classify32(b);
            if (c != FloatClass::Finite) { write_nonfinite(out, c, strict); return; }
            float v; std::memcpy(&v, &b, 4);
            if ((b & 0x7fffffffu) == kF32DoubleRoundingTrap) {
                // Its shortest text, 7.038531e-26, reads back exactly as float32 but not when a reader
                // parses float64 first and then casts (PyMilo, np.asarray(list, float32)): one digit more.
                auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific, 7);
                n = static_cast<std::size_t>(r.ptr - buf);
                break;
            }
            n = format_f32(v, buf);
            break;
        }
        case ElemKind::F64: {
            uint64_t b = load64(p, f.big_endian);
            FloatClass c = classify64(b);
            if (c != FloatClass::Finite) { write_nonfinite(out, c, strict); return; }
            double v; std::memcpy(&v, &b, 8);
            n = format_f64(v, buf);
            break;
        }
    }
    out.append(buf, n);
}

inline void write_item(std::string& out, const uint8_t* p, const Layout& L, bool strict) {
    if (!L.structured) { write_elem(out, p + L.fields[0].offset, L.fields[0], strict); return; }
    out.push_back('[');
    bool first = true;
    for (const Field& f : L.fields) {
        if (!first) out.push_back(',');
        first = false;
        write_elem(out, p + f.offset, f, strict);
    }
    out.push_back(']');
}

void write_dim(std::string& out, const ArrayView& a, const uint8_t* p, std::size_t dim, bool strict, int indent, int level);

// Items [lo, hi) of dimension 0, each preceded by its separator, as write_dim writes them.
void write_outer_range(std::string& out, const ArrayView& a, int64_t lo, int64_t hi, bool strict, int indent, int level) {
    const int64_t st = a.strides[0];
    if (a.shape.size() == 1) {
        for (int64_t i = lo; i < hi; ++i) {
            if (i) out.push_back(',');
            write_item(out, a.data + i * st, a.layout, strict);
        }
    } else {
        for (int64_t i = lo; i < hi; ++i) {
            if (i) out.push_back(',');
            write_newline(out, indent, level + 1);
            write_dim(out, a, a.data + i * st, 1, strict, indent, level + 1);
        }
    }
}

void write_dim(std::string& out, const ArrayView& a, const uint8_t* p, std::size_t dim, bool strict, int indent, int level) {
    const std::size_t nd = a.shape.size();
    const int64_t n = a.shape[dim];
    const int64_t st = a.strides[dim];
    out.push_back('[');
    if (dim + 1 == nd) {
        // innermost: items on one line
        for (int64_t i = 0; i < n; ++i) {
            if (i) out.push_back(',');
            write_item(out, p + i * st, a.layout, strict);
        }
    } else {
        for (int64_t i = 0; i < n; ++i) {
            if (i) out.push_back(',');
            write_newline(out, indent, level + 1);
            write_dim(out, a, p + i * st, dim + 1, strict, indent, level + 1);
        }
        if (n) write_newline(out, indent, level);
    }
    out.push_back(']');
}

bool nan_field_scan(const uint8_t* p, const Field& f) {
    switch (f.kind) {
        case ElemKind::F16: { uint16_t b = load16(p, f.big_endian); return classify16(b) == FloatClass::NaN && !is_canonical_nan16(b); }
        case ElemKind::F32: { uint32_t b = load32(p, f.big_endian); return classify32(b) == FloatClass::NaN && !is_canonical_nan32(b); }
        case ElemKind::F64: { uint64_t b = load64(p, f.big_endian); return classify64(b) == FloatClass::NaN && !is_canonical_nan64(b); }
        default: return false;
    }
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

void write_newline(std::string& out, int indent, int level) {
    if (indent < 0) return;
    out.push_back('\n');
    out.append(static_cast<std::size_t>(indent) * static_cast<std::size_t>(level), ' ');
}

void write_json_string(std::string& out, const char* s, std::size_t n) {
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

void write_double(std::string& out, double v) {
    uint64_t b; std::memcpy(&b, &v, 8);
    FloatClass c = classify64(b);
    if (c != FloatClass::Finite) { write_nonfinite(out, c, false); return; }
    char buf[kFloatBufSize];
    out.append(buf, format_f64(v, buf));
}

void write_int64(std::string& out, int64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr - buf);
}

void write_uint64(std::string& out, uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr - buf);
}

bool has_noncanonical_nan(const ArrayView& a) {
    bool any_float = false;
    for (const Field& f : a.layout.fields) any_float |= is_float(f.kind);
    if (!any_float) return false;
    return for_each_item(a, [&](const uint8_t* p) {
        for (const Field& f : a.layout.fields)
            if (nan_field_scan(p + f.offset, f)) return true;
        return false;
    });
}

void write_array_text(std::string& out, const ArrayView& a, bool strict, int indent, int level) {
    if (a.shape.empty()) { write_item(out, a.data, a.layout, strict); return; }
    // Reserve a rough estimate to limit reallocations.
    uint64_t count = 1;
    for (int64_t d : a.shape) count *= static_cast<uint64_t>(d);
    // Upper bound of an item's text (the separator included), so the output never grows by copying.
    std::size_t per_item = a.layout.structured ? 2 : 0;
    for (const Field& f : a.layout.fields) {
        static const uint8_t widths[] = {6, 5, 7, 12, 21, 4, 6, 11, 21, 12, 17, 26};  // by ElemKind, with ','
        per_item += widths[static_cast<int>(f.kind)];
    }
    const int64_t n0 = a.shape[0];
    unsigned hw = std::thread::hardware_concurrency();
    int threads = static_cast<int>(std::min<uint64_t>({hw ? hw : 1, 8u, static_cast<uint64_t>(n0)}));
    if (count < (1u << 17) || threads < 2) {
        out.reserve(out.size() + count * per_item + 16);
        write_dim(out, a, a.data, 0, strict, indent, level);
        return;
    }
    // Large array: pieces of dimension 0 written on several threads, then joined.
    std::vector<std::string> parts(static_cast<std::size_t>(threads));
    std::vector<std::thread> pool;
    auto piece = [&](int t) {
        const int64_t lo = n0 * t / threads, hi = n0 * (t + 1) / threads;
        parts[t].reserve(static_cast<std::size_t>((hi - lo) * (count / n0)) * per_item + 16);
        write_outer_range(parts[t], a, lo, hi, strict, indent, level);
    };
    for (int t = 1; t < threads; ++t) pool.emplace_back(piece, t);
    piece(0);
    for (auto& th : pool) th.join();
    std::size_t total = 2;
    for (const auto& s : parts) total += s.size();
    out.reserve(out.size() + total + 64);
    out.push_back('[');
    for (const auto& s : parts) out += s;
    if (a.shape.size() > 1 && n0) write_newline(out, indent, level);
    out.push_back(']');
}

uint64_t array_nbytes(const ArrayView& a) {
    uint64_t n = a.layout.itemsize;
    for (int64_t d : a.shape) n *= static_cast<uint64_t>(d);
    return n;
}

void write_array_base64(std::string& out, const ArrayView& a) {
    const std::size_t item = a.layout.itemsize;
    const uint64_t nbytes = array_nbytes(a);
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
    const uint8_t* src = a.data;
    std::vector<uint8_t> tmp;
    if (!contiguous || swap) {
        tmp.resize(nbytes);
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
        src = tmp.data();
    }
    std::size_t start = out.size();
    std::size_t enc = base64_encoded_size(nbytes);
    out.resize(start + enc + 2);
    out[start] = '"';
    if (nbytes) base64_encode(src, nbytes, &out[start + 1]);
    out[start + 1 + enc] = '"';
}

}  // namespace milo

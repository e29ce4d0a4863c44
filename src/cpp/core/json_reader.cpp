#include "json_reader.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <cstdio>
#include <limits>
#include <new>
#include <cstring>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#define MILO_SKIP_AVX2 1
#include <immintrin.h>
#else
#define MILO_SKIP_AVX2 0
#endif

#include "base64.hpp"
#include "float_parse.hpp"
#include "floatfmt.hpp"
#include "hardware_threads.hpp"
#include "out_buf.hpp"

namespace milo {

namespace {

constexpr const char kTextList[] = "pymiloed-ndarray-list";
constexpr const char kTextDtype[] = "pymiloed-ndarray-dtype";
constexpr const char kTextShape[] = "pymiloed-ndarray-shape";
constexpr const char kTextDS[] = "pymiloed-data-structure";
constexpr const char kB64Data[] = "milo-ndarray-b64";
constexpr const char kB64Dtype[] = "milo-ndarray-dtype";
constexpr const char kB64Shape[] = "milo-ndarray-shape";
constexpr const char kB64DS[] = "milo-data-structure";

// Bits set in a 16-bit mask (__builtin_popcount is a libgcc call without -mpopcnt).
inline int popcount16(unsigned m) {
    m = m - ((m >> 1) & 0x5555u);
    m = (m & 0x3333u) + ((m >> 2) & 0x3333u);
    m = (m + (m >> 4)) & 0x0F0Fu;
    return static_cast<int>((m + (m >> 8)) & 0x1Fu);
}

using detail::fp::kPow10U64;
// The value of the 8 digit values 0..9 in x, one per byte, the first in the lowest byte (float_parse.hpp's parse8:
// pairs, then groups of four, then all eight, each step one multiply-add across lanes that cannot carry).
using detail::fp::parse8;

// The 8 bytes at q (readable) less '0' each, in `t`; returns how many of them lead as digits (8: all).
__attribute__((always_inline)) inline int leading_digits8(const char* q, uint64_t& t) {
    uint64_t x;
    std::memcpy(&x, q, 8);
    t = x - 0x3030303030303030ULL;
    const uint64_t non_digit = (t | (t + 0x7676767676767676ULL)) & 0x8080808080808080ULL;
    return non_digit ? __builtin_ctzll(non_digit) >> 3 : 8;
}

// The digits leading at q (8 bytes readable) when they are an integer literal of 1 to 7 digits (no leading zero
// before another digit): how many, with their value in v; 0 for anything else. (The readers' one-load paths.)
__attribute__((always_inline)) inline int short_run(const char* q, uint64_t& v) {
    uint64_t t;
    const int n = leading_digits8(q, t);
    v = parse8(t << ((8 * (8 - n)) & 63));  // (n == 0: a shift by 0, not 64, and v is not used)
    // (one test, no branch on the digit count, which varies from number to number)
    return ((n != 0) & (n != 8) & ((n == 1) | (q[0] != '0'))) ? n : 0;
}

inline bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// The first byte in [q, end) that ends a string's plain run (a quote, a backslash or a control byte below
// 0x20), or end: 16 bytes a step where SSE2 is there, then byte by byte.
inline const char* plain_string_run(const char* q, const char* end) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), k1f = _mm_set1_epi8(0x1F);
    while (end - q >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
        const __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, k1f), k1f);  // v <= 0x1F, unsigned
        const __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), control);
        const unsigned m = static_cast<unsigned>(_mm_movemask_epi8(stop));
        if (m) return q + __builtin_ctz(m);
        q += 16;
    }
#endif
    while (q < end && *q != '"' && *q != '\\' && static_cast<unsigned char>(*q) >= 0x20) ++q;
    return q;
}

#if MILO_SKIP_AVX2
// AVX2 in this process, as base64's code decides it (the CPU has it, MILO_FAST_NO_SIMD is not set), and POPCNT.
bool skip_simd() {
    static const bool on = detail::base64_simd_enabled() && __builtin_cpu_supports("popcnt");
    return on;
}

// Parser::skip_list_light's plain stretch, 32 bytes a step: from p (inside a list, at level d >= 1) over blocks
// without a quote whose brackets keep the level within max_level, while [p, lim) holds a whole block. Returns
// where it stopped, with d the level there; `ended` when the list closed in a block (then just after its bracket).
// The level after each byte (+1 per opening, -1 per closing bracket, '[' and '{' alike) is summed within each
// 128-bit lane by four shifted adds, the low lane's total carried into the high lane; the list ends at the first
// byte where it reaches -d (only reachable when d <= 32).
__attribute__((target("avx2,popcnt"))) const char* skip_plain_avx2(const char* p, const char* lim, int& d,
                                                                   int max_level, bool& ended) {
    const __m256i k_case = _mm256_set1_epi8(0x20), k_open = _mm256_set1_epi8('{'), k_close = _mm256_set1_epi8('}');
    const __m256i k_quote = _mm256_set1_epi8('"'), k_15 = _mm256_set1_epi8(15);
    int level = d;
    while (lim - p >= 32) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
        if (_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, k_quote))) break;  // a string: the SSE2 path reads it
        const __m256i folded = _mm256_or_si256(v, k_case);  // '[' -> '{', ']' -> '}'
        const __m256i is_open = _mm256_cmpeq_epi8(folded, k_open), is_close = _mm256_cmpeq_epi8(folded, k_close);
        const int n_open = __builtin_popcount(static_cast<unsigned>(_mm256_movemask_epi8(is_open)));
        const int n_close = __builtin_popcount(static_cast<unsigned>(_mm256_movemask_epi8(is_close)));
        if (level + n_open > max_level) break;  // maybe too deep: the SSE2 path finds where
        __m256i lv = _mm256_sub_epi8(is_close, is_open);
        lv = _mm256_add_epi8(lv, _mm256_slli_si256(lv, 1));
        lv = _mm256_add_epi8(lv, _mm256_slli_si256(lv, 2));
        lv = _mm256_add_epi8(lv, _mm256_slli_si256(lv, 4));
        lv = _mm256_add_epi8(lv, _mm256_slli_si256(lv, 8));
        const __m256i low_total = _mm256_shuffle_epi8(lv, k_15);  // byte 15 of each lane, everywhere in it
        lv = _mm256_add_epi8(lv, _mm256_permute2x128_si256(low_total, low_total, 0x08));  // (0, low lane's)
        const __m256i target = _mm256_set1_epi8(static_cast<char>(level <= 32 ? -level : -127));
        const unsigned ends = static_cast<unsigned>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(lv, target)));
        if (__builtin_expect(ends != 0, 0)) {
            d = 0;
            ended = true;
            return p + __builtin_ctz(ends) + 1;
        }
        level += n_open - n_close;
        p += 32;
    }
    d = level;
    return p;
}
#endif
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Scans the JSON number grammar at p; returns the end or nullptr. Sets is_int if no fraction/exponent.
const char* scan_number(const char* p, const char* end, bool& is_int) {
    is_int = true;
    if (p < end && *p == '-') ++p;
    if (p >= end) return nullptr;
    if (*p == '0') {
        ++p;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && is_digit(*p)) ++p;
    } else {
        return nullptr;
    }
    if (p < end && *p == '.') {
        is_int = false;
        ++p;
        if (p >= end || !is_digit(*p)) return nullptr;
        while (p < end && is_digit(*p)) ++p;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        is_int = false;
        ++p;
        if (p < end && (*p == '+' || *p == '-')) ++p;
        if (p >= end || !is_digit(*p)) return nullptr;
        while (p < end && is_digit(*p)) ++p;
    }
    return p;
}

inline bool match(const char* p, const char* end, const char* lit, std::size_t n) {
    return static_cast<std::size_t>(end - p) >= n && std::memcmp(p, lit, n) == 0;
}

inline bool key_is(const std::string& arena, const Node& k, const char* lit) {
    std::size_t n = std::strlen(lit);
    return k.len == n && std::memcmp(arena.data() + k.a, lit, n) == 0;
}

inline void store16(uint8_t* p, uint16_t v, bool big) { if (big) v = __builtin_bswap16(v); std::memcpy(p, &v, 2); }
inline void store32(uint8_t* p, uint32_t v, bool big) { if (big) v = __builtin_bswap32(v); std::memcpy(p, &v, 4); }
inline void store64(uint8_t* p, uint64_t v, bool big) { if (big) v = __builtin_bswap64(v); std::memcpy(p, &v, 8); }

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Receives each array job as soon as the parser has read its envelope (see Pipeline).
struct JobSink {
    virtual void add(ArrayJob& job) = 0;

protected:
    virtual ~JobSink() = default;
};

class Parser {
public:
    Parser(const char* text, std::size_t len, const Limits& limits, Document& doc, JobSink* sink = nullptr)
        : begin_(text), p_(text), end_(text + len), limits_(limits), doc_(doc), sink_(sink) {}

    ParseError run() {
        skip_ws();
        uint32_t root;
        if (!value(0, root)) return err_;
        skip_ws();
        if (p_ != end_) return fail("trailing characters after the document");
        doc_.root = root;
        return err_;
    }

private:
    const char* begin_;
    const char* p_;
    const char* end_;
    const Limits& limits_;
    Document& doc_;
    JobSink* sink_;
    ParseError err_;
    std::vector<uint32_t> stack_;
    uint64_t array_bytes_ = 0;

    uint64_t off() const { return static_cast<uint64_t>(p_ - begin_); }

    ParseError fail(const std::string& msg) { return fail_at(off(), msg); }
    ParseError fail_at(uint64_t at, const std::string& msg) {
        if (err_.ok) { err_.ok = false; err_.offset = at; err_.message = msg; }
        return err_;
    }
    bool failb(const std::string& msg) { fail(msg); return false; }
    bool failb_at(uint64_t at, const std::string& msg) { fail_at(at, msg); return false; }

    void skip_ws() { while (p_ < end_ && is_ws(*p_)) ++p_; }

    uint32_t push_node(NodeType t, uint64_t a, uint32_t len, uint64_t src) {
        doc_.nodes.push_back(Node{t, len, a, src});
        return static_cast<uint32_t>(doc_.nodes.size() - 1);
    }

    std::string found() const {
        if (p_ >= end_) return "the end of the document";
        char c = *p_;
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
            char b[32]; std::snprintf(b, sizeof b, "byte 0x%02x", static_cast<unsigned char>(c));
            return b;
        }
        return std::string("'") + c + "'";
    }

    bool value(int depth, uint32_t& out) {
        if (p_ >= end_) return failb("expected a value, found the end of the document");
        const uint64_t at = off();
        switch (*p_) {
            case '{': return object(depth + 1, out);
            case '[': return list(depth + 1, out);
            case '"': return string(out);
            case 't':
                if (!match(p_, end_, "true", 4)) return failb("expected a value, found " + found());
                p_ += 4; out = push_node(NodeType::True, 0, 0, at); return true;
            case 'f':
                if (!match(p_, end_, "false", 5)) return failb("expected a value, found " + found());
                p_ += 5; out = push_node(NodeType::False, 0, 0, at); return true;
            case 'n':
                if (!match(p_, end_, "null", 4)) return failb("expected a value, found " + found());
                p_ += 4; out = push_node(NodeType::Null, 0, 0, at); return true;
            case 'N':
                if (!match(p_, end_, "NaN", 3)) return failb("expected a value, found " + found());
                p_ += 3; out = push_double(std::numeric_limits<double>::quiet_NaN(), at); return true;
            case 'I':
                if (!match(p_, end_, "Infinity", 8)) return failb("expected a value, found " + found());
                p_ += 8; out = push_double(std::numeric_limits<double>::infinity(), at); return true;
            default:
                if (*p_ == '-' && match(p_, end_, "-Infinity", 9)) {
                    p_ += 9; out = push_double(-std::numeric_limits<double>::infinity(), at); return true;
                }
                if (*p_ == '-' || is_digit(*p_)) return number(out);
                return failb("expected a value, found " + found());
        }
    }

    uint32_t push_double(double d, uint64_t at) {
        uint64_t b; std::memcpy(&b, &d, 8);
        return push_node(NodeType::Float, b, 0, at);
    }

    bool number(uint32_t& out) {
        const uint64_t at = off();
        bool is_int;
        const char* e = scan_number(p_, end_, is_int);
        if (!e) return failb("malformed number");
        if (is_int) {
            int64_t v;
            auto r = std::from_chars(p_, e, v);
            if (r.ec == std::errc() && r.ptr == e) {
                out = push_node(NodeType::Int, static_cast<uint64_t>(v), 0, at);
            } else {
                if (e - p_ > 100000) return failb("integer literal longer than 100000 digits");
                out = push_node(NodeType::BigInt, at, static_cast<uint32_t>(e - p_), at);
            }
            p_ = e;
            return true;
        }
        double d;
        const char* q = parse_f64(p_, e, d);
        if (q != e) return failb("number out of the range of float64");
        p_ = e;
        out = push_double(d, at);
        return true;
    }

    // Parses a string starting at '"' into the arena.
    bool string_into_arena(uint64_t& a, uint32_t& len) {
        ++p_;  // opening quote
        std::string& s = doc_.strings;
        a = s.size();
        while (true) {
            const char* q = plain_string_run(p_, end_);
            s.append(p_, q - p_);
            p_ = q;
            if (p_ >= end_) return failb("unterminated string");
            char c = *p_;
            if (c == '"') { ++p_; break; }
            if (c != '\\') return failb("control character " + found() + " in a string (must be escaped)");
            if (p_ + 1 >= end_) return failb("unterminated escape in a string");
            char e = p_[1];
            switch (e) {
                case '"': s.push_back('"'); p_ += 2; break;
                case '\\': s.push_back('\\'); p_ += 2; break;
                case '/': s.push_back('/'); p_ += 2; break;
                case 'b': s.push_back('\b'); p_ += 2; break;
                case 'f': s.push_back('\f'); p_ += 2; break;
                case 'n': s.push_back('\n'); p_ += 2; break;
                case 'r': s.push_back('\r'); p_ += 2; break;
                case 't': s.push_back('\t'); p_ += 2; break;
                case 'u': {
                    uint32_t cp;
                    if (!hex4(p_ + 2, cp)) return failb("malformed \\u escape in a string");
                    p_ += 6;
                    if (cp >= 0xD800 && cp < 0xDC00 && p_ + 6 <= end_ && p_[0] == '\\' && p_[1] == 'u') {
                        uint32_t lo;
                        if (hex4(p_ + 2, lo) && lo >= 0xDC00 && lo < 0xE000) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            p_ += 6;
                        }
                    }
                    append_utf8(s, cp);  // a lone surrogate is kept (as Python's json does)
                    break;
                }
                default: ++p_; return failb("invalid escape \\" + std::string(1, e) + " in a string");
            }
        }
        if (s.size() - a > 0xFFFFFFFFull) return failb("string longer than 4 GiB");
        len = static_cast<uint32_t>(s.size() - a);
        return true;
    }

    bool hex4(const char* q, uint32_t& cp) {
        if (end_ - q < 4) return false;
        cp = 0;
        for (int i = 0; i < 4; ++i) {
            int h = hexval(q[i]);
            if (h < 0) return false;
            cp = cp * 16 + static_cast<uint32_t>(h);
        }
        return true;
    }

    bool string(uint32_t& out) {
        const uint64_t at = off();
        uint64_t a; uint32_t len;
        if (!string_into_arena(a, len)) return false;
        out = push_node(NodeType::String, a, len, at);
        return true;
    }

    bool list(int depth, uint32_t& out) {
        const uint64_t at = off();
        if (depth > limits_.max_depth) return failb("nesting deeper than " + std::to_string(limits_.max_depth));
        ++p_;
        const std::size_t base = stack_.size();
        skip_ws();
        if (p_ < end_ && *p_ == ']') {
            ++p_;
        } else {
            while (true) {
                skip_ws();
                uint32_t child;
                if (!value(depth, child)) return false;
                stack_.push_back(child);
                skip_ws();
                if (p_ < end_ && *p_ == ',') { ++p_; continue; }
                if (p_ < end_ && *p_ == ']') { ++p_; break; }
                return failb("expected ',' or ']' in a list, found " + found());
            }
        }
        const uint64_t first = doc_.children.size();
        doc_.children.insert(doc_.children.end(), stack_.begin() + base, stack_.end());
        const uint32_t n = static_cast<uint32_t>(stack_.size() - base);
        stack_.resize(base);
        out = push_node(NodeType::List, first, n, at);
        return true;
    }

    // Validates any JSON value at p_ without building nodes; used for envelope lists.
    bool skip_value(int depth) {
        if (depth > limits_.max_depth) return failb("nesting deeper than " + std::to_string(limits_.max_depth));
        if (p_ >= end_) return failb("expected a value, found the end of the document");
        char c = *p_;
        if (c == '[' || c == '{') {
            const bool obj = c == '{';
            const char close = obj ? '}' : ']';
            ++p_;
            skip_ws();
            if (p_ < end_ && *p_ == close) { ++p_; return true; }
            while (true) {
                skip_ws();
                if (obj) {
                    if (p_ >= end_ || *p_ != '"') return failb("expected a string key, found " + found());
                    if (!skip_string()) return false;
                    skip_ws();
                    if (p_ >= end_ || *p_ != ':') return failb("expected ':' after a key, found " + found());
                    ++p_;
                    skip_ws();
                }
                if (!skip_value(depth + 1)) return false;
                skip_ws();
                if (p_ < end_ && *p_ == ',') { ++p_; continue; }
                if (p_ < end_ && *p_ == close) { ++p_; return true; }
                return failb(std::string("expected ',' or '") + close + "', found " + found());
            }
        }
        if (c == '"') return skip_string();
        if (match(p_, end_, "true", 4)) { p_ += 4; return true; }
        if (match(p_, end_, "false", 5)) { p_ += 5; return true; }
        if (match(p_, end_, "null", 4)) { p_ += 4; return true; }
        if (match(p_, end_, "NaN", 3)) { p_ += 3; return true; }
        if (match(p_, end_, "Infinity", 8)) { p_ += 8; return true; }
        if (match(p_, end_, "-Infinity", 9)) { p_ += 9; return true; }
        bool is_int;
        const char* e = scan_number(p_, end_, is_int);
        if (!e) return failb("expected a value, found " + found());
        p_ = e;
        return true;
    }

    // Skips a list fast, matching brackets and strings only; the array decoder (or, for a list that turns out
    // not to be an array, the full parser) validates every token afterwards. A list longer than kSplitBytes also
    // gets split points: every kSplitBytes or so, a comma at the list's own level with the number of items before
    // it. Most lists are shorter (a forest's tables are a few hundred kB each in all): they are skipped without
    // looking at commas, and one that turns out longer is skipped again from its start, counting.
    //
    // With SSE2 (every x86-64), 16 bytes are classified at once. Not counting, a block cannot end the list while
    // the level at its start exceeds the number of closing brackets in it: then the level moves by two popcounts,
    // with no branch per bracket. Counting, a block holding no bracket, brace, quote or comma is skipped whole, a
    // block whose only such bytes are commas is counted with a popcount, and otherwise only its structural bytes
    // are visited. The scalar loop handles the tail and other CPUs.
    bool skip_list_light(int depth) {
        const uint64_t list_start = off();
        constexpr uint64_t kSplitBytes = 1u << 18;
        int d = 0;
        int64_t items = 0;
        uint64_t last_split = list_start;
        bool counting = false;
        const char* p = p_;
        [[maybe_unused]] const char* const start = p_;  // (the SSE2 loop's)
        const char* const end = end_;
        // One structural byte at q; returns 1 when the list ends there, -1 on failure (p_ set), else 0.
        auto step = [&](const char* q) -> int {
            const char c = *q;
            if (c == ',') {
                if (d == 1 && counting) {
                    ++items;
                    const uint64_t here = static_cast<uint64_t>(q - begin_);
                    if (here - last_split >= kSplitBytes) { pending_splits_.emplace_back(items, here); last_split = here; }
                }
            } else if (c == '[' || c == '{') {
                if (++d + depth - 1 > limits_.max_depth) {
                    p_ = q;
                    fail("nesting deeper than " + std::to_string(limits_.max_depth));
                    return -1;
                }
            } else if (c == ']' || c == '}') {
                if (--d == 0) { p_ = q + 1; return 1; }
            }
            return 0;
        };
#if defined(__SSE2__)
        const __m128i k_brace_open = _mm_set1_epi8('{'), k_brace_close = _mm_set1_epi8('}');
        const __m128i k_case = _mm_set1_epi8(0x20), k_quote = _mm_set1_epi8('"'), k_comma = _mm_set1_epi8(',');
        const __m128i k_one = _mm_set1_epi8(1), k_32 = _mm_set1_epi8(32);
#if MILO_SKIP_AVX2
        const bool wide = skip_simd();
        const char* wide_from = p;  // (after a block the AVX2 stretch stopped at: that block goes 16 bytes a step)
#endif
        while (end - p >= 16) {
            if (!counting && static_cast<uint64_t>(p - start) + 16 > kSplitBytes) {
                // long enough to be cut in pieces: from the start again, counting the items
                counting = true;
                p = start;
                d = 0;
                continue;
            }
#if MILO_SKIP_AVX2
            if (wide && !counting && d > 0 && p >= wide_from) {
                bool ended = false;
                const char* lim = std::min(end, start + kSplitBytes);
                const char* q = skip_plain_avx2(p, lim, d, limits_.max_depth - depth + 1, ended);
                if (ended) {
                    p_ = q;
                    return true;
                }
                wide_from = q + 32;
                if (q != p) {
                    p = q;
                    continue;
                }
            }
#endif
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
            const __m128i folded = _mm_or_si128(v, k_case);  // '[' -> '{', ']' -> '}'
            const unsigned quotes = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, k_quote)));
            if (!counting && !quotes) {
                // 1 per opening and 32 per closing bracket, summed (psadbw) and split: n_open <= 16 < 32
                const __m128i is_open = _mm_cmpeq_epi8(folded, k_brace_open);    // -1 where '[' or '{'
                const __m128i is_close = _mm_cmpeq_epi8(folded, k_brace_close);  // -1 where ']' or '}'
                const __m128i sums = _mm_sad_epu8(_mm_or_si128(_mm_and_si128(is_open, k_one), _mm_and_si128(is_close, k_32)),
                                                  _mm_setzero_si128());
                const int sum = _mm_cvtsi128_si32(_mm_add_epi32(sums, _mm_srli_si128(sums, 8)));
                const int n_close = sum >> 5, n_open = sum & 31;
                if (d + n_open + depth - 1 <= limits_.max_depth) {  // not too deep anywhere in the block
                    if (d <= n_close) {
                        // It may end here (then d <= 16): the level after each byte, +1 per opening and -1 per
                        // closing bracket summed by four shifted adds; the list ends where it reaches 0.
                        __m128i lv = _mm_sub_epi8(is_close, is_open);
                        lv = _mm_add_epi8(lv, _mm_slli_si128(lv, 1));
                        lv = _mm_add_epi8(lv, _mm_slli_si128(lv, 2));
                        lv = _mm_add_epi8(lv, _mm_slli_si128(lv, 4));
                        lv = _mm_add_epi8(lv, _mm_slli_si128(lv, 8));
                        const unsigned ends = static_cast<unsigned>(
                            _mm_movemask_epi8(_mm_cmpeq_epi8(lv, _mm_set1_epi8(static_cast<char>(-d)))));
                        if (ends) {
                            p_ = p + __builtin_ctz(ends) + 1;
                            return true;
                        }
                    }
                    d += n_open - n_close;
                    p += 16;
                    continue;
                }
            }
            const unsigned commas = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, k_comma)));
            const unsigned brackets = static_cast<unsigned>(_mm_movemask_epi8(
                _mm_or_si128(_mm_cmpeq_epi8(folded, k_brace_open), _mm_cmpeq_epi8(folded, k_brace_close))));
            if (!quotes) {
                // Visit the brackets only; the commas between two of them count when the level there is 1.
                auto count = [&](unsigned seg) {
                    if (!counting) return;
                    const uint64_t last = static_cast<uint64_t>(p - begin_) + (31u - static_cast<unsigned>(__builtin_clz(seg)));
                    items += popcount16(seg);
                    if (last - last_split >= kSplitBytes) { pending_splits_.emplace_back(items, last); last_split = last; }
                };
                unsigned b = brackets, after = 0xFFFFu;
                while (b) {
                    const unsigned k = static_cast<unsigned>(__builtin_ctz(b));
                    const unsigned seg = commas & after & ((1u << k) - 1);
                    if (seg && d == 1) count(seg);
                    const char c = p[k];
                    if (c == '[' || c == '{') {
                        if (++d + depth - 1 > limits_.max_depth) {
                            p_ = p + k;
                            return failb("nesting deeper than " + std::to_string(limits_.max_depth));
                        }
                    } else if (--d == 0) {
                        p_ = p + k + 1;
                        return true;
                    }
                    after = ~((2u << k) - 1);
                    b &= b - 1;
                }
                const unsigned seg = commas & after;
                if (seg && d == 1) count(seg);
                p += 16;
                continue;
            }
            const unsigned others = brackets | quotes;
            unsigned m = commas | others;
            bool restart = false;
            while (m) {
                const char* q = p + __builtin_ctz(m);
                m &= m - 1;
                if (*q == '"') {
                    p_ = q;
                    if (!skip_string()) return false;
                    p = p_;
                    restart = true;
                    break;
                }
                const int r = step(q);
                if (r) return r > 0;
            }
            if (!restart) p += 16;
        }
#else
        counting = true;  // the byte walk below looks at every comma anyway: count them, so long lists are split
#endif
        for (; p < end; ++p) {
            if (*p == '"') {
                p_ = p;
                if (!skip_string()) return false;
                p = p_ - 1;
                continue;
            }
            if (*p != ',' && *p != '[' && *p != ']' && *p != '{' && *p != '}') continue;
            const int r = step(p);
            if (r) return r > 0;
        }
        p_ = end;
        return failb_at(list_start, "unterminated list");
    }

    std::vector<std::pair<int64_t, uint64_t>> pending_splits_;
    std::vector<std::vector<std::pair<int64_t, uint64_t>>> split_stack_;

    bool skip_string() {
        ++p_;
        while (true) {
            while (p_ < end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20) ++p_;
            if (p_ >= end_) return failb("unterminated string");
            if (*p_ == '"') { ++p_; return true; }
            if (*p_ != '\\') return failb("control character " + found() + " in a string (must be escaped)");
            if (p_ + 1 >= end_) return failb("unterminated escape in a string");
            char e = p_[1];
            if (e == 'u') {
                uint32_t cp;
                if (!hex4(p_ + 2, cp)) return failb("malformed \\u escape in a string");
                p_ += 6;
            } else if (std::strchr("\"\\/bfnrt", e) && e) {
                p_ += 2;
            } else {
                ++p_;
                return failb("invalid escape in a string");
            }
        }
    }

    bool object(int depth, uint32_t& out) {
        const uint64_t at = off();
        if (depth > limits_.max_depth) return failb("nesting deeper than " + std::to_string(limits_.max_depth));
        ++p_;
        const std::size_t base = stack_.size();
        skip_ws();
        if (p_ < end_ && *p_ == '}') {
            ++p_;
        } else {
            while (true) {
                skip_ws();
                if (p_ >= end_ || *p_ != '"') return failb("expected a string key in an object, found " + found());
                uint32_t key;
                if (!string(key)) return false;
                skip_ws();
                if (p_ >= end_ || *p_ != ':') return failb("expected ':' after a key, found " + found());
                ++p_;
                skip_ws();
                uint32_t val;
                const Node& k = doc_.nodes[key];
                const uint64_t vat = off();
                if (key_is(doc_.strings, k, kTextList)) {
                    pending_splits_.clear();
                    if (p_ < end_ && *p_ == '[') { if (!skip_list_light(depth + 1)) return false; }
                    else if (!skip_value(depth + 1)) return false;
                    val = push_node(NodeType::RawList, vat, static_cast<uint32_t>(std::min<uint64_t>(off() - vat, 0xFFFFFFFFu)), vat);
                    raw_end_ = off();
                } else if (key_is(doc_.strings, k, kB64Data)) {
                    if (p_ >= end_ || *p_ != '"') return failb("expected the base64 string of \"milo-ndarray-b64\", found " + found());
                    const char* s = p_ + 1;
                    // Where the dtype and shape came first (as milo_fast writes them), the end of the string
                    // is known: check that one byte instead of searching megabytes for the quote. Phase 2's
                    // base64 decoding rejects any quote, backslash or other stray byte inside.
                    const uint64_t want = declared_b64_len(base);
                    const char* q = want < static_cast<uint64_t>(end_ - s) && s[want] == '"'
                                        ? s + want
                                        : static_cast<const char*>(std::memchr(s, '"', end_ - s));
                    if (!q) return failb("unterminated string");
                    p_ = q + 1;
                    val = push_node(NodeType::RawList, static_cast<uint64_t>(s - begin_), 0, vat);
                    raw_end_ = static_cast<uint64_t>(q - begin_);
                } else {
                    if (!value(depth, val)) return false;
                }
                stack_.push_back(key);
                stack_.push_back(val);
                if (doc_.nodes[val].type == NodeType::RawList) {
                    raw_ends_.push_back(raw_end_);
                    split_stack_.push_back(std::move(pending_splits_));
                    pending_splits_.clear();
                }
                skip_ws();
                if (p_ < end_ && *p_ == ',') { ++p_; continue; }
                if (p_ < end_ && *p_ == '}') { ++p_; break; }
                return failb("expected ',' or '}' in an object, found " + found());
            }
        }
        const uint32_t npairs = static_cast<uint32_t>((stack_.size() - base) / 2);
        // Is it an array envelope?
        int job = -2;
        if (!envelope(base, npairs, at, job)) return false;
        if (job >= 0) {
            stack_.resize(base);
            out = push_node(NodeType::Array, static_cast<uint64_t>(job), 0, at);
            return true;
        }
        const uint64_t first = doc_.children.size();
        doc_.children.insert(doc_.children.end(), stack_.begin() + base, stack_.end());
        stack_.resize(base);
        out = push_node(NodeType::Object, first, npairs, at);
        return true;
    }

    // The base64 length that the dtype and shape among the pairs at stack_[base..] declare, or UINT64_MAX
    // when they are not there or not plain. A hint only: envelope() checks everything afterwards.
    uint64_t declared_b64_len(std::size_t base) const {
        constexpr uint64_t kNone = UINT64_MAX;
        const Node* dt = nullptr;
        const Node* sh = nullptr;
        for (std::size_t i = base; i + 1 < stack_.size(); i += 2) {
            const Node& k = doc_.nodes[stack_[i]];
            if (key_is(doc_.strings, k, kB64Dtype)) dt = &doc_.nodes[stack_[i + 1]];
            else if (key_is(doc_.strings, k, kB64Shape)) sh = &doc_.nodes[stack_[i + 1]];
        }
        if (!dt || !sh || sh->type != NodeType::List) return kNone;
        uint64_t item = 0;
        if (dt->type == NodeType::String) {
            Field f;
            if (!simple_dtype_from_name(doc_.strings.data() + dt->a, dt->len, f)) return kNone;
            item = elem_size(f.kind);
        } else if (dt->type == NodeType::Object) {
            for (uint32_t i = 0; i < dt->len; ++i) {
                const Node& k = doc_.nodes[doc_.children[dt->a + 2 * i]];
                const Node& v = doc_.nodes[doc_.children[dt->a + 2 * i + 1]];
                if (key_is(doc_.strings, k, "itemsize") && v.type == NodeType::Int && v.a >= 1 && v.a <= 65536) item = v.a;
            }
        }
        if (!item) return kNone;
        uint64_t bytes = item;
        for (uint32_t i = 0; i < sh->len; ++i) {
            const Node& d = doc_.nodes[doc_.children[sh->a + i]];
            if (d.type != NodeType::Int || static_cast<int64_t>(d.a) < 0 || __builtin_mul_overflow(bytes, d.a, &bytes)) return kNone;
        }
        return bytes < (uint64_t{1} << 60) ? base64_encoded_size(bytes) : kNone;
    }

    uint64_t raw_end_ = 0;
    std::vector<uint64_t> raw_ends_;  // end offsets of RawList spans, in the order they were made

    // Reads a shape list node into dims.
    bool read_shape(uint32_t node, std::vector<int64_t>& shape) {
        const Node& n = doc_.nodes[node];
        if (n.type != NodeType::List) return failb_at(n.src, "array shape must be a list of non-negative integers");
        if (n.len > 64) return failb_at(n.src, "array has more than 64 dimensions");
        shape.clear();
        for (uint32_t i = 0; i < n.len; ++i) {
            const Node& d = doc_.nodes[doc_.children[n.a + i]];
            if (d.type != NodeType::Int || static_cast<int64_t>(d.a) < 0)
                return failb_at(d.src, "array shape must be a list of non-negative integers");
            shape.push_back(static_cast<int64_t>(d.a));
        }
        return true;
    }

    std::string str_of(const Node& n) const { return std::string(doc_.strings.data() + n.a, n.len); }

    // Structured dtype spelling {"names": [...], "formats": [...], "offsets": [...], "itemsize": n}.
    bool read_structured(uint32_t node, Layout& L) {
        const Node& n = doc_.nodes[node];
        const Node* names = nullptr; const Node* formats = nullptr; const Node* offsets = nullptr; const Node* itemsize = nullptr;
        for (uint32_t i = 0; i < n.len; ++i) {
            const Node& k = doc_.nodes[doc_.children[n.a + 2 * i]];
            const Node& v = doc_.nodes[doc_.children[n.a + 2 * i + 1]];
            if (key_is(doc_.strings, k, "names")) names = &v;
            else if (key_is(doc_.strings, k, "formats")) formats = &v;
            else if (key_is(doc_.strings, k, "offsets")) offsets = &v;
            else if (key_is(doc_.strings, k, "itemsize")) itemsize = &v;
            else return failb_at(k.src, "unexpected key \"" + str_of(k) + "\" in a structured dtype (expected names, formats, offsets, itemsize)");
        }
        if (!names || !formats || !offsets || !itemsize)
            return failb_at(n.src, "a structured dtype needs names, formats, offsets and itemsize");
        if (names->type != NodeType::List || formats->type != NodeType::List || offsets->type != NodeType::List)
            return failb_at(n.src, "names, formats and offsets of a structured dtype must be lists");
        if (names->len != formats->len || names->len != offsets->len || names->len == 0 || names->len > 1024)
            return failb_at(n.src, "names, formats and offsets of a structured dtype must have the same length, 1 to 1024");
        if (itemsize->type != NodeType::Int || static_cast<int64_t>(itemsize->a) < 1 || itemsize->a > 65536)
            return failb_at(itemsize->src, "itemsize of a structured dtype must be an integer in [1, 65536]");
        L.itemsize = itemsize->a;
        L.structured = true;
        L.fields.clear();
        std::vector<std::pair<uint64_t, uint64_t>> spans;
        for (uint32_t i = 0; i < names->len; ++i) {
            const Node& nm = doc_.nodes[doc_.children[names->a + i]];
            const Node& fm = doc_.nodes[doc_.children[formats->a + i]];
            const Node& of = doc_.nodes[doc_.children[offsets->a + i]];
            if (nm.type != NodeType::String || nm.len == 0) return failb_at(nm.src, "field names must be non-empty strings");
            Field f;
            if (fm.type != NodeType::String || !simple_dtype_from_name(doc_.strings.data() + fm.a, fm.len, f))
                return failb_at(fm.src, "unsupported field format in a structured dtype");
            if (of.type != NodeType::Int || static_cast<int64_t>(of.a) < 0 || of.a + elem_size(f.kind) > L.itemsize)
                return failb_at(of.src, "field offset outside the item");
            f.offset = of.a;
            spans.emplace_back(of.a, of.a + elem_size(f.kind));
            L.fields.push_back(f);
        }
        std::sort(spans.begin(), spans.end());
        for (std::size_t i = 1; i < spans.size(); ++i)
            if (spans[i].first < spans[i - 1].second) return failb_at(n.src, "fields of a structured dtype overlap");
        for (uint32_t i = 0; i < names->len; ++i)
            for (uint32_t j = i + 1; j < names->len; ++j) {
                const Node& a = doc_.nodes[doc_.children[names->a + i]];
                const Node& b = doc_.nodes[doc_.children[names->a + j]];
                if (a.len == b.len && std::memcmp(doc_.strings.data() + a.a, doc_.strings.data() + b.a, a.len) == 0)
                    return failb_at(b.src, "duplicate field name in a structured dtype");
            }
        return true;
    }

    // Decides whether the object whose pairs sit at stack_[base..] is an array envelope; if so, makes the job.
    bool envelope(std::size_t base, uint32_t npairs, uint64_t at, int& job) {
        job = -1;
        int li = -1, di = -1, si = -1, dsi = -1;
        bool b64 = false;
        int extra = 0;
        for (uint32_t i = 0; i < npairs; ++i) {
            const Node& k = doc_.nodes[stack_[base + 2 * i]];
            auto take = [&](int& slot) -> bool {
                if (slot >= 0) return failb_at(k.src, "duplicate key \"" + str_of(k) + "\" in an array envelope");
                slot = static_cast<int>(i);
                return true;
            };
            if (key_is(doc_.strings, k, kTextList)) { if (!take(li)) return false; }
            else if (key_is(doc_.strings, k, kB64Data)) { if (!take(li)) return false; b64 = true; }
            else if (key_is(doc_.strings, k, kTextDtype) || key_is(doc_.strings, k, kB64Dtype)) { if (!take(di)) return false; }
            else if (key_is(doc_.strings, k, kTextShape) || key_is(doc_.strings, k, kB64Shape)) { if (!take(si)) return false; }
            else if (key_is(doc_.strings, k, kTextDS) || key_is(doc_.strings, k, kB64DS)) { if (!take(dsi)) return false; }
            else ++extra;
        }
        // count RawList spans made by this object (to pop their end offsets)
        uint64_t span_end = 0;
        int raw_count = 0;
        for (uint32_t i = 0; i < npairs; ++i)
            if (doc_.nodes[stack_[base + 2 * i + 1]].type == NodeType::RawList) ++raw_count;
        std::vector<std::pair<int64_t, uint64_t>> splits;
        if (raw_count) {
            span_end = raw_ends_.back();
            raw_ends_.resize(raw_ends_.size() - raw_count);
            splits = std::move(split_stack_.back());
            split_stack_.resize(split_stack_.size() - raw_count);
        }
        if (li < 0) return true;
        const uint32_t list_node = stack_[base + 2 * li + 1];
        if (b64) {
            if (di < 0 || si < 0 || extra)
                return failb_at(at, "a \"milo-ndarray-b64\" envelope must have exactly the keys milo-ndarray-b64, milo-ndarray-dtype, milo-ndarray-shape and optionally milo-data-structure");
        } else if (di < 0 || si < 0 || extra) {
            return true;  // an ordinary object that happens to use the key; its list is parsed as plain JSON
        }
        ArrayJob j;
        j.base64 = b64;
        j.src = at;
        const uint32_t dnode = stack_[base + 2 * di + 1];
        const Node& dn = doc_.nodes[dnode];
        if (dn.type == NodeType::String) {
            Field f;
            if (!simple_dtype_from_name(doc_.strings.data() + dn.a, dn.len, f)) {
                if (b64) return failb_at(dn.src, "unsupported dtype \"" + str_of(dn) + "\" in a base64 array envelope");
                return true;  // e.g. PyMilo's "object" or "<U5": left to the Python layer
            }
            j.layout.itemsize = elem_size(f.kind);
            j.layout.fields.push_back(f);
        } else if (dn.type == NodeType::Object) {
            if (!read_structured(dnode, j.layout)) return false;
        } else {
            return failb_at(dn.src, "array dtype must be a string or a structured dtype object");
        }
        j.dtype_node = dnode;
        if (dsi >= 0) {
            const Node& ds = doc_.nodes[stack_[base + 2 * dsi + 1]];
            if (ds.type != NodeType::String) return failb_at(ds.src, "data-structure marker must be a string");
            std::string v = str_of(ds);
            if (v == "numpy.generic") j.scalar = true;
            else if (v != "numpy.ndarray") return failb_at(ds.src, "data-structure marker must be \"numpy.ndarray\" or \"numpy.generic\", not \"" + v + "\"");
        }
        if (!read_shape(stack_[base + 2 * si + 1], j.shape)) return false;
        if (j.scalar && !j.shape.empty()) return failb_at(at, "a numpy.generic (scalar) envelope must have shape []");
        if (!checked_count(j.shape, j.count)) return failb_at(doc_.nodes[stack_[base + 2 * si + 1]].src, "array shape too large");
        const Node& ln = doc_.nodes[list_node];
        j.span_begin = ln.a;
        j.span_end = span_end;
        const uint64_t span_len = j.span_end - j.span_begin;
        // A small document must not make us allocate much: check the declared size against the text.
        if (b64) {
            uint64_t need;
            if (__builtin_mul_overflow(j.count, static_cast<uint64_t>(j.layout.itemsize), &need) || base64_encoded_size(need) != span_len)
                return failb_at(ln.src, "base64 data length (" + std::to_string(span_len) + " chars) does not match the declared shape and dtype");
        } else {
            const uint64_t min_item = j.layout.structured ? 2 * j.layout.fields.size() + 1 : 1;
            uint64_t need;
            if (__builtin_mul_overflow(j.count, min_item, &need) || need > span_len + 1)
                return failb_at(ln.src, "array list is too short for the declared shape");
            // Wide padded items: never more than 16 bytes of array per character of text.
            if (j.count * j.layout.itemsize > 16 * (span_len + 1))
                return failb_at(ln.src, "array list is too short for the declared shape and item size");
        }
        if (!b64 && !j.shape.empty()) {
            for (const auto& sp : splits) if (sp.first < j.shape[0]) j.splits.push_back(sp);
        }
        uint64_t nbytes = j.count * j.layout.itemsize;
        array_bytes_ += nbytes;
        if (array_bytes_ > limits_.max_array_bytes)
            return failb_at(at, "arrays in the document exceed the limit of " + std::to_string(limits_.max_array_bytes) + " bytes");
        doc_.arrays.push_back(std::move(j));
        job = static_cast<int>(doc_.arrays.size() - 1);
        if (sink_) sink_->add(doc_.arrays.back());
        return true;
    }
};

// ------------------------------------------------------------------ phase 2: array text -> buffer

inline const char* skip_ws_at(const char* p, const char* end) {
    while (p < end && is_ws(*p)) ++p;
    return p;
}
// The common case, no whitespace at p, costs one comparison.
inline const char* skip_ws_fast(const char* p, const char* end) {
    return p < end && static_cast<unsigned char>(*p) <= ' ' ? skip_ws_at(p, end) : p;
}
// The text after the byte c at p, after any whitespace; nullptr if c is not there (the error is then at
// skip_ws_at(p, end)). The common case, c right at p, is tested first.
inline const char* expect_byte(const char* p, const char* end, char c) {
    if (__builtin_expect(p < end && *p == c, 1)) return p + 1;
    p = skip_ws_at(p, end);
    return p < end && *p == c ? p + 1 : nullptr;
}

constexpr bool kind_is_signed(ElemKind k) { return k >= ElemKind::I8 && k <= ElemKind::I64; }

// Non-finite tokens and their strict-JSON string spellings: the end of the token, or nullptr.
inline const char* read_nonfinite(const char* q, const char* end, FloatClass& c) {
    const bool quoted = q < end && *q == '"';
    if (quoted) ++q;
    if (match(q, end, "NaN", 3)) { c = FloatClass::NaN; q += 3; }
    else if (match(q, end, "Infinity", 8)) { c = FloatClass::PosInf; q += 8; }
    else if (match(q, end, "-Infinity", 9)) { c = FloatClass::NegInf; q += 9; }
    else return nullptr;
    if (quoted) { if (q >= end || *q != '"') return nullptr; ++q; }
    return q;
}

// The element readers: one value of kind K from the text at p (p <= end), stored at out. Each returns the end
// of the value's token, or nullptr with `why` set; an error is always at p, the start of the token.
template <ElemKind K>
const char* read_float_rest(const char* p, const char* end, uint8_t* out, bool big, const char*& why);

// An integer-valued number of 1 to 7 digits written "D.0" and ended by ',' or ']' ("-2.0", "0.0", "1.0", "37.0":
// most of a forest's floats, its leaves' thresholds, impurities and class fractions and its sample weights), with
// 16 bytes readable at p: the digits by SWAR, and the value is the integer, exactly (below 2^53), stored as a
// float64 at out. The end of the token, or nullptr for any other text.
__attribute__((always_inline)) inline const char* read_whole(const char* p, uint8_t* out, bool big) {
    const bool neg = *p == '-';
    const char* const q = p + (neg ? 1 : 0);
    if (q[1] == '.') {  // one integer digit ("1.0", "-2.0"), or a number of another shape ("0.862"): decided here
        const unsigned d = static_cast<unsigned char>(q[0]) - '0';
        if (d > 9 || q[2] != '0' || (q[3] != ',' && q[3] != ']')) return nullptr;
        const double v = static_cast<double>(d);
        const double x = neg ? -v : v;
        uint64_t b; std::memcpy(&b, &x, 8); store64(out, b, big);
        return q + 3;
    }
    uint64_t w;
    const int n = short_run(q, w);
    if (n != 0 && q[n] == '.' && q[n + 1] == '0' && (q[n + 2] == ',' || q[n + 2] == ']')) {
        const double v = static_cast<double>(static_cast<int64_t>(w));
        const double d = neg ? -v : v;
        uint64_t b; std::memcpy(&b, &d, 8); store64(out, b, big);
        return q + n + 2;
    }
    return nullptr;
}

// A finite number in a float64 array, the common case, kept small enough to inline into the row and item
// loops; everything else (non-finite tokens, other widths) goes to read_float_rest. Short: try the "D.0" shape
// first (where most numbers have it: a leaf's fields, sample weights); off where few have it, so that a branch
// that would mostly fail, and often be mispredicted, is not taken.
template <ElemKind K, bool Short = true>
__attribute__((always_inline)) inline const char* read_float(const char* p, const char* end, uint8_t* out, bool big, const char*& why) {
    if constexpr (K == ElemKind::F64) {
        if (Short && __builtin_expect(end - p >= 16, 1)) {
            const char* q = read_whole(p, out, big);
            if (q) return q;
        }
        if (__builtin_expect(is_digit(*p) || (*p == '-' && p + 1 < end && is_digit(p[1])), 1)) {
            double d;
            const char* e = detail::fp::parse_f64_inline(p, end, d);  // (parse_f64, inline)
            if (!e) { why = "malformed or out-of-range number in a float64 array"; return nullptr; }
            uint64_t b; std::memcpy(&b, &d, 8); store64(out, b, big);
            return e;
        }
    }
    return read_float_rest<K>(p, end, out, big, why);
}

template <ElemKind K>
__attribute__((noinline)) const char* read_float_rest(const char* p, const char* end, uint8_t* out, bool big, const char*& why) {
    if (!(*p == '-' || is_digit(*p)) || (*p == '-' && p + 1 < end && p[1] == 'I')) {
        FloatClass c;
        const char* q = read_nonfinite(p, end, c);
        if (!q) { why = "expected a number in a float array"; return nullptr; }
        if constexpr (K == ElemKind::F16) store16(out, c == FloatClass::NaN ? 0x7E00 : c == FloatClass::PosInf ? 0x7C00 : 0xFC00, big);
        else if constexpr (K == ElemKind::F32) store32(out, c == FloatClass::NaN ? 0x7FC00000u : c == FloatClass::PosInf ? 0x7F800000u : 0xFF800000u, big);
        else store64(out, c == FloatClass::NaN ? 0x7FF8000000000000ull : c == FloatClass::PosInf ? 0x7FF0000000000000ull : 0xFFF0000000000000ull, big);
        return q;
    }
    const char* e;
    if constexpr (K == ElemKind::F64) {
        double d; e = parse_f64(p, end, d);
        if (!e) { why = "malformed or out-of-range number in a float64 array"; return nullptr; }
        uint64_t b; std::memcpy(&b, &d, 8); store64(out, b, big);
    } else if constexpr (K == ElemKind::F32) {
        float v; e = parse_f32(p, end, v);
        if (!e) { why = "malformed or out-of-range number in a float32 array"; return nullptr; }
        uint32_t b; std::memcpy(&b, &v, 4); store32(out, b, big);
    } else {
        uint16_t b; e = parse_f16(p, end, b);
        if (!e) { why = "malformed or out-of-range number in a float16 array"; return nullptr; }
        store16(out, b, big);
    }
    return e;
}

template <ElemKind K>
const char* read_int_rest(const char* p, const char* end, uint8_t* out, bool big, const char*& why);

// An integer of 1 to 7 digits (and a sign) with 16 bytes readable at p, stored as a 64-bit or 8-bit value (a node
// table's fields): one 8-byte load, its digit mask and value by SWAR, no loop and no bound check per byte.
// Anything else, errors included, is read_int_rest's, which reads the token again from p.
// Short: try one digit (or a minus and one digit) first, where most integers are that short (see read_float).
template <ElemKind K, bool Short = true>
__attribute__((always_inline)) inline const char* read_int(const char* p, const char* end, uint8_t* out, bool big, const char*& why) {
    if constexpr (K == ElemKind::I64 || K == ElemKind::U8) {
        if (__builtin_expect(end - p >= 16, 1)) {
            // One digit, or (int64) a minus and one digit, ended by ',' or ']': most of a node table's integers
            // (a leaf's children -1 and feature -2, small sample counts, missing_go_to_left)
            const unsigned d0 = static_cast<unsigned char>(p[0]) - '0';
            if (Short && d0 <= 9 && (p[1] == ',' || p[1] == ']')) {
                if constexpr (K == ElemKind::I64) store64(out, d0, big);
                else *out = static_cast<uint8_t>(d0);
                return p + 1;
            }
            if constexpr (K == ElemKind::I64 && Short) {
                const unsigned d1 = static_cast<unsigned char>(p[1]) - '0';
                if (p[0] == '-' && d1 <= 9 && (p[2] == ',' || p[2] == ']')) {
                    store64(out, 0 - static_cast<uint64_t>(d1), big);
                    return p + 2;
                }
            }
            const bool neg = *p == '-';
            const char* const q = p + (neg ? 1 : 0);
            uint64_t v;
            const int n = short_run(q, v);
            const char c = q[n];
            // no fraction or exponent after the digits
            if (__builtin_expect(n != 0 && c != '.' && (c | 0x20) != 'e', 1)) {
                if constexpr (K == ElemKind::I64) {
                    store64(out, neg ? 0 - v : v, big);
                    return q + n;
                } else {
                    if (!neg && v <= 0xFF) {
                        *out = static_cast<uint8_t>(v);
                        return q + n;
                    }
                }
            }
        }
    }
    return read_int_rest<K>(p, end, out, big, why);
}

// One pass over an integer token: sign, digits, value (scan_number then from_chars would read it twice).
template <ElemKind K>
__attribute__((noinline)) const char* read_int_rest(const char* p, const char* end, uint8_t* out, bool big, const char*& why) {
    const char* q = p;
    const bool neg = *q == '-';
    q += neg;
    if (q >= end || !is_digit(*q)) { why = "expected an integer"; return nullptr; }
    uint64_t v = 0;
    bool overflow = false;
    if (*q == '0') {
        ++q;
    } else {
        const char* d0 = q;
        // Eight bytes at a time: the run of leading digits, then its value by SWAR (at most 16 digits
        // this way, so that the value stays below 10^19 and cannot overflow). A run that ends inside the
        // eight bytes is the whole number; byte by byte only near the end of the text or past 16 digits.
        bool done = false;
        while (end - q >= 8 && q - d0 <= 8) {
            uint64_t t;
            const int n = leading_digits8(q, t);
            if (n == 0) { done = true; break; }
            v = v * kPow10U64[n] + parse8(t << (8 * (8 - n)));
            q += n;
            if (n < 8) { done = true; break; }
        }
        if (!done) {
            while (q < end && is_digit(*q) && q - d0 < 19) v = v * 10 + static_cast<uint64_t>(*q++ - '0');
            while (q < end && is_digit(*q)) {  // a 20th digit and beyond
                overflow |= __builtin_mul_overflow(v, uint64_t{10}, &v) || __builtin_add_overflow(v, static_cast<uint64_t>(*q - '0'), &v);
                ++q;
            }
        }
    }
    if (q < end && (*q == '.' || *q == 'e' || *q == 'E')) {
        bool is_int;
        why = scan_number(p, end, is_int) ? "expected an integer, found a number with a fraction or exponent" : "expected an integer";
        return nullptr;
    }
    if constexpr (kind_is_signed(K)) {
        if (overflow || v > (neg ? uint64_t{1} << 63 : uint64_t{INT64_MAX})) { why = "integer out of range for int64"; return nullptr; }
        const int64_t x = neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
        if constexpr (K == ElemKind::I8) {
            if (x < -128 || x > 127) { why = "integer out of range for int8"; return nullptr; }
            *out = static_cast<uint8_t>(x);
        } else if constexpr (K == ElemKind::I16) {
            if (x < -32768 || x > 32767) { why = "integer out of range for int16"; return nullptr; }
            store16(out, static_cast<uint16_t>(x), big);
        } else if constexpr (K == ElemKind::I32) {
            if (x < INT32_MIN || x > INT32_MAX) { why = "integer out of range for int32"; return nullptr; }
            store32(out, static_cast<uint32_t>(x), big);
        } else {
            store64(out, static_cast<uint64_t>(x), big);
        }
    } else {
        if (neg) {
            // "-0" is the only negative literal an unsigned array accepts
            if (q - p != 2 || v != 0) { why = "negative integer in an unsigned array"; return nullptr; }
            std::memset(out, 0, elem_size(K));
            return q;
        }
        if (overflow) { why = "integer out of range for uint64"; return nullptr; }
        if constexpr (K == ElemKind::U8) {
            if (v > 0xFF) { why = "integer out of range for uint8"; return nullptr; }
            *out = static_cast<uint8_t>(v);
        } else if constexpr (K == ElemKind::U16) {
            if (v > 0xFFFF) { why = "integer out of range for uint16"; return nullptr; }
            store16(out, static_cast<uint16_t>(v), big);
        } else if constexpr (K == ElemKind::U32) {
            if (v > 0xFFFFFFFFull) { why = "integer out of range for uint32"; return nullptr; }
            store32(out, static_cast<uint32_t>(v), big);
        } else {
            store64(out, v, big);
        }
    }
    return q;
}

template <ElemKind K>
__attribute__((always_inline)) inline const char* read_elem(const char* p, const char* end, uint8_t* out, bool big, const char*& why) {
    if (p >= end) { why = "expected a value"; return nullptr; }
    if constexpr (K == ElemKind::Bool) {
        if (match(p, end, "true", 4)) { *out = 1; return p + 4; }
        if (match(p, end, "false", 5)) { *out = 0; return p + 5; }
        why = "expected true or false in a bool array";
        return nullptr;
    } else if constexpr (is_float(K)) {
        return read_float<K>(p, end, out, big, why);
    } else {
        return read_int<K>(p, end, out, big, why);
    }
}

// Calls f(std::integral_constant<ElemKind, k>{}) for the kind k: turns a kind known at run time into one
// known at compile time.
template <class F>
inline auto with_kind(ElemKind k, F&& f) {
    using E = ElemKind;
    switch (k) {
        case E::Bool: return f(std::integral_constant<E, E::Bool>{});
        case E::I8: return f(std::integral_constant<E, E::I8>{});
        case E::I16: return f(std::integral_constant<E, E::I16>{});
        case E::I32: return f(std::integral_constant<E, E::I32>{});
        case E::I64: return f(std::integral_constant<E, E::I64>{});
        case E::U8: return f(std::integral_constant<E, E::U8>{});
        case E::U16: return f(std::integral_constant<E, E::U16>{});
        case E::U32: return f(std::integral_constant<E, E::U32>{});
        case E::U64: return f(std::integral_constant<E, E::U64>{});
        case E::F16: return f(std::integral_constant<E, E::F16>{});
        case E::F32: return f(std::integral_constant<E, E::F32>{});
        case E::F64: break;
    }
    return f(std::integral_constant<E, E::F64>{});
}

class ArrayText {
public:
    struct Err { bool failed = false; uint64_t offset = 0; std::string message; };

    ArrayText(const char* text, const ArrayJob& j, Err& err)
        : begin_(text), p_(text + j.span_begin), end_(text + j.span_end), j_(j), err_(err) {
        const std::size_t nd = j_.shape.size();
        stride_.assign(nd + 1, j_.layout.itemsize);
        for (std::size_t d = nd; d-- > 1;) stride_[d - 1] = stride_[d] * static_cast<std::size_t>(j_.shape[d]);
        if (j_.layout.structured) plan_rows();
    }

    // Parses the outer items [lo, hi) whose text runs from `start` (the '[' for the first piece, else the comma
    // before item lo) to `stop` (the comma after item hi-1, or the end of the list for the last piece).
    bool run_range(int64_t lo, int64_t hi, uint64_t start, uint64_t stop, bool first, bool last) {
        if (!with_item([&](const auto& item) { return run_range_with(item, lo, hi, start, stop, first, last); })) return false;
        const std::size_t st = stride_[0];
        swap_simple(j_.data.get() + static_cast<std::size_t>(lo) * st, static_cast<std::size_t>(hi - lo) * st);
        return true;
    }

    bool run() {
        if (!with_item([&](const auto& item) { return run_with(item); })) return false;
        swap_simple(j_.data.get(), j_.count * j_.layout.itemsize);
        return true;
    }

private:
    const char* begin_;
    const char* p_;
    const char* end_;
    const ArrayJob& j_;
    Err& err_;
    std::vector<std::size_t> stride_;  // bytes from one item of dimension d to the next

    // A structured row, planned once: the fields in the text's order, and the 8-byte zero stores that cover
    // the padding bytes (made before the fields are written, so a store may overlap a field). `zero_all` for
    // items narrower than 8 bytes or with much padding.
    struct RowField { uint32_t offset; ElemKind kind; bool big; };
    std::vector<RowField> row_;
    std::vector<uint32_t> zero8_;
    bool zero_all_ = false;

    void plan_rows() {
        const Layout& L = j_.layout;
        std::vector<std::pair<std::size_t, std::size_t>> spans;
        for (const Field& f : L.fields) {
            row_.push_back(RowField{static_cast<uint32_t>(f.offset), f.kind, f.big_endian});
            spans.emplace_back(f.offset, f.offset + elem_size(f.kind));
        }
        std::sort(spans.begin(), spans.end());
        std::size_t pad = 0, at = 0;
        auto gap = [&](std::size_t a, std::size_t b) {
            pad += b - a;
            for (std::size_t x = a; x < b && L.itemsize >= 8 && zero8_.size() <= 8; x += 8) zero8_.push_back(static_cast<uint32_t>(std::min(x, L.itemsize - 8)));
        };
        for (const auto& s : spans) {  // the fields do not overlap (read_structured checks)
            if (s.first > at) gap(at, s.first);
            at = s.second;
        }
        if (L.itemsize > at) gap(at, L.itemsize);
        if (pad && (L.itemsize < 8 || zero8_.size() > 8)) { zero_all_ = true; zero8_.clear(); }
    }

    bool fail(const std::string& m) {
        err_.failed = true;
        err_.offset = static_cast<uint64_t>(p_ - begin_);
        err_.message = m;
        return false;
    }
    // Fails at p; returns nullptr, for the functions that return the text position.
    std::nullptr_t fail_at(const char* p, const std::string& m) {
        p_ = p;
        fail(m);
        return nullptr;
    }

    bool failb_at(const char* p, const std::string& m) {
        fail_at(p, m);
        return false;
    }

    // A value of kind K at p, after any whitespace. No value starts with whitespace, so the reader is tried
    // right at p first, and again after the whitespace only when that fails.
    template <ElemKind K>
    __attribute__((always_inline)) const char* value(const char* p, const char* end, uint8_t* out, bool big) {
        const char* why = nullptr;
        const char* q = read_elem<K>(p, end, out, big, why);
        return __builtin_expect(q != nullptr, 1) ? q : value_after_ws<K>(p, end, out, big);
    }
    template <ElemKind K>
    __attribute__((noinline, cold)) const char* value_after_ws(const char* p, const char* end, uint8_t* out, bool big) {
        const char* why = nullptr;
        p = skip_ws_at(p, end);
        const char* q = read_elem<K>(p, end, out, big, why);
        return q ? q : fail_at(p, why);
    }

    // An item of a simple dtype: one value, after any whitespace; stored little-endian (swap_simple turns
    // the values of a big-endian dtype around afterwards).
    template <ElemKind K>
    struct SimpleItem {
        const char* operator()(ArrayText& a, const char* p, const char* end, uint8_t* out) const {
            return a.value<K>(p, end, out, false);
        }
    };

    // The values of a big-endian simple dtype in the n bytes at out, stored little-endian, into their order.
    void swap_simple(uint8_t* out, std::size_t n) const {
        const Layout& L = j_.layout;
        if (L.structured || !L.fields[0].big_endian) return;
        const std::size_t sz = elem_size(L.fields[0].kind);
        for (std::size_t i = 0; i + sz <= n; i += sz) std::reverse(out + i, out + i + sz);
    }

    // An item of a structured dtype: a list of the fields' values, after any whitespace.
    struct RowItem {
        const char* operator()(ArrayText& a, const char* p, const char* end, uint8_t* out) const {
            if (a.zero_all_) std::memset(out, 0, a.j_.layout.itemsize);  // padding bytes are zero
            for (uint32_t z : a.zero8_) std::memset(out + z, 0, 8);
            const char* q = expect_byte(p, end, '[');
            if (!q) return a.fail_at(skip_ws_at(p, end), "expected '[' starting a structured row");
            p = q;
            const std::size_t n = a.row_.size();
            for (std::size_t k = 0; k < n; ++k) {
                if (k) {
                    q = expect_byte(p, end, ',');
                    if (!q) return a.fail_at(skip_ws_at(p, end), "expected ',' : a structured row has " + std::to_string(n) + " fields");
                    p = q;
                }
                const RowField& f = a.row_[k];
                p = with_kind(f.kind, [&](auto kind) { return a.value<decltype(kind)::value>(p, end, out + f.offset, f.big); });
                if (!p) return nullptr;
            }
            q = expect_byte(p, end, ']');
            return q ? q : a.fail_at(skip_ws_at(p, end), "expected ']' : a structured row has " + std::to_string(n) + " fields");
        }
    };

    // sklearn's node rows (see sk_node_row) as milo_fast writes them, "[1,732,16,-0.87,0.49,12632,20000.0,0]":
    // RowItem with the kinds known at compile time, no field going through with_kind's dispatch. A leaf's row
    // starts "[-1,-1,-2,-2.0," (TREE_LEAF, TREE_UNDEFINED): those four fields are stored as they are, and its
    // other fields are read trying the short shapes first ("0.0", "3", "3.0"); an inner node's integers and
    // floats go straight to the general readers. So the one branch that depends on the data, leaf or not, is
    // taken once per row. Any problem in the row, and the row is read again by RowItem, which reports it.
    struct SkNodeRow {
        const char* operator()(ArrayText& a, const char* p, const char* end, uint8_t* out) const {
            const char* q = read(a, p, end, out);
            return __builtin_expect(q != nullptr, 1) ? q : RowItem{}(a, p, end, out);
        }
        // The value of kind K at p and the separator `sep` after it: the text after the separator, or nullptr.
        template <ElemKind K, bool Short>
        __attribute__((always_inline)) static const char* field(const char* p, const char* end, uint8_t* out, char sep) {
            const char* why = nullptr;
            if (p >= end) return nullptr;
            if constexpr (is_float(K)) p = read_float<K, Short>(p, end, out, false, why);
            else p = read_int<K, Short>(p, end, out, false, why);
            return p && p < end && *p == sep ? p + 1 : nullptr;
        }
        // "[-1,-1,-2,-2.0," at p (16 bytes readable): two 8-byte compares
        static bool is_leaf_start(const char* p) {
            static constexpr char kLeaf[16] = "[-1,-1,-2,-2.0,";
            uint64_t x0, x1, l0, l1;
            std::memcpy(&x0, p, 8); std::memcpy(&x1, p + 7, 8);
            std::memcpy(&l0, kLeaf, 8); std::memcpy(&l1, kLeaf + 7, 8);
            return x0 == l0 && x1 == l1;
        }
        // The 8 bytes at q (readable) in x, less '0' each in t; returns how many lead as digits, at most 7 (7 also
        // when all 8 are: the byte after them, x >> 8n, is then within x). leading_digits8 with the byte after the
        // digits kept in a register: built on short_run and a load of q[n] instead, uint_then and tail() read the
        // forest's node rows in 10.36 and 10.99 ms against 9.7 (bench_reader, one thread).
        __attribute__((always_inline)) static int digits7(const char* q, uint64_t& x, uint64_t& t) {
            std::memcpy(&x, q, 8);
            t = x - 0x3030303030303030ULL;
            const uint64_t non_digit = (t | (t + 0x7676767676767676ULL)) & 0x8080808080808080ULL;
            return __builtin_ctzll(non_digit | (uint64_t{1} << 63)) >> 3;
        }
        // A non-negative integer of 1 to 7 digits at q (8 bytes readable), no leading zero, then `sep`: its value
        // stored at out, and the text after the separator. Anything else clears `ok` (the position returned is then
        // still within q + 8). One load, no branch: where the next field starts is known as soon as the digit mask
        // is, and read_int's separate tests (bounds, sign, a fraction after the digits, then the separator) are one.
        __attribute__((always_inline)) static const char* uint_then(const char* q, char sep, uint8_t* out, bool& ok) {
            uint64_t x, t;
            const int n = digits7(q, x, t);
            const uint64_t v = parse8(t << ((64 - 8 * n) & 63));
            const char c = static_cast<char>(x >> (8 * n));
            ok &= (n != 0) & (c == sep) & ((n == 1) | ((x & 0xFF) != '0'));
            store64(out, v, false);
            return q + n + 1;
        }
        // The last three fields of a row, n_node_samples, weighted_n_node_samples and missing_go_to_left, at q (at
        // least 32 bytes readable; the fast paths read 21 at most): the count by uint_then, the weight when written
        // "D.0" (no sample weights) the same way and else by read_float, the last field 0 or 1, then the row's ']'.
        // The text after the row, or nullptr (`ok` false, or anything else).
        __attribute__((always_inline)) static const char* tail(const char* q, const char* end, uint8_t* out,
                                                               const RowField* f, bool ok) {
            q = uint_then(q, ',', out + f[5].offset, ok);
            uint64_t x, t;
            const int n = digits7(q, x, t);
            const bool whole = (n != 0) & ((n == 1) | (q[0] != '0')) & (q[n] == '.') & (q[n + 1] == '0') & (q[n + 2] == ',');
            if (__builtin_expect(whole, 1)) {
                const double w = static_cast<double>(static_cast<int64_t>(parse8(t << ((64 - 8 * n) & 63))));
                std::memcpy(out + f[6].offset, &w, 8);
                q += n + 3;
            } else {
                const char* why = nullptr;
                q = read_float<ElemKind::F64, true>(q, end, out + f[6].offset, false, why);
                if (!q || end - q < 3 || *q != ',') return nullptr;  // (and the two bytes read below are there)
                ++q;
            }
            // missing_go_to_left: 0 or 1 (anything else, read() reads)
            const unsigned go_left = static_cast<unsigned char>(q[0]) - '0';
            out[f[7].offset] = static_cast<uint8_t>(go_left);
            return ok & (go_left <= 1) & (q[1] == ']') ? q + 2 : nullptr;
        }
        // An inner node's row "[1,314,18,-0.857,0.4999,12632,20000.0,0]" with at least 128 bytes readable at p, read
        // with uint_then for its children and feature (never negative in an inner node), its two floats by
        // parse_f64_inline, each then its comma, and tail(); the text after the row, or nullptr for anything else
        // (a sign, 8 and more digits, a NaN, whitespace, an error), and read() reads the row again.
        static const char* inner(const char* p, const char* end, uint8_t* out, const RowField* f) {
            bool ok = *p == '[';
            const char* q = uint_then(p + 1, ',', out + f[0].offset, ok);
            q = uint_then(q, ',', out + f[1].offset, ok);
            q = uint_then(q, ',', out + f[2].offset, ok);
            if (!ok) return nullptr;
            double d;
            const char* e = detail::fp::parse_f64_inline(q, end, d);
            if (!e || *e != ',' || end - e < 64) return nullptr;
            std::memcpy(out + f[3].offset, &d, 8);
            e = detail::fp::parse_f64_inline(e + 1, end, d);
            if (!e || *e != ',' || end - e < 64) return nullptr;
            std::memcpy(out + f[4].offset, &d, 8);
            return tail(e + 1, end, out, f, true);
        }
        static const char* read(ArrayText& a, const char* p, const char* end, uint8_t* out) {
            using E = ElemKind;
            for (uint32_t z : a.zero8_) std::memset(out + z, 0, 8);  // (zero_all_ is never set for these rows)
            const RowField* f = a.row_.data();
            if (end - p >= 16 && is_leaf_start(p)) {
                const double undefined = -2.0;
                uint64_t b; std::memcpy(&b, &undefined, 8);
                store64(out + f[0].offset, static_cast<uint64_t>(-1), false);
                store64(out + f[1].offset, static_cast<uint64_t>(-1), false);
                store64(out + f[2].offset, static_cast<uint64_t>(-2), false);
                store64(out + f[3].offset, b, false);
                p += 15;
                if (!(p = field<E::F64, true>(p, end, out + f[4].offset, ','))) return nullptr;
                if (!(p = field<E::I64, true>(p, end, out + f[5].offset, ','))) return nullptr;
            } else {
                if (end - p >= 128) {
                    const char* q = inner(p, end, out, f);
                    if (q) return q;
                }
                if (p >= end || *p != '[') return nullptr;
                ++p;
                if (!(p = field<E::I64, false>(p, end, out + f[0].offset, ','))) return nullptr;
                if (!(p = field<E::I64, false>(p, end, out + f[1].offset, ','))) return nullptr;
                if (!(p = field<E::I64, false>(p, end, out + f[2].offset, ','))) return nullptr;
                if (!(p = field<E::F64, false>(p, end, out + f[3].offset, ','))) return nullptr;
                if (!(p = field<E::F64, false>(p, end, out + f[4].offset, ','))) return nullptr;
                if (!(p = field<E::I64, false>(p, end, out + f[5].offset, ','))) return nullptr;
            }
            if (!(p = field<E::F64, true>(p, end, out + f[6].offset, ','))) return nullptr;
            return field<E::U8, true>(p, end, out + f[7].offset, ']');
        }
    };

    // Rows laid out as sklearn's NODE_DTYPE (left_child, right_child, feature, threshold, impurity,
    // n_node_samples, weighted_n_node_samples, missing_go_to_left), whatever the names and offsets.
    bool sk_node_row() const {
        using E = ElemKind;
        static constexpr E kinds[] = {E::I64, E::I64, E::I64, E::F64, E::F64, E::I64, E::F64, E::U8};
        if (row_.size() != 8 || zero_all_) return false;
        for (std::size_t k = 0; k < 8; ++k)
            if (row_[k].kind != kinds[k] || row_[k].big) return false;
        return true;
    }

    // Calls f(item) with the item reader of the array's dtype.
    template <class F>
    bool with_item(F&& f) {
        const Layout& L = j_.layout;
        if (L.structured && sk_node_row()) return f(SkNodeRow{});
        if (L.structured) return f(RowItem{});
        const Field& fl = L.fields[0];
        return with_kind(fl.kind, [&](auto kind) { return f(SimpleItem<decltype(kind)::value>{}); });
    }

    // Items [lo, hi) of dimension d (the last) at p, the first of them not preceded by a comma. Returns the
    // text after the last, or nullptr.
    template <class Item>
    const char* items(const Item& item, const char* p, int64_t lo, int64_t hi, std::size_t d, uint8_t* out) {
        const char* const end = end_;
        const std::size_t st = stride_[d];
        if (lo >= hi) return p;
        const Item it = item;
        uint8_t* o = out + lo * st;
        uint8_t* const last = out + (hi - 1) * st;
        p = it(*this, p, end, o);
        while (p && o != last) {
            o += st;
            const char* q = expect_byte(p, end, ',');
            if (!q)
                return fail_at(skip_ws_at(p, end), "expected ',' : dimension " + std::to_string(d) + " has fewer than " + std::to_string(j_.shape[d]) + " items");
            p = it(*this, q, end, o);
        }
        return p;
    }

    // Whether an item reader is SimpleItem<K>, and its K.
    template <class Item>
    struct SimpleKind { static constexpr bool simple = false; };
    template <ElemKind K>
    struct SimpleKind<SimpleItem<K>> { static constexpr bool simple = true; static constexpr ElemKind kind = K; };

    // One innermost list "[v,v,...]" of n values of kind K at p, written as milo_fast writes it (no whitespace),
    // into out, out + st, ...: the text after its ']', or nullptr at anything else (reported by lists()).
    // For float64, the first value decides how the others are read: when it is written "D.0" (a leaf's class
    // fractions "[1.0,0.0]"), the others are tried in that shape first, else they go straight to parse_f64 (an
    // inner node's "[0.862,0.137]"), so that one branch per list depends on the data, not one per value.
    template <ElemKind K>
    __attribute__((always_inline)) static const char* flat_list(const char* p, const char* end, int64_t n, std::size_t st,
                                                                uint8_t* out) {
        if (p >= end || *p != '[') return nullptr;
        ++p;
        if constexpr (K == ElemKind::F64) {
            if (end - p >= 16) {
                const char* q = read_whole(p, out, false);
                if (q) return flat_rest<K, true>(q, end, n - 1, st, out + st);
                const char* why = nullptr;
                q = read_float<K, false>(p, end, out, false, why);
                return q ? flat_rest<K, false>(q, end, n - 1, st, out + st) : nullptr;
            }
        }
        const char* why = nullptr;
        p = read_elem<K>(p, end, out, false, why);
        return p ? flat_rest<K, true>(p, end, n - 1, st, out + st) : nullptr;
    }
    // The values after the first of such a list (n of them, each after a comma), and its ']'.
    template <ElemKind K, bool Short>
    __attribute__((always_inline)) static const char* flat_rest(const char* p, const char* end, int64_t n, std::size_t st,
                                                                uint8_t* out) {
        const char* why = nullptr;
        for (int64_t i = 0; i < n; ++i) {
            if (p >= end || *p != ',') return nullptr;
            ++p;
            if (p >= end) return nullptr;
            if constexpr (is_float(K)) p = read_float<K, Short>(p, end, out, false, why);
            else p = read_elem<K>(p, end, out, false, why);
            if (!p) return nullptr;
            out += st;
        }
        return p < end && *p == ']' ? p + 1 : nullptr;
    }

    // Sub-lists [lo, hi) of dimension d0 whose items are lists of one or two more dimensions of simple values (a
    // 2-d array's rows, sklearn's tree values of shape (nodes, outputs, classes)), read without lists()'s
    // bookkeeping per list. The text after sub-list hi - 1; at the first sub-list that is not written exactly as
    // milo_fast writes it (whitespace, an error), lists() takes over from that sub-list, as if from the start.
    template <ElemKind K>
    const char* blocks(const char* p, int64_t lo, int64_t hi, std::size_t d0, uint8_t* out) {
        const char* const end = end_;
        const std::size_t below = j_.shape.size() - 1 - d0;  // 1 or 2
        const int64_t a = j_.shape[d0 + 1], b = below == 2 ? j_.shape[d0 + 2] : 0;
        const std::size_t st0 = stride_[d0], st1 = stride_[d0 + 1], st2 = below == 2 ? stride_[d0 + 2] : 0;
        uint8_t* o = out + static_cast<std::size_t>(lo) * st0;
        for (int64_t i = lo; i < hi; ++i, o += st0) {
            const char* q = p;
            if (i != lo) {
                if (q >= end || *q != ',') return nested_lists(SimpleItem<K>{}, p, i, hi, d0, out, false);
                ++q;
            }
            if (below == 1) {
                q = flat_list<K>(q, end, a, st1, o);
            } else if (a == 1) {  // "[[v,...]]": a tree's values with one output
                q = q < end && *q == '[' ? flat_list<K>(q + 1, end, b, st2, o) : nullptr;
                q = q && q < end && *q == ']' ? q + 1 : nullptr;
            } else if (q < end && *q == '[') {
                ++q;
                uint8_t* r = o;
                for (int64_t k = 0; q && k < a; ++k, r += st1) {
                    if (k) q = q < end && *q == ',' ? q + 1 : nullptr;
                    if (q) q = flat_list<K>(q, end, b, st2, r);
                }
                q = q && q < end && *q == ']' ? q + 1 : nullptr;
            } else {
                q = nullptr;
            }
            if (!q) return nested_lists(SimpleItem<K>{}, p, i, hi, d0, out, i == lo);
            p = q;
        }
        return p;
    }

    // Sub-lists [lo, hi) of dimension d0 (d0 + 1 < ndim) at p, the first of them not preceded by a comma: blocks()
    // where it applies, else nested_lists().
    template <class Item>
    const char* lists(const Item& item, const char* p, int64_t lo, int64_t hi, std::size_t d0, uint8_t* out) {
        if constexpr (SimpleKind<Item>::simple) {
            const std::size_t below = j_.shape.size() - 1 - d0;
            if (lo < hi && below <= 2 && j_.shape[d0 + 1] > 0 && (below == 1 || j_.shape[d0 + 2] > 0))
                return blocks<SimpleKind<Item>::kind>(p, lo, hi, d0, out);
        }
        return nested_lists(item, p, lo, hi, d0, out, true);
    }

    // The same in general, as items() does for values (the first sub-list preceded by a comma unless `first`):
    // iteratively, one open list per dimension below d0, each with the number of sub-lists it still holds and
    // where they go.
    template <class Item>
    const char* nested_lists(const Item& item, const char* p, int64_t lo, int64_t hi, std::size_t d0, uint8_t* out,
                             bool first) {
        const char* const end = end_;
        const std::size_t last = j_.shape.size() - 1;
        if (lo >= hi) return p;
        int64_t left[64];
        uint8_t* at[64];
        std::size_t d = d0;  // the innermost open list; it holds left[d] > 0 more sub-lists
        left[d] = hi - lo;
        at[d] = out + static_cast<std::size_t>(lo) * stride_[d];
        while (true) {
            if (!first) {
                const char* q = expect_byte(p, end, ',');
                if (!q)
                    return fail_at(skip_ws_at(p, end), "expected ',' : dimension " + std::to_string(d) + " has fewer than " + std::to_string(j_.shape[d]) + " items");
                p = q;
            }
            std::size_t e = d + 1;  // the sub-list to open
            const char* q = expect_byte(p, end, '[');
            if (!q) return fail_at(skip_ws_at(p, end), "expected '[' for dimension " + std::to_string(e) + " of shape");
            p = q;
            uint8_t* o = at[d];
            at[d] += stride_[d];
            --left[d];
            if (e == last) {
                p = items(item, p, 0, j_.shape[e], e, o);
                if (!p) return nullptr;
            } else if (j_.shape[e] > 0) {
                d = e;
                left[d] = j_.shape[d];
                at[d] = o;
                first = true;
                continue;
            }
            // The list of dimension e is complete: close it, and the enclosing lists that are complete too.
            while (true) {
                q = expect_byte(p, end, ']');
                if (!q)
                    return fail_at(skip_ws_at(p, end), "expected ']' : dimension " + std::to_string(e) + " has more than " + std::to_string(j_.shape[e]) + " items");
                p = q;
                if (left[d] > 0) break;
                if (d == d0) return p;
                e = d--;
            }
            first = false;
        }
    }

    // The list of dimension d at p (after any whitespace).
    template <class Item>
    const char* dim(const Item& item, const char* p, std::size_t d, uint8_t* out) {
        const char* const end = end_;
        p = skip_ws_fast(p, end);
        if (p >= end || *p != '[') return fail_at(p, "expected '[' for dimension " + std::to_string(d) + " of shape");
        const int64_t n = j_.shape[d];
        p = d + 1 == j_.shape.size() ? items(item, p + 1, 0, n, d, out) : lists(item, p + 1, 0, n, d, out);
        if (!p) return nullptr;
        p = skip_ws_fast(p, end);
        if (p >= end || *p != ']')
            return fail_at(p, "expected ']' : dimension " + std::to_string(d) + " has more than " + std::to_string(n) + " items");
        return p + 1;
    }

    template <class Item>
    bool run_range_with(const Item& item, int64_t lo, int64_t hi, uint64_t start, uint64_t stop, bool first, bool last) {
        const char* const end = end_ = begin_ + stop;
        const char* p = skip_ws_fast(begin_ + start, end);
        if (first) {
            if (p >= end || *p != '[') return failb_at(p, "expected '[' for dimension 0 of shape");
        } else if (p >= end || *p != ',') {
            return failb_at(p, "expected ','");
        }
        uint8_t* out = j_.data.get();
        p = j_.shape.size() == 1 ? items(item, p + 1, lo, hi, 0, out) : lists(item, p + 1, lo, hi, 0, out);
        if (!p) return false;
        p = skip_ws_fast(p, end);
        if (!last) return p == end || failb_at(p, "expected ',' : malformed item in the array list");
        if (p >= end || *p != ']')
            return failb_at(p, "expected ']' : dimension 0 has more than " + std::to_string(j_.shape[0]) + " items");
        p = skip_ws_fast(p + 1, end);
        return p == end || failb_at(p, "unexpected text after the array list");
    }

    template <class Item>
    bool run_with(const Item& item) {
        const char* const end = end_;
        uint8_t* out = j_.data.get();
        const char* p = j_.shape.empty() ? item(*this, p_, end, out) : dim(item, p_, 0, out);
        if (!p) return false;
        p = skip_ws_fast(p, end);
        return p == end || failb_at(p, "unexpected text after the array list");
    }
};

bool allocate(ArrayJob& j) {
    const uint64_t nbytes = j.count * j.layout.itemsize;
    j.data.reset(new (std::nothrow) uint8_t[nbytes ? nbytes : 1]);
    if (!j.data) {
        j.failed = true; j.err_offset = j.src; j.err = "out of memory for an array of " + std::to_string(nbytes) + " bytes";
        return false;
    }
    advise_huge_pages(j.data.get(), nbytes);  // as numpy does for its own large arrays
    return true;
}

constexpr uint64_t kB64Piece = uint64_t(1) << 20;  // characters, a multiple of 4

// Decodes the base64 characters [c0, c1) of a job (c0 a multiple of 4) into bytes [c0/4*3, ...). The whole
// array is the range [0, length); pieces of a large array are decoded concurrently (never with big-endian
// fields, whose swap needs whole items). On failure fills `err` only.
bool decode_base64_range(const char* text, ArrayJob& j, uint64_t c0, uint64_t c1, ArrayText::Err& err) {
    const uint64_t len = j.span_end - j.span_begin;
    const uint64_t nbytes = j.count * j.layout.itemsize;
    const uint64_t b0 = c0 / 4 * 3;
    const char* s = text + j.span_begin + c0;
    const std::size_t n = c1 > c0 ? base64_decoded_size(s, c1 - c0) : 0;
    if (n == SIZE_MAX || b0 + n != (c1 == len ? nbytes : c1 / 4 * 3)) {
        err.failed = true; err.offset = j.span_begin + c0; err.message = "base64 data does not decode to the declared shape and dtype";
        return false;
    }
    if (n) {
        const std::size_t bad = base64_decode(s, c1 - c0, j.data.get() + b0);
        if (bad != SIZE_MAX) {
            err.failed = true; err.offset = j.span_begin + c0 + bad; err.message = "invalid base64 character or padding";
            return false;
        }
    }
    // A bool holds 0 or 1: any other byte in a bool field is rejected (numpy would keep it as is).
    const uint64_t b1 = b0 + n;
    const std::size_t item = j.layout.itemsize;
    for (const Field& f : j.layout.fields) {
        if (f.kind != ElemKind::Bool) continue;
        for (uint64_t i = b0 / item; i < j.count && i * item < b1; ++i) {
            const uint64_t at = i * item + f.offset;
            if (at < b0 || at >= b1 || j.data[at] <= 1) continue;
            err.failed = true;
            err.offset = j.span_begin + at / 3 * 4;
            err.message = "bool array holds byte " + std::to_string(j.data[at]) + " (only 0 and 1 are bools) at item " + std::to_string(i);
            return false;
        }
    }
    if (c0 != 0 || c1 != len) return true;
    // The file holds little-endian bytes; big-endian fields are swapped into their declared order.
    for (const Field& f : j.layout.fields) {
        if (!f.big_endian) continue;
        const std::size_t sz = elem_size(f.kind);
        for (uint64_t i = 0; i < j.count; ++i) {
            uint8_t* q = j.data.get() + i * item + f.offset;
            for (std::size_t k = 0; k < sz / 2; ++k) std::swap(q[k], q[sz - 1 - k]);
        }
    }
    return true;
}

// One unit of phase-2 work: a whole array, or a piece of a large text array.
struct Task {
    ArrayJob* job;
    int piece;  // -1: the whole array; else the piece's index
    uint64_t start;  // offset of the task's first byte of text
    std::size_t job_index = 0;  // the job's place in Document::arrays (Pipeline only)
};

// The first failure among tasks run on several threads, whatever their order: a failed task lowers the
// bar, and a task that starts at or past the bar is skipped (an error in it would not be the first). Every
// task that could hold an earlier error still runs, so the error reported is the one a single thread,
// running the tasks in document order, reports.
class FirstFailure {
public:
    bool worth_running(const Task& t) const { return t.start < bar_.load(std::memory_order_relaxed); }
    void failed(uint64_t offset) {
        uint64_t cur = bar_.load(std::memory_order_relaxed);
        while (offset < cur && !bar_.compare_exchange_weak(cur, offset, std::memory_order_relaxed)) {}
    }

private:
    std::atomic<uint64_t> bar_{UINT64_MAX};
};

// The tasks of one job: its pieces (large base64 strings in 1 MiB pieces, large text lists at their splits),
// or the whole array.
template <class Add>
void tasks_of(ArrayJob& j, Add&& add) {
    const uint64_t w = j.span_end - j.span_begin;
    bool big = false;
    for (const Field& f : j.layout.fields) big |= f.big_endian;
    if (j.base64 && w > kB64Piece && !big) {
        const uint64_t np = (w + kB64Piece - 1) / kB64Piece;
        for (uint64_t k = 0; k < np; ++k) add(Task{&j, static_cast<int>(k), j.span_begin + k * kB64Piece});
    } else if (!j.base64 && !j.splits.empty()) {
        for (std::size_t k = 0; k <= j.splits.size(); ++k)
            add(Task{&j, static_cast<int>(k), k ? j.splits[k - 1].second : j.span_begin});
    } else {
        add(Task{&j, -1, j.span_begin});
    }
}

// Folds the failures of tasks into their jobs, then returns the first failure in document order.
ParseError first_failure(std::deque<ArrayJob>& arrays, const std::vector<Task>& tasks, const std::deque<ArrayText::Err>& errs) {
    for (std::size_t k = 0; k < tasks.size() && k < errs.size(); ++k) {
        if (!errs[k].failed) continue;
        ArrayJob& j = *tasks[k].job;
        if (!j.failed || errs[k].offset < j.err_offset) {
            j.failed = true; j.err_offset = errs[k].offset; j.err = errs[k].message;
        }
    }
    ParseError e;
    for (const auto& j : arrays) {
        if (j.failed && (e.ok || j.err_offset < e.offset)) {
            e.ok = false; e.offset = j.err_offset; e.message = j.err;
        }
    }
    return e;
}

bool run_task_unguarded(const char* text, const Task& t, ArrayText::Err& err);

// Runs a task; on failure fills `err` (never touches the job's error fields, so pieces can run concurrently).
// Never throws (tasks run on worker threads): running out of memory for an error message is a failure too.
bool run_task(const char* text, const Task& t, ArrayText::Err& err) noexcept {
    try {
        return run_task_unguarded(text, t, err);
    } catch (...) {
        err.failed = true;
        err.offset = t.start;
        err.message.clear();
        try { err.message = "out of memory"; } catch (...) {}
        return false;
    }
}

bool run_task_unguarded(const char* text, const Task& t, ArrayText::Err& err) {
    ArrayJob& j = *t.job;
    if (j.base64) {
        const uint64_t len = j.span_end - j.span_begin;
        if (t.piece < 0) return decode_base64_range(text, j, 0, len, err);
        const uint64_t c0 = static_cast<uint64_t>(t.piece) * kB64Piece;
        return decode_base64_range(text, j, c0, std::min<uint64_t>(c0 + kB64Piece, len), err);
    }
    ArrayText a(text, j, err);
    if (t.piece < 0) {
        // (a text array's buffer, about to be written whole: mapped in one call where its pages are fresh)
        populate_pages(j.data.get(), j.count * j.layout.itemsize);
        return a.run();
    }
    const std::size_t k = static_cast<std::size_t>(t.piece);
    const std::size_t np = j.splits.size() + 1;
    const int64_t lo = k == 0 ? 0 : j.splits[k - 1].first;
    const int64_t hi = k + 1 < np ? j.splits[k].first : j.shape[0];
    const uint64_t start = k == 0 ? j.span_begin : j.splits[k - 1].second;
    const uint64_t stop = k + 1 < np ? j.splits[k].second : j.span_end;
    return a.run_range(lo, hi, start, stop, k == 0, k + 1 == np);
}

}  // namespace

// Room for the tree of a document of `len` bytes, as milo_fast's documents use it (about a node per 2 KiB of a
// forest's text, the skeleton beside its arrays; strings about 1/300 of it), so that phase 1 does not copy its
// growing vectors again and again. A hint: they still grow as needed, and a document gets at most about 2% of
// its own size.
static void reserve_for(Document& doc, std::size_t len) {
    doc.nodes.reserve(std::max<std::size_t>(64, len / 2048));
    doc.children.reserve(std::max<std::size_t>(64, len / 2048));
    doc.strings.reserve(std::max<std::size_t>(256, len / 256));
}

ParseError parse_document(const char* text, std::size_t len, const Limits& limits, Document& doc) {
    doc = Document{};
    reserve_for(doc, len);
    Parser p(text, len, limits, doc);
    return p.run();
}

ParseError decode_arrays(const char* text, std::size_t len, Document& doc) {
    (void)len;
    std::vector<Task> tasks;
    for (ArrayJob& j : doc.arrays) {
        if (!allocate(j)) { tasks.clear(); break; }  // nothing runs: the allocation failure is the error
        tasks_of(j, [&](const Task& t) { tasks.push_back(t); });
    }
    std::deque<ArrayText::Err> errs(tasks.size());
    for (std::size_t k = 0; k < tasks.size(); ++k) if (!run_task(text, tasks[k], errs[k])) break;
    return first_failure(doc.arrays, tasks, errs);
}

namespace {

// Phase 2 started during phase 1: the parser hands each array job over as soon as its envelope is read,
// and worker threads convert it while the parser goes on through the rest of the document. Jobs live in
// a deque (stable addresses); the parser thread alone adds them, workers only take queued tasks. Tasks are
// queued and taken in document order; the jobs finished so far in that order (done_) let a caller use the
// first arrays while later ones are still being converted (wait_through, AsyncDecode).
class Pipeline final : public JobSink {
public:
    // lazy: the workers start only once the queued arrays hold about a millisecond of one thread's work
    // (kWorkersFrom), instead of at once: the threads' count chosen for the document's size alone (decode and
    // decode_deferred's 0), where a base64 document of a few MiB is a fraction of a millisecond's decoding. A
    // worker there saved little, and cost much whenever its CPU was slow to run it (a vCPU waking from idle, or
    // taken by the host): an MLP's 1.6 MB base64 document, loaded 40 times in turn with pickle and text loads,
    // took 0.46-0.49 ms by medians but over 2 ms (up to 7.8) in 7-9 loads of 40, the main thread waiting for
    // the worker's array; converted on the calling thread alone, 0.52-0.53 ms and never over 1.3 ms.
    Pipeline(const char* text, int workers, void (*converted)(ArrayJob&) = nullptr, bool lazy = false)
        : text_(text), converted_(converted), workers_(workers) {
        if (!lazy) start_workers();
    }
    ~Pipeline() override { abort(); }
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;

    void add(ArrayJob& j) override {
        if (stop_.load(std::memory_order_relaxed)) return;
        if (!allocate(j)) { stop_ = true; return; }
        const bool now = converted_now(j);  // a tiny array: converted here, no task, no worker woken
        {
            std::lock_guard<std::mutex> lk(m_);  // workers index tasks_ and errs_ under m_
            const std::size_t ji = left_.size();
            left_.push_back(0);
            job_failed_.push_back(false);
            if (now) {
                advance_done();
            } else {
                tasks_of(j, [&](const Task& t) {
                    queue_.push_back(tasks_.size());
                    tasks_.push_back(t);
                    tasks_.back().job_index = ji;
                    errs_.emplace_back();
                    ++left_[ji];
                });
            }
        }
        (now ? done_cv_ : cv_).notify_all();
        if (!now && !started_) {
            const uint64_t chars = j.span_end - j.span_begin;
            work_ += j.base64 ? chars : chars * kTextWeight;
            if (work_ >= kWorkersFrom) start_workers();
        }
    }

    // Phase 1 is over: no job comes after this (workers leave once the queue is empty).
    void close() {
        {
            std::lock_guard<std::mutex> lk(m_);
            closed_ = true;
        }
        cv_.notify_all();
    }

    // An allocation failed in phase 1 (nothing after it was queued): finish() reports it.
    bool stopped() const { return stop_.load(std::memory_order_relaxed); }

    // Jobs queued so far (after close(): every job of the document, unless stopped()).
    std::size_t jobs() {
        std::lock_guard<std::mutex> lk(m_);
        return left_.size();
    }

    // Blocks until the first n jobs are converted, the calling thread converting queued tasks meanwhile (in
    // document order, as the workers do). False as soon as any task has failed (or n is beyond the jobs
    // queued and the queue is closed): then finish() gives the first failure.
    bool wait_through(std::size_t n) {
        std::unique_lock<std::mutex> lk(m_);
        while (done_ < n) {
            if (failed_ || (closed_ && n > left_.size())) return false;
            if (!queue_.empty()) {
                run_next(lk);
                continue;
            }
            done_cv_.wait(lk);
        }
        return !failed_;
    }

    // After a successful phase 1: the calling thread works too, until every task is done.
    ParseError finish(std::deque<ArrayJob>& arrays) {
        close();
        work();
        join();
        return first_failure(arrays, tasks_, errs_);
    }

    // After a failed phase 1, or when nobody wants the arrays any more: stop as soon as possible.
    void abort() {
        stop_ = true;
        close();
        join();
    }

private:
    // Lazy start: base64 characters decode about 4 times faster than list text converts (0.2 against 0.85 ns a
    // character on one thread of the development VM), and 4M of them take about a millisecond.
    static constexpr uint64_t kTextWeight = 4;
    static constexpr uint64_t kWorkersFrom = uint64_t{4} << 20;

    const char* text_;
    void (*converted_)(ArrayJob&);       // run on each array once its last task succeeded (AsyncDecode)
    const int workers_;                  // the workers to start
    bool started_ = false;               // (parser thread only)
    uint64_t work_ = 0;                  // queued work so far, in base64 characters (parser thread only)
    std::vector<std::thread> pool_;
    std::vector<Task> tasks_;            // appended by the parser thread, read by workers, both under m_
    std::deque<ArrayText::Err> errs_;    // one per task; a worker keeps a pointer (deque: stable addresses)
    std::deque<std::size_t> queue_;      // indices into tasks_
    std::vector<std::size_t> left_;      // per job: its tasks not finished yet (under m_)
    std::vector<bool> job_failed_;       // per job: one of its tasks failed or was skipped (under m_)
    std::size_t done_ = 0;               // jobs [0, done_) are finished (under m_)
    bool failed_ = false;                // some task failed (under m_)
    std::mutex m_;
    std::condition_variable cv_;         // a task queued, or the queue closed
    std::condition_variable done_cv_;    // a task finished
    bool closed_ = false;
    std::atomic<bool> stop_{false};  // phase 1 failed, an allocation did, or abort()
    FirstFailure first_;

    void start_workers() {
        started_ = true;
        for (int t = 0; t < workers_; ++t) {
            try {
                pool_.push_back(start_worker([this] { work(); }));
            } catch (const std::system_error&) {  // no more threads: the caller's thread works in finish()
                break;
            }
        }
    }

    void join() {
        for (auto& t : pool_) if (t.joinable()) t.join();
    }

    // Past every job finished in document order (m_ held).
    void advance_done() {
        while (done_ < left_.size() && left_[done_] == 0) ++done_;
    }

    // A job of at most kInlineText characters of simple items, converted on the parser's thread as it is added:
    // queueing it and waking a worker would cost more than the conversion (a forest names three such arrays per
    // tree: classes_, n_classes_, the Tree's class counts). Structured items (node tables) always go to a
    // worker, where the after-conversion hook sees them. A failure is not reported here: the job is queued as
    // any other, and its error comes in document order, after phase 1's (the task rewrites the whole buffer).
    static constexpr uint64_t kInlineText = 256;
    bool converted_now(ArrayJob& j) {
        if (j.layout.structured || j.span_end - j.span_begin > kInlineText) return false;
        Task t{&j, -1, j.span_begin};
        ArrayText::Err err;
        if (!run_task(text_, t, err)) return false;
        j.ready = true;
        return true;
    }

    // Takes the next queued task (m_ held by lk, queue_ not empty), runs it unlocked, and records it.
    void run_next(std::unique_lock<std::mutex>& lk) {
        const std::size_t k = queue_.front();
        queue_.pop_front();
        const Task t = tasks_[k];
        ArrayText::Err* err = &errs_[k];
        lk.unlock();
        bool ok = true, ran = false;
        if (!stop_.load(std::memory_order_relaxed) && first_.worth_running(t)) {
            ok = run_task(text_, t, *err);
            ran = true;
            if (!ok) first_.failed(err->offset);
        }
        lk.lock();
        failed_ |= !ok;
        if (!ok || !ran) job_failed_[t.job_index] = true;
        // The job's last task (the others have counted themselves down under m_): the hook runs before the job
        // counts as done, so no waiter sees the array before the hook has finished with it.
        if (converted_ && left_[t.job_index] == 1 && !job_failed_[t.job_index]) {
            lk.unlock();
            try {
                converted_(*t.job);
            } catch (...) {  // a hook must not throw: its note is simply not set
            }
            lk.lock();
        }
        if (--left_[t.job_index] == 0) advance_done();
        done_cv_.notify_all();
    }

    void work() {
        std::unique_lock<std::mutex> lk(m_);
        while (true) {
            cv_.wait(lk, [&] { return !queue_.empty() || closed_; });
            if (queue_.empty()) return;
            run_next(lk);
        }
    }
};

}  // namespace

struct AsyncDecode::Impl {
    std::unique_ptr<Pipeline> pipeline;
    Document* doc = nullptr;
};

AsyncDecode::AsyncDecode() : impl_(new Impl) {}
AsyncDecode::~AsyncDecode() { abort(); }

ParseError AsyncDecode::start(const char* text, std::size_t len, const Limits& limits, Document& doc, int threads,
                              void (*converted)(ArrayJob&), bool lazy) {
    abort();
    threads = std::min(std::max(threads, 2), 64);
    doc = Document{};
    reserve_for(doc, len);
    impl_->doc = &doc;
    impl_->pipeline.reset(new Pipeline(text, threads - 1, converted, lazy));
    Pipeline& pl = *impl_->pipeline;
    Parser p(text, len, limits, doc, &pl);
    ParseError e = p.run();
    if (!e.ok) {
        abort();
        return e;
    }
    pl.close();
    if (pl.stopped() || pl.jobs() != doc.arrays.size()) {  // an allocation failed: that is the error
        e = pl.finish(doc.arrays);
        impl_->pipeline.reset();
        if (e.ok) { e.ok = false; e.message = "out of memory"; }  // (finish found the failed job's error)
        return e;
    }
    return e;
}

bool AsyncDecode::running() const { return impl_->pipeline != nullptr; }

bool AsyncDecode::wait_through(std::size_t n) {
    return impl_->pipeline && impl_->pipeline->wait_through(n);
}

ParseError AsyncDecode::finish() {
    if (!impl_->pipeline) return ParseError{};
    ParseError e = impl_->pipeline->finish(impl_->doc->arrays);
    impl_->pipeline.reset();
    return e;
}

void AsyncDecode::abort() {
    if (impl_ && impl_->pipeline) {
        impl_->pipeline->abort();
        impl_->pipeline.reset();
    }
}

DecodeThreads decode_threads(int asked, std::size_t len) {
    if (asked <= 0) return {len >= (std::size_t{1} << 20) ? capped_threads(8) : 1, true};
    return {std::min(asked, 64), false};  // a worker per thread asked for: never thousands
}

ParseError parse_and_decode(const char* text, std::size_t len, const Limits& limits, Document& doc, int asked) {
    const DecodeThreads dt = decode_threads(asked, len);
    if (dt.threads <= 1) {
        ParseError e = parse_document(text, len, limits, doc);
        if (e.ok) e = decode_arrays(text, len, doc);
        return e;
    }
    doc = Document{};
    reserve_for(doc, len);
    Pipeline pipeline(text, dt.threads - 1, nullptr, dt.lazy);
    Parser p(text, len, limits, doc, &pipeline);
    ParseError e = p.run();
    if (!e.ok) {
        pipeline.abort();
        return e;
    }
    return pipeline.finish(doc.arrays);
}

std::string json_path_at(const char* text, std::size_t len, uint64_t offset) {
    struct Frame { bool obj; int64_t index; std::string key; bool have_key; };
    std::vector<Frame> st;
    const char* p = text;
    const char* end = text + std::min<uint64_t>(len, offset + 1);
    bool expect_key = false;
    while (p < end) {
        char c = *p;
        if (c == '{') { st.push_back({true, 0, {}, false}); expect_key = true; ++p; }
        else if (c == '[') { st.push_back({false, 0, {}, false}); ++p; }
        else if (c == '}' || c == ']') { if (!st.empty()) st.pop_back(); expect_key = false; ++p; }
        else if (c == ',') {
            if (!st.empty()) {
                if (st.back().obj) { expect_key = true; st.back().have_key = false; }
                else ++st.back().index;
            }
            ++p;
        } else if (c == ':') { expect_key = false; ++p; }
        else if (c == '"') {
            const char* s = ++p;
            std::string buf;
            while (p < text + len && *p != '"') {
                if (*p == '\\' && p + 1 < text + len) { buf.push_back(p[1]); p += 2; continue; }
                buf.push_back(*p++);
            }
            if (p < text + len) ++p;
            (void)s;
            if (expect_key && !st.empty() && st.back().obj) { st.back().key = buf; st.back().have_key = true; expect_key = false; }
        } else { ++p; }
    }
    std::string out = "$";
    for (const auto& f : st) {
        if (f.obj) {
            if (!f.have_key) break;
            bool ident = !f.key.empty();
            for (char ch : f.key) ident &= (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-');
            if (ident) out += "." + f.key;
            else {
                out += "[\"";
                for (char ch : f.key) { if (ch == '"' || ch == '\\') out.push_back('\\'); out.push_back(ch); }
                out += "\"]";
            }
        } else {
            out += "[" + std::to_string(f.index) + "]";
        }
    }
    return out;
}

void line_col(const char* text, std::size_t len, uint64_t offset, uint64_t& line, uint64_t& col) {
    line = 1; col = 1;
    for (uint64_t i = 0; i < offset && i < len; ++i) {
        if (text[i] == '\n') { ++line; col = 1; } else ++col;
    }
}

}  // namespace milo

// Unit tests of src/cpp/core/base64: RFC 4648 vectors, round trips against a naive
// reference encoder, every rejection with its index, and the dispatched (AVX2 where
// available) code against the portable code on random and corrupted texts, small and
// large. Returns non-zero on failure.
#include "base64.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "test_util.hpp"

using namespace milo;

namespace {

const char kAlpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Bit-by-bit reference encoder, written independently of the table-driven one.
std::string naive_encode(const std::vector<uint8_t>& in) {
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (uint8_t b : in) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(kAlpha[(acc >> bits) & 63]);
        }
    }
    if (bits > 0) out.push_back(kAlpha[(acc << (6 - bits)) & 63]);
    while (out.size() % 4 != 0) out.push_back('=');
    return out;
}

std::string encode(const std::vector<uint8_t>& in, void (*fn)(const uint8_t*, std::size_t, char*) = base64_encode) {
    // from an exact-size heap copy, so that ASan catches a read past the end
    std::unique_ptr<uint8_t[]> src(new uint8_t[in.size() + (in.empty() ? 1 : 0)]);
    if (!in.empty()) std::memcpy(src.get(), in.data(), in.size());
    std::string out(base64_encoded_size(in.size()), '\0');
    fn(src.get(), in.size(), out.empty() ? nullptr : &out[0]);
    return out;
}
std::string encode(const std::string& in) {
    return encode(std::vector<uint8_t>(in.begin(), in.end()));
}

struct Decoded {
    std::size_t result = 0;  // SIZE_MAX: ok, else the offending index
    std::vector<uint8_t> bytes;
};

// Decode from an exact-size heap copy into an exact-size heap buffer (so that ASan
// catches any read or write out of bounds).
using DecodeFn = std::size_t (*)(const char*, std::size_t, uint8_t*);
using EncodeFn = void (*)(const uint8_t*, std::size_t, char*);

Decoded decode(const std::string& text, DecodeFn fn = base64_decode) {
    Decoded r;
    std::unique_ptr<char[]> src(new char[text.size() + 1]);
    std::memcpy(src.get(), text.data(), text.size());
    const std::size_t n = base64_decoded_size(src.get(), text.size());
    if (n == SIZE_MAX) {
        // the caller never decodes then; still check what decode says about it
        r.result = fn(src.get(), text.size(), nullptr);
        return r;
    }
    std::unique_ptr<uint8_t[]> dst(new uint8_t[n]);  // exact size: ASan catches any overrun
    r.result = fn(src.get(), text.size(), dst.get());
    r.bytes.assign(dst.get(), dst.get() + n);
    return r;
}

struct Rng {
    uint64_t s;
    uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
};

void test_rfc4648_vectors() {
    const char* pairs[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},    {"foo", "Zm9v"},
                              {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (auto& p : pairs) {
        CHECK_MSG(encode(std::string(p[0])) == p[1], "encode(%s)", p[0]);
        const Decoded d = decode(p[1]);
        CHECK_MSG(d.result == SIZE_MAX && std::string(d.bytes.begin(), d.bytes.end()) == p[0], "decode(%s)", p[1]);
    }
    // all byte values, and the alphabet's ends
    std::vector<uint8_t> all(256);
    for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
    CHECK(encode(all) == naive_encode(all));
    CHECK(encode(std::vector<uint8_t>{0xfb, 0xff}) == "+/8=");
    CHECK(encode(std::vector<uint8_t>{0, 0, 0}) == "AAAA");
    CHECK(encode(std::vector<uint8_t>{0xff, 0xff, 0xff}) == "////");
}

void test_round_trips() {
    Rng rng{0x1234567887654321ULL};
    for (int round = 0; round < 3; ++round) {
        for (std::size_t n = 0; n <= 1000; ++n) {
            std::vector<uint8_t> buf(n);
            for (auto& b : buf) b = static_cast<uint8_t>(rng.next() >> 24);
            const std::string text = encode(buf);
            CHECK_MSG(text.size() == base64_encoded_size(n), "size %zu", n);
            CHECK_MSG(text == naive_encode(buf), "encode n=%zu", n);
            std::unique_ptr<char[]> src(new char[text.size() + 1]);
            std::memcpy(src.get(), text.data(), text.size());
            CHECK_MSG(base64_decoded_size(src.get(), text.size()) == n, "decoded size n=%zu", n);
            const Decoded d = decode(text);
            CHECK_MSG(d.result == SIZE_MAX && d.bytes == buf, "decode n=%zu", n);
        }
    }
    // the encoder writes exactly base64_encoded_size bytes (canaries around dst)
    for (std::size_t n = 0; n <= 40; ++n) {
        std::vector<uint8_t> in(n, 0xa5);
        std::string out(base64_encoded_size(n) + 16, '#');
        base64_encode(in.data(), n, &out[8]);
        CHECK_MSG(out.compare(0, 8, "########") == 0 && out.compare(out.size() - 8, 8, "########") == 0, "n=%zu", n);
    }
}

void test_decoded_size() {
    CHECK(base64_decoded_size("", 0) == 0);
    CHECK(base64_decoded_size("A", 1) == SIZE_MAX);
    CHECK(base64_decoded_size("AB", 2) == SIZE_MAX);
    CHECK(base64_decoded_size("ABC", 3) == SIZE_MAX);
    CHECK(base64_decoded_size("ABCDE", 5) == SIZE_MAX);
    CHECK(base64_decoded_size("ABCD", 4) == 3);
    CHECK(base64_decoded_size("ABC=", 4) == 2);
    CHECK(base64_decoded_size("AB==", 4) == 1);
    CHECK(base64_decoded_size("A===", 4) == 1);   // malformed; decode reports it
    CHECK(base64_decoded_size("AB=C", 4) == 3);   // malformed; decode reports it
    CHECK(base64_decoded_size("ABCDAB==", 8) == 4);
}

void test_rejections() {
    // wrong lengths: the index is len
    for (const char* s : {"A", "AB", "ABC", "ABCDE", "Zm9vYg=", "Zm9vY"}) {
        const Decoded d = decode(s);
        CHECK_MSG(d.result == std::strlen(s), "'%s' -> %zu", s, d.result);
    }
    // every byte that is not in the alphabet, at every position of a long text
    // (body quanta decoded two at a time, one at a time, and the last quantum)
    const std::string good = encode(std::string("The quick brown fox jumps over the lazy dog!!"));  // 60 chars, no '='
    CHECK(good.size() == 60 && good.find('=') == std::string::npos);
    for (int c = 0; c < 256; ++c) {
        const bool in_alpha = std::strchr(kAlpha, c) != nullptr && c != 0;
        if (in_alpha) continue;
        for (std::size_t pos = 0; pos < good.size(); ++pos) {
            if (c == '=' && pos >= good.size() - 2) continue;  // that would be padding (tested below)
            std::string t = good;
            t[pos] = static_cast<char>(c);
            const Decoded d = decode(t);
            CHECK_MSG(d.result == pos, "char %d at %zu -> %zu", c, pos, d.result);
        }
    }
    // two bad chars: the first one is reported
    {
        std::string t = good;
        t[13] = '-';
        t[41] = '_';
        CHECK(decode(t).result == 13);
        t[13] = 'A';
        CHECK(decode(t).result == 41);
    }
    // '=' in the wrong places
    struct Case { const char* text; std::size_t index; };
    const Case cases[] = {
        {"====", 0}, {"A===", 1}, {"=AAA", 0}, {"A=AA", 1}, {"AA=A", 2}, {"AB=C", 2}, {"=B==", 0},
        {"AB==AAAA", 2}, {"ABC=AAAA", 3}, {"AAAA=AAA", 4}, {"AAAAAAAA====", 8}, {"AAAAAAAAA===", 9},
        {"Zg==Zg==", 2}, {"Zm8=Zm8=", 3},
        // whitespace, line breaks, URL-safe alphabet: rejected
        {"Zm9v Zm9v", 9}, {"Zm9v\nZm9v", 9}, {"Zm9v\r\nZm9v", 10}, {"Zm9vZm9 ", 7}, {" m9vZm9v", 0},
        {"Zm9vZm9-", 7}, {"Zm9vZm9_", 7}, {"Zg=\n", 2}, {"Zg= ", 2},
        // non-zero bits under the padding
        {"QR==", 1}, {"QQ==", SIZE_MAX}, {"QUJ=", 2}, {"QUI=", SIZE_MAX}, {"Zh==", 1}, {"Zm9=", 2},
        {"AAAAQR==", 5}, {"AAAAQUJ=", 6},
    };
    for (const Case& c : cases) {
        const Decoded d = decode(c.text);
        CHECK_MSG(d.result == c.index, "'%s' -> %zu, want %zu", c.text, d.result, c.index);
    }
    // a NUL byte inside the text
    {
        const std::string t("Zm9v\0m9v", 8);
        CHECK(decode(t).result == 4);
    }
    // every final quantum "xy==" and "xyz=": accepted exactly when canonical, and then
    // it is the encoding of the decoded bytes
    uint64_t accepted2 = 0, accepted3 = 0;
    for (int a = 0; a < 64; ++a) {
        for (int b = 0; b < 64; ++b) {
            const std::string t = std::string{kAlpha[a], kAlpha[b]} + "==";
            const Decoded d = decode(t);
            const bool canonical = (b & 15) == 0;
            CHECK_MSG((d.result == SIZE_MAX) == canonical, "%s", t.c_str());
            if (!canonical) CHECK_MSG(d.result == 1, "%s", t.c_str());
            if (d.result == SIZE_MAX) { ++accepted2; CHECK(encode(d.bytes) == t); }
            for (int c = 0; c < 64; ++c) {
                const std::string u = std::string{kAlpha[a], kAlpha[b], kAlpha[c]} + "=";
                const Decoded e = decode(u);
                const bool canon3 = (c & 3) == 0;
                if ((e.result == SIZE_MAX) != canon3 || (!canon3 && e.result != 2)) CHECK_MSG(false, "%s", u.c_str());
                if (e.result == SIZE_MAX) {
                    ++accepted3;
                    if (encode(e.bytes) != u) CHECK_MSG(false, "%s", u.c_str());
                }
            }
        }
    }
    CHECK(accepted2 == 256);
    CHECK(accepted3 == 65536);
}

bool in_alphabet(int c) { return c != 0 && std::strchr(kAlpha, c) != nullptr; }

// Both decoders on one text: same result, and on success the same bytes. Returns the result.
std::size_t decode_both(const std::string& text, const char* what, std::size_t pos) {
    const Decoded a = decode(text);
    const Decoded b = decode(text, detail::base64_decode_scalar);
    CHECK_MSG(a.result == b.result, "%s len=%zu pos=%zu: dispatched %zu, scalar %zu", what, text.size(), pos,
              a.result, b.result);
    if (a.result == SIZE_MAX && b.result == SIZE_MAX)
        CHECK_MSG(a.bytes == b.bytes, "%s len=%zu pos=%zu: different bytes", what, text.size(), pos);
    return b.result;
}

std::vector<uint8_t> random_bytes(Rng& rng, std::size_t n) {
    std::vector<uint8_t> buf(n);
    for (auto& b : buf) b = static_cast<uint8_t>(rng.next() >> 24);
    return buf;
}

void test_paths_agree_random() {
    std::printf("test_base64: dispatched code is %s\n", detail::base64_simd_enabled() ? "AVX2" : "the portable code");
    Rng rng{0x9e3779b97f4a7c15ULL};
    for (std::size_t n = 0; n <= 2000; ++n) {
        const std::vector<uint8_t> buf = random_bytes(rng, n);
        const std::string text = encode(buf);
        CHECK_MSG(text == encode(buf, detail::base64_encode_scalar), "encode n=%zu", n);
        CHECK_MSG(text == naive_encode(buf), "encode n=%zu", n);
        const Decoded a = decode(text);
        const Decoded b = decode(text, detail::base64_decode_scalar);
        CHECK_MSG(a.result == SIZE_MAX && b.result == SIZE_MAX && a.bytes == buf && b.bytes == buf, "decode n=%zu", n);
    }
    // random lengths, and bytes drawn from a few values (long runs, all-zero, all-0xff)
    for (int round = 0; round < 300; ++round) {
        const std::size_t n = rng.next() % 2001;
        std::vector<uint8_t> buf = random_bytes(rng, n);
        const uint8_t pick[4] = {0x00, 0xff, 0xfb, 0x3e};
        for (auto& b : buf) b = pick[b & (round % 4 == 0 ? 3 : 0)];
        const std::string text = encode(buf);
        CHECK_MSG(text == encode(buf, detail::base64_encode_scalar) && text == naive_encode(buf), "encode n=%zu", n);
        CHECK_MSG(decode_both(text, "runs", 0) == SIZE_MAX && decode(text).bytes == buf, "decode n=%zu", n);
    }
    // both encoders write exactly base64_encoded_size bytes (canaries around dst)
    for (EncodeFn fn : {EncodeFn{base64_encode}, EncodeFn{detail::base64_encode_scalar}}) {
        for (std::size_t n = 0; n <= 200; ++n) {
            std::vector<uint8_t> in = random_bytes(rng, n);
            std::string out(base64_encoded_size(n) + 64, '#');
            fn(in.data(), n, &out[32]);
            CHECK_MSG(out.compare(0, 32, std::string(32, '#')) == 0 &&
                          out.compare(out.size() - 32, 32, std::string(32, '#')) == 0,
                      "n=%zu", n);
            CHECK_MSG(out.substr(32, base64_encoded_size(n)) == naive_encode(in), "n=%zu", n);
        }
    }
}

// Every byte value at every position of texts of many lengths (the vector loop, where
// there is one, covers the start of the body, the portable code the rest): both
// decoders return the same index, the position itself for a char outside the alphabet.
void test_paths_agree_corruptions() {
    Rng rng{77};
    const std::size_t lengths[] = {0,  1,  2,  3,  4,  5,  30, 31, 32, 33, 34, 35, 36, 37, 38, 47, 48, 49,
                                   50, 51, 52, 53, 54, 71, 72, 73, 95, 96, 97, 98, 120, 121, 122, 150, 151, 152};
    for (std::size_t n : lengths) {
        const std::string good = encode(random_bytes(rng, n));
        for (std::size_t pos = 0; pos < good.size(); ++pos) {
            for (int c = 0; c < 256; ++c) {
                std::string t = good;
                t[pos] = static_cast<char>(c);
                const std::size_t r = decode_both(t, "one char", pos);
                if (!in_alphabet(c) && (c != '=' || pos + 2 < t.size()) && good.find('=') >= pos)
                    CHECK_MSG(r == pos, "n=%zu char %d at %zu -> %zu", n, c, pos, r);
                if (r != SIZE_MAX) CHECK_MSG(r <= pos, "n=%zu char %d at %zu -> %zu", n, c, pos, r);
            }
        }
        // '=' and "==" everywhere, with and without padding at the end
        for (std::size_t pos = 0; pos + 1 < good.size(); ++pos) {
            std::string t = good;
            t[pos] = '=';
            t[pos + 1] = '=';
            decode_both(t, "==", pos);
            t = good;
            t[pos] = '=';
            t.back() = '=';
            decode_both(t, "= and a final =", pos);
            if (good.size() >= 2) t[t.size() - 2] = '=';
            decode_both(t, "= and a final ==", pos);
        }
        // two random bad chars: the first one is reported
        for (int k = 0; k < 50 && good.size() >= 2; ++k) {
            std::size_t p1 = rng.next() % good.size(), p2 = rng.next() % good.size();
            if (p1 == p2) continue;
            if (p1 > p2) std::swap(p1, p2);
            std::string t = good;
            t[p1] = static_cast<char>(0x80 | (rng.next() & 0x7f));
            t[p2] = " \n-_.*\t"[rng.next() % 7];
            CHECK_MSG(decode_both(t, "two", p1) == p1, "n=%zu %zu %zu", n, p1, p2);
        }
    }
    // the final quantum after a body long enough for the vector loop: accepted exactly
    // when canonical, the same index from both decoders otherwise
    const std::string prefix = encode(random_bytes(rng, 60));  // 80 chars
    for (int a = 0; a < 64; ++a) {
        for (int b = 0; b < 64; ++b) {
            const std::string t = prefix + std::string{kAlpha[a], kAlpha[b]} + "==";
            const std::size_t r = decode_both(t, "xy==", 0);
            CHECK_MSG(r == ((b & 15) == 0 ? SIZE_MAX : prefix.size() + 1), "%s", t.c_str() + prefix.size());
            for (int c = 0; c < 64; c += 1 + (a + b) % 3) {
                const std::string u = prefix + std::string{kAlpha[a], kAlpha[b], kAlpha[c]} + "=";
                const std::size_t e = decode_both(u, "xyz=", 0);
                const std::size_t want = (c & 3) == 0 ? SIZE_MAX : prefix.size() + 2;
                if (e != want) CHECK_MSG(false, "%s", u.c_str() + prefix.size());
            }
        }
    }
}

// A few MB: round trips through both paths, and corruptions at the start, the end and
// around the 32-char steps of the vector loop.
void test_paths_agree_large() {
    Rng rng{2024};
    for (std::size_t n : {std::size_t{3} << 20, (std::size_t{3} << 20) + 1, (std::size_t{5} << 20) + 2}) {
        const std::vector<uint8_t> buf = random_bytes(rng, n);
        const std::string text = encode(buf);
        CHECK_MSG(text == encode(buf, detail::base64_encode_scalar), "encode n=%zu", n);
        const Decoded a = decode(text);
        CHECK_MSG(a.result == SIZE_MAX && a.bytes == buf, "decode n=%zu", n);
        const Decoded b = decode(text, detail::base64_decode_scalar);
        CHECK_MSG(b.result == SIZE_MAX && b.bytes == buf, "decode n=%zu", n);
        std::vector<std::size_t> positions = {0, 1, 31, 32, 33, 63, 64, 65, text.size() / 2, text.size() - 1,
                                              text.size() - 2, text.size() - 3, text.size() - 4, text.size() - 5,
                                              text.size() - 44, text.size() - 45, text.size() - 48, text.size() - 77};
        for (int k = 0; k < 6; ++k) positions.push_back(rng.next() % text.size());
        for (std::size_t pos : positions) {
            std::string t = text;
            t[pos] = '\n';
            const std::size_t want = std::min(pos, text.find('='));  // a '\n' after a '=' is not the first fault
            CHECK_MSG(decode_both(t, "large", pos) == want, "n=%zu pos=%zu", n, pos);
        }
    }
}

void bench() {
    // Informational only: the throughput on this machine.
    const std::size_t n = std::size_t{32} << 20;
    std::vector<uint8_t> buf(n);
    Rng rng{42};
    for (std::size_t i = 0; i < n; i += 8) {
        const uint64_t x = rng.next();
        std::memcpy(&buf[i], &x, 8);
    }
    std::string text(base64_encoded_size(n), '\0');
    std::vector<uint8_t> back(n);  // allocated and zeroed before timing
    auto t0 = std::chrono::steady_clock::now();
    base64_encode(buf.data(), n, &text[0]);
    auto t1 = std::chrono::steady_clock::now();
    CHECK(base64_decoded_size(text.data(), text.size()) == n);
    const std::size_t r = base64_decode(text.data(), text.size(), back.data());
    auto t2 = std::chrono::steady_clock::now();
    CHECK(r == SIZE_MAX && back == buf);
    const double enc = std::chrono::duration<double>(t1 - t0).count();
    const double dec = std::chrono::duration<double>(t2 - t1).count();
    std::printf("test_base64: encode %.0f MB/s, decode %.0f MB/s (of binary data, 32 MB)\n", n / enc / 1e6,
                n / dec / 1e6);
}

}  // namespace

int main() {
    test_rfc4648_vectors();
    test_round_trips();
    test_decoded_size();
    test_rejections();
    test_paths_agree_random();
    test_paths_agree_corruptions();
    test_paths_agree_large();
    bench();
    return milo_test::summary("test_base64");
}

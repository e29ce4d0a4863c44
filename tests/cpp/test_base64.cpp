// Unit tests of src/cpp/core/base64: RFC 4648 vectors, round trips against a naive
// reference encoder, every rejection with its index. Returns non-zero on failure.
#include "base64.hpp"

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
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

std::string encode(const std::vector<uint8_t>& in) {
    std::string out(base64_encoded_size(in.size()), '\0');
    base64_encode(in.data(), in.size(), out.empty() ? nullptr : &out[0]);
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
Decoded decode(const std::string& text) {
    Decoded r;
    std::unique_ptr<char[]> src(new char[text.size() + 1]);
    std::memcpy(src.get(), text.data(), text.size());
    const std::size_t n = base64_decoded_size(src.get(), text.size());
    if (n == SIZE_MAX) {
        // the caller never decodes then; still check what decode says about it
        r.result = base64_decode(src.get(), text.size(), nullptr);
        return r;
    }
    std::unique_ptr<uint8_t[]> dst(new uint8_t[n]);  // exact size: ASan catches any overrun
    r.result = base64_decode(src.get(), text.size(), dst.get());
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
    auto t0 = std::chrono::steady_clock::now();
    base64_encode(buf.data(), n, &text[0]);
    auto t1 = std::chrono::steady_clock::now();
    std::vector<uint8_t> back(base64_decoded_size(text.data(), text.size()));
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
    bench();
    return milo_test::summary("test_base64");
}

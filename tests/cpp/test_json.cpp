// Unit tests of the JSON reader and array writer (src/cpp/core/json_reader, json_writer), no Python.
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "json_reader.hpp"
#include "json_writer.hpp"
#include "test_util.hpp"

using namespace milo;

namespace {

struct Parsed {
    Document doc;
    ParseError err;
};

Parsed parse(const std::string& s, int threads = 1) {
    Parsed p;
    Limits lim;
    if (threads > 1) {
        p.err = parse_and_decode(s.data(), s.size(), lim, p.doc, threads);
        return p;
    }
    p.err = parse_document(s.data(), s.size(), lim, p.doc);
    if (p.err.ok) p.err = decode_arrays(s.data(), s.size(), p.doc);
    return p;
}

bool fails_at(const std::string& s, uint64_t offset) {
    Parsed p = parse(s);
    return !p.err.ok && p.err.offset == offset;
}

ArrayView view_f64(const std::vector<double>& v) {
    ArrayView a;
    a.data = reinterpret_cast<const uint8_t*>(v.data());
    a.shape = {static_cast<int64_t>(v.size())};
    a.strides = {8};
    a.layout.itemsize = 8;
    Field f; f.kind = ElemKind::F64;
    a.layout.fields = {f};
    return a;
}

std::string envelope(const std::string& list, const std::string& dtype, const std::string& shape) {
    return "{\"pymiloed-ndarray-list\":" + list + ",\"pymiloed-ndarray-dtype\":\"" + dtype +
           "\",\"pymiloed-ndarray-shape\":" + shape + "}";
}

void test_scalars() {
    Parsed p = parse("[1, -2, 1.5, true, false, null, \"a\\u00e9\\n\", NaN, -Infinity, 123456789012345678901234567890]");
    CHECK(p.err.ok);
    const Node& root = p.doc.nodes[p.doc.root];
    CHECK(root.type == NodeType::List && root.len == 10);
    auto child = [&](int i) -> const Node& { return p.doc.nodes[p.doc.children[root.a + i]]; };
    CHECK(child(0).type == NodeType::Int && static_cast<int64_t>(child(0).a) == 1);
    CHECK(child(1).type == NodeType::Int && static_cast<int64_t>(child(1).a) == -2);
    CHECK(child(2).type == NodeType::Float);
    CHECK(child(3).type == NodeType::True && child(4).type == NodeType::False && child(5).type == NodeType::Null);
    CHECK(child(6).type == NodeType::String && child(6).len == 4);
    CHECK(std::memcmp(p.doc.strings.data() + child(6).a, "a\xc3\xa9\n", 4) == 0);
    double d; std::memcpy(&d, &child(7).a, 8); CHECK(std::isnan(d));
    std::memcpy(&d, &child(8).a, 8); CHECK(std::isinf(d) && d < 0);
    CHECK(child(9).type == NodeType::BigInt && child(9).len == 30);
}

void test_malformed_offsets() {
    CHECK(fails_at("[1,2", 4));
    CHECK(fails_at("[1,,2]", 3));
    CHECK(fails_at("{\"a\" 1}", 5));
    CHECK(fails_at("[01]", 2));        // leading zero: the number ends after 0, then ',' or ']' is expected
    CHECK(fails_at("[1] x", 4));
    CHECK(fails_at("\"abc", 4));
    CHECK(fails_at("[\"a\x01\"]", 3));
    CHECK(fails_at("[tru]", 1));
    CHECK(fails_at("[1e400]", 1));     // beyond float64
    CHECK(fails_at("", 0));
    std::string deep(600, '[');
    CHECK(!parse(deep).err.ok);
}

void test_text_arrays() {
    Parsed p = parse(envelope("[[1,2,3],[4,5,6]]", "int32", "[2,3]"));
    CHECK(p.err.ok);
    CHECK(p.doc.arrays.size() == 1);
    const ArrayJob& j = p.doc.arrays[0];
    int32_t v[6]; std::memcpy(v, j.data.get(), 24);
    CHECK(v[0] == 1 && v[5] == 6);
    // keys in another order
    Parsed q = parse("{\"pymiloed-ndarray-shape\":[2],\"pymiloed-ndarray-dtype\":\"float32\",\"pymiloed-ndarray-list\":[0.1,NaN]}");
    CHECK(q.err.ok && q.doc.arrays.size() == 1);
    float f[2]; std::memcpy(f, q.doc.arrays[0].data.get(), 8);
    CHECK(f[0] == 0.1f && std::isnan(f[1]));
    // shape mismatches and bad values
    CHECK(!parse(envelope("[1,2]", "int64", "[3]")).err.ok);
    CHECK(!parse(envelope("[1,2,3,4]", "int64", "[3]")).err.ok);
    CHECK(!parse(envelope("[1.5]", "int64", "[1]")).err.ok);
    CHECK(!parse(envelope("[256]", "uint8", "[1]")).err.ok);
    CHECK(!parse(envelope("[-1]", "uint8", "[1]")).err.ok);
    CHECK(!parse(envelope("[1]", "bool", "[1]")).err.ok);
    CHECK(parse(envelope("[true]", "bool", "[1]")).err.ok);
    // a huge declared shape is refused before any allocation
    Parsed h = parse(envelope("[1]", "float64", "[1000000000000]"));
    CHECK(!h.err.ok && h.doc.arrays.empty());
    // unknown dtype: left as an ordinary object
    Parsed u = parse(envelope("[\"a\"]", "<U1", "[1]"));
    CHECK(u.err.ok && u.doc.arrays.empty() && u.doc.nodes[u.doc.root].type == NodeType::Object);
}

void test_base64_arrays() {
    // 1.0, 2.0 as little-endian float64
    Parsed p = parse("{\"milo-ndarray-b64\":\"AAAAAAAA8D8AAAAAAAAAQA==\",\"milo-ndarray-dtype\":\"float64\",\"milo-ndarray-shape\":[2]}");
    CHECK(p.err.ok && p.doc.arrays.size() == 1);
    double d[2]; std::memcpy(d, p.doc.arrays[0].data.get(), 16);
    CHECK(d[0] == 1.0 && d[1] == 2.0);
    CHECK(!parse("{\"milo-ndarray-b64\":\"AAAA\",\"milo-ndarray-dtype\":\"float64\",\"milo-ndarray-shape\":[1]}").err.ok);
    CHECK(!parse("{\"milo-ndarray-b64\":\"AAAAAAAA8D8=\",\"milo-ndarray-dtype\":\"object\",\"milo-ndarray-shape\":[1]}").err.ok);
    CHECK(!parse("{\"milo-ndarray-b64\":\"Ag==\",\"milo-ndarray-dtype\":\"bool\",\"milo-ndarray-shape\":[1]}").err.ok);
}

void test_writer_roundtrip_and_pieces() {
    // A large array goes through the threaded writer and the piecewise reader; both must be exact.
    std::vector<double> v(300000);
    uint64_t x = 88172645463325252ull;
    for (auto& e : v) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        uint64_t b = x;
        std::memcpy(&e, &b, 8);
        if (std::isnan(e)) e = 0.5;  // non-canonical NaNs are not text (the caller uses base64 for them)
    }
    ArrayView a = view_f64(v);
    OutBuf lb;
    CHECK(write_array_text(lb, a, false, -1, 0));
    const std::string list(lb.data(), lb.size());
    for (int threads : {1, 2, 4}) {
        Parsed p = parse(envelope(list, "float64", "[300000]"), threads);
        CHECK_MSG(p.err.ok, "threads=%d: %s", threads, p.err.message.c_str());
        if (!p.err.ok) continue;
        CHECK(p.doc.arrays[0].splits.size() > 0);
        CHECK(std::memcmp(p.doc.arrays[0].data.get(), v.data(), v.size() * 8) == 0);
    }
    // A malformed number deep inside a large list is reported at its offset, whichever piece holds it.
    std::string broken = list;
    std::size_t at = broken.size() * 3 / 4;
    while (broken[at] != ',') ++at;
    broken.insert(at + 1, "x");
    std::string doc = envelope(broken, "float64", "[300000]");
    Parsed p = parse(doc, 2);
    CHECK(!p.err.ok && p.err.offset == std::strlen("{\"pymiloed-ndarray-list\":") + at + 1);
    // base64 of the same array, decoded in 1 MiB pieces
    OutBuf bb;
    write_array_base64(bb, a);
    const std::string b64(bb.data(), bb.size());
    Parsed q = parse("{\"milo-ndarray-b64\":" + b64 + ",\"milo-ndarray-dtype\":\"float64\",\"milo-ndarray-shape\":[300000]}", 2);
    CHECK(q.err.ok && std::memcmp(q.doc.arrays[0].data.get(), v.data(), v.size() * 8) == 0);
}

void test_path() {
    std::string s = "{\"a\": [1, {\"b c\": [true, oops]}]}";
    Parsed p = parse(s);
    CHECK(!p.err.ok);
    std::string path = json_path_at(s.data(), s.size(), p.err.offset);
    CHECK_MSG(path == "$.a[1][\"b c\"][1]", "path %s", path.c_str());
}


// Text arrays whose dtype is given as raw JSON (a structured dtype object, or a quoted name).
std::string envelope_raw(const std::string& list, const std::string& dtype, const std::string& shape) {
    return "{\"pymiloed-ndarray-list\":" + list + ",\"pymiloed-ndarray-dtype\":" + dtype + ",\"pymiloed-ndarray-shape\":" + shape + "}";
}

const char kNodeDtype[] =
    "{\"names\":[\"l\",\"r\",\"f\",\"t\",\"i\",\"n\",\"w\",\"m\"],\"formats\":[\"<i8\",\"<i8\",\"<i8\",\"<f8\",\"<f8\",\"<i8\",\"<f8\",\"|u1\"],"
    "\"offsets\":[0,8,16,24,32,40,48,56],\"itemsize\":64}";

// Error offsets and messages of the array reader, whitespace or not around values and separators (the
// reader tries values and separators right at the cursor first). Offsets are within the list text.
void test_text_array_errors() {
    struct Case { const char* list; const char* dtype; const char* shape; long off; const char* msg; };
    const std::string node = kNodeDtype;
    const Case cases[] = {
        {"[[1,2,3,0.5,0.25,4,5.0,0],[-1,-1,-2,-2.0,0.0,3,3.0,1]]", nullptr, "[2]", -1, ""},
        {"[ [ 1 , 2,3,0.5,\n0.25,4,5.0,0 ] ,\n [-1,-1,-2,-2.0,0.0,3,3.0,1]\t]", nullptr, "[2]", -1, ""},
        {"[[1,2,3,0.5,0.25,4,5.0],[-1,-1,-2,-2.0,0.0,3,3.0,1]]", nullptr, "[2]", 22, "expected ',' : a structured row has 8 fields"},
        {"[[1,2,3,0.5,0.25,4,5.0,0,9],[-1,-1,-2,-2.0,0.0,3,3.0,1]]", nullptr, "[2]", 24, "expected ']' : a structured row has 8 fields"},
        {"[[1,2,3,0.5,0.25,4,5.0,0 ,9],[-1,-1,-2,-2.0,0.0,3,3.0,1]]", nullptr, "[2]", 25, "expected ']' : a structured row has 8 fields"},
        {"[[1,2,3,0.5,0.25,4,5.0,0],[-1,-1,-2,-2.0,0.0,3,3.0,256]]", nullptr, "[2]", 51, "integer out of range for uint8"},
        {"[[1,2,3,0.5,0.25,4,5.0,0],[-1,-1, x,-2.0,0.0,3,3.0,1]]", nullptr, "[2]", 34, "expected an integer"},
        {"[[1,2,3,0.5,0.25,4,5.0,0],[-1,-1,-2, 1e999,0.0,3,3.0,1]]", nullptr, "[2]", 37, "malformed or out-of-range number in a float64 array"},
        {"[[1,2,3,0.5,0.25,4,5.0,0],[-1,-1,-2 -2.0,0.0,3,3.0,1]]", nullptr, "[2]", 36, "expected ',' : a structured row has 8 fields"},
        {"[[1,2,3,0.5,0.25,4,5.0,0],[-1,-1,-2,\"NaN\",-Infinity,3,3.0,1]]", nullptr, "[2]", -1, ""},
        {"[[1,2,3,0.5,0.25,4,5.0,0],[-1,-1,2.5,-2.0,0.0,3,3.0,1]]", nullptr, "[2]", 33, "expected an integer, found a number with a fraction or exponent"},
        {"[[[0.5,0.5]],[[0.25 ,0.75]]]", "\"float64\"", "[2,1,2]", -1, ""},
        {"[[[0.5,0.5]],[[0.25 0.75]]]", "\"float64\"", "[2,1,2]", 20, "expected ',' : dimension 2 has fewer than 2 items"},
        {"[[[0.5,0.5]],[[0.25,0.75,1]]]", "\"float64\"", "[2,1,2]", 24, "expected ']' : dimension 2 has more than 2 items"},
        {"[[[0.5,0.5]],[0.25,0.75]]", "\"float64\"", "[2,1,2]", 14, "expected '[' for dimension 2 of shape"},
        {"[[[0.5,0.5]] [[0.25,0.75]]]", "\"float64\"", "[2,1,2]", 13, "expected ',' : dimension 0 has fewer than 2 items"},
        {"[[[0.5,0.5]],[[0.25, \"Nan\"]]]", "\"float64\"", "[2,1,2]", 21, "expected a number in a float array"},
        {"[1,  x]", "\"int64\"", "[2]", 5, "expected an integer"},
        {"[1,\n-]", "\"int64\"", "[2]", 4, "expected an integer"},
        {"[1234567,12345678,-123456789012345678,9223372036854775807]", "\"int64\"", "[4]", -1, ""},
        {"[1, 9223372036854775808]", "\"int64\"", "[2]", 4, "integer out of range for int64"},
        {"[-0, 0 ,255]", "\"uint8\"", "[3]", -1, ""},
        {"[-1]", "\"uint16\"", "[1]", 1, "negative integer in an unsigned array"},
        {"[18446744073709551615, 18446744073709551616]", "\"uint64\"", "[2]", 23, "integer out of range for uint64"},
        {"[ 00]", "\"int32\"", "[1]", 3, "expected ']' : dimension 0 has more than 1 items"},
        {"[1, 2.0]", "\"int32\"", "[2]", 4, "expected an integer, found a number with a fraction or exponent"},
        {"[1, -2, 2147483648]", "\">i4\"", "[3]", 8, "integer out of range for int32"},
        {"[ true ,false]", "\"bool\"", "[2]", -1, ""},
        {"[ true ,fals]", "\"bool\"", "[2]", 8, "expected true or false in a bool array"},
        {" 7 ", "\"int16\"", "[]", -1, ""},
        {"[[],[ ]]", "\"int8\"", "[2,0]", -1, ""},
        {"[[[],[]],[[], []]]", "\"int8\"", "[2,2,0]", -1, ""},
        {"[[],[]]", "\"int8\"", "[2,0,3]", -1, ""},
        {"[[[]],[]]", "\"int8\"", "[2,1,0]", 7, "expected '[' for dimension 2 of shape"},
        {"[[[]],[[] ,[]]]", "\"int8\"", "[2,1,0]", 10, "expected ']' : dimension 1 has more than 1 items"},
        {"[[[1,2]],[[3,4]],[[5,6]]]", "\"int8\"", "[2,1,2]", 16, "expected ']' : dimension 0 has more than 2 items"},
        {"[[[1,2]],[[3,4],[5,6]]]", "\"int8\"", "[2,1,2]", 15, "expected ']' : dimension 1 has more than 1 items"},
        {"[[[[1],[2]]],[[[3],[4]]]]", "\"int8\"", "[2,1,2,1]", -1, ""},
        {"[[[[1],[2]]],[[[3],[4] ]  x]]", "\"int8\"", "[2,1,2,1]", 26, "expected ']' : dimension 1 has more than 1 items"},
    };
    const uint64_t at0 = std::strlen("{\"pymiloed-ndarray-list\":");
    for (const Case& c : cases) {
        Parsed p = parse(envelope_raw(c.list, c.dtype ? c.dtype : node, c.shape));
        if (c.off < 0) {
            CHECK_MSG(p.err.ok, "%s: %s", c.list, p.err.message.c_str());
        } else {
            CHECK_MSG(!p.err.ok && p.err.offset == at0 + static_cast<uint64_t>(c.off) && p.err.message == c.msg,
                      "%s: %s at %llu", c.list, p.err.message.c_str(), static_cast<unsigned long long>(p.err.offset - at0));
        }
    }
}

template <class T>
T load_at(const uint8_t* p) { T v; std::memcpy(&v, p, sizeof v); return v; }

// n-d arrays walk their sub-lists without recursion: every value lands at its place.
void test_nd_values() {
    Parsed p = parse(envelope("[[[[1],[2]],[[3],[4]],[[5] , [6]]],[[[7],[8]],[[9],[10]],[[11],[12]]]]", "int16", "[2,3,2,1]"));
    CHECK(p.err.ok);
    if (p.err.ok) {
        int16_t v[12];
        std::memcpy(v, p.doc.arrays[0].data.get(), sizeof v);
        for (int i = 0; i < 12; ++i) CHECK(v[i] == i + 1);
    }
}

// Structured rows: every field in place, padding bytes zero, big-endian fields in their order.
void test_structured_rows() {
    Parsed p = parse(envelope_raw("[ [ 1 , 2,3,0.5,\n0.25,4,5.0,0 ] ,\n [-1,-1,-2,\"NaN\",-Infinity,3,3.0,1]\t]", kNodeDtype, "[2]"));
    CHECK(p.err.ok);
    if (p.err.ok) {
        const uint8_t* r = p.doc.arrays[0].data.get() + 64;
        CHECK(load_at<int64_t>(r) == -1 && load_at<int64_t>(r + 8) == -1 && load_at<int64_t>(r + 16) == -2);
        CHECK(std::isnan(load_at<double>(r + 24)) && load_at<double>(r + 32) == -INFINITY);
        CHECK(load_at<int64_t>(r + 40) == 3 && load_at<double>(r + 48) == 3.0 && r[56] == 1);
        for (int k = 57; k < 64; ++k) CHECK(r[k] == 0 && r[k - 64] == 0);
    }
    // fields out of offset order, gaps between them, big-endian fields
    const std::string dt = "{\"names\":[\"a\",\"b\",\"c\"],\"formats\":[\"<f8\",\">i2\",\"|u1\"],\"offsets\":[8,2,20],\"itemsize\":24}";
    Parsed q = parse(envelope_raw("[[1.5,-2,7],[ -0.0 , 258 , 255 ]]", dt, "[2]"));
    CHECK(q.err.ok);
    if (q.err.ok) {
        const uint8_t* r = q.doc.arrays[0].data.get();
        const uint8_t want0[24] = {0, 0, 0xFF, 0xFE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0, 0, 0, 0, 7, 0, 0, 0};
        const uint8_t want1[24] = {0, 0, 0x01, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 255, 0, 0, 0};
        CHECK(std::memcmp(r, want0, 24) == 0 && std::memcmp(r + 24, want1, 24) == 0);
    }
    // an item narrower than 8 bytes with padding
    const std::string tiny = "{\"names\":[\"a\",\"b\"],\"formats\":[\"|u1\",\"<i2\"],\"offsets\":[0,2],\"itemsize\":5}";
    Parsed t = parse(envelope_raw("[[1,-1],[2,3]]", tiny, "[2]"));
    CHECK(t.err.ok);
    if (t.err.ok) {
        const uint8_t want[10] = {1, 0, 0xFF, 0xFF, 0, 2, 0, 3, 0, 0};
        CHECK(std::memcmp(t.doc.arrays[0].data.get(), want, 10) == 0);
    }
}

// Big-endian simple arrays are read little-endian and turned around afterwards, piece by piece in a large one.
void test_big_endian_arrays() {
    Parsed p = parse(envelope("[1, -2, NaN, -Infinity]", ">f8", "[4]"));
    CHECK(p.err.ok);
    if (p.err.ok) {
        const uint8_t* b = p.doc.arrays[0].data.get();
        const uint8_t want[32] = {0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0,
                                  0x7F, 0xF8, 0, 0, 0, 0, 0, 0, 0xFF, 0xF0, 0, 0, 0, 0, 0, 0};
        CHECK(std::memcmp(b, want, 32) == 0);
    }
    std::string list = "[";
    const int n = 70000;
    for (int i = 0; i < n; ++i) list += (i ? "," : "") + std::to_string(int64_t{i} * 1000003 - 35000000000LL);
    list += "]";
    for (int threads : {1, 2}) {
        Parsed q = parse(envelope(list, ">i8", "[" + std::to_string(n) + "]"), threads);
        CHECK_MSG(q.err.ok, "threads=%d: %s", threads, q.err.message.c_str());
        if (!q.err.ok) continue;
        CHECK(!q.doc.arrays[0].splits.empty());
        bool same = true;
        for (int i = 0; i < n; ++i)
            same &= load_at<uint64_t>(q.doc.arrays[0].data.get() + 8 * i) == __builtin_bswap64(static_cast<uint64_t>(int64_t{i} * 1000003 - 35000000000LL));
        CHECK_MSG(same, "threads=%d", threads);
    }
}

// A large table of structured rows is read in pieces: the same bytes, and a broken row deep inside is
// reported at the same offset with the same message, whatever the number of threads.
void test_structured_rows_in_pieces() {
    const int n = 12000;
    std::string list = "[";
    for (int i = 0; i < n; ++i) {
        if (i) list += i % 7 ? "," : " ,\n ";
        list += "[" + std::to_string(i + 1) + "," + std::to_string(2 * i) + ",3,0." + std::to_string(i) + ",0.25," +
                std::to_string(i * 37) + "," + std::to_string(i) + ".0," + std::to_string(i % 2) + "]";
    }
    list += "]";
    const std::string doc = envelope_raw(list, kNodeDtype, "[" + std::to_string(n) + "]");
    for (int threads : {1, 2}) {
        Parsed p = parse(doc, threads);
        CHECK_MSG(p.err.ok, "threads=%d: %s", threads, p.err.message.c_str());
        if (!p.err.ok) continue;
        CHECK(!p.doc.arrays[0].splits.empty());
        bool same = true;
        for (int i = 0; i < n; ++i) {
            const uint8_t* r = p.doc.arrays[0].data.get() + 64 * i;
            same &= load_at<int64_t>(r) == i + 1 && load_at<int64_t>(r + 8) == 2 * i && load_at<int64_t>(r + 40) == i * 37 &&
                    load_at<double>(r + 48) == i && r[56] == i % 2 && r[63] == 0;
        }
        CHECK_MSG(same, "threads=%d", threads);
    }
    // drop the comma after a row's sixth field, three quarters of the way in
    std::size_t at = list.size() * 3 / 4;
    while (list[at] != '[') ++at;
    for (int k = 0; k < 6; ++k) at = list.find(',', at + 1);
    std::string broken = list;
    broken[at] = ' ';
    const uint64_t expect_at = std::strlen("{\"pymiloed-ndarray-list\":") + at + 1;
    for (int threads : {1, 2}) {
        Parsed p = parse(envelope_raw(broken, kNodeDtype, "[" + std::to_string(n) + "]"), threads);
        CHECK_MSG(!p.err.ok && p.err.offset == expect_at && p.err.message == "expected ',' : a structured row has 8 fields",
                  "threads=%d: %s at %llu", threads, p.err.message.c_str(), static_cast<unsigned long long>(p.err.offset));
    }
}
}  // namespace

// parse_and_decode (phase 2 running while phase 1 reads on) must give what the two phases give one after
// the other: the same arrays for a document of many envelopes, and the same error (offset and message)
// whichever array or structure is broken.
// {"a0": <envelope>, "a1": ...}: n float64 arrays of base + step * a random values each (xorshift from seed,
// over div), each envelope alone or (in_lists) inside a one-item list; the arrays in `want`.
std::string f64_document(int n, int base, int step, uint64_t seed, double div, bool in_lists,
                         std::vector<std::vector<double>>& want) {
    std::string doc = "{";
    uint64_t x = seed;
    for (int a = 0; a < n; ++a) {
        std::vector<double> v(static_cast<std::size_t>(base + step * a));
        for (auto& e : v) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            e = static_cast<double>(static_cast<int64_t>(x >> 11)) / div;
        }
        OutBuf lb;
        CHECK(write_array_text(lb, view_f64(v), false, -1, 0));
        if (a) doc += ",";
        const std::string env = envelope(std::string(lb.data(), lb.size()), "float64", "[" + std::to_string(v.size()) + "]");
        doc += "\"a" + std::to_string(a) + "\":" + (in_lists ? "[" + env + "]" : env);
        want.push_back(std::move(v));
    }
    return doc + "}";
}

// A decode of a document broken at byte `at` (set to c) on `threads` threads fails as one thread does.
void check_same_error(const ParseError& e, const ParseError& one, std::size_t at, char c, int threads) {
    CHECK_MSG(e.ok == one.ok && e.offset == one.offset && e.message == one.message,
              "byte %zu -> '%c', threads=%d: %s at %llu vs %s at %llu", at, c, threads, e.message.c_str(),
              static_cast<unsigned long long>(e.offset), one.message.c_str(), static_cast<unsigned long long>(one.offset));
}

void test_pipeline_matches_two_phases() {
    std::vector<std::vector<double>> want;
    const std::string doc = f64_document(60, 200, 97, 0x2545F4914F6CDD1DULL, 3.0, false, want);
    for (int threads : {2, 3, 8}) {
        Document d;
        Limits lim;
        ParseError e = parse_and_decode(doc.data(), doc.size(), lim, d, threads);
        CHECK_MSG(e.ok, "threads=%d: %s", threads, e.message.c_str());
        if (!e.ok) continue;
        CHECK(d.arrays.size() == want.size());
        for (std::size_t a = 0; a < want.size() && a < d.arrays.size(); ++a)
            CHECK(std::memcmp(d.arrays[a].data.get(), want[a].data(), want[a].size() * 8) == 0);
    }
    // Break the document in many places: a number, a bracket, a key; the error must not depend on threads.
    for (std::size_t at = 7; at < doc.size(); at += doc.size() / 41) {
        for (char c : {'x', ']', '"', ','}) {
            std::string bad = doc;
            bad[at] = c;
            Parsed one = parse(bad, 1);
            for (int threads : {2, 4}) {
                Document d;
                Limits lim;
                ParseError e = parse_and_decode(bad.data(), bad.size(), lim, d, threads);
                check_same_error(e, one.err, at, c, threads);
            }
        }
    }
}

// AsyncDecode (phase 2 going on after start() returns): wait_through(n) hands over exactly arrays [0, n)
// converted, in document order, whichever thread converted them; finish() then gives what parse_and_decode
// gives, arrays and errors alike, also after waits that stopped at a failure; abort() and destruction stop the
// workers at any point.
void test_async_decode_matches_parse_and_decode() {
    std::vector<std::vector<double>> want;
    const std::string doc = f64_document(40, 100, 211, 0x9E3779B97F4A7C15ULL, 7.0, true, want);
    for (int threads : {2, 3}) {
        Document d;
        Limits lim;
        AsyncDecode async;
        ParseError e = async.start(doc.data(), doc.size(), lim, d, threads);
        CHECK_MSG(e.ok, "threads=%d: %s", threads, e.message.c_str());
        CHECK(async.running() && d.arrays.size() == want.size());
        for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{25}, want.size()}) {
            CHECK(async.wait_through(n));
            for (std::size_t a = 0; a < n; ++a)
                CHECK(std::memcmp(d.arrays[a].data.get(), want[a].data(), want[a].size() * 8) == 0);
        }
        CHECK(!async.wait_through(want.size() + 1));  // beyond the document: refused, not a hang
        CHECK(async.finish().ok && !async.running());
    }
    for (std::size_t at = 11; at < doc.size(); at += doc.size() / 29) {
        for (char c : {'x', ']', '"'}) {
            std::string bad = doc;
            bad[at] = c;
            Parsed one = parse(bad, 1);
            for (std::size_t stop : {std::size_t{0}, std::size_t{5}, std::size_t{40}}) {
                Document d;
                Limits lim;
                AsyncDecode async;
                ParseError e = async.start(bad.data(), bad.size(), lim, d, 2);
                if (e.ok) {
                    const bool reached = async.wait_through(std::min(stop, d.arrays.size()));
                    e = async.finish();
                    CHECK(reached || !e.ok);  // a wait only stops short at a failure
                }
                CHECK_MSG(e.ok == one.err.ok && e.offset == one.err.offset && e.message == one.err.message,
                          "byte %zu -> '%c', waited for %zu: %s at %llu vs %s at %llu", at, c, stop, e.message.c_str(),
                          static_cast<unsigned long long>(e.offset), one.err.message.c_str(),
                          static_cast<unsigned long long>(one.err.offset));
            }
        }
    }
    for (int k = 0; k < 20; ++k) {  // dropped mid-way: the destructor stops and joins the workers
        Document d;
        Limits lim;
        AsyncDecode async;
        CHECK(async.start(doc.data(), doc.size(), lim, d, 2 + k % 3).ok);
        if (k % 2) CHECK(async.wait_through(static_cast<std::size_t>(k)));
        if (k % 4 == 3) async.abort();
    }
}

// Workers started lazily (parse_and_decode's threads 0 on a document of 1 MiB and more, AsyncDecode's lazy):
// once the arrays queued hold about a millisecond of work, or never, the calling thread then converting every
// array in wait_through and finish. Arrays and errors are still what one thread gives, the workers started
// mid-way through phase 1 (1.6 MB of text lists) or not at all (a few arrays).
void test_lazy_workers() {
    std::vector<std::vector<double>> big_want, small_want;
    const std::string big = f64_document(40, 1000, 50, 0xA0761D6478BD642FULL, 3.0, false, big_want);
    const std::string small = f64_document(6, 50, 10, 0xE7037ED1A0B428DBULL, 9.0, true, small_want);
    CHECK(big.size() > (std::size_t{1} << 20));
    auto same = [](const Document& d, const std::vector<std::vector<double>>& want) {
        CHECK(d.arrays.size() == want.size());
        for (std::size_t a = 0; a < want.size() && a < d.arrays.size(); ++a)
            CHECK(std::memcmp(d.arrays[a].data.get(), want[a].data(), want[a].size() * 8) == 0);
    };
    {
        Document d;
        Limits lim;
        ParseError e = parse_and_decode(big.data(), big.size(), lim, d, 0);
        CHECK_MSG(e.ok, "%s", e.message.c_str());
        if (e.ok) same(d, big_want);
    }
    for (const std::string* doc : {&big, &small}) {
        const auto& want = doc == &big ? big_want : small_want;
        Document d;
        Limits lim;
        AsyncDecode async;
        ParseError e = async.start(doc->data(), doc->size(), lim, d, 2, nullptr, true);
        CHECK_MSG(e.ok, "%s", e.message.c_str());
        CHECK(async.wait_through(want.size() / 2));
        CHECK(async.finish().ok);
        same(d, want);
    }
    for (std::size_t at = 9; at < big.size(); at += big.size() / 13) {
        std::string bad = big;
        bad[at] = 'x';
        Parsed one = parse(bad, 1);
        Document d;
        Limits lim;
        ParseError e = parse_and_decode(bad.data(), bad.size(), lim, d, 0);
        check_same_error(e, one.err, at, 'x', 0);
        Document d2;
        AsyncDecode async;
        e = async.start(bad.data(), bad.size(), lim, d2, 2, nullptr, true);
        if (e.ok) e = async.finish();
        check_same_error(e, one.err, at, 'x', 2);
    }
}

// Tiny arrays (at most 256 characters of text) are converted by the parser's thread as phase 1 reads them
// (ArrayJob::ready), the others by the workers: the arrays, and every error, are still what one thread gives;
// a tiny array that fails is converted again in document order, so its error never comes before phase 1's.
void test_async_decode_tiny_arrays_inline() {
    std::vector<std::vector<double>> want;
    const std::string doc = f64_document(30, 1, 7, 0xD1B54A32D192ED03ULL, 5.0, true, want);  // 1, 8, 15 ... items
    Document d;
    Limits lim;
    AsyncDecode async;
    CHECK(async.start(doc.data(), doc.size(), lim, d, 2).ok);
    std::size_t ready = 0;
    for (const ArrayJob& j : d.arrays) {
        CHECK(j.ready == (j.span_end - j.span_begin <= 256));
        ready += j.ready;
    }
    CHECK(ready >= 2 && ready < d.arrays.size());
    CHECK(async.wait_through(d.arrays.size()));
    for (std::size_t a = 0; a < want.size() && a < d.arrays.size(); ++a)
        CHECK(std::memcmp(d.arrays[a].data.get(), want[a].data(), want[a].size() * 8) == 0);
    CHECK(async.finish().ok);
    for (std::size_t at = 3; at < doc.size(); at += doc.size() / 97) {
        for (char c : {'x', ']', '"', '-'}) {
            std::string bad = doc;
            bad[at] = c;
            Parsed one = parse(bad, 1);
            for (int threads : {2, 3}) {
                Document d2;
                AsyncDecode a2;
                ParseError e = a2.start(bad.data(), bad.size(), lim, d2, threads);
                if (e.ok) e = a2.finish();
                check_same_error(e, one.err, at, c, threads);
                Document d3;
                e = parse_and_decode(bad.data(), bad.size(), lim, d3, threads);
                check_same_error(e, one.err, at, c, threads);
            }
        }
    }
}

// The light list skip (16 bytes at a time, levels summed in registers) against a byte-by-byte walk: where each
// list ends, and which commas at the list's own level it records as split points (every 2^18 bytes or so), over
// lists whose brackets fall anywhere in the blocks, at every nesting level from 1 to past 17.
uint64_t g_skip_rng = 0x9E3779B97F4A7C15ULL;
uint64_t skip_rnd(uint64_t n) {
    uint64_t& x = g_skip_rng;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return x % n;
}

std::string skip_ws_random() {
    static const char* ws[] = {"", "", "", " ", "\n  ", "\t", "  "};
    return ws[skip_rnd(7)];
}

// Items of a float64 list nested `levels` deep: [[[1,2],[3,4]],...] with random whitespace and number lengths.
void random_nested(std::string& out, int levels, int width) {
    out += "[";
    for (int i = 0; i < width; ++i) {
        if (i) out += skip_ws_random() + "," + skip_ws_random();
        if (levels > 1) {
            random_nested(out, levels - 1, width);
        } else {
            static const char* nums[] = {"1", "-0.25", "123456.5", "0.0", "7e-3", "-12", "3.141592653589793"};
            out += nums[skip_rnd(7)];
        }
    }
    out += skip_ws_random() + "]";
}

// `list` as the list of an object-dtype envelope (a RawList the reader leaves as text), after `prefix` (pairs
// ending with a comma) in a document: it parses, and its node spans exactly the list.
void check_list_extent(const std::string& list, const std::string& prefix, const char* what, int trial) {
    const std::string doc = "{" + prefix + "\"v\":" + envelope(list, "object", "[1]") + ",\"after\":[1,2]}";
    Parsed p = parse(doc, 1);
    CHECK_MSG(p.err.ok, "%s trial %d: %s at %llu", what, trial, p.err.message.c_str(),
              static_cast<unsigned long long>(p.err.offset));
    if (!p.err.ok) return;
    const uint64_t start = doc.find("[", doc.find("pymiloed-ndarray-list"));
    bool found = false;
    for (const Node& nd : p.doc.nodes)
        if (nd.type == NodeType::RawList && nd.a == start) {
            found = true;
            CHECK_MSG(nd.len == list.size(), "%s trial %d: the list node is %u bytes, the list %zu", what, trial, nd.len,
                      list.size());
        }
    CHECK(found);
}

void test_light_skip_against_a_walk() {
    for (int trial = 0; trial < 24; ++trial) {
        const int levels = 1 + static_cast<int>(trial % 4);         // dimensions below the first
        const int width = 1 + static_cast<int>(skip_rnd(3));
        const std::size_t target = trial % 3 == 0 ? (std::size_t(1) << 20) : 3000;
        std::string list = "[";
        int64_t n = 0;
        while (list.size() < target) {
            if (n) list += skip_ws_random() + "," + skip_ws_random();
            if (levels == 1) list += "0.5";
            else random_nested(list, levels - 1, width);
            ++n;
        }
        list += "]";
        std::string shape = "[" + std::to_string(n);
        for (int l = 1; l < levels; ++l) shape += "," + std::to_string(width);
        shape += "]";
        const std::string doc = "{\"pad\":\"" + std::string(skip_rnd(16), 'p') + "\",\"v\":" + envelope(list, "float64", shape) + "}";
        Parsed p = parse(doc, 1);
        CHECK_MSG(p.err.ok, "trial %d: %s", trial, p.err.message.c_str());
        if (!p.err.ok || p.doc.arrays.size() != 1) continue;
        const ArrayJob& j = p.doc.arrays[0];
        const uint64_t start = doc.find("[", doc.find("pymiloed-ndarray-list"));
        CHECK(j.span_begin == start && j.span_end == start + list.size());
        // the walk: the commas at level 1 and how many come up to each. A split point is such a comma with that
        // count, 2^18 bytes or more after the previous one (or the list's start), and none is missed: no 2^18
        // bytes (plus one item and one block) without a split while commas at level 1 follow.
        std::vector<int64_t> count_at(list.size(), -1);
        int d = 0;
        int64_t items = 0;
        uint64_t last_comma = start;
        for (uint64_t i = start; i < start + list.size(); ++i) {
            const char c = doc[i];
            if (c == '[') ++d;
            else if (c == ']') --d;
            else if (c == ',' && d == 1) { count_at[i - start] = ++items; last_comma = i; }
        }
        uint64_t prev = start;
        for (const auto& sp : j.splits) {
            CHECK_MSG(sp.second > start && sp.second < start + list.size() && count_at[sp.second - start] == sp.first,
                      "trial %d: split (%lld, %llu) is not a comma at level 1 after %lld items", trial,
                      static_cast<long long>(sp.first), static_cast<unsigned long long>(sp.second),
                      static_cast<long long>(sp.first));
            CHECK(sp.second - prev >= (uint64_t(1) << 18));
            CHECK_MSG(sp.second - prev < (uint64_t(1) << 18) + 4096, "trial %d: a split missed", trial);
            prev = sp.second;
        }
        CHECK_MSG(last_comma - prev < (uint64_t(1) << 18) + 4096, "trial %d: the last split missed", trial);
        if (target > 3000) CHECK(j.splits.size() >= 3);
    }
    // Lists that are not arrays (strings holding brackets, commas and escaped quotes; nesting past 17 levels):
    // the list node must end exactly where the list does.
    for (int trial = 0; trial < 200; ++trial) {
        std::string list;
        int d = 0;
        const int deep = 1 + static_cast<int>(skip_rnd(40));
        list += "[";
        d = 1;
        bool first = true;
        while (d > 0) {
            // opening, a value or closing; more often closing once deep or long, so every list ends
            const uint64_t r = list.size() > 20000 ? 9 : skip_rnd(10);
            if (r >= 7 || (r < 3 && d >= deep)) { list += skip_ws_random() + "]"; --d; first = false; continue; }
            if (!first) list += skip_ws_random() + "," + skip_ws_random();
            first = false;
            if (r < 3) { list += "["; ++d; first = true; }
            else if (r == 3) list += "\"a]b,[c\\\"d}{\"";
            else if (r == 4) list += "{\"k\":[1,{\"z\":\"]\"}]}";
            else list += std::to_string(skip_rnd(100000));
        }
        check_list_extent(list, "", "list", trial);
    }
}

// Rows laid out as sklearn's node table are read by a reader specialised for it (SkNodeRow: a leaf's row, which
// starts "[-1,-1,-2,-2.0,", and an inner node's), which hands any row it cannot read to the general one: against the same rows with a last field of uint16 instead of uint8 (the general
// reader; the same bytes for values 0 and 1, the padding zeroed either way), random rows, compact or spaced, and
// random mutations of them give the same bytes, or the same error at the same offset.
void test_node_rows_read_as_the_general_reader_does() {
    const std::string other = "{\"names\":[\"l\",\"r\",\"f\",\"t\",\"i\",\"n\",\"w\",\"m\"],\"formats\":[\"<i8\",\"<i8\",\"<i8\",\"<f8\",\"<f8\",\"<i8\",\"<f8\",\"<u2\"],"
                              "\"offsets\":[0,8,16,24,32,40,48,56],\"itemsize\":64}";
    // (with more than 128 bytes after it, an inner node's row is read by SkNodeRow::inner first: its integers of 1
    // to 7 digits, "D.0" weights and 0/1 last fields on their one-load paths, anything else read again)
    static const char* floats[] = {"0.5", "-2.0", "0.0", "1e-300", "-0.0", "\"NaN\"", "Infinity", "3.141592653589793", "20000.0",
                                   "0.2555897395183883", "1E5", "7", "12632.0", "05.0", "-3.0", "1234567.0", "12345678.0",
                                   "0.0090987907492881134", "-0.857009768486023"};
    static const char* ints[] = {"0", "-1", "-2", "12632", "9223372036854775807", "-9223372036854775808", "42",
                                 "3", "314", "1234567", "12345678", "07", "00", "-0"};
    static const char* lasts[] = {"0", "1", "2", "01", "9", "-0"};
    int compared_errors = 0;
    for (int trial = 0; trial < 6000; ++trial) {
        const int rows = 1 + static_cast<int>(skip_rnd(trial % 2 ? 6 : 16));
        const bool spaced = trial % 4 == 3;
        std::string list = "[";
        for (int r = 0; r < rows; ++r) {
            if (r) list += spaced ? ", " : ",";
            list += "[";
            const bool leaf = skip_rnd(2);  // TREE_LEAF children, TREE_UNDEFINED feature and threshold
            static const char* leaf_fields[] = {"-1", "-1", "-2", "-2.0"};
            for (int f = 0; f < 8; ++f) {
                if (f) list += spaced ? ", " : ",";
                const bool usual = skip_rnd(3) != 0;  // the shapes milo_fast writes for an inner node
                list += f == 7 ? (usual ? (skip_rnd(2) ? "1" : "0") : lasts[skip_rnd(6)])
                        : leaf && f < 4 ? leaf_fields[f]
                        : (f == 3 || f == 4 || f == 6) ? floats[usual ? skip_rnd(12) : skip_rnd(19)]
                        : ints[usual ? 7 + skip_rnd(3) : skip_rnd(14)];
            }
            list += "]";
        }
        list += "]";
        if (trial % 3 != 0) {  // mutated: a byte replaced, removed or inserted
            static const char bytes[] = "0123456789-.,[] eE\"xN";
            const std::size_t at = static_cast<std::size_t>(skip_rnd(list.size()));
            const char c = bytes[skip_rnd(sizeof bytes - 1)];
            const uint64_t how = skip_rnd(3);
            if (how == 0) list[at] = c;
            else if (how == 1) list.erase(at, 1);
            else list.insert(at, 1, c);
        }
        const std::string shape = "[" + std::to_string(rows) + "]";
        Parsed a = parse(envelope_raw(list, kNodeDtype, shape));
        Parsed b = parse(envelope_raw(list, other, shape));
        if (a.err.ok != b.err.ok) {
            // (a mutation that makes the last field 256 to 65535 passes as uint16 and fails as uint8)
            if (b.err.ok && a.err.message == "integer out of range for uint8") continue;
            CHECK_MSG(false, "%s: %s against %s", list.c_str(), a.err.message.c_str(), b.err.message.c_str());
            continue;
        }
        if (!a.err.ok) {
            std::string mb = b.err.message;
            const std::size_t u = mb.find("uint16");
            if (u != std::string::npos) mb.replace(u, 6, "uint8");
            // (a value of 2 to 65535 in the last field passes as uint16 and fails as uint8: not compared)
            if (a.err.message.find("uint8") == std::string::npos || mb.find("uint8") != std::string::npos) {
                CHECK_MSG(a.err.offset == b.err.offset && a.err.message == mb, "%s: %s at %llu against %s at %llu",
                          list.c_str(), a.err.message.c_str(), static_cast<unsigned long long>(a.err.offset),
                          b.err.message.c_str(), static_cast<unsigned long long>(b.err.offset));
                ++compared_errors;
            }
            continue;
        }
        if (a.doc.arrays.size() != 1 || b.doc.arrays.size() != 1) {
            CHECK(false);
            continue;
        }
        CHECK_MSG(std::memcmp(a.doc.arrays[0].data.get(), b.doc.arrays[0].data.get(), 64 * static_cast<std::size_t>(rows)) == 0,
                  "%s: different bytes", list.c_str());
    }
    CHECK_MSG(compared_errors > 300, "only %d errors compared", compared_errors);
}

// An integer token read where 16 bytes and more follow it (read_int's one-load path for int64 and uint8) and
// where it ends the list (the byte-by-byte path): the same value, or the same error at the same place; and for
// well-formed tokens, the value strtoll/strtoull give.
void test_int_tokens_read_alike_wherever_they_are() {
    static const char alphabet[] = "0123456789000-+.eE x";
    int fast_values = 0;
    for (int trial = 0; trial < 20000; ++trial) {
        std::string tok;
        if (trial % 2 == 0) {  // well-formed: a sign or not, 1 to 20 digits
            if (skip_rnd(2)) tok += '-';
            const int n = 1 + static_cast<int>(skip_rnd(trial % 8 == 0 ? 20 : 8));
            for (int k = 0; k < n; ++k) tok += static_cast<char>('0' + (k == 0 && n > 1 ? 1 + skip_rnd(9) : skip_rnd(10)));
        } else {
            const int n = 1 + static_cast<int>(skip_rnd(12));
            for (int k = 0; k < n; ++k) tok += alphabet[skip_rnd(sizeof alphabet - 1)];
        }
        const bool u8 = trial % 3 == 0;
        const char* dtype = u8 ? "uint8" : "int64";
        const std::string zeros = "0,0,0,0,0,0,0,0,0";
        const std::string a_list = "[" + tok + "," + zeros + "]", b_list = "[" + zeros + "," + tok + "]";
        Parsed a = parse(envelope(a_list, dtype, "[10]"));
        Parsed b = parse(envelope(b_list, dtype, "[10]"));
        const uint64_t at = std::strlen("{\"pymiloed-ndarray-list\":");
        const uint64_t a_tok = at + 1, b_tok = at + 1 + zeros.size() + 1;
        if (a.err.ok != b.err.ok) {
            CHECK_MSG(false, "'%s' (%s): '%s' against '%s'", tok.c_str(), dtype, a.err.message.c_str(), b.err.message.c_str());
            continue;
        }
        if (!a.err.ok) {
            // the reader's errors are at the token and the same; one past the token (where a comma or the end
            // of the list should be, and the two lists want different things) at the same place in it
            const bool reader = a.err.offset == a_tok || b.err.offset == b_tok;
            CHECK_MSG((!reader || a.err.message == b.err.message) && a.err.offset - a_tok == b.err.offset - b_tok,
                      "'%s' (%s): '%s' at %llu against '%s' at %llu", tok.c_str(), dtype, a.err.message.c_str(),
                      static_cast<unsigned long long>(a.err.offset - a_tok), b.err.message.c_str(),
                      static_cast<unsigned long long>(b.err.offset - b_tok));
            continue;
        }
        const uint8_t* da = a.doc.arrays[0].data.get();
        const uint8_t* db = b.doc.arrays[0].data.get() + (u8 ? 9 : 72);
        const std::size_t sz = u8 ? 1 : 8;
        CHECK_MSG(std::memcmp(da, db, sz) == 0, "'%s' (%s): different values", tok.c_str(), dtype);
        if (trial % 2 == 0) {
            if (u8) {
                CHECK_MSG(*da == std::strtoull(tok.c_str(), nullptr, 10), "'%s' (uint8): %u", tok.c_str(), *da);
            } else {
                CHECK_MSG(load_at<int64_t>(da) == std::strtoll(tok.c_str(), nullptr, 10), "'%s' (int64)", tok.c_str());
            }
            ++fast_values;
        }
    }
    CHECK_MSG(fast_values > 4000, "only %d well-formed values compared", fast_values);
}

// Float tokens in a float64 array: first in a 2-d list of rows (followed by ']', 16 bytes and more readable: the
// reader's "D.0" fast path and parse_f64's wide path) and last (followed by "]]" and the end of the list: the
// short-buffer paths). Both places give the same value, or the same error at the same place in the token, and a
// well-formed token the value strtod gives, bit for bit (-0.0 included). Tokens near the fast path's shape:
// "D{1,9}.0", leading zeros, more fraction digits, exponents, spaces.
void test_float_tokens_read_alike_wherever_they_are() {
    static const char alphabet[] = "0123456789000.-+eE x";
    static const char* tails[] = {".0", ".0", ".0", ".00", ".05", ".", ".0e1", ".0E-2", "", ".5"};
    int fast_shape = 0;
    for (int trial = 0; trial < 30000; ++trial) {
        std::string tok;
        if (trial % 3 != 2) {  // near "D.0": a sign or not, 1 to 9 digits (a leading zero at times), a tail
            if (skip_rnd(2)) tok += '-';
            const int n = 1 + static_cast<int>(skip_rnd(trial % 5 == 0 ? 9 : 7));
            for (int k = 0; k < n; ++k)
                tok += static_cast<char>('0' + (k == 0 && n > 1 && skip_rnd(8) ? 1 + skip_rnd(9) : skip_rnd(10)));
            tok += tails[skip_rnd(sizeof tails / sizeof tails[0])];
            if (skip_rnd(10) == 0) tok += ' ';
        } else {
            const int n = 1 + static_cast<int>(skip_rnd(12));
            for (int k = 0; k < n; ++k) tok += alphabet[skip_rnd(sizeof alphabet - 1)];
        }
        const std::string rows = "[0.0],[1.0],[2.0],[3.0],[4.0],[5.0],[6.0],[7.0],[8.0]";
        const std::string a_list = "[[" + tok + "]," + rows + "]", b_list = "[" + rows + ",[" + tok + "]]";
        Parsed a = parse(envelope(a_list, "float64", "[10, 1]"));
        Parsed b = parse(envelope(b_list, "float64", "[10, 1]"));
        const uint64_t at = std::strlen("{\"pymiloed-ndarray-list\":");
        const uint64_t a_tok = at + 2, b_tok = at + 1 + rows.size() + 2;
        if (a.err.ok != b.err.ok) {
            CHECK_MSG(false, "'%s': '%s' against '%s'", tok.c_str(), a.err.message.c_str(), b.err.message.c_str());
            continue;
        }
        if (!a.err.ok) {
            CHECK_MSG(a.err.message == b.err.message && a.err.offset - a_tok == b.err.offset - b_tok,
                      "'%s': '%s' at %llu against '%s' at %llu", tok.c_str(), a.err.message.c_str(),
                      static_cast<unsigned long long>(a.err.offset - a_tok), b.err.message.c_str(),
                      static_cast<unsigned long long>(b.err.offset - b_tok));
            continue;
        }
        const uint8_t* da = a.doc.arrays[0].data.get();
        const uint8_t* db = b.doc.arrays[0].data.get() + 72;
        CHECK_MSG(std::memcmp(da, db, 8) == 0, "'%s': different values", tok.c_str());
        const double want = std::strtod(tok.c_str(), nullptr);
        CHECK_MSG(std::memcmp(da, &want, 8) == 0, "'%s': %.17g, strtod %.17g", tok.c_str(), load_at<double>(da), want);
        const std::size_t dot = tok.find(".0");
        if (dot != std::string::npos && dot + 2 == tok.size() && dot <= 8) ++fast_shape;
    }
    CHECK_MSG(fast_shape > 3000, "only %d tokens of the shape D.0 read", fast_shape);
}

// Without its dimension numbers: a message of the (1, n, ...) array is the (n, ...) array's, one dimension on.
std::string no_dims(const std::string& m) {
    std::string out;
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (m.compare(i, 10, "dimension ") == 0) {
            i += 10;
            while (i < m.size() && m[i] >= '0' && m[i] <= '9') ++i;
            out += "dimension #";
            --i;
        } else {
            out += m[i];
        }
    }
    return out;
}

// Arrays of 2 and 3 dimensions of simple values (ArrayText::blocks, the sub-lists read without lists()'s
// bookkeeping) against the same lists one level deeper, shape (1, n, ...), which lists() reads alone: compact
// text, text with whitespace anywhere, and one byte changed at every position but the brackets read alike, and fail at the same
// place with the same message (dimension numbers aside).
void test_blocks_read_as_lists_do() {
    static const char* vals[] = {"0.0", "1.0", "-2.0", "0.5", "37.0", "0.8624161073825504", "1e-07", "12"};
    static const char subst[] = ", x1-.e";  // brackets stay: phase 1 reads the same structure
    int compared = 0, failures = 0;
    for (int trial = 0; trial < 60; ++trial) {
        const bool three = trial % 2 == 0;
        const bool ints = trial % 5 == 4;
        const int n = 1 + static_cast<int>(skip_rnd(6)), a = 1 + static_cast<int>(skip_rnd(3)),
                  b = 1 + static_cast<int>(skip_rnd(3));
        std::string t = "[";
        for (int i = 0; i < n; ++i) {
            if (i) t += ',';
            if (three) t += '[';
            for (int k = 0; k < (three ? a : 1); ++k) {
                if (k) t += ',';
                t += '[';
                for (int m = 0; m < (three ? b : a); ++m) {
                    if (m) t += ',';
                    t += ints ? std::to_string(skip_rnd(1000)) : vals[skip_rnd(sizeof vals / sizeof vals[0])];
                }
                t += ']';
            }
            if (three) t += ']';
        }
        t += ']';
        const std::string shape = three ? "[" + std::to_string(n) + "," + std::to_string(a) + "," + std::to_string(b) + "]"
                                        : "[" + std::to_string(n) + "," + std::to_string(a) + "]";
        const std::string shape1 = "[1," + shape.substr(1);
        const char* dtype = ints ? "int64" : "float64";
        std::vector<std::string> texts = {t};
        std::string spaced;  // whitespace after some structural characters and values
        for (char c : t) {
            spaced += c;
            if ((c == ',' || c == '[' || c == ']') && skip_rnd(3) == 0) spaced += skip_ws_random();
        }
        texts.push_back(spaced);
        for (std::size_t at = 0; at < t.size(); ++at) {
            if (t[at] == '[' || t[at] == ']') continue;
            std::string u = t;
            u[at] = subst[skip_rnd(sizeof subst - 1)];
            texts.push_back(u);
        }
        for (const std::string& x : texts) {
            Parsed fast = parse(envelope(x, dtype, shape));
            Parsed ref = parse(envelope("[" + x + "]", dtype, shape1));
            ++compared;
            if (fast.err.ok != ref.err.ok) {
                CHECK_MSG(false, "'%s' %s: '%s' against '%s'", x.c_str(), shape.c_str(), fast.err.message.c_str(), ref.err.message.c_str());
                continue;
            }
            if (!fast.err.ok) {
                ++failures;
                CHECK_MSG(fast.err.offset + 1 == ref.err.offset && no_dims(fast.err.message) == no_dims(ref.err.message),
                          "'%s' %s: '%s' at %llu against '%s' at %llu", x.c_str(), shape.c_str(), fast.err.message.c_str(),
                          static_cast<unsigned long long>(fast.err.offset), ref.err.message.c_str(),
                          static_cast<unsigned long long>(ref.err.offset));
                continue;
            }
            const ArrayJob& fa = fast.doc.arrays[0];
            const ArrayJob& ra = ref.doc.arrays[0];
            CHECK_MSG(fa.count == ra.count && std::memcmp(fa.data.get(), ra.data.get(), fa.count * 8) == 0,
                      "'%s' %s: different values", x.c_str(), shape.c_str());
        }
    }
    CHECK_MSG(compared > 3000 && failures > 1000, "only %d texts compared, %d failing", compared, failures);
}

// A 2-d float64 array long enough to be converted in pieces (split points every 2^18 bytes): ArrayText::blocks
// starting inside the list, at a split. The values, and the error at a changed byte, do not depend on threads.
void test_blocks_in_pieces() {
    std::string t = "[";
    std::vector<double> want;
    for (int i = 0; i < 40000; ++i) {
        if (i) t += ',';
        t += '[';
        for (int k = 0; k < 3; ++k) {
            if (k) t += ',';
            const double v = (k == 1) ? static_cast<double>(i % 7) : (i * 3 + k) / 1024.0;
            char buf[32];
            std::snprintf(buf, sizeof buf, k == 1 ? "%.1f" : "%.17g", v);
            t += buf;
            want.push_back(v);
        }
        t += ']';
    }
    t += ']';
    const std::string doc = envelope(t, "float64", "[40000, 3]");
    CHECK(doc.size() > 3 * (1u << 18));
    for (int threads : {1, 2, 4}) {
        Parsed p = parse(doc, threads);
        CHECK_MSG(p.err.ok, "threads=%d: %s", threads, p.err.message.c_str());
        if (p.err.ok) CHECK(std::memcmp(p.doc.arrays[0].data.get(), want.data(), want.size() * 8) == 0);
    }
    const uint64_t l0 = std::strlen("{\"pymiloed-ndarray-list\":");
    for (std::size_t at = l0 + 5; at < l0 + t.size(); at += t.size() / 37) {
        std::size_t k = at;
        while (doc[k] == '[' || doc[k] == ']') ++k;
        for (char c : {'x', ',', ' ', '.'}) {
            if (doc[k] == c) continue;
            std::string bad = doc;
            bad[k] = c;
            Parsed one = parse(bad, 1);
            CHECK_MSG(!one.err.ok || c == ' ', "byte %zu -> '%c' accepted", k, c);
            for (int threads : {2, 4}) check_same_error(parse(bad, threads).err, one.err, k, c, threads);
        }
    }
}

// The end of a list found at every alignment (Parser::skip_list_light reads 32 bytes a step with AVX2, 16 with
// SSE2 and per bracket near strings: ctest runs this program with MILO_FAST_NO_SIMD=1 too): rows like a node
// table's, a string somewhere or not, and nesting just within and just past the depth limit, reported at the
// same bracket whatever comes before the list.
void test_light_skip_at_every_alignment() {
    for (int trial = 0; trial < 600; ++trial) {
        std::string list = "[";
        const int rows = 1 + static_cast<int>(skip_rnd(trial % 5 == 0 ? 400 : 12));
        for (int r = 0; r < rows; ++r) {
            if (r) list += skip_ws_random() + ",";
            list += "[";
            const int fields = 1 + static_cast<int>(skip_rnd(9));
            for (int f = 0; f < fields; ++f) {
                if (f) list += ",";
                if (skip_rnd(50) == 0) list += "\"]\"";
                else list += std::to_string(static_cast<int64_t>(skip_rnd(100000)) - 1000) + (skip_rnd(2) ? ".5" : "");
            }
            list += skip_rnd(7) == 0 ? "[[]]]" : "]";
        }
        list += skip_ws_random() + "]";
        check_list_extent(list, "\"pad\":\"" + std::string(static_cast<std::size_t>(trial % 67), 'p') + "\",",
                          "alignment", trial);
    }
    // Depth: the deepest list that parses, with the list at the document's start; then at every alignment it
    // still parses, one level more fails at the bracket that goes too deep.
    auto deep = [](const std::string& pad, int levels) {
        return "{\"pad\":\"" + pad + "\",\"v\":" +
               envelope(std::string(static_cast<std::size_t>(levels), '[') + "1" + std::string(static_cast<std::size_t>(levels), ']'),
                        "object", "[1]") + "}";
    };
    int ok = 0;
    while (ok < 2000 && parse(deep("", ok + 1)).err.ok) ++ok;
    CHECK_MSG(ok > 400 && ok < 2000, "the deepest list that parses has %d levels", ok);
    for (int a = 0; a < 70; ++a) {
        const std::string pad(static_cast<std::size_t>(a), 'p');
        CHECK_MSG(parse(deep(pad, ok)).err.ok, "pad %d: %d levels", a, ok);
        const std::string doc = deep(pad, ok + 1);
        Parsed p = parse(doc);
        const uint64_t first = doc.find("[", doc.find("pymiloed-ndarray-list"));
        CHECK_MSG(!p.err.ok && p.err.message.find("nesting deeper") != std::string::npos &&
                      p.err.offset == first + static_cast<uint64_t>(ok),
                  "pad %d: %s at %llu, expected the bracket at %llu", a, p.err.message.c_str(),
                  static_cast<unsigned long long>(p.err.offset), static_cast<unsigned long long>(first + ok));
    }
}

// A string's plain runs are found 16 bytes a step: a quote, an escape or a control byte at any place of strings
// of 0 to 40 bytes (with bytes 0x7F-0xFF and 0x20 around it, which are plain) reads as a byte-by-byte scan does.
void test_strings_at_every_length_and_place() {
    const unsigned char fill[] = {'a', 0x20, 0x7F, 0x80, 0xC3, 0xFF, '~'};
    for (int n = 0; n <= 40; ++n) {
        for (int at = -1; at < n; ++at) {
            for (int kind = 0; kind < 4; ++kind) {  // 0 escaped quote, 1 "\n" escape, 2 raw 0x1F, 3 raw 0x01
                std::string body, want;
                for (int i = 0; i < n; ++i) {
                    if (i == at) {
                        if (kind == 0) { body += "\\\""; want += '"'; }
                        else if (kind == 1) { body += "\\n"; want += '\n'; }
                        else body += static_cast<char>(kind == 2 ? 0x1F : 0x01);
                    } else {
                        const char c = static_cast<char>(fill[(i * 7 + n) % sizeof fill]);
                        body += c;
                        want += c;
                    }
                }
                const std::string doc = "[\"" + body + "\",1]";
                Parsed p = parse(doc);
                if (at >= 0 && kind >= 2) {  // a raw control byte: refused where it stands
                    CHECK(!p.err.ok && p.err.offset == static_cast<uint64_t>(2 + at));
                    continue;
                }
                CHECK(p.err.ok);
                if (!p.err.ok) continue;
                const Node& root = p.doc.nodes[p.doc.root];
                const Node& str = p.doc.nodes[p.doc.children[root.a]];
                CHECK(str.type == NodeType::String && str.len == want.size() &&
                      std::memcmp(p.doc.strings.data() + str.a, want.data(), want.size()) == 0);
                const Node& one = p.doc.nodes[p.doc.children[root.a + 1]];
                CHECK(one.type == NodeType::Int && one.a == 1);
            }
        }
        // unterminated: the document ends inside the string
        std::string open = "[\"" + std::string(static_cast<std::size_t>(n), 'b');
        CHECK(!parse(open).err.ok);
    }
}

// The text of one element as a 0-d array of its own dtype writes it (write_elem through write_item's plain path):
// the reference the row and list writers below are compared with. False for a NaN text cannot carry.
bool elem_text(const uint8_t* p, ElemKind kind, bool strict, std::string& out) {
    ArrayView a;
    a.data = p;
    a.layout.itemsize = elem_size(kind);
    Field f; f.kind = kind;
    a.layout.fields = {f};
    OutBuf b;
    if (!write_array_text(b, a, strict, -1, 0)) return false;
    out.assign(b.data(), b.size());
    return true;
}

uint64_t wr_rnd() { return skip_rnd(~uint64_t{0}); }

// A float64 drawn from the cases a node table can hold and the ones it should not: leaves' -2.0 and 0.0,
// integers, fractions, -0.0, subnormals, the extremes, infinities, the canonical NaN, NaNs with a payload or a
// sign, random bit patterns; and one drawn lately again, or its negation (the writer's memo of float64 texts,
// json_writer's F64Memo, answers those from what it kept: its hits, with either sign, and its slots taken over).
double wr_f64_fresh();
double wr_f64() {
    static double recent[97];
    static uint64_t drawn = 0;
    if (drawn > 97 && skip_rnd(3) == 0) {
        const double v = recent[skip_rnd(97)];
        return skip_rnd(2) ? -v : v;
    }
    const double v = wr_f64_fresh();
    recent[drawn++ % 97] = v;
    return v;
}
double wr_f64_fresh() {
    static const uint64_t special[] = {0x0000000000000000ULL, 0x8000000000000000ULL, 0x0000000000000001ULL,
                                       0x000fffffffffffffULL, 0x7fefffffffffffffULL, 0x7ff0000000000000ULL,
                                       0xfff0000000000000ULL, 0x7ff8000000000000ULL, 0xfff8000000000000ULL,
                                       0x7ff8000000000001ULL, 0x7ff0000000000001ULL, 0x4340000000000000ULL,
                                       0x433fffffffffffffULL, 0xc000000000000000ULL};
    double v;
    const uint64_t how = skip_rnd(8);
    if (how == 0) { const uint64_t b = special[skip_rnd(sizeof special / 8)]; std::memcpy(&v, &b, 8); }
    else if (how == 1) { const uint64_t b = wr_rnd(); std::memcpy(&v, &b, 8); }
    else if (how == 2) v = static_cast<double>(static_cast<int64_t>(skip_rnd(1u << 20)) - (1 << 19));
    else if (how == 3) v = -2.0;
    else v = static_cast<double>(skip_rnd(1000003)) / static_cast<double>(1 + skip_rnd(99991));
    return v;
}
int64_t wr_i64() {
    static const int64_t special[] = {0, -1, -2, 1, 9, 10, 999, 1000, 9999, 10000, 99999999, 100000000, INT64_MAX, INT64_MIN,
                                      -100000000};
    const uint64_t how = skip_rnd(4);
    if (how == 0) return special[skip_rnd(sizeof special / 8)];
    if (how == 1) return static_cast<int64_t>(wr_rnd());
    if (how == 2) return static_cast<int64_t>(skip_rnd(20000)) - 2;  // both sides of 10^4 (write_upto4)
    return static_cast<int64_t>(skip_rnd(300000)) - 2;
}

// sklearn's node rows are written by their own loop (json_writer's SkNodeRows): each row must be the text of its
// fields as the element writer writes them, joined, for leaves ("[-1,-1,-2,-2.0," written as it is) and inner
// nodes, at the usual and at other offsets, strict or not, in a table small enough for one thread and in one
// split across threads; a NaN text cannot carry anywhere in the table makes the writer refuse it with `out` as
// it was. The table's layout is the reader's (kNodeDtype), and one with the fields at other offsets.
void test_node_rows_written_as_fields_are() {
    static const ElemKind kinds[8] = {ElemKind::I64, ElemKind::I64, ElemKind::I64, ElemKind::F64,
                                      ElemKind::F64, ElemKind::I64, ElemKind::F64, ElemKind::U8};
    const std::size_t usual[8] = {0, 8, 16, 24, 32, 40, 48, 56}, moved[8] = {64, 0, 40, 8, 24, 16, 56, 33};
    int refused = 0, leaves = 0;
    for (int trial = 0; trial < 400; ++trial) {
        const bool big = trial % 50 == 7;  // 2^17 rows and more: written in pieces on several threads
        const int64_t rows = big ? (int64_t{1} << 17) + static_cast<int64_t>(skip_rnd(1000)) : 1 + static_cast<int64_t>(skip_rnd(40));
        const std::size_t* off = trial % 2 ? moved : usual;
        const std::size_t itemsize = trial % 2 ? 72 : 64;
        const bool strict = trial % 3 == 1;
        const bool clean = big || trial % 4 != 3;  // else NaNs with payloads may be drawn
        std::vector<uint8_t> data(static_cast<std::size_t>(rows) * itemsize, 0xAB);
        for (int64_t r = 0; r < rows; ++r) {
            uint8_t* row = data.data() + r * itemsize;
            const bool leaf = skip_rnd(2);
            for (int k = 0; k < 8; ++k) {
                if (kinds[k] == ElemKind::U8) { row[off[k]] = static_cast<uint8_t>(skip_rnd(4) ? skip_rnd(2) : skip_rnd(256)); continue; }
                if (kinds[k] == ElemKind::I64) {
                    const int64_t v = leaf && k < 3 ? (k < 2 ? -1 : -2) : wr_i64();
                    std::memcpy(row + off[k], &v, 8);
                    continue;
                }
                double v = leaf && k == 3 ? -2.0 : wr_f64();
                uint64_t b; std::memcpy(&b, &v, 8);
                if (clean && (b & 0x7ff0000000000000ULL) == 0x7ff0000000000000ULL && (b & 0x000fffffffffffffULL) &&
                    b != 0x7ff8000000000000ULL)
                    v = 0.5;  // a NaN text cannot carry: only in the tables meant to be refused
                std::memcpy(row + off[k], &v, 8);
            }
            // a leaf's row differing from "[-1,-1,-2,-2.0," in one field only
            if (!leaf && skip_rnd(8) == 0) {
                const int64_t l = -1, f = -2; const double t = -2.0;
                std::memcpy(row + off[0], &l, 8); std::memcpy(row + off[1], &l, 8);
                std::memcpy(row + off[2], &f, 8); std::memcpy(row + off[3], &t, 8);
                const int k = static_cast<int>(skip_rnd(4));
                if (k < 3) { const int64_t o = wr_i64(); std::memcpy(row + off[k], &o, 8); }
                else { const double o = wr_f64(); std::memcpy(row + off[3], &o, 8); }
            }
        }
        std::string want = "[";
        bool carries = true;
        for (int64_t r = 0; r < rows && carries; ++r) {
            const uint8_t* row = data.data() + r * itemsize;
            want += r ? ",[" : "[";
            for (int k = 0; k < 8 && carries; ++k) {
                std::string t;
                carries = elem_text(row + off[k], kinds[k], strict, t);
                want += (k ? "," : "") + t;
            }
            want += "]";
            int64_t l; std::memcpy(&l, row + off[0], 8);
            leaves += l == -1;
        }
        want += "]";
        ArrayView a;
        a.data = data.data();
        a.shape = {rows};
        a.strides = {static_cast<int64_t>(itemsize)};
        a.layout.itemsize = itemsize;
        a.layout.structured = true;
        for (int k = 0; k < 8; ++k) { Field f; f.offset = off[k]; f.kind = kinds[k]; a.layout.fields.push_back(f); }
        OutBuf out;
        out.append("{\"x\":");
        const bool ok = write_array_text(out, a, strict, -1, 0);
        CHECK_MSG(ok == carries, "trial %d: written %d, the fields carry %d", trial, ok, carries);
        if (!ok) {
            ++refused;
            CHECK(std::string(out.data(), out.size()) == "{\"x\":");
            continue;
        }
        const std::string got(out.data() + 5, out.size() - 5);
        if (got != want) {
            std::size_t at = 0;
            while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
            CHECK_MSG(false, "trial %d: differs at byte %zu: %s against %s", trial, at, got.substr(at > 20 ? at - 20 : 0, 60).c_str(),
                      want.substr(at > 20 ? at - 20 : 0, 60).c_str());
        }
    }
    CHECK_MSG(refused > 10 && leaves > 1000, "refused %d tables, %d leaves", refused, leaves);
}

// The writer's memo of float64 texts (json_writer's F64Memo) looks zero up like any other magnitude, in entry 0,
// which starts as zero's text: class fractions of 0.0 and -0.0 among values that take entry 0 from it and give it
// back (magnitudes found by the memo's hash, the multiplicative one of json_writer.cpp, 13 bits), and among others,
// in a tree's values ([n, 1, 2]), written on a new thread (a memo from the pool) and on this one, must be their
// elements' texts.
void test_memo_zero_entry() {
    std::vector<double> slot0;  // positive doubles whose magnitude takes entry 0
    for (uint64_t b = 0x3fe0000000000000ULL; slot0.size() < 4; b += 0x0000000123456789ULL)
        if (((b * 0x9E3779B97F4A7C15ULL) >> 51) == 0) { double v; std::memcpy(&v, &b, 8); slot0.push_back(v); }
    for (int trial = 0; trial < 40; ++trial) {
        const int64_t n = 1 + static_cast<int64_t>(skip_rnd(300));
        std::vector<double> vals(static_cast<std::size_t>(n) * 2);
        for (double& v : vals) {
            const uint64_t how = skip_rnd(4);
            v = how == 0 ? 0.0 : how == 1 ? -0.0 : how == 2 ? slot0[skip_rnd(slot0.size())] * (skip_rnd(2) ? 1 : -1)
                                                            : static_cast<double>(skip_rnd(1000)) / 997.0;
        }
        std::string want = "[";
        for (int64_t i = 0; i < n; ++i) {
            std::string a, b;
            elem_text(reinterpret_cast<const uint8_t*>(&vals[2 * i]), ElemKind::F64, false, a);
            elem_text(reinterpret_cast<const uint8_t*>(&vals[2 * i + 1]), ElemKind::F64, false, b);
            want += (i ? ",[[" : "[[") + a + "," + b + "]]";
        }
        want += "]";
        ArrayView av;
        av.data = reinterpret_cast<const uint8_t*>(vals.data());
        av.shape = {n, 1, 2};
        av.strides = {16, 16, 8};
        av.layout.itemsize = 8;
        Field f; f.kind = ElemKind::F64;
        av.layout.fields = {f};
        for (int on_thread = 0; on_thread < 2; ++on_thread) {
            OutBuf out;
            bool ok = false;
            if (on_thread) std::thread([&] { ok = write_array_text(out, av, false, -1, 0); }).join();
            else ok = write_array_text(out, av, false, -1, 0);
            CHECK(ok);
            CHECK_MSG(std::string(out.data(), out.size()) == want, "trial %d (%s): %s against %s", trial,
                      on_thread ? "new thread" : "this thread", std::string(out.data(), std::min<std::size_t>(out.size(), 200)).c_str(),
                      want.substr(0, 200).c_str());
        }
    }
}

// Lists of lists of a plain dtype (a tree's values, [n, 1, n_classes], written a node at a time where the last
// two dimensions are small) and plain innermost lists (a run of items at a time): the same text as the elements'
// own, nested, in 2 to 4 dimensions, compact and indented, and a NaN text cannot carry refused with `out` as it was.
void test_plain_lists_written_as_elements_are() {
    for (int trial = 0; trial < 600; ++trial) {
        const int64_t d0 = 1 + static_cast<int64_t>(skip_rnd(30)), d1 = 1 + static_cast<int64_t>(skip_rnd(3));
        const int64_t d2 = trial % 10 == 0 ? 60 + static_cast<int64_t>(skip_rnd(150)) : 1 + static_cast<int64_t>(skip_rnd(4));
        const bool three = trial % 3 != 0;
        const bool four = three && trial % 5 == 3;  // [2, d0, d1, d2]: the small blocks one dimension in
        const bool strict = trial % 5 == 1;
        const int indent = trial % 7 == 2 ? 2 : -1;
        const bool f64 = trial % 4 != 1;
        const ElemKind kind = f64 ? ElemKind::F64 : ElemKind::I64;
        const int64_t n = (four ? 2 : 1) * (three ? d0 * d1 * d2 : d0 * d2);
        std::vector<uint8_t> data(static_cast<std::size_t>(n) * 8);
        for (int64_t i = 0; i < n; ++i) {
            if (f64) {
                double v = wr_f64();
                uint64_t b; std::memcpy(&b, &v, 8);
                if (trial % 6 != 5 && (b & 0x7ff0000000000000ULL) == 0x7ff0000000000000ULL && (b & 0x000fffffffffffffULL) &&
                    b != 0x7ff8000000000000ULL)
                    v = 1.0;
                std::memcpy(&data[i * 8], &v, 8);
            } else {
                const int64_t v = wr_i64();
                std::memcpy(&data[i * 8], &v, 8);
            }
        }
        // the reference: nested by hand from the elements' texts
        const std::vector<int64_t> shape = four ? std::vector<int64_t>{2, d0, d1, d2}
                                           : three ? std::vector<int64_t>{d0, d1, d2} : std::vector<int64_t>{d0, d2};
        bool carries = true;
        int64_t next = 0;
        std::function<std::string(std::size_t, int)> nest = [&](std::size_t dim, int level) -> std::string {
            std::string s = "[";
            for (int64_t i = 0; i < shape[dim]; ++i) {
                if (i) s += ",";
                if (dim + 1 == shape.size()) {
                    std::string t;
                    carries &= elem_text(&data[static_cast<std::size_t>(next++) * 8], kind, strict, t);
                    s += t;
                } else {
                    if (indent >= 0) s += "\n" + std::string(static_cast<std::size_t>(indent * (level + 1)), ' ');
                    s += nest(dim + 1, level + 1);
                }
            }
            if (dim + 1 != shape.size() && indent >= 0) s += "\n" + std::string(static_cast<std::size_t>(indent * level), ' ');
            return s + "]";
        };
        const std::string want = nest(0, 0);
        ArrayView a;
        a.data = data.data();
        a.shape = shape;
        a.strides = four ? std::vector<int64_t>{d0 * d1 * d2 * 8, d1 * d2 * 8, d2 * 8, 8}
                    : three ? std::vector<int64_t>{d1 * d2 * 8, d2 * 8, 8} : std::vector<int64_t>{d2 * 8, 8};
        a.layout.itemsize = 8;
        Field f; f.kind = kind;
        a.layout.fields = {f};
        OutBuf out;
        out.append("{\"x\":");
        const bool ok = write_array_text(out, a, strict, indent, 0);
        CHECK_MSG(ok == carries, "trial %d: written %d, the elements carry %d", trial, ok, carries);
        if (!ok) {
            CHECK(std::string(out.data(), out.size()) == "{\"x\":");
            continue;
        }
        CHECK_MSG(std::string(out.data() + 5, out.size() - 5) == want, "trial %d: %s against %s", trial,
                  std::string(out.data() + 5, std::min<std::size_t>(out.size() - 5, 200)).c_str(), want.substr(0, 200).c_str());
    }
}

int main() {
    test_scalars();
    test_strings_at_every_length_and_place();
    test_malformed_offsets();
    test_text_arrays();
    test_base64_arrays();
    test_writer_roundtrip_and_pieces();
    test_path();
    test_text_array_errors();
    test_nd_values();
    test_structured_rows();
    test_node_rows_read_as_the_general_reader_does();
    test_int_tokens_read_alike_wherever_they_are();
    test_float_tokens_read_alike_wherever_they_are();
    test_blocks_read_as_lists_do();
    test_blocks_in_pieces();
    test_big_endian_arrays();
    test_structured_rows_in_pieces();
    test_pipeline_matches_two_phases();
    test_async_decode_matches_parse_and_decode();
    test_lazy_workers();
    test_async_decode_tiny_arrays_inline();
    test_light_skip_against_a_walk();
    test_light_skip_at_every_alignment();
    test_node_rows_written_as_fields_are();
    test_plain_lists_written_as_elements_are();
    test_memo_zero_entry();
    return milo_test::summary("test_json");
}

// Parsing JSON text into a compact document tree whose array envelopes are parsed straight into
// typed buffers. Never throws; every failure carries a byte offset. No Python here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <deque>
#include <vector>

#include "array_layout.hpp"

namespace milo {

enum class NodeType : uint8_t {
    Null, False, True,
    Int,        // a: int64 value
    BigInt,     // a: offset of the digits in the input, len: their length (beyond int64)
    Float,      // a: bits of the double
    String,     // a: offset in the string arena, len: byte length (UTF-8, surrogates as CESU-8)
    List,       // a: index of the first child in `children`, len: count
    Object,     // a: index of the first child in `children`, len: number of key/value pairs (2*len children)
    Array,      // a: index in `arrays`: a decoded numpy-style array envelope
    RawList,    // a: offset of '[' in the input, len: byte length; an envelope list of an unknown dtype
};

struct Node {
    NodeType type = NodeType::Null;
    uint32_t len = 0;
    uint64_t a = 0;
    uint64_t src = 0;  // byte offset where the value starts (for error messages)
};

// One array envelope: parsed in phase 2 into `data`.
struct ArrayJob {
    bool base64 = false;
    bool scalar = false;           // "numpy.generic": hand back a scalar, not a 0-d array
    uint64_t span_begin = 0, span_end = 0;  // the list text (with brackets) or the base64 text (without quotes)
    uint64_t src = 0;              // offset of the envelope object
    std::vector<int64_t> shape;
    Layout layout;
    uint32_t dtype_node = 0;       // node of the dtype spelling (structured dtypes are rebuilt from it)
    uint64_t count = 0;            // number of items
    // Text lists: positions of some top-level commas, (index of the item that follows, offset of the comma),
    // so one large array can be parsed in pieces on several threads.
    std::vector<std::pair<int64_t, uint64_t>> splits;
    std::unique_ptr<uint8_t[]> data;   // C-order, native (little-endian) unless a field is big-endian
    int64_t note[2] = {-1, 0};         // what AsyncDecode's after-conversion hook recorded (its own meaning)
    bool ready = false;                // converted during phase 1 by the parser's thread (a tiny array, AsyncDecode)
    // error reporting
    bool failed = false;
    uint64_t err_offset = 0;
    std::string err;
};

struct Limits {
    int max_depth = 512;
    uint64_t max_array_bytes = uint64_t(1) << 40;  // per document, after decoding
};

struct Document {
    std::vector<Node> nodes;        // nodes[root] is the document
    std::vector<uint32_t> children; // child node indices (object: key, value, key, value...)
    std::string strings;            // string arena
    std::deque<ArrayJob> arrays;    // a deque: jobs keep their address while more are added
    uint32_t root = 0;
};

struct ParseError {
    bool ok = true;
    uint64_t offset = 0;
    std::string message;   // what was expected / found
};

// Phase 1: structure. Parses the whole text, records array envelopes as jobs (their element text is
// checked for bracket structure and counted, not yet converted).
ParseError parse_document(const char* text, std::size_t len, const Limits& limits, Document& doc);

// Phase 2 on the calling thread: converts every array job's text into its buffer, in document order.
// Returns the first failure. (parse_and_decode runs both phases, the second on several threads.)
ParseError decode_arrays(const char* text, std::size_t len, Document& doc);

// The threads a decode of `len` bytes runs on when `asked` were asked for, and whether its workers start lazily:
// asked 0 or less, chosen by the size (several for 1 MiB and more, 1 below), the workers started once the arrays
// queued hold about a millisecond of work (see json_reader.cpp's Pipeline); else as asked, at most 64, started at
// once (the tests' way to run them on small texts). parse_and_decode and the bindings' decode_deferred decide so.
struct DecodeThreads {
    int threads;
    bool lazy;
};
DecodeThreads decode_threads(int asked, std::size_t len);

// Both phases, the second started during the first on decode_threads(threads, len): array jobs are converted
// while the parser reads on. The result and the error reported are those of parse_document then decode_arrays
// (phase 1's error first).
ParseError parse_and_decode(const char* text, std::size_t len, const Limits& limits, Document& doc, int threads);

// Both phases as parse_and_decode, but phase 2 goes on after start() returns: the caller can use the first
// arrays (in document order) while worker threads still convert later ones. The text, the limits and the
// document must outlive the decode (finish(), abort() or destruction, which aborts). Arrays are converted in
// document order; an array's buffer is written only until wait_through() has reported it done.
class AsyncDecode {
public:
    AsyncDecode();
    ~AsyncDecode();
    AsyncDecode(const AsyncDecode&) = delete;
    AsyncDecode& operator=(const AsyncDecode&) = delete;

    // Phase 1 on the calling thread, phase 2 started meanwhile on threads - 1 workers (threads in [2, 64]).
    // On phase 1's error (or an allocation failure) returns it, and nothing runs on. `converted`, if given, runs
    // on the thread that finished converting an array, before wait_through reports it (while the data is still
    // in that core's cache), for arrays whose every piece converted; it may read the array and set its `note`.
    // lazy: the workers start once the arrays queued hold about a millisecond of work (for a thread count chosen
    // by the document's size alone: see json_reader.cpp's Pipeline).
    ParseError start(const char* text, std::size_t len, const Limits& limits, Document& doc, int threads,
                     void (*converted)(ArrayJob&) = nullptr, bool lazy = false);
    // Workers may still be converting arrays (false after finish() and abort(), or a failed start()).
    bool running() const;
    // Blocks until arrays [0, n) are converted, the calling thread converting queued ones meanwhile. False as
    // soon as any conversion has failed: finish() then gives the error parse_and_decode would have given.
    bool wait_through(std::size_t n);
    // Waits for every array: the first failure in document order, or ok.
    ParseError finish();
    // Stops the workers as soon as possible (arrays not converted yet stay unconverted).
    void abort();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The JSON path ("$.a[3].b") of the value containing byte `offset`, found by rescanning the text.
std::string json_path_at(const char* text, std::size_t len, uint64_t offset);

// Line and column (1-based) of a byte offset, for messages.
void line_col(const char* text, std::size_t len, uint64_t offset, uint64_t& line, uint64_t& col);

}  // namespace milo

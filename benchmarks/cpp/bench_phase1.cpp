// Standalone benchmark of phase 1 of a decode (src/cpp/core/json_reader: parse_document, which finds each array's
// text and leaves its numbers for phase 2) on a document given as a file: thread CPU ms, best and median of the
// passes, and the throughput in GB/s of document text. Phase 1 runs on the loading thread while the workers
// convert, so every millisecond here is one the load's main thread spends before building anything.
//
// Build and run from the repository root (the document: any milo_fast file, e.g. a 100-tree forest's):
//
//   g++ -std=c++17 -O2 -Isrc/cpp/core src/cpp/core/*.cpp benchmarks/cpp/bench_phase1.cpp -o /tmp/bench_phase1 -lpthread
//   /tmp/bench_phase1 forest.json [repeats]
#include "bench_util.hpp"
#include "json_reader.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::string text;
    int repeats = 0;
    if (!bench::document_args(argc, argv, text, repeats)) return 2;
    bench::print_load_average();
    milo::Limits limits;
    std::size_t arrays = 0;
    const std::vector<double> t = bench::sorted_ns(repeats, [&] {
        milo::Document doc;
        const milo::ParseError e = milo::parse_document(text.data(), text.size(), limits, doc);
        if (!e.ok) {
            std::fprintf(stderr, "%s at byte %llu\n", e.message.c_str(), static_cast<unsigned long long>(e.offset));
            std::exit(1);
        }
        arrays = doc.arrays.size();
    });
    std::printf("%s: %zu bytes, %zu arrays: phase 1 best %.2f ms, median %.2f ms (%.2f GB/s)\n", argv[1], text.size(),
                arrays, t[0] / 1e6, t[t.size() / 2] / 1e6, static_cast<double>(text.size()) / t[0]);
    return 0;
}

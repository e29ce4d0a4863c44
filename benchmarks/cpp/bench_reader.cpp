// Standalone benchmark of the text array reader (src/cpp/core/json_reader: decode_arrays, phase 2) on a document
// given as a file: phase 1 (parse_document) runs once, then every array of the document is converted from its
// text again and again on one thread (decode_arrays: the buffers allocated, each array's tasks run in turn, as a
// load's workers run them). Prints thread CPU ms, best and median of the passes, and ns per item, per group of
// arrays that share a layout (a forest's node tables, sklearn's 8-field rows, and its values, float64
// [n, 1, n_classes]), each group converted alone (the other arrays' text is left out of the pass), and checks
// that the last pass gave the bytes of the first.
//
// Build and run from the repository root (the document: any milo_fast text file, e.g. a 100-tree forest's,
// `milo_fast.dump(forest, "forest.json")`):
//
//   g++ -std=c++17 -O2 -Isrc/cpp/core src/cpp/core/*.cpp benchmarks/cpp/bench_reader.cpp -o /tmp/bench_reader -lpthread
//   /tmp/bench_reader forest.json [repeats]
#include "bench_groups.hpp"
#include "bench_util.hpp"
#include "json_reader.hpp"

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::string text;
    int repeats = 0;
    if (!bench::document_args(argc, argv, text, repeats)) return 2;
    milo::Document doc;
    if (!bench::read_document(text, doc, false)) return 1;
    std::map<std::string, std::vector<std::size_t>> groups;
    for (std::size_t k = 0; k < doc.arrays.size(); ++k) {
        const milo::ArrayJob& j = doc.arrays[k];
        if (!j.base64 && j.count >= 512) groups[bench::group_of(j)].push_back(k);
    }
    bench::print_load_average();
    int differing = 0;
    for (const auto& g : groups) {
        // a document of this group's arrays alone (the jobs copied, the splits of large arrays kept)
        milo::Document part;
        for (std::size_t k : g.second) {
            const milo::ArrayJob& j = doc.arrays[k];
            part.arrays.emplace_back();
            milo::ArrayJob& c = part.arrays.back();
            c.base64 = j.base64; c.scalar = j.scalar; c.span_begin = j.span_begin; c.span_end = j.span_end;
            c.src = j.src; c.shape = j.shape; c.layout = j.layout; c.dtype_node = j.dtype_node; c.count = j.count;
            c.splits = j.splits;
        }
        auto convert = [&] {
            const milo::ParseError r = milo::decode_arrays(text.data(), text.size(), part);
            if (!r.ok) {
                std::fprintf(stderr, "%s at byte %llu\n", r.message.c_str(), static_cast<unsigned long long>(r.offset));
                std::exit(1);
            }
        };
        auto contents = [&] {
            std::vector<std::string> c;
            for (const milo::ArrayJob& j : part.arrays)
                c.emplace_back(reinterpret_cast<const char*>(j.data.get()), j.count * j.layout.itemsize);
            return c;
        };
        convert();
        const std::vector<std::string> first = contents();
        std::size_t items = 0, bytes = 0;
        const std::vector<double> t = bench::sorted_ns(repeats, convert);
        differing += contents() != first;
        for (const milo::ArrayJob& j : part.arrays) { items += j.count; bytes += j.span_end - j.span_begin; }
        std::printf("%-28s %4zu arrays %9zu items %6.1f MB  %8.2f ms (median %8.2f)  %6.1f ns/item\n", g.first.c_str(),
                    g.second.size(), items, static_cast<double>(bytes) / 1e6, t[0] / 1e6, t[t.size() / 2] / 1e6,
                    t[0] / static_cast<double>(items ? items : 1));
    }
    if (differing) std::printf("%d groups converted differently in the last pass than in the first\n", differing);
    else std::printf("the last pass converted the arrays to the bytes of the first\n");
    return differing ? 1 : 0;
}

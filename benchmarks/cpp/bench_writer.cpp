// Standalone benchmark of the text array writer (src/cpp/core/json_writer: write_array_text) on the arrays of a
// document given as a file: the document is decoded once (parse_document + decode_arrays), then every array of it
// is written as text again and again on one thread, each array alone (as the encoder's jobs write them; an array
// of 2^17 items or more is split across threads by the writer itself, so its time here is that of all threads).
// Prints thread CPU ms, best and median of the passes, per group of arrays that share a layout (for a forest:
// the node tables, sklearn's 8-field rows, and the values, float64 [n, 1, n_classes]), and checks that the text
// written is the text read, for a document written by milo_fast's text mode with no indent.
//
// Build and run from the repository root (the document: any milo_fast text file, e.g. a 100-tree forest's,
// `milo_fast.dump(forest, "forest.json")`):
//
//   g++ -std=c++17 -O2 -Isrc/cpp/core src/cpp/core/*.cpp benchmarks/cpp/bench_writer.cpp -o /tmp/bench_writer -lpthread
//   /tmp/bench_writer forest.json [repeats]
#include "bench_groups.hpp"
#include "bench_util.hpp"
#include "json_reader.hpp"
#include "json_writer.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

milo::ArrayView view_of(const milo::ArrayJob& j) {
    milo::ArrayView v;
    v.data = j.data.get();
    v.shape = j.shape;
    v.layout = j.layout;
    v.strides.assign(j.shape.size(), 0);
    int64_t st = static_cast<int64_t>(j.layout.itemsize);
    for (std::size_t d = j.shape.size(); d-- > 0;) {
        v.strides[d] = st;
        st *= j.shape[d];
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    std::string text;
    int repeats = 0;
    if (!bench::document_args(argc, argv, text, repeats)) return 2;
    milo::Document doc;
    if (!bench::read_document(text, doc, true)) return 1;
    std::map<std::string, std::vector<const milo::ArrayJob*>> groups;
    for (const milo::ArrayJob& j : doc.arrays)
        if (!j.base64 && j.count >= 512) groups[bench::group_of(j)].push_back(&j);  // what the encoder defers or splits
    bench::print_load_average();
    int mismatched = 0;
    for (const auto& g : groups) {
        std::size_t bytes = 0, items = 0;
        milo::OutBuf out;
        const std::vector<double> t = bench::sorted_ns(repeats, [&] {
            bytes = 0;
            for (const milo::ArrayJob* j : g.second) {
                out.truncate(0);
                if (!milo::write_array_text(out, view_of(*j), false, -1, 0)) std::abort();
                bytes += out.size();
            }
        });
        for (const milo::ArrayJob* j : g.second) {
            items += j->count;
            out.truncate(0);
            milo::write_array_text(out, view_of(*j), false, -1, 0);
            const std::size_t len = j->span_end - j->span_begin;
            mismatched += out.size() != len || std::memcmp(out.data(), text.data() + j->span_begin, len) != 0;
        }
        std::printf("%-28s %4zu arrays %9zu items %6.1f MB  %8.2f ms (median %8.2f)  %6.1f ns/item\n", g.first.c_str(),
                    g.second.size(), items, static_cast<double>(bytes) / 1e6, t[0] / 1e6, t[t.size() / 2] / 1e6,
                    t[0] / static_cast<double>(items ? items : 1));
    }
    if (mismatched) std::printf("%d arrays written differently from the document's text (indented, or not milo_fast's)\n", mismatched);
    else std::printf("every array written as the document has it\n");
    return 0;
}

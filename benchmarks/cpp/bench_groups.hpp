// What bench_writer and bench_reader share: the document read, and the group an array's time is counted in.
#pragma once

#include <cstdio>
#include <string>

#include "json_reader.hpp"

namespace bench {

// "structured, 8 fields, 1 dims" or "float64, 3 dims": arrays that share a layout (a forest's node tables, its
// value tables).
inline std::string group_of(const milo::ArrayJob& j) {
    static const char* kinds[] = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                                  "float16", "float32", "float64"};
    std::string g = j.layout.structured ? "structured, " + std::to_string(j.layout.fields.size()) + " fields"
                                        : kinds[static_cast<int>(j.layout.fields[0].kind)];
    return g + ", " + std::to_string(j.shape.size()) + " dims";
}

// Phase 1 of the document in `text` into doc, then (`convert`) its arrays; false, with the reason printed, for a
// document the reader refuses.
inline bool read_document(const std::string& text, milo::Document& doc, bool convert) {
    milo::Limits limits;
    milo::ParseError e = milo::parse_document(text.data(), text.size(), limits, doc);
    if (e.ok && convert) e = milo::decode_arrays(text.data(), text.size(), doc);
    if (!e.ok) std::fprintf(stderr, "%s at byte %llu\n", e.message.c_str(), static_cast<unsigned long long>(e.offset));
    return e.ok;
}

}  // namespace bench

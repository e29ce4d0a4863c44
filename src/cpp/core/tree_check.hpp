// Validation of decision-tree node tables before anything is built from them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace milo {

// A column view over a node table: element i of a column is at
// base + i * stride (bytes). Indices are signed 64-bit (sklearn intp).
struct TreeColumns {
    std::size_t n_nodes = 0;
    const uint8_t* left = nullptr;   std::ptrdiff_t left_stride = 0;    // int64
    const uint8_t* right = nullptr;  std::ptrdiff_t right_stride = 0;   // int64
    const uint8_t* feature = nullptr; std::ptrdiff_t feature_stride = 0; // int64
    int feature_size = 8;            // byte width of the feature column: 8 (int64) or 4 (int32 / uint32), 1/2 allowed
    bool feature_signed = true;
};

struct TreeProblem {
    bool ok = true;
    int64_t node = -1;        // the offending node (or -1 for table-level problems)
    std::string what;         // human-readable reason, e.g. "left child 7 is not greater than its parent 9"
};

// Checks (sklearn Tree semantics):
//  - node 0 is the root (if n_nodes > 0); every other node has exactly one parent
//    (reachable from the root, no node shared, no cycle);
//  - a leaf has left == right == -1 (sklearn TREE_LEAF); a split has both
//    children in range [0, n_nodes) and greater than the node's own index;
//  - a split's feature is in [0, n_features); (leaf features are not checked);
//  - if values_rows >= 0, values_rows == n_nodes.
// allow_unreachable: HistGradientBoosting predictors are also trees rooted at 0,
// so this stays false for both kinds in practice.
TreeProblem check_tree(const TreeColumns& cols, int64_t n_features, int64_t values_rows);

}  // namespace milo

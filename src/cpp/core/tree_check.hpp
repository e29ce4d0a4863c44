// Validation of decision-tree node tables before anything is built from them.
// scikit-learn does not check these tables, and a crafted one makes `predict`
// read out of bounds or loop forever; these checks make that impossible.
//
// Tables are read in place: every field is a column of integers, element i at
// ptr + i * stride (bytes, any alignment, native byte order), read with memcpy.
// The same view describes a numpy structured array (ptr = base + field offset,
// stride = itemsize; see *_records below) or separate column arrays.
//
// Both checks run in O(n_nodes) time and also measure the tree's depth; the only
// allocation is a scratch array of one depth per node (4 bytes each; 8 beyond
// 2^32 - 2 nodes) and the message string when a problem is found. Never throws
// (an allocation failure of the scratch array is reported as a problem).
//
// The usual sklearn layout (three int64 columns, e.g. NODE_DTYPE records) takes
// a tight loop; any problem it meets, and every other layout, goes through the
// general reader, so the rules and messages are the same either way.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace milo {

// One integer field: element i is the `width`-byte integer at ptr + i * stride.
struct IntColumn {
    const uint8_t* ptr = nullptr;
    std::ptrdiff_t stride = 0;
    uint8_t width = 8;       // 1, 2, 4 or 8 bytes
    bool is_signed = true;
};

// The fields of an sklearn `Tree` that shape the tree (sklearn.tree._tree.NODE_DTYPE).
struct SkTreeNodes {
    std::size_t n_nodes = 0;   // Tree.node_count (not the capacity)
    IntColumn left;            // left_child   int64, TREE_LEAF (-1) for a leaf
    IntColumn right;           // right_child  int64, TREE_LEAF (-1) for a leaf
    IntColumn feature;         // feature      int64, unchecked on leaves (sklearn writes -2 there)
};

// NODE_DTYPE byte offsets and item size (64-bit platforms, sklearn 1.3+).
constexpr std::size_t kSkNodeItemsize = 64;
constexpr std::size_t kSkNodeLeftOffset = 0;
constexpr std::size_t kSkNodeRightOffset = 8;
constexpr std::size_t kSkNodeFeatureOffset = 16;

// View of a C-contiguous NODE_DTYPE record array (or any records holding the
// three int64 fields at the given offsets, `itemsize` bytes apart).
SkTreeNodes sklearn_tree_records(const void* base, std::size_t n_nodes,
                                 std::ptrdiff_t itemsize = kSkNodeItemsize,
                                 std::size_t left_offset = kSkNodeLeftOffset,
                                 std::size_t right_offset = kSkNodeRightOffset,
                                 std::size_t feature_offset = kSkNodeFeatureOffset);

// The fields of HistGradientBoosting `TreePredictor.nodes` that shape the tree
// (sklearn.ensemble._hist_gradient_boosting.common.PREDICTOR_RECORD_DTYPE, packed).
struct HistPredictorNodes {
    std::size_t n_nodes = 0;
    IntColumn left;            // left            uint32
    IntColumn right;           // right           uint32
    IntColumn feature_idx;     // feature_idx     intp (int64)
    IntColumn is_leaf;         // is_leaf         uint8, non-zero for a leaf (its children are ignored)
    IntColumn is_categorical;  // is_categorical  uint8, non-zero: the split uses bitset row bitset_idx
    IntColumn bitset_idx;      // bitset_idx      uint32
};

// PREDICTOR_RECORD_DTYPE byte offsets and item size (packed, so mostly unaligned).
constexpr std::size_t kHistNodeItemsize = 56;
struct HistNodeOffsets {
    std::size_t left = 29;
    std::size_t right = 33;
    std::size_t feature_idx = 12;  // int64
    std::size_t is_leaf = 49;
    std::size_t is_categorical = 51;
    std::size_t bitset_idx = 52;
};

// View of a C-contiguous PREDICTOR_RECORD_DTYPE record array.
HistPredictorNodes hist_predictor_records(const void* base, std::size_t n_nodes,
                                          std::ptrdiff_t itemsize = kHistNodeItemsize,
                                          const HistNodeOffsets& offsets = HistNodeOffsets{});

struct TreeProblem {
    bool ok = true;
    int64_t node = -1;        // the offending node (-1 for table-level problems)
    std::string what;         // full message, e.g. "node 5: left child 3 is not greater than its parent 5"
    int64_t depth = -1;       // when ok: the depth of the deepest node, the root at 0 (sklearn's Tree.max_depth);
                              // -1 for an empty table or when not ok
};

// sklearn Tree semantics:
//  - n_nodes >= 1, unless allow_empty (then an empty table is valid);
//  - a leaf has left == right == -1 (TREE_LEAF); a node with exactly one of them
//    -1 is malformed;
//  - a split has both children in [0, n_nodes), each greater than the node's own
//    index, left != right, and its feature in [0, n_features);
//  - every node but the root (node 0) has exactly one parent. Together with
//    "children are greater than their parent" this means: no cycle, no shared
//    node, every node reachable from node 0;
//  - if values_rows >= 0: values_rows == n_nodes (rows of Tree.value).
// n_features must be >= 0 (a negative value is reported as a problem).
// A sound table's depth is returned in TreeProblem::depth (children come after
// their parent, so one forward pass measures it). When several problems exist,
// the one reported is the first in node order; "unreachable" comes last (it can
// only be known once every node has been seen).
TreeProblem check_sklearn_tree(const SkTreeNodes& nodes, int64_t n_features, int64_t values_rows,
                               bool allow_empty = false);

// check_sklearn_tree with the number of features left open, for a table met before its tree's n_features is
// known (the reader checks node tables as soon as they are converted): true if the table holds at least one
// node and breaks no rule above with n_features = 2^63 (every split's feature >= 0); then `depth` is its depth and
// `max_feature` the largest feature of a split (-1 if none), and check_sklearn_tree(nodes, n, n_nodes) is sound
// with that depth exactly when n > max_feature. False for any other table (the full check words the problem).
bool sklearn_tree_shape(const SkTreeNodes& nodes, int64_t& depth, int64_t& max_feature);

namespace detail {
// check_sklearn_tree through the general column reader only (no fast path): for
// tests that compare the two.
TreeProblem check_sklearn_tree_general(const SkTreeNodes& nodes, int64_t n_features, int64_t values_rows,
                                       bool allow_empty = false);
}  // namespace detail

// HistGradientBoosting TreePredictor semantics:
//  - n_nodes >= 1 (a predictor always has a root);
//  - a leaf is a node with is_leaf != 0; its other fields are not checked;
//  - a split has left and right in [0, n_nodes), each greater than the node's
//    own index, left != right, feature_idx in [0, n_features), and if
//    is_categorical != 0, bitset_idx < n_bitsets (the number of rows of the
//    predictor's raw_left_cat_bitsets);
//  - every node but the root has exactly one parent (as above).
// n_features and n_bitsets must be >= 0. A sound table's depth is returned too.
TreeProblem check_hist_predictor(const HistPredictorNodes& nodes, int64_t n_features, int64_t n_bitsets);

}  // namespace milo

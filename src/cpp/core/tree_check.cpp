// Validation of decision-tree node tables (see tree_check.hpp for the contract).
//
// Both table kinds share one structural check: with every child index greater
// than its parent's, "each node but the root has exactly one parent" already
// rules out cycles and shared nodes and makes every node reachable from node 0
// (follow the parents: the indices decrease, so the walk ends, and it can only
// end at the one node without a parent, the root). So one pass marking "has a
// parent" in a bitmap, then one pass looking for unmarked nodes, is enough.
#include "tree_check.hpp"

#include <cstring>
#include <memory>
#include <new>

namespace milo {

namespace {

// An integer read from a column; `huge` is set for unsigned 64-bit values
// above INT64_MAX (then v is INT64_MAX: out of range of anything).
struct Int {
    int64_t v = 0;
    uint64_t raw = 0;
    bool huge = false;
};

Int read(const IntColumn& c, std::size_t i) {
    const uint8_t* p = c.ptr + static_cast<std::ptrdiff_t>(i) * c.stride;
    Int r;
    switch (c.width) {
        case 1: {
            uint8_t x; std::memcpy(&x, p, 1);
            r.v = c.is_signed ? static_cast<int8_t>(x) : static_cast<int64_t>(x);
            break;
        }
        case 2: {
            uint16_t x; std::memcpy(&x, p, 2);
            r.v = c.is_signed ? static_cast<int16_t>(x) : static_cast<int64_t>(x);
            break;
        }
        case 4: {
            uint32_t x; std::memcpy(&x, p, 4);
            r.v = c.is_signed ? static_cast<int32_t>(x) : static_cast<int64_t>(x);
            break;
        }
        default: {
            uint64_t x; std::memcpy(&x, p, 8);
            if (!c.is_signed && x > static_cast<uint64_t>(INT64_MAX)) {
                r.huge = true;
                r.raw = x;
                r.v = INT64_MAX;
            } else {
                r.v = static_cast<int64_t>(x);
            }
            break;
        }
    }
    return r;
}

std::string str(const Int& x) { return x.huge ? std::to_string(x.raw) : std::to_string(x.v); }
std::string str(int64_t x) { return std::to_string(x); }
std::string str(std::size_t x) { return std::to_string(x); }

TreeProblem problem(int64_t node, std::string what) {
    TreeProblem p;
    p.ok = false;
    p.node = node;
    p.what = std::move(what);
    return p;
}

TreeProblem node_problem(std::size_t node, const std::string& what) {
    return problem(static_cast<int64_t>(node), "node " + str(node) + ": " + what);
}

bool column_ok(const IntColumn& c) {
    return c.ptr != nullptr && (c.width == 1 || c.width == 2 || c.width == 4 || c.width == 8);
}

TreeProblem bad_column(const char* name) {
    return problem(-1, std::string("the ") + name + " column is missing or has an unsupported width");
}

// What the kind-specific part says about node i.
struct NodeInfo {
    bool leaf = true;
    Int left, right;
};

// The shared structural check. `inspect(i, info, prob)` fills info for node i and
// returns false with prob set if the node is malformed in a kind-specific way.
template <class Inspect>
TreeProblem check_structure(std::size_t n, Inspect inspect) {
    const std::size_t words = (n + 63) / 64;
    std::unique_ptr<uint64_t[]> has_parent(new (std::nothrow) uint64_t[words]);
    if (!has_parent) return problem(-1, "out of memory while checking a tree of " + str(n) + " nodes");
    std::memset(has_parent.get(), 0, words * sizeof(uint64_t));
    const int64_t nn = static_cast<int64_t>(n);

    for (std::size_t i = 0; i < n; ++i) {
        NodeInfo info;
        TreeProblem prob;
        if (!inspect(i, info, prob)) return prob;
        if (info.leaf) continue;
        const int64_t self = static_cast<int64_t>(i);
        const Int kids[2] = {info.left, info.right};
        const char* names[2] = {"left", "right"};
        for (int k = 0; k < 2; ++k) {
            const Int& c = kids[k];
            if (c.huge || c.v < 0 || c.v >= nn)
                return node_problem(i, std::string(names[k]) + " child " + str(c) + " is out of range [0, " + str(n) + ")");
            if (c.v <= self)
                return node_problem(i, std::string(names[k]) + " child " + str(c) + " is not greater than its parent " + str(self));
        }
        if (info.left.v == info.right.v)
            return node_problem(i, "left and right children are the same node " + str(info.left));
        for (int k = 0; k < 2; ++k) {
            const std::size_t c = static_cast<std::size_t>(kids[k].v);
            uint64_t& word = has_parent[c / 64];
            const uint64_t bit = uint64_t{1} << (c % 64);
            if (word & bit) {
                // Rare path: find the first parent (an earlier node, already checked).
                std::size_t first = 0;
                for (std::size_t j = 0; j < i; ++j) {
                    NodeInfo other;
                    TreeProblem ignored;
                    if (inspect(j, other, ignored) && !other.leaf &&
                        (static_cast<std::size_t>(other.left.v) == c || static_cast<std::size_t>(other.right.v) == c)) {
                        first = j;
                        break;
                    }
                }
                return problem(static_cast<int64_t>(c),
                               "node " + str(c) + " has two parents (" + str(first) + " and " + str(i) + ")");
            }
            word |= bit;
        }
    }
    for (std::size_t i = 1; i < n; ++i) {
        if (!(has_parent[i / 64] & (uint64_t{1} << (i % 64))))
            return node_problem(i, "unreachable from the root (no node has it as a child)");
    }
    return TreeProblem{};
}

}  // namespace

SkTreeNodes sklearn_tree_records(const void* base, std::size_t n_nodes, std::ptrdiff_t itemsize,
                                 std::size_t left_offset, std::size_t right_offset, std::size_t feature_offset) {
    const auto* b = static_cast<const uint8_t*>(base);
    SkTreeNodes t;
    t.n_nodes = n_nodes;
    t.left = IntColumn{b + left_offset, itemsize, 8, true};
    t.right = IntColumn{b + right_offset, itemsize, 8, true};
    t.feature = IntColumn{b + feature_offset, itemsize, 8, true};
    return t;
}

HistPredictorNodes hist_predictor_records(const void* base, std::size_t n_nodes, std::ptrdiff_t itemsize,
                                          const HistNodeOffsets& o) {
    const auto* b = static_cast<const uint8_t*>(base);
    HistPredictorNodes t;
    t.n_nodes = n_nodes;
    t.left = IntColumn{b + o.left, itemsize, 4, false};
    t.right = IntColumn{b + o.right, itemsize, 4, false};
    t.feature_idx = IntColumn{b + o.feature_idx, itemsize, 8, true};
    t.is_leaf = IntColumn{b + o.is_leaf, itemsize, 1, false};
    t.is_categorical = IntColumn{b + o.is_categorical, itemsize, 1, false};
    t.bitset_idx = IntColumn{b + o.bitset_idx, itemsize, 4, false};
    return t;
}

TreeProblem check_sklearn_tree(const SkTreeNodes& t, int64_t n_features, int64_t values_rows, bool allow_empty) {
    const std::size_t n = t.n_nodes;
    if (n_features < 0) return problem(-1, "n_features is negative (" + str(n_features) + ")");
    if (values_rows >= 0 && static_cast<uint64_t>(values_rows) != n)
        return problem(-1, "the value array has " + str(values_rows) + " rows for " + str(n) + " nodes");
    if (n == 0) return allow_empty ? TreeProblem{} : problem(-1, "the tree has no nodes");
    if (!column_ok(t.left)) return bad_column("left_child");
    if (!column_ok(t.right)) return bad_column("right_child");
    if (!column_ok(t.feature)) return bad_column("feature");

    return check_structure(n, [&](std::size_t i, NodeInfo& info, TreeProblem& prob) {
        info.left = read(t.left, i);
        info.right = read(t.right, i);
        const bool l_leaf = !info.left.huge && info.left.v == -1;
        const bool r_leaf = !info.right.huge && info.right.v == -1;
        if (l_leaf && r_leaf) { info.leaf = true; return true; }
        info.leaf = false;
        if (l_leaf || r_leaf) {
            prob = node_problem(i, l_leaf ? "left child is -1 (leaf) but right child is " + str(info.right)
                                          : "right child is -1 (leaf) but left child is " + str(info.left));
            return false;
        }
        const Int f = read(t.feature, i);
        if (!f.huge && f.v < 0) {
            prob = node_problem(i, "split on negative feature " + str(f));
            return false;
        }
        if (f.huge || f.v >= n_features) {
            prob = node_problem(i, "feature " + str(f) + " >= n_features " + str(n_features));
            return false;
        }
        return true;
    });
}

TreeProblem check_hist_predictor(const HistPredictorNodes& t, int64_t n_features, int64_t n_bitsets) {
    const std::size_t n = t.n_nodes;
    if (n_features < 0) return problem(-1, "n_features is negative (" + str(n_features) + ")");
    if (n_bitsets < 0) return problem(-1, "n_bitsets is negative (" + str(n_bitsets) + ")");
    if (n == 0) return problem(-1, "the predictor has no nodes");
    if (!column_ok(t.left)) return bad_column("left");
    if (!column_ok(t.right)) return bad_column("right");
    if (!column_ok(t.feature_idx)) return bad_column("feature_idx");
    if (!column_ok(t.is_leaf)) return bad_column("is_leaf");
    if (!column_ok(t.is_categorical)) return bad_column("is_categorical");
    if (!column_ok(t.bitset_idx)) return bad_column("bitset_idx");

    return check_structure(n, [&](std::size_t i, NodeInfo& info, TreeProblem& prob) {
        const Int leaf = read(t.is_leaf, i);
        if (leaf.huge || leaf.v != 0) { info.leaf = true; return true; }
        info.leaf = false;
        info.left = read(t.left, i);
        info.right = read(t.right, i);
        const Int f = read(t.feature_idx, i);
        if (!f.huge && f.v < 0) {
            prob = node_problem(i, "split on negative feature_idx " + str(f));
            return false;
        }
        if (f.huge || f.v >= n_features) {
            prob = node_problem(i, "feature_idx " + str(f) + " >= n_features " + str(n_features));
            return false;
        }
        const Int cat = read(t.is_categorical, i);
        if (cat.huge || cat.v != 0) {
            const Int b = read(t.bitset_idx, i);
            if (b.huge || b.v < 0 || b.v >= n_bitsets) {
                prob = node_problem(i, "categorical split with bitset_idx " + str(b) + " out of range [0, " +
                                           str(n_bitsets) + ")");
                return false;
            }
        }
        return true;
    });
}

}  // namespace milo

// Validation of decision-tree node tables (see tree_check.hpp for the contract).
//
// Both table kinds share one structural check: with every child index greater
// than its parent's, "each node but the root has exactly one parent" already
// rules out cycles and shared nodes and makes every node reachable from node 0
// (follow the parents: the indices decrease, so the walk ends, and it can only
// end at the one node without a parent, the root). So one pass marking "has a
// parent" (here: a depth, which the same pass measures), then one pass looking
// for unmarked nodes, is enough.
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

// Scratch for the structural pass: depth[i] is node i's depth once some node has
// claimed it as a child, kUnclaimed before. Node 0 starts at 0. Children come
// after their parent, so a node's depth is final by the time it is visited, and
// "has a parent" is just depth != kUnclaimed. uint32_t holds any depth of a table
// below 2^32 - 1 nodes (the depth is at most n - 1); larger tables use uint64_t.
// A claimed child of an unclaimed node gets depth kUnclaimed + 1 (wraps to 0): a
// meaningless value, but such a table is reported unreachable anyway.
template <class D>
struct DepthScratch {
    static constexpr D kUnclaimed = static_cast<D>(~D{0});
    std::unique_ptr<D[]> d;
    bool alloc(std::size_t n) {
        d.reset(new (std::nothrow) D[n]);
        if (!d) return false;
        std::memset(d.get(), 0xff, n * sizeof(D));
        d[0] = 0;
        return true;
    }
};

TreeProblem out_of_memory(std::size_t n) {
    return problem(-1, "out of memory while checking a tree of " + str(n) + " nodes");
}

// After the node pass: the first node nobody claimed, or ok with the depth.
template <class D>
TreeProblem finish(const D* depth, std::size_t n) {
    D deepest = 0;
    for (std::size_t i = 0; i < n; ++i) deepest = depth[i] > deepest ? depth[i] : deepest;  // (vectorizes)
    if (deepest == DepthScratch<D>::kUnclaimed) {
        for (std::size_t i = 1; i < n; ++i)
            if (depth[i] == DepthScratch<D>::kUnclaimed)
                return node_problem(i, "unreachable from the root (no node has it as a child)");
    }
    TreeProblem ok;
    ok.depth = static_cast<int64_t>(deepest);
    return ok;
}

// The shared structural check. `inspect(i, info, prob)` fills info for node i and
// returns false with prob set if the node is malformed in a kind-specific way.
template <class D, class Inspect>
TreeProblem check_structure_as(std::size_t n, Inspect inspect) {
    DepthScratch<D> s;
    if (!s.alloc(n)) return out_of_memory(n);
    D* depth = s.d.get();
    const int64_t nn = static_cast<int64_t>(n);
    TreeProblem prob;

    for (std::size_t i = 0; i < n; ++i) {
        NodeInfo info;
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
        const D below = static_cast<D>(depth[i] + 1);
        for (int k = 0; k < 2; ++k) {
            const std::size_t c = static_cast<std::size_t>(kids[k].v);
            if (depth[c] != DepthScratch<D>::kUnclaimed) {
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
            depth[c] = below;
        }
    }
    return finish(depth, n);
}

constexpr std::size_t kMaxNarrowDepthNodes = 0xfffffffeu;  // below this many nodes, uint32_t depths

template <class Inspect>
TreeProblem check_structure(std::size_t n, Inspect inspect) {
    return n <= kMaxNarrowDepthNodes ? check_structure_as<uint32_t>(n, inspect)
                                     : check_structure_as<uint64_t>(n, inspect);
}

int64_t load_i64(const uint8_t* p) {
    int64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

// The usual sklearn table: left, right and feature all native int64 (any strides).
// The same rules as check_structure + the sklearn inspect, with no message work:
// returns false at the first node that breaks any rule (the caller then lets the
// general path find and word the problem), else ok/depth through finish().
// For n <= kMaxNarrowDepthNodes only (uint32_t depths).
// (A branch-free variant, leaves claiming a spare slot, measured twice as slow:
// its stores and loads through the one spare slot serialize. This loop reads one
// record cache line per node and is bound by memory on tables not in cache.)
bool sklearn_fast(const SkTreeNodes& t, uint64_t n_features, TreeProblem& out, int64_t* max_feature = nullptr) {
    const std::size_t n = t.n_nodes;
    DepthScratch<uint32_t> s;
    if (!s.alloc(n)) {
        out = out_of_memory(n);
        return true;
    }
    uint32_t* depth = s.d.get();
    constexpr uint32_t kFree = DepthScratch<uint32_t>::kUnclaimed;
    const uint8_t* lp = t.left.ptr;
    const uint8_t* rp = t.right.ptr;
    const uint8_t* fp = t.feature.ptr;
    const std::ptrdiff_t ls = t.left.stride, rs = t.right.stride, fs = t.feature.stride;
    int64_t mf = -1;
    for (std::size_t i = 0; i < n; ++i, lp += ls, rp += rs, fp += fs) {
        const int64_t l = load_i64(lp), r = load_i64(rp);
        if ((l & r) == -1) continue;  // both -1: a leaf
        const int64_t f = load_i64(fp);
        mf = f > mf ? f : mf;
        // l, r in (i, n) as one unsigned compare each (negative values wrap above n - i - 1)
        const uint64_t first = i + 1, span = n - first;
        const bool sound = (static_cast<uint64_t>(l) - first < span) & (static_cast<uint64_t>(r) - first < span) &
                           (l != r) & (static_cast<uint64_t>(f) < n_features);
        if (!sound) return false;
        const std::size_t li = static_cast<std::size_t>(l), ri = static_cast<std::size_t>(r);
        if ((depth[li] & depth[ri]) != kFree) return false;  // a second parent
        const uint32_t below = depth[i] + 1;
        depth[li] = below;
        depth[ri] = below;
    }
    out = finish(depth, n);
    if (max_feature) *max_feature = mf;
    return true;
}

TreeProblem sklearn_general(const SkTreeNodes& t, int64_t n_features) {
    return check_structure(t.n_nodes, [&](std::size_t i, NodeInfo& info, TreeProblem& prob) {
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

bool is_native_i64(const IntColumn& c) { return c.width == 8 && c.is_signed; }

// Table-level checks shared by both sklearn entry points: a problem, or ok with depth -1
// meaning "go on to the nodes" (depth 0 with ok: the empty table, allowed).
TreeProblem sklearn_table(const SkTreeNodes& t, int64_t n_features, int64_t values_rows, bool allow_empty,
                          bool& go_on) {
    go_on = false;
    const std::size_t n = t.n_nodes;
    if (n_features < 0) return problem(-1, "n_features is negative (" + str(n_features) + ")");
    if (values_rows >= 0 && static_cast<uint64_t>(values_rows) != n)
        return problem(-1, "the value array has " + str(values_rows) + " rows for " + str(n) + " nodes");
    if (n == 0) return allow_empty ? TreeProblem{} : problem(-1, "the tree has no nodes");
    if (!column_ok(t.left)) return bad_column("left_child");
    if (!column_ok(t.right)) return bad_column("right_child");
    if (!column_ok(t.feature)) return bad_column("feature");
    go_on = true;
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
    bool go_on = false;
    TreeProblem p = sklearn_table(t, n_features, values_rows, allow_empty, go_on);
    if (!go_on) return p;
    if (is_native_i64(t.left) && is_native_i64(t.right) && is_native_i64(t.feature) &&
        t.n_nodes <= kMaxNarrowDepthNodes && sklearn_fast(t, static_cast<uint64_t>(n_features), p))
        return p;
    return sklearn_general(t, n_features);  // other layouts, and the wording of any problem the fast loop met
}

bool sklearn_tree_shape(const SkTreeNodes& t, int64_t& depth, int64_t& max_feature) {
    if (t.n_nodes == 0 || t.n_nodes > kMaxNarrowDepthNodes || !is_native_i64(t.left) || !is_native_i64(t.right) ||
        !is_native_i64(t.feature) || !column_ok(t.left) || !column_ok(t.right) || !column_ok(t.feature))
        return false;
    TreeProblem p;
    int64_t mf = -1;
    // n_features 2^63: a feature passes as an unsigned compare exactly when it is >= 0
    if (!sklearn_fast(t, uint64_t{1} << 63, p, &mf) || !p.ok) return false;
    depth = p.depth;
    max_feature = mf;
    return true;
}

namespace detail {
TreeProblem check_sklearn_tree_general(const SkTreeNodes& t, int64_t n_features, int64_t values_rows,
                                       bool allow_empty) {
    bool go_on = false;
    TreeProblem p = sklearn_table(t, n_features, values_rows, allow_empty, go_on);
    return go_on ? sklearn_general(t, n_features) : p;
}
}  // namespace detail

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

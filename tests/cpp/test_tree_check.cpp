// Unit tests of src/cpp/core/tree_check: valid sklearn Tree and HistGradientBoosting
// predictor node tables, each kind of defect with its message, and random
// mutations judged against a naive reference checker; the depth each check
// returns against a reference recursion; the int64 fast path against the general
// column reader (same verdict, node, message and depth on every table checked
// through sk_check). Returns non-zero on failure.
#include "tree_check.hpp"

#include <cstring>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace milo;

namespace {

// ------------------------------------------------------------ table builders

struct Node {
    int64_t left = -1, right = -1, feature = -2;  // sklearn leaf defaults (TREE_LEAF, TREE_UNDEFINED)
    bool leaf = true;                              // hist: is_leaf
    bool categorical = false;
    uint32_t bitset = 0;
};

Node split(int64_t l, int64_t r, int64_t f) {
    Node n;
    n.left = l; n.right = r; n.feature = f; n.leaf = false;
    return n;
}
Node leaf() { return Node{}; }

// Records laid out as NODE_DTYPE (64 bytes), starting `misalign` bytes into the
// buffer so that the int64 fields are unaligned when misalign != 0.
struct SkTable {
    std::vector<uint8_t> buf;
    std::size_t misalign = 0;
    SkTreeNodes view(std::size_t n) const { return sklearn_tree_records(buf.data() + misalign, n); }
};

SkTable sk_table(const std::vector<Node>& nodes, std::size_t misalign = 0) {
    SkTable t;
    t.misalign = misalign;
    t.buf.assign(nodes.size() * kSkNodeItemsize + misalign + 1, 0xcd);  // junk in the other fields
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        uint8_t* rec = t.buf.data() + misalign + i * kSkNodeItemsize;
        std::memcpy(rec + 0, &nodes[i].left, 8);
        std::memcpy(rec + 8, &nodes[i].right, 8);
        std::memcpy(rec + 16, &nodes[i].feature, 8);
    }
    return t;
}

bool same(const TreeProblem& a, const TreeProblem& b) {
    return a.ok == b.ok && a.node == b.node && a.what == b.what && a.depth == b.depth;
}

uint64_t fast_vs_general = 0;  // tables on which both paths were compared

// Checks the table through check_sklearn_tree (int64 records: its fast path) and
// through the general reader, and fails unless both say exactly the same.
TreeProblem sk_check(const std::vector<Node>& nodes, int64_t n_features, int64_t values_rows = -2,
                     bool allow_empty = false, std::size_t misalign = 0) {
    const SkTable t = sk_table(nodes, misalign);
    if (values_rows == -2) values_rows = static_cast<int64_t>(nodes.size());
    const TreeProblem fast = check_sklearn_tree(t.view(nodes.size()), n_features, values_rows, allow_empty);
    const TreeProblem general = detail::check_sklearn_tree_general(t.view(nodes.size()), n_features, values_rows,
                                                                   allow_empty);
    CHECK_MSG(same(fast, general), "fast path: node %lld '%s' depth %lld; general: node %lld '%s' depth %lld",
              static_cast<long long>(fast.node), fast.what.c_str(), static_cast<long long>(fast.depth),
              static_cast<long long>(general.node), general.what.c_str(), static_cast<long long>(general.depth));
    ++fast_vs_general;
    return fast;
}

// Records laid out as the packed PREDICTOR_RECORD_DTYPE (56 bytes).
std::vector<uint8_t> hist_table(const std::vector<Node>& nodes) {
    std::vector<uint8_t> buf(nodes.size() * kHistNodeItemsize + 1, 0xab);
    const HistNodeOffsets o;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        uint8_t* rec = buf.data() + i * kHistNodeItemsize;
        const Node& n = nodes[i];
        const uint32_t l = static_cast<uint32_t>(n.left), r = static_cast<uint32_t>(n.right);
        const uint8_t is_leaf = n.leaf ? 1 : 0, cat = n.categorical ? 1 : 0;
        std::memcpy(rec + o.left, &l, 4);
        std::memcpy(rec + o.right, &r, 4);
        std::memcpy(rec + o.feature_idx, &n.feature, 8);
        std::memcpy(rec + o.is_leaf, &is_leaf, 1);
        std::memcpy(rec + o.is_categorical, &cat, 1);
        std::memcpy(rec + o.bitset_idx, &n.bitset, 4);
    }
    return buf;
}

TreeProblem hist_check(std::vector<Node> nodes, int64_t n_features, int64_t n_bitsets = 0) {
    for (Node& n : nodes)
        if (n.leaf) { n.left = 0; n.right = 0; n.feature = 0; }  // what sklearn's grower leaves in leaves
    const std::vector<uint8_t> buf = hist_table(nodes);
    return check_hist_predictor(hist_predictor_records(buf.data(), nodes.size()), n_features, n_bitsets);
}


#define EXPECT_OK(expr)                                                       \
    do {                                                                      \
        const TreeProblem p_ = (expr);                                        \
        CHECK_MSG(p_.ok && p_.node == -1 && p_.what.empty(), "%s", p_.what.c_str()); \
    } while (0)

#define EXPECT_PROBLEM(expr, node_, text_)                                    \
    do {                                                                      \
        const TreeProblem p_ = (expr);                                        \
        CHECK_MSG(!p_.ok && p_.node == (node_) && p_.what == (text_) && p_.depth == -1, "got node %lld: '%s'", \
                  static_cast<long long>(p_.node), p_.what.c_str());          \
    } while (0)

#define EXPECT_DEPTH(expr, depth_)                                            \
    do {                                                                      \
        const TreeProblem p_ = (expr);                                        \
        CHECK_MSG(p_.ok && p_.depth == (depth_), "got depth %lld ('%s')", static_cast<long long>(p_.depth), \
                  p_.what.c_str());                                           \
    } while (0)

// ---------------------------------------------------------------- valid trees

std::vector<Node> dfs_tree() {  // sklearn's depth-first builder order
    return {split(1, 4, 0), split(2, 3, 1), leaf(), leaf(), split(5, 6, 2), leaf(), leaf()};
}
std::vector<Node> bfs_tree() {  // best-first / breadth-first order
    return {split(1, 2, 0), split(3, 4, 1), split(5, 6, 0), leaf(), leaf(), leaf(), leaf()};
}

void test_valid() {
    EXPECT_OK(sk_check({leaf()}, 1));
    EXPECT_OK(sk_check({leaf()}, 0));  // a single leaf needs no feature
    EXPECT_OK(sk_check(dfs_tree(), 3));
    EXPECT_OK(sk_check(bfs_tree(), 2));
    EXPECT_OK(sk_check(dfs_tree(), 3, -1));        // values rows not given
    EXPECT_OK(sk_check(dfs_tree(), 3, 7, false, 3));  // unaligned records
    EXPECT_OK(sk_check({}, 3, 0, true));           // empty allowed on request
    EXPECT_OK(sk_check({}, 3, -1, true));
    EXPECT_OK(hist_check({leaf()}, 1));
    EXPECT_OK(hist_check(dfs_tree(), 3));
    EXPECT_OK(hist_check(bfs_tree(), 2));
    {
        std::vector<Node> t = dfs_tree();
        t[4].categorical = true;
        t[4].bitset = 1;
        EXPECT_OK(hist_check(t, 3, 2));
    }
    // a leaf's children are ignored in a predictor, whatever they hold
    {
        std::vector<Node> t = dfs_tree();
        std::vector<uint8_t> buf = hist_table(t);
        const HistNodeOffsets o;
        const uint32_t junk = 0xffffffffU;
        std::memcpy(buf.data() + 2 * kHistNodeItemsize + o.left, &junk, 4);
        std::memcpy(buf.data() + 2 * kHistNodeItemsize + o.right, &junk, 4);
        EXPECT_OK(check_hist_predictor(hist_predictor_records(buf.data(), t.size()), 3, 0));
    }
    // depths: the root is at 0
    EXPECT_DEPTH(sk_check({leaf()}, 1), 0);
    EXPECT_DEPTH(sk_check(dfs_tree(), 3), 2);
    EXPECT_DEPTH(sk_check(bfs_tree(), 2), 2);
    EXPECT_DEPTH(sk_check({split(1, 2, 0), leaf(), split(3, 4, 0), leaf(), split(5, 6, 0), leaf(), leaf()}, 1), 3);
    EXPECT_DEPTH(sk_check({}, 3, 0, true), -1);  // no nodes, no depth
    EXPECT_DEPTH(hist_check({leaf()}, 1), 0);
    EXPECT_DEPTH(hist_check(dfs_tree(), 3), 2);
    // a deep chain: 2k -> (2k+1 leaf, 2k+2), 200001 nodes
    {
        const int64_t n = 200001;
        std::vector<Node> t(static_cast<std::size_t>(n));
        for (int64_t k = 0; 2 * k + 2 < n; ++k) t[static_cast<std::size_t>(2 * k)] = split(2 * k + 1, 2 * k + 2, k % 5);
        EXPECT_OK(sk_check(t, 5));
        EXPECT_DEPTH(sk_check(t, 5), (n - 1) / 2);
        EXPECT_DEPTH(hist_check(t, 5), (n - 1) / 2);
        // and the last node unreachable
        t.push_back(leaf());
        EXPECT_PROBLEM(sk_check(t, 5), n, "node " + std::to_string(n) + ": unreachable from the root (no node has it as a child)");
    }
}

// -------------------------------------------------------------------- defects

void test_sklearn_defects() {
    // cycle: 2 -> 1 goes back up (with children > parent, every cycle has such an edge)
    EXPECT_PROBLEM(sk_check({split(1, 3, 0), split(2, 4, 0), split(1, 5, 0), leaf(), leaf(), leaf()}, 1), 2,
                   "node 2: left child 1 is not greater than its parent 2");
    // self loop
    EXPECT_PROBLEM(sk_check({split(1, 2, 0), leaf(), split(3, 2, 0), leaf()}, 1), 2,
                   "node 2: right child 2 is not greater than its parent 2");
    // the root as a child
    EXPECT_PROBLEM(sk_check({split(1, 2, 0), split(0, 3, 0), leaf(), leaf()}, 1), 1,
                   "node 1: left child 0 is not greater than its parent 1");
    // shared child
    EXPECT_PROBLEM(sk_check({split(1, 2, 0), split(3, 4, 0), split(4, 5, 0), leaf(), leaf(), leaf()}, 1), 4,
                   "node 4 has two parents (1 and 2)");
    EXPECT_PROBLEM(sk_check({split(1, 2, 0), split(3, 4, 0), split(5, 3, 0), leaf(), leaf(), leaf()}, 1), 3,
                   "node 3 has two parents (1 and 2)");
    // both children the same
    EXPECT_PROBLEM(sk_check({split(1, 1, 0), leaf()}, 1), 0, "node 0: left and right children are the same node 1");
    // children out of range
    EXPECT_PROBLEM(sk_check({split(1, 7, 0), leaf(), leaf()}, 1), 0, "node 0: right child 7 is out of range [0, 3)");
    EXPECT_PROBLEM(sk_check({split(3, 2, 0), leaf(), leaf()}, 1), 0, "node 0: left child 3 is out of range [0, 3)");
    EXPECT_PROBLEM(sk_check({split(-5, 2, 0), leaf(), leaf()}, 1), 0, "node 0: left child -5 is out of range [0, 3)");
    EXPECT_PROBLEM(sk_check({split(1, -2, 0), leaf(), leaf()}, 1), 0, "node 0: right child -2 is out of range [0, 3)");
    EXPECT_PROBLEM(sk_check({split(INT64_MIN, INT64_MAX, 0), leaf(), leaf()}, 1), 0,
                   "node 0: left child -9223372036854775808 is out of range [0, 3)");
    // leaf with one child -1 and the other not
    EXPECT_PROBLEM(sk_check({split(-1, 1, 0), leaf()}, 1), 0, "node 0: left child is -1 (leaf) but right child is 1");
    EXPECT_PROBLEM(sk_check({split(1, 2, 0), leaf(), split(3, -1, 0), leaf()}, 1), 2,
                   "node 2: right child is -1 (leaf) but left child is 3");
    // feature out of range, negative feature on a split
    EXPECT_PROBLEM(sk_check(dfs_tree(), 2), 4, "node 4: feature 2 >= n_features 2");
    {
        std::vector<Node> t = dfs_tree();
        t[1].feature = 12;
        EXPECT_PROBLEM(sk_check(t, 10), 1, "node 1: feature 12 >= n_features 10");
        t[1].feature = -2;  // TREE_UNDEFINED is only for leaves
        EXPECT_PROBLEM(sk_check(t, 10), 1, "node 1: split on negative feature -2");
        t[1].feature = 1;
        t[3].feature = 999;  // a leaf's feature is not looked at
        EXPECT_OK(sk_check(t, 10));
    }
    EXPECT_PROBLEM(sk_check({split(1, 2, 0), leaf(), leaf()}, 0), 0, "node 0: feature 0 >= n_features 0");
    // values rows mismatch
    EXPECT_PROBLEM(sk_check(dfs_tree(), 3, 6), -1, "the value array has 6 rows for 7 nodes");
    EXPECT_PROBLEM(sk_check(dfs_tree(), 3, 8), -1, "the value array has 8 rows for 7 nodes");
    EXPECT_PROBLEM(sk_check({}, 3, 1, true), -1, "the value array has 1 rows for 0 nodes");
    // unreachable nodes
    EXPECT_PROBLEM(sk_check({split(1, 2, 0), leaf(), leaf(), leaf()}, 1), 3,
                   "node 3: unreachable from the root (no node has it as a child)");
    EXPECT_PROBLEM(sk_check({leaf(), leaf()}, 1), 1, "node 1: unreachable from the root (no node has it as a child)");
    // a detached subtree (its own cycle-free component)
    EXPECT_PROBLEM(sk_check({split(1, 2, 0), leaf(), leaf(), split(4, 5, 0), leaf(), leaf()}, 1), 3,
                   "node 3: unreachable from the root (no node has it as a child)");
    // empty table, negative n_features
    EXPECT_PROBLEM(sk_check({}, 3, 0), -1, "the tree has no nodes");
    EXPECT_PROBLEM(sk_check(dfs_tree(), -1), -1, "n_features is negative (-1)");
    // the first problem in node order is the one reported
    {
        std::vector<Node> t = dfs_tree();
        t[4].feature = 50;
        t[1].right = 1;
        EXPECT_PROBLEM(sk_check(t, 3), 1, "node 1: right child 1 is not greater than its parent 1");
    }
}

void test_hist_defects() {
    EXPECT_PROBLEM(hist_check({split(1, 3, 0), split(2, 4, 0), split(1, 5, 0), leaf(), leaf(), leaf()}, 1), 2,
                   "node 2: left child 1 is not greater than its parent 2");
    EXPECT_PROBLEM(hist_check({split(1, 2, 0), split(3, 4, 0), split(4, 5, 0), leaf(), leaf(), leaf()}, 1), 4,
                   "node 4 has two parents (1 and 2)");
    EXPECT_PROBLEM(hist_check({split(1, 1, 0), leaf()}, 1), 0, "node 0: left and right children are the same node 1");
    EXPECT_PROBLEM(hist_check({split(1, 7, 0), leaf(), leaf()}, 1), 0, "node 0: right child 7 is out of range [0, 3)");
    // uint32 children: -1 written into u4 is 4294967295, out of range (not a leaf marker)
    EXPECT_PROBLEM(hist_check({split(-1, 1, 0), leaf()}, 1), 0, "node 0: left child 4294967295 is out of range [0, 2)");
    EXPECT_PROBLEM(hist_check(dfs_tree(), 2), 4, "node 4: feature_idx 2 >= n_features 2");
    {
        std::vector<Node> t = dfs_tree();
        t[1].feature = -3;
        EXPECT_PROBLEM(hist_check(t, 3), 1, "node 1: split on negative feature_idx -3");
    }
    // categorical split with a bitset row that does not exist
    {
        std::vector<Node> t = dfs_tree();
        t[4].categorical = true;
        t[4].bitset = 2;
        EXPECT_PROBLEM(hist_check(t, 3, 2), 4, "node 4: categorical split with bitset_idx 2 out of range [0, 2)");
        EXPECT_PROBLEM(hist_check(t, 3, 0), 4, "node 4: categorical split with bitset_idx 2 out of range [0, 0)");
        t[4].categorical = false;  // bitset_idx of a numerical split is not looked at
        EXPECT_OK(hist_check(t, 3, 0));
    }
    EXPECT_PROBLEM(hist_check({split(1, 2, 0), leaf(), leaf(), leaf()}, 1), 3,
                   "node 3: unreachable from the root (no node has it as a child)");
    EXPECT_PROBLEM(hist_check({}, 1), -1, "the predictor has no nodes");
    EXPECT_PROBLEM(hist_check({leaf()}, -1), -1, "n_features is negative (-1)");
    EXPECT_PROBLEM(hist_check({leaf()}, 1, -1), -1, "n_bitsets is negative (-1)");
    // is_leaf is any non-zero byte
    {
        std::vector<Node> t = {split(1, 2, 0), leaf(), leaf()};
        std::vector<uint8_t> buf = hist_table(t);
        const HistNodeOffsets o;
        buf[1 * kHistNodeItemsize + o.is_leaf] = 0x80;
        EXPECT_OK(check_hist_predictor(hist_predictor_records(buf.data(), 3), 1, 0));
        buf[0 * kHistNodeItemsize + o.is_leaf] = 2;  // the root is now a leaf: 1 and 2 unreachable
        EXPECT_PROBLEM(check_hist_predictor(hist_predictor_records(buf.data(), 3), 1, 0), 1,
                       "node 1: unreachable from the root (no node has it as a child)");
    }
}

// Column views: separate arrays of other widths, huge unsigned values, missing columns.
void test_columns() {
    const int32_t left[] = {1, -1, -1}, right[] = {2, -1, -1}, feature[] = {0, -2, -2};
    SkTreeNodes t;
    t.n_nodes = 3;
    t.left = IntColumn{reinterpret_cast<const uint8_t*>(left), 4, 4, true};
    t.right = IntColumn{reinterpret_cast<const uint8_t*>(right), 4, 4, true};
    t.feature = IntColumn{reinterpret_cast<const uint8_t*>(feature), 4, 4, true};
    EXPECT_OK(check_sklearn_tree(t, 1, 3));
    // reversed order through a negative stride: node i is left[2 - i] ...
    const int16_t rl[] = {-1, -1, 1}, rr[] = {-1, -1, 2}, rf[] = {-2, -2, 0};
    SkTreeNodes r;
    r.n_nodes = 3;
    r.left = IntColumn{reinterpret_cast<const uint8_t*>(rl + 2), -2, 2, true};
    r.right = IntColumn{reinterpret_cast<const uint8_t*>(rr + 2), -2, 2, true};
    r.feature = IntColumn{reinterpret_cast<const uint8_t*>(rf + 2), -2, 2, true};
    EXPECT_OK(check_sklearn_tree(r, 1, -1));
    // unsigned 64-bit child above INT64_MAX
    const uint64_t ul[] = {1, UINT64_MAX, UINT64_MAX}, ur[] = {(uint64_t{1} << 63) + 5, 0, 0};
    const uint64_t uf[] = {0, 0, 0};
    HistPredictorNodes h;
    h.n_nodes = 3;
    const uint8_t is_leaf[] = {0, 1, 1}, cat[] = {0, 0, 0};
    const uint32_t bits[] = {0, 0, 0};
    h.left = IntColumn{reinterpret_cast<const uint8_t*>(ul), 8, 8, false};
    h.right = IntColumn{reinterpret_cast<const uint8_t*>(ur), 8, 8, false};
    h.feature_idx = IntColumn{reinterpret_cast<const uint8_t*>(uf), 8, 8, false};
    h.is_leaf = IntColumn{is_leaf, 1, 1, false};
    h.is_categorical = IntColumn{cat, 1, 1, false};
    h.bitset_idx = IntColumn{reinterpret_cast<const uint8_t*>(bits), 4, 4, false};
    EXPECT_PROBLEM(check_hist_predictor(h, 1, 0), 0, "node 0: right child 9223372036854775813 is out of range [0, 3)");
    const uint64_t uf_huge[] = {UINT64_MAX, 0, 0};
    h.right = IntColumn{reinterpret_cast<const uint8_t*>(ul), 8, 8, false};
    h.feature_idx = IntColumn{reinterpret_cast<const uint8_t*>(uf_huge), 8, 8, false};
    EXPECT_PROBLEM(check_hist_predictor(h, 1, 0), 0, "node 0: feature_idx 18446744073709551615 >= n_features 1");
    // missing or unsupported columns
    SkTreeNodes m = t;
    m.feature.ptr = nullptr;
    EXPECT_PROBLEM(check_sklearn_tree(m, 1, 3), -1, "the feature column is missing or has an unsupported width");
    m = t;
    m.left.width = 3;
    EXPECT_PROBLEM(check_sklearn_tree(m, 1, 3), -1, "the left_child column is missing or has an unsupported width");
    HistPredictorNodes hm = h;
    hm.bitset_idx.ptr = nullptr;
    EXPECT_PROBLEM(check_hist_predictor(hm, 1, 0), -1, "the bitset_idx column is missing or has an unsupported width");
}

// -------------------------------------------------- random trees and mutations

struct Rng {
    uint64_t s;
    uint64_t next() { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s; }
    int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
};

// A random valid tree: grow a shape, then number the nodes in a random order in
// which every node comes after its parent.
// With `deep`, half the splits split the newest leaf: long spines with bushes.
std::vector<Node> random_tree(Rng& rng, int64_t n_features, int64_t max_splits = 30, bool deep = false) {
    const int64_t n_splits = rng.below(max_splits);
    // shape: children lists over shape ids
    std::vector<int64_t> kids_l(1, -1), kids_r(1, -1);
    std::vector<int64_t> leaves{0};
    for (int64_t s = 0; s < n_splits; ++s) {
        const std::size_t pick = deep && rng.below(2) ? leaves.size() - 1
                                 : static_cast<std::size_t>(rng.below(static_cast<int64_t>(leaves.size())));
        const int64_t node = leaves[pick];
        const int64_t a = static_cast<int64_t>(kids_l.size()), b = a + 1;
        kids_l.push_back(-1); kids_r.push_back(-1);
        kids_l.push_back(-1); kids_r.push_back(-1);
        kids_l[static_cast<std::size_t>(node)] = a;
        kids_r[static_cast<std::size_t>(node)] = b;
        leaves[pick] = a;
        leaves.push_back(b);
    }
    const std::size_t n = kids_l.size();
    // random topological numbering: repeatedly take a random "ready" node
    std::vector<int64_t> order_of(n, -1), ready{0};
    int64_t next = 0;
    while (!ready.empty()) {
        const std::size_t k = static_cast<std::size_t>(rng.below(static_cast<int64_t>(ready.size())));
        const int64_t id = ready[k];
        ready[k] = ready.back();
        ready.pop_back();
        order_of[static_cast<std::size_t>(id)] = next++;
        if (kids_l[static_cast<std::size_t>(id)] >= 0) {
            ready.push_back(kids_l[static_cast<std::size_t>(id)]);
            ready.push_back(kids_r[static_cast<std::size_t>(id)]);
        }
    }
    std::vector<Node> t(n);
    for (std::size_t id = 0; id < n; ++id) {
        Node& nd = t[static_cast<std::size_t>(order_of[id])];
        if (kids_l[id] >= 0)
            nd = split(order_of[static_cast<std::size_t>(kids_l[id])], order_of[static_cast<std::size_t>(kids_r[id])],
                       rng.below(n_features));
    }
    return t;
}

// Depth by the definition: a recursion from the root (trees here are small).
int64_t reference_depth(const std::vector<Node>& t, int64_t i = 0) {
    const Node& nd = t[static_cast<std::size_t>(i)];
    if (nd.left == -1 && nd.right == -1) return 0;
    const int64_t l = reference_depth(t, nd.left), r = reference_depth(t, nd.right);
    return 1 + (l > r ? l : r);
}

// The same table as int32 columns (another layout: the general reader only).
TreeProblem sk_check_i32(const std::vector<Node>& nodes, int64_t n_features) {
    std::vector<int32_t> l, r, f;
    for (const Node& nd : nodes) {
        l.push_back(static_cast<int32_t>(nd.left));
        r.push_back(static_cast<int32_t>(nd.right));
        f.push_back(static_cast<int32_t>(nd.feature));
    }
    SkTreeNodes t;
    t.n_nodes = nodes.size();
    t.left = IntColumn{reinterpret_cast<const uint8_t*>(l.data()), 4, 4, true};
    t.right = IntColumn{reinterpret_cast<const uint8_t*>(r.data()), 4, 4, true};
    t.feature = IntColumn{reinterpret_cast<const uint8_t*>(f.data()), 4, 4, true};
    return check_sklearn_tree(t, n_features, static_cast<int64_t>(nodes.size()));
}

void test_random_depths() {
    Rng rng{0x243f6a8885a308d3ULL};
    for (int round = 0; round < 5000; ++round) {
        const int64_t nf = 1 + rng.below(6);
        std::vector<Node> t = random_tree(rng, nf);
        const int64_t want = reference_depth(t);
        EXPECT_DEPTH(sk_check(t, nf, -2, false, static_cast<std::size_t>(round % 8)), want);
        EXPECT_DEPTH(sk_check_i32(t, nf), want);
        for (Node& nd : t) nd.leaf = nd.left == -1 && nd.right == -1;
        EXPECT_DEPTH(hist_check(t, nf), want);
    }
    // deeper random shapes: a long spine with random bushes, numbered at random
    for (int round = 0; round < 50; ++round) {
        std::vector<Node> t = random_tree(rng, 3, 3000, true);
        const int64_t want = reference_depth(t);
        CHECK(round < 5 || want > 20 || t.size() < 100);
        EXPECT_DEPTH(sk_check(t, 3), want);
        EXPECT_DEPTH(sk_check_i32(t, 3), want);
    }
}

// The definition, checked the slow and obvious way (sklearn flavour).
bool reference_ok(const std::vector<Node>& t, int64_t n_features) {
    const int64_t n = static_cast<int64_t>(t.size());
    if (n == 0) return false;
    std::vector<int> seen(t.size(), 0);
    std::vector<int64_t> stack{0};
    while (!stack.empty()) {
        const int64_t i = stack.back();
        stack.pop_back();
        if (seen[static_cast<std::size_t>(i)]++) return false;  // reached twice: shared or cyclic
        const Node& nd = t[static_cast<std::size_t>(i)];
        if (nd.left == -1 && nd.right == -1) continue;
        for (int64_t c : {nd.left, nd.right})
            if (c < 0 || c >= n || c <= i) return false;
        if (nd.feature < 0 || nd.feature >= n_features) return false;
        stack.push_back(nd.left);
        stack.push_back(nd.right);
    }
    for (int s : seen)
        if (s != 1) return false;  // unreachable
    return true;
}

// sklearn_tree_shape (n_features left open, the bound compared afterwards) against check_sklearn_tree: for any
// table and any n_features, the full check passes exactly when the shape check does and n_features exceeds the
// largest split feature it reports, with the same depth.
uint64_t shape_checked = 0, shape_sound = 0;
void check_shape_agrees(const std::vector<Node>& t) {
    const SkTable tab = sk_table(t, t.size() % 3);
    const std::size_t n = t.size();
    int64_t depth = -7, max_feature = -7;
    const bool sound = sklearn_tree_shape(tab.view(n), depth, max_feature);
    int64_t want_max = -1;
    for (const Node& nd : t)
        if (!(nd.left == -1 && nd.right == -1) && nd.feature > want_max) want_max = nd.feature;
    if (sound) CHECK(max_feature == want_max);
    for (int64_t nf : {int64_t{1}, int64_t{3}, want_max, want_max + 1, int64_t{1} << 40}) {
        if (nf < 0) continue;
        const TreeProblem full = check_sklearn_tree(tab.view(n), nf, static_cast<int64_t>(n));
        CHECK_MSG(full.ok == (sound && max_feature < nf), "n_features %lld: full check %s, shape %s (max feature %lld)",
                  static_cast<long long>(nf), full.ok ? "ok" : full.what.c_str(), sound ? "sound" : "refused",
                  static_cast<long long>(max_feature));
        if (full.ok) CHECK(full.depth == depth);
    }
    ++shape_checked;
    shape_sound += sound;
}

void test_random_mutations() {
    Rng rng{0x9e3779b97f4a7c15ULL};
    uint64_t agree = 0, disagree = 0, invalid = 0;
    for (int round = 0; round < 20000; ++round) {
        const int64_t nf = 1 + rng.below(6);
        std::vector<Node> t = random_tree(rng, nf);
        if (round % 4 == 0) {
            check_shape_agrees(t);
            const TreeProblem ok = sk_check(t, nf);
            if (!ok.ok) CHECK_MSG(false, "valid random tree rejected: %s", ok.what.c_str());
            continue;
        }
        // one random mutation
        const std::size_t i = static_cast<std::size_t>(rng.below(static_cast<int64_t>(t.size())));
        const int64_t n = static_cast<int64_t>(t.size());
        switch (rng.below(7)) {
            case 6: t[i] = split(rng.below(n), rng.below(n), rng.below(nf)); break;  // may share or go back
            case 0: t[i].left = rng.below(n + 2) - 1; break;
            case 1: t[i].right = rng.below(n + 2) - 1; break;
            case 2: t[i].feature = rng.below(nf + 3) - 2; break;
            case 3: t[i] = leaf(); break;  // prune: children become unreachable
            case 4: t.push_back(leaf()); break;
            default: std::swap(t[i].left, t[i].right); break;  // harmless
        }
        const bool want = reference_ok(t, nf);
        const TreeProblem got = sk_check(t, nf);
        check_shape_agrees(t);
        // the same table as a predictor: a leaf is flagged; a -1 child of a split is 4294967295 (out of range)
        for (Node& nd : t) nd.leaf = nd.left == -1 && nd.right == -1;
        const TreeProblem got_hist = hist_check(t, nf);
        if (got.ok == want && got_hist.ok == want) ++agree;
        else {
            ++disagree;
            CHECK_MSG(false, "round %d: checker says %s, hist checker says %s, reference says %s", round,
                      got.ok ? "ok" : got.what.c_str(), got_hist.ok ? "ok" : got_hist.what.c_str(),
                      want ? "ok" : "invalid");
        }
        if (!want) {
            ++invalid;
            CHECK_MSG(got.node >= -1 && got.node < static_cast<int64_t>(t.size()), "node %lld", static_cast<long long>(got.node));
        }
    }
    CHECK(disagree == 0);
    CHECK(invalid > 1000);  // the mutations do produce plenty of bad trees
    (void)agree;
}

}  // namespace

int main() {
    test_valid();
    test_sklearn_defects();
    test_hist_defects();
    test_columns();
    test_random_mutations();
    test_random_depths();
    CHECK(fast_vs_general > 20000);  // every sk_check above compared the two paths
    CHECK(shape_checked == 20000 && shape_sound > 5000 && shape_checked - shape_sound > 1000);
    {  // an empty table, and one with a single leaf
        int64_t d = 0, mf = 0;
        CHECK(!sklearn_tree_shape(sk_table({}).view(0), d, mf));
        CHECK(sklearn_tree_shape(sk_table({leaf()}).view(1), d, mf) && d == 0 && mf == -1);
    }
    return milo_test::summary("test_tree_check");
}

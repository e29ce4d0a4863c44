"""scikit-learn's compiled decision tree (``sklearn.tree._tree.Tree``), validated before sklearn sees it.

    {"milo:object": "sklearn.tree._tree.Tree",
     "args": [n_features, <n_classes int array>, n_outputs],
     "state": {"max_depth": int, "node_count": int, "nodes": <NODE_DTYPE structured array>,
               "values": <float64 array (node_count, n_outputs, max_n_classes)>}}

sklearn's prediction code walks ``nodes`` without bounds checks, so a crafted table could read out of bounds or
loop forever. Before the state is handed to ``Tree.__setstate__`` we check: the dtype is sklearn's NODE_DTYPE,
``node_count`` rows; a node is a leaf iff both children are -1; otherwise both children are in range and greater
than the node's index (so the walk always terminates); every node but the root has exactly one parent; internal
nodes split on a feature in [0, n_features); ``values`` has the shape the tree's header implies; ``max_depth`` is
the depth of the table (``decision_path`` sizes its output buffer by it and writes one entry per level without
bounds checks: a smaller value overflows the heap). The compiled check measures the depth in the same pass as
the structure (``_core.check_tree`` returns it); without it, ``tree_depth`` does. Either way the Tree is built
only from a table that passed everything.

The estimators that hold trees are checked once rebuilt (VALIDATORS): a tree reads exactly the model's
``n_features_in_`` columns, its outputs and class counts are the model's; gradient boosting's
``estimators_`` grid matches the columns its compiled ``predict_stages`` writes; an isolation forest's trees match
the feature subsets they are applied to; HistGradientBoosting's predictors, bitsets, bin mapper and categorical
preprocessor agree with each other.
"""
from __future__ import annotations

import numpy as np

from ..errors import ValidationError
from ._core import COMPILED as _core  # the compiled checks (same rules, GIL released), or None: Python's
from ._core import ObjectHandler, Path, expect, key_path, state_path

TREE = "sklearn.tree._tree.Tree"


def check_tree_nodes(nodes: np.ndarray, n_features: int, path) -> None:
    """Raise ValidationError unless ``nodes`` is a well-formed binary tree rooted at node 0.

    With ``m`` internal nodes (left child != -1) out of ``n``: every internal node's children lie in
    (its index, n); leaves have both children -1; the 2m children are distinct and 2m == n - 1, so every node
    but the root has exactly one parent. Internal nodes split on a feature in [0, n_features).
    """
    n = nodes.shape[0]
    left, right = nodes["left_child"], nodes["right_child"]
    internal = np.flatnonzero(left != -1)
    m = internal.size
    if np.count_nonzero(right == -1) != n - m:
        raise ValidationError(f"a tree node has exactly one child at {path}")
    if 2 * m != n - 1:
        raise ValidationError(f"a tree of {n} nodes must have {(n - 1) // 2} internal nodes, not {m}, at {path}")
    if not m:
        return
    li, ri = left[internal], right[internal]
    if not ((li > internal).all() and (ri > internal).all()):
        raise ValidationError(f"a tree node's child index is not greater than its own at {path}")
    if li.max() >= n or ri.max() >= n:
        raise ValidationError(f"a tree node's child index is out of range at {path}")
    seen = np.zeros(n, dtype=np.bool_)
    seen[li] = True
    seen[ri] = True
    if np.count_nonzero(seen) != 2 * m:
        raise ValidationError(f"a tree node has two parents at {path}")
    feat = nodes["feature"][internal]
    if feat.min() < 0 or feat.max() >= n_features:
        raise ValidationError(f"a tree node splits on a feature outside [0, {n_features}) at {path}")


def tree_depth(left: np.ndarray, right: np.ndarray, claimed: int | None = None) -> int:
    """Depth of a node table that passed the structural check (children after their parent, one parent each):
    distances to the root by pointer jumping, O(n log depth). With ``claimed``, the number of jumps is fixed by
    it (no convergence test per step); a deeper table is still measured exactly."""
    n = left.shape[0]
    internal = np.flatnonzero(left != -1)
    if not internal.size:
        return 0
    jump = np.zeros(n, dtype=np.intp)          # parent of each node; the root points to itself
    jump[left[internal]] = internal
    jump[right[internal]] = internal
    dist = np.ones(n, dtype=np.intp)            # edges from each node to jump[node]
    dist[0] = 0
    steps = max(int(claimed), 1).bit_length() + 1 if claimed is not None and 0 <= claimed < n else 0
    for _ in range(steps):
        dist += dist.take(jump)
        jump = jump.take(jump)
    while jump.any():
        dist += dist.take(jump)
        jump = jump.take(jump)
    return int(dist.max())


def check_tree_depth(tree, nodes: np.ndarray, max_depth: int, path) -> None:
    """``max_depth`` must be the depth of the table. ``tree`` is the Tree built from the (structurally checked)
    table and not yet handed out: its compiled ``compute_node_depths`` measures it in one pass. (The PyMilo
    reader's check; TreeHandler has the depth from its structural check, before building the Tree.)"""
    depths = getattr(tree, "compute_node_depths", None)
    depth = int(_amax(depths())) - 1 if depths is not None else tree_depth(nodes["left_child"], nodes["right_child"],
                                                                           max_depth)
    if depth != max_depth:
        raise ValidationError(f"max_depth is {max_depth} but the node table is {depth} levels deep at {path}")


_amax = np.maximum.reduce  # ndarray.max without its Python-level wrappers


_NODE_DTYPE = None
_TREE_CLS = None
_build = getattr(_core, "sk_build_tree", None)  # all of TreeHandler.construct for the usual node (compiled)
_estimator_ok = getattr(_core, "sk_tree_estimator_ok", None)  # validate_tree_estimator's checks (compiled)
_estimator_state = getattr(_core, "sk_tree_estimator_state", None)  # a tree estimator's usual state (compiled)


def _node_dtype():
    global _NODE_DTYPE
    if _NODE_DTYPE is None:
        from sklearn.tree._tree import NODE_DTYPE
        _NODE_DTYPE = NODE_DTYPE
    return _NODE_DTYPE


def _tree_cls():
    global _TREE_CLS
    if _TREE_CLS is None:
        from sklearn.tree._tree import Tree
        _TREE_CLS = Tree
    return _TREE_CLS


class TreeHandler(ObjectHandler):
    classes = (TREE,)
    aux = frozenset({"args", "state"})

    def encode(self, obj, enc, path, node):
        red = obj.__reduce__()
        n_features, n_classes, n_outputs = red[1]
        p = key_path(path, "args")
        node["args"] = [int(n_features), enc.encode(np.asarray(n_classes), key_path(p, 1)), int(n_outputs)]
        st = red[2]
        ps = state_path(path)
        node["state"] = {"max_depth": int(st["max_depth"]), "node_count": int(st["node_count"]),
                         "nodes": enc.encode(st["nodes"], key_path(ps, "nodes")),
                         "values": enc.encode(st["values"], key_path(ps, "values"))}

    def checked_parts(self, node, dec, path, NODE_DTYPE):
        """A Tree node's (n_features, n_classes, n_outputs, max_depth, node_count, nodes, values), each checked,
        its inner nodes decoded; ValidationError naming the first that is wrong."""
        nd = np.ndarray
        args = node.get("args")
        if not (type(args) is list and len(args) == 3):
            expect(False, key_path(path, "args"), "[n_features, n_classes, n_outputs]")
        n_features, n_classes, n_outputs = args
        if type(n_classes) is not nd:  # arrays are final; anything else is a node to decode (or refuse below)
            n_classes = dec.decode(n_classes, key_path(key_path(path, "args"), 1))
        if not (type(n_features) is int and 0 < n_features < 2**31):
            expect(False, key_path(key_path(path, "args"), 0), "a positive int")
        if not (type(n_outputs) is int and 0 < n_outputs < 2**31):
            expect(False, key_path(key_path(path, "args"), 2), "a positive int")
        counts = n_classes.tolist() if isinstance(n_classes, nd) and n_classes.dtype.kind in "iu" else None
        if not (counts is not None and n_classes.shape == (n_outputs,) and min(counts) >= 1 and max(counts) < 2**31):
            expect(False, key_path(key_path(path, "args"), 1), "n_outputs positive class counts")
        st = node.get("state")
        if not (type(st) is dict and len(st) == 4 and "max_depth" in st and "node_count" in st and "nodes" in st
                and "values" in st):
            expect(False, state_path(path), "{max_depth, node_count, nodes, values}")
        max_depth, node_count, nodes, values = st["max_depth"], st["node_count"], st["nodes"], st["values"]
        if type(nodes) is not nd:
            nodes = dec.decode(nodes, key_path(state_path(path), "nodes"))
        if type(values) is not nd:
            values = dec.decode(values, key_path(state_path(path), "values"))
        if not (type(max_depth) is int and 0 <= max_depth < 2**31):
            expect(False, key_path(state_path(path), "max_depth"), "a depth")
        if not (type(node_count) is int and 0 < node_count):
            expect(False, key_path(state_path(path), "node_count"), "a positive node count")
        if not (isinstance(nodes, nd) and nodes.dtype == NODE_DTYPE and nodes.shape == (node_count,)):
            expect(False, key_path(state_path(path), "nodes"),
                   f"a node table of {node_count} rows with sklearn's NODE_DTYPE")
        max_n_classes = max(counts)
        if not (isinstance(values, nd) and values.dtype == np.float64
                and values.shape == (node_count, n_outputs, max_n_classes)):
            expect(False, key_path(state_path(path), "values"),
                   f"a float64 array of shape ({node_count}, {n_outputs}, {max_n_classes})")
        return n_features, n_classes, n_outputs, max_depth, node_count, nodes, values

    def construct(self, cls, node, dec, path):
        # Runs once per tree of a forest: paths and messages are made only when a check fails.
        NODE_DTYPE = _NODE_DTYPE or _node_dtype()
        args, st = node.get("args"), node.get("state")
        if _build is not None:  # the same checks and build at once; None (nothing built): the code below decides
            tree = _build(cls, args, st, NODE_DTYPE, dec.tree_notes, dec.consume)
            if tree is not None:
                return tree
        n_features, n_classes, n_outputs, max_depth, node_count, nodes, values = \
            self.checked_parts(node, dec, path, NODE_DTYPE)
        notes = dec.tree_notes
        note = notes.pop(id(nodes), None) if notes else None
        if note is not None and note[0] is nodes and note[2] < n_features:
            # checked on the worker that converted it (the same rules with n_features open), still in cache: its
            # features are below n_features, so the full check would pass with this depth
            depth = note[1]
        elif _core is not None:  # one compiled pass: the structure, and the depth it measures on the way
            depth = _core.check_tree(nodes, node_count, n_features, node_count)
            if type(depth) is not int:
                raise ValidationError(f"invalid tree node table at {key_path(state_path(path), 'nodes')}: "
                                      f"{depth[1]}")
        else:
            check_tree_nodes(nodes, n_features, key_path(state_path(path), "nodes"))
            depth = tree_depth(nodes["left_child"], nodes["right_child"], max_depth)
        if depth != max_depth:  # before anything is built from the table
            raise ValidationError(f"max_depth is {max_depth} but the node table is {depth} levels deep at "
                                  f"{key_path(state_path(path), 'max_depth')}")
        tree = cls(n_features, np.ascontiguousarray(n_classes, dtype=np.intp), n_outputs)
        tree.__setstate__({"max_depth": max_depth, "node_count": node_count,
                           "nodes": np.ascontiguousarray(nodes), "values": np.ascontiguousarray(values)})
        if dec.consume:  # the tree has its own copy: the next tree's tables can take this memory
            st["nodes"] = st["values"] = None
        return tree


def decode_tree_estimator_state(node, dec, path):
    """STATE_DECODERS' shortcut for a decision tree estimator (a forest's hundred): its state decoded and its Tree
    built in one compiled call (sk_tree_estimator_state: the same arrays put in place, the same checks and Tree as
    the Decoder's walk and TreeHandler.construct, its other containers decoded by the Decoder), or None, with
    nothing built, for the walk. Taken once this load
    has resolved the Tree class and found its handler (the first tree of a forest takes the walk)."""
    plan = dec.plans.get(TREE)
    if plan is None or type(plan[1]) is not TreeHandler:
        return None
    return _estimator_state(node, TREE, plan[0], _NODE_DTYPE or _node_dtype(), dec.tree_notes, dec.consume, dec.need,
                            dec.fill, dec.decode, path, Path)


def check_hist_nodes(nodes: np.ndarray, n_features: int, n_bitsets: int, path) -> None:
    """HistGradientBoosting predictor nodes: a leaf has is_leaf != 0; a split has both children in
    (its index, n), distinct children, every node but the root one parent, feature_idx in [0, n_features), and a
    categorical split's bitset_idx below n_bitsets."""
    n = nodes.shape[0]
    if n < 1:
        raise ValidationError(f"a predictor has no nodes at {path}")
    internal = np.flatnonzero(nodes["is_leaf"] == 0)
    m = internal.size
    if 2 * m != n - 1:
        raise ValidationError(f"a predictor of {n} nodes must have {(n - 1) // 2} splits, not {m}, at {path}")
    if not m:
        return
    li = nodes["left"][internal].astype(np.int64)
    ri = nodes["right"][internal].astype(np.int64)
    if not ((li > internal).all() and (ri > internal).all()) or li.max() >= n or ri.max() >= n:
        raise ValidationError(f"a predictor node's child is out of range at {path}")
    seen = np.zeros(n, dtype=np.bool_)
    seen[li] = True
    seen[ri] = True
    if np.count_nonzero(seen) != 2 * m:
        raise ValidationError(f"a predictor node has two parents at {path}")
    feat = nodes["feature_idx"][internal]
    if feat.min() < 0 or feat.max() >= n_features:
        raise ValidationError(f"a predictor node splits on a feature outside [0, {n_features}) at {path}")
    cat = internal[nodes["is_categorical"][internal] != 0]
    if cat.size and nodes["bitset_idx"][cat].max() >= n_bitsets:
        raise ValidationError(f"a categorical split refers to a missing bitset at {path}")


def _fitted_int(est, name, path) -> int | None:
    v = est.__dict__.get(name)
    if v is None:
        return None
    expect(type(v) is int or isinstance(v, np.integer), key_path(state_path(path), name), "an int")
    return int(v)


def validate_hist_gradient_boosting(est, path) -> None:
    """Everything HistGradientBoosting's compiled prediction indexes: node tables against the number of
    features and of bitsets; categorical splits only on features the bin mapper marks categorical (their row of
    the known-categories bitsets is found through f_idx_map, built from is_categorical_); the bin mapper's
    per-feature arrays; the categorical preprocessor's output width; one predictor per tree of an iteration."""
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE, X_BITSET_INNER_DTYPE
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    preds = est.__dict__.get("_predictors")
    if preds is None:
        return
    st = state_path(path)
    expect("_in_fit" not in est.__dict__, key_path(st, "_in_fit"), "no _in_fit (it makes predict skip validation)")
    n_features = _fitted_int(est, "n_features_in_", path)
    expect(n_features is not None and n_features > 0, key_path(st, "n_features_in_"), "a positive int")
    k_trees = _fitted_int(est, "n_trees_per_iteration_", path)
    expect(k_trees is not None and k_trees > 0, key_path(st, "n_trees_per_iteration_"), "a positive int")
    bm = est.__dict__.get("_bin_mapper")
    cat = _check_bin_mapper(bm, n_features, key_path(st, "_bin_mapper"))
    _check_hgb_preprocessor(est, n_features, st)
    base = est.__dict__.get("_baseline_prediction")
    expect(isinstance(base, np.ndarray) and base.dtype.kind == "f" and base.shape == (1, k_trees),
           key_path(st, "_baseline_prediction"), f"a float array of shape (1, {k_trees})")
    expect(type(preds) is list and all(type(it) is list and len(it) == k_trees for it in preds),
           key_path(st, "_predictors"), f"a list of lists of {k_trees} predictors")
    nd = np.ndarray
    for i, it in enumerate(preds):
        for k, pr in enumerate(it):
            nodes = getattr(pr, "nodes", None)
            raw = getattr(pr, "raw_left_cat_bitsets", None)
            binned = getattr(pr, "binned_left_cat_bitsets", None)
            if not (type(pr) is TreePredictor and type(nodes) is nd and nodes.dtype == PREDICTOR_RECORD_DTYPE
                    and nodes.ndim == 1 and type(raw) is nd and type(binned) is nd and raw.shape == binned.shape
                    and _bitset_ok(raw, X_BITSET_INNER_DTYPE) and _bitset_ok(binned, X_BITSET_INNER_DTYPE)):
                _explain_predictor(pr, key_path(key_path(key_path(st, "_predictors"), i), k), TreePredictor,
                                   PREDICTOR_RECORD_DTYPE, X_BITSET_INNER_DTYPE)
            if _core is not None:
                problem = _core.check_hist_tree(nodes, n_features, raw.shape[0])
                if problem is not None:
                    p = key_path(key_path(key_path(key_path(st, "_predictors"), i), k), "nodes")
                    raise ValidationError(f"invalid predictor node table at {p}: {problem[1]}")
            else:
                check_hist_nodes(nodes, n_features, raw.shape[0],
                                 key_path(key_path(key_path(key_path(st, "_predictors"), i), k), "nodes"))
            is_cat = nodes["is_categorical"]
            if is_cat.any():  # (only models with categorical features)
                on_cat = nodes["feature_idx"][(nodes["is_leaf"] == 0) & (is_cat != 0)]
                expect(not on_cat.size or (cat is not None and bool(cat[on_cat].all())),
                       key_path(key_path(key_path(key_path(st, "_predictors"), i), k), "nodes"),
                       "categorical splits only on features the bin mapper marks categorical")


def _bitset_ok(b, dtype) -> bool:
    return b.dtype == dtype and b.ndim == 2 and b.shape[1] == 8 and b.flags.c_contiguous


def _explain_predictor(pr, p, TreePredictor, record_dtype, bitset_dtype) -> None:
    """The precise error for a predictor that failed the fast check."""
    expect(type(pr) is TreePredictor, p, "a TreePredictor")
    nodes, raw, binned = pr.nodes, pr.raw_left_cat_bitsets, pr.binned_left_cat_bitsets
    expect(isinstance(nodes, np.ndarray) and nodes.dtype == record_dtype and nodes.ndim == 1,
           p, "nodes with sklearn's PREDICTOR_RECORD_DTYPE")
    for name, b in (("raw_left_cat_bitsets", raw), ("binned_left_cat_bitsets", binned)):
        expect(isinstance(b, np.ndarray) and _bitset_ok(b, bitset_dtype), key_path(p, name),
               "a (n, 8) uint32 bitset array")
    expect(raw.shape == binned.shape, key_path(p, "binned_left_cat_bitsets"), "as many rows as raw bitsets")
    raise ValidationError(f"inconsistent TreePredictor at {p}")  # pragma: no cover - one of the above fails


def _check_bin_mapper(bm, n_features, p):
    """is_categorical_ (uint8, one per feature), bin_thresholds_ (one float array per feature; a categorical
    feature's known categories are integers in [0, 255], set in a 256-bit bitset at predict time),
    n_bins_non_missing_, missing_values_bin_idx_. Returns is_categorical_ as bools, or None."""
    if bm is None:
        return None
    from sklearn.ensemble._hist_gradient_boosting.binning import _BinMapper
    expect(type(bm) is _BinMapper, p, "a _BinMapper")
    d = bm.__dict__
    cat = d.get("is_categorical_")
    expect(isinstance(cat, np.ndarray) and cat.dtype == np.uint8 and cat.shape == (n_features,),
           key_path(key_path(p, "state"), "is_categorical_"), f"a uint8 array of {n_features} flags")
    thr = d.get("bin_thresholds_")
    pt = key_path(key_path(p, "state"), "bin_thresholds_")
    expect(type(thr) is list and len(thr) == n_features
           and all(isinstance(t, np.ndarray) and t.ndim == 1 and t.dtype.kind == "f" for t in thr), pt,
           f"a list of {n_features} 1-d float arrays")
    for f in np.flatnonzero(cat):
        t = thr[f]
        expect(bool(((t >= 0) & (t <= 255) & (t == np.floor(t))).all()), key_path(pt, int(f)),
               "categories that are integers in [0, 255]")
    nb = d.get("n_bins_non_missing_")
    expect(nb is None or (isinstance(nb, np.ndarray) and nb.dtype.kind in "iu" and nb.shape == (n_features,)),
           key_path(key_path(p, "state"), "n_bins_non_missing_"), f"an int array of {n_features} counts")
    mv = d.get("missing_values_bin_idx_")
    expect(mv is None or ((type(mv) is int or isinstance(mv, np.integer)) and 0 <= int(mv) <= 255),
           key_path(key_path(p, "state"), "missing_values_bin_idx_"), "an int in [0, 255]")
    return cat.astype(bool)


def _check_hgb_preprocessor(est, n_features, st) -> None:
    """The ColumnTransformer HistGradientBoosting builds for categorical features: ordinal encoding of the
    categorical columns, then check_array on the others. Predictors index its output, so its output must have
    n_features_in_ columns: exactly that structure is accepted."""
    pp = est.__dict__.get("_preprocessor")
    if pp is None:
        return
    import functools

    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder
    from sklearn.utils.validation import check_array
    p = key_path(st, "_preprocessor")
    expect(type(pp) is ColumnTransformer, p, "a ColumnTransformer")
    tr = pp.__dict__.get("transformers_")
    expect(type(tr) is list and len(tr) in (2, 3) and all(type(t) is tuple and len(t) == 3 for t in tr)
           and tr[0][0] == "encoder" and tr[1][0] == "numerical"
           and (len(tr) == 2 or (tr[2][0] == "remainder" and tr[2][1] == "drop")), key_path(pp_state(p), "transformers_"),
           "the encoder and numerical transformers HistGradientBoosting makes")
    enc, num = tr[0][1], tr[1][1]
    mask, nmask = tr[0][2], tr[1][2]
    expect(isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.shape == (n_features,)
           and isinstance(nmask, np.ndarray) and nmask.dtype == np.bool_ and np.array_equal(nmask, ~mask),
           key_path(pp_state(p), "transformers_"), f"complementary column masks of {n_features} flags")
    n_cat = int(mask.sum())
    expect(type(enc) is OrdinalEncoder and enc.__dict__.get("n_features_in_") == n_cat
           and type(enc.__dict__.get("categories_")) is list and len(enc.categories_) == n_cat,
           key_path(pp_state(p), "transformers_"), f"an OrdinalEncoder of {n_cat} columns")
    func = num.__dict__.get("func") if type(num) is FunctionTransformer else None
    expect(type(func) is functools.partial and func.func is check_array and not func.args
           and num.__dict__.get("inverse_func") is None and num.__dict__.get("kw_args") is None,
           key_path(pp_state(p), "transformers_"), "a FunctionTransformer applying check_array")
    expect(pp.__dict__.get("n_features_in_") == n_features, key_path(pp_state(p), "n_features_in_"), f"{n_features}")


def pp_state(p):
    return key_path(p, "state")


def validate_tree_estimator(est, path) -> None:
    """A single decision tree: its Tree reads X's columns up to tree_.n_features; its outputs and class counts
    are the model's. (Runs for every tree of every forest: the passing path builds no message.)"""
    d = est.__dict__
    if _estimator_ok is not None and _estimator_ok(d, _TREE_CLS or _tree_cls()):  # every check below, at once
        return
    tree = d.get("tree_")
    if tree is None:
        return
    if type(tree) is not (_TREE_CLS or _tree_cls()):
        expect(False, key_path(state_path(path), "tree_"), "an sklearn Tree")
    n_features, n_outputs = tree.n_features, tree.n_outputs
    n = d.get("n_features_in_")
    if n != n_features or not (type(n) is int or isinstance(n, np.integer)):
        expect(False, key_path(state_path(path), "n_features_in_"), f"the tree's number of features ({n_features})")
    n_out = d.get("n_outputs_")
    if n_out is not None and n_out != n_outputs:
        expect(False, key_path(state_path(path), "n_outputs_"), f"the tree's {n_outputs} outputs")
    if "n_classes_" in d and d.get("classes_") is not None:
        nc, classes = d["n_classes_"], d["classes_"]
        if n_outputs == 1:
            count = tree.max_n_classes  # (one output: its class count, without the array tree.n_classes makes)
            if not ((type(nc) is int or isinstance(nc, np.integer)) and nc == count):
                expect(False, key_path(state_path(path), "n_classes_"), f"the tree's {count} classes")
            if not (isinstance(classes, np.ndarray) and classes.shape == (count,)):
                expect(False, key_path(state_path(path), "classes_"), f"{count} classes")
        else:
            counts = tree.n_classes.tolist()
            st = state_path(path)
            expect(isinstance(nc, (list, np.ndarray)) and [int(c) for c in nc] == counts, key_path(st, "n_classes_"),
                   f"the tree's class counts {counts}")
            expect(type(classes) is list and [len(c) for c in classes] == counts, key_path(st, "classes_"),
                   f"class lists of {counts} classes")


def validate_tree_ensemble(est, path) -> None:
    """Forests and gradient boosting call their trees' compiled code on X without re-checking its width."""
    from sklearn.tree._classes import BaseDecisionTree
    ests = est.__dict__.get("estimators_")
    if ests is None:
        return
    n = _fitted_int(est, "n_features_in_", path)
    flat = ests.ravel() if isinstance(ests, np.ndarray) else ests
    p = key_path(state_path(path), "estimators_")
    expect(isinstance(flat, (list, np.ndarray)), p, "a list of trees")
    for i, t in enumerate(flat):
        if not (isinstance(t, BaseDecisionTree) and getattr(getattr(t, "tree_", None), "n_features", None) == n):
            expect(False, key_path(p, i), f"a fitted decision tree over {n} features")


def validate_gradient_boosting(est, path) -> None:
    """predict_stages (compiled) adds tree k of every stage to column k of the raw predictions, which the init
    estimator (or zeros) sized: estimators_ must be an (n_stages, n_trees_per_iteration_) grid of single-output
    regression trees, and the init estimator must give that many columns."""
    from sklearn.tree import DecisionTreeRegressor
    d = est.__dict__
    ests = d.get("estimators_")
    if ests is None:
        return
    st = state_path(path)
    k_trees = _fitted_int(est, "n_trees_per_iteration_", path)
    expect(isinstance(ests, np.ndarray) and ests.dtype == object and ests.ndim == 2 and ests.shape[0] >= 1
           and k_trees is not None and ests.shape[1] == k_trees, key_path(st, "estimators_"),
           f"a 2-d object array of n_trees_per_iteration_ ({k_trees}) columns")
    for i, t in enumerate(ests.ravel()):
        tree = getattr(t, "tree_", None)
        expect(type(t) is DecisionTreeRegressor and tree is not None and tree.n_outputs == 1 and tree.max_n_classes == 1,
               key_path(key_path(st, "estimators_"), i), "a single-output regression tree")
    from sklearn.base import is_classifier
    from sklearn._loss.loss import BaseLoss
    loss = d.get("_loss")
    expect(isinstance(loss, BaseLoss), key_path(st, "_loss"), "a scikit-learn loss")
    init = d.get("init_")
    if is_classifier(est):
        nc = _fitted_int(est, "n_classes_", path)
        classes = d.get("classes_")
        expect(nc is not None and nc >= 2 and isinstance(classes, np.ndarray) and classes.shape == (nc,),
               key_path(st, "classes_"), "n_classes_ classes")
        expect(k_trees == (1 if nc == 2 else nc), key_path(st, "n_trees_per_iteration_"),
               f"{1 if nc == 2 else nc} for {nc} classes")
        if not (isinstance(init, str) and init == "zero"):
            expect(bool(loss.is_multiclass) == (k_trees > 1), key_path(st, "_loss"),
                   "a multiclass loss exactly when there is more than one tree per iteration")
            ic = getattr(init, "classes_", None)
            expect(hasattr(init, "predict_proba") and ic is not None and len(ic) == nc, key_path(st, "init_"),
                   f"an estimator with predict_proba over {nc} classes, or 'zero'")
    else:
        expect(k_trees == 1, key_path(st, "n_trees_per_iteration_"), "1 for a regressor")
        expect((isinstance(init, str) and init == "zero") or hasattr(init, "predict"), key_path(st, "init_"),
               "an estimator or 'zero'")


def validate_isolation_forest(est, path) -> None:
    """score_samples applies each tree (apply(check_input=False), no width check) to X or to X's columns
    estimators_features_[i]: the tree must read exactly those columns."""
    from sklearn.tree import ExtraTreeRegressor
    d = est.__dict__
    ests = d.get("estimators_")
    if ests is None:
        return
    st = state_path(path)
    n = _fitted_int(est, "n_features_in_", path)
    mf = _fitted_int(est, "_max_features", path)
    feats = d.get("estimators_features_")
    expect(type(ests) is list and type(feats) is list and len(feats) == len(ests), key_path(st, "estimators_features_"),
           "one feature array per tree")
    for name in ("_decision_path_lengths", "_average_path_length_per_tree"):
        v = d.get(name)
        expect(type(v) in (list, tuple) and len(v) == len(ests), key_path(st, name), "one array per tree")
    for i, (t, f) in enumerate(zip(ests, feats)):
        tree = getattr(t, "tree_", None)
        pt = key_path(key_path(st, "estimators_"), i)
        expect(type(t) is ExtraTreeRegressor and tree is not None, pt, "a fitted ExtraTreeRegressor")
        expect(isinstance(f, np.ndarray) and f.ndim == 1 and f.dtype.kind in "iu" and n is not None
               and bool(((f >= 0) & (f < n)).all()), key_path(key_path(st, "estimators_features_"), i),
               f"feature indices in [0, {n})")
        width = n if mf == n else f.shape[0]
        expect(tree.n_features == width, pt, f"a tree over {width} features")
        for name in ("_decision_path_lengths", "_average_path_length_per_tree"):
            a = d[name][i]
            expect(isinstance(a, np.ndarray) and a.shape == (tree.node_count,), key_path(key_path(st, name), i),
                   f"{tree.node_count} values")


_TREES = ("DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier", "ExtraTreeRegressor")
_ENSEMBLES = ("sklearn.ensemble._forest.RandomForestClassifier", "sklearn.ensemble._forest.RandomForestRegressor",
              "sklearn.ensemble._forest.ExtraTreesClassifier", "sklearn.ensemble._forest.ExtraTreesRegressor",
              "sklearn.ensemble._forest.RandomTreesEmbedding", "sklearn.ensemble._gb.GradientBoostingClassifier",
              "sklearn.ensemble._gb.GradientBoostingRegressor")
_GB = ("sklearn.ensemble._gb.GradientBoostingClassifier", "sklearn.ensemble._gb.GradientBoostingRegressor")
_HGB = ("sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor")


def _ensemble_checks(qn):
    if qn in _GB:
        def check(est, path):
            validate_tree_ensemble(est, path)
            validate_gradient_boosting(est, path)
        return check
    return validate_tree_ensemble


TRANSPORTERS: list = []
HANDLERS = [TreeHandler()]
STATE_DECODERS = ({f"sklearn.tree._classes.{n}": decode_tree_estimator_state for n in _TREES}
                  if _estimator_state is not None else {})
# Checks run on a rebuilt object once the document is built (qualified name -> check(obj, path)).
VALIDATORS = {**{f"sklearn.tree._classes.{n}": validate_tree_estimator for n in _TREES},
              **{n: _ensemble_checks(n) for n in _ENSEMBLES},
              **{n: validate_hist_gradient_boosting for n in _HGB},
              "sklearn.ensemble._iforest.IsolationForest": validate_isolation_forest}

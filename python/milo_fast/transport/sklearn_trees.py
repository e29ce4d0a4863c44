"""scikit-learn's compiled decision tree (``sklearn.tree._tree.Tree``), validated before sklearn sees it.

    {"milo:object": "sklearn.tree._tree.Tree",
     "args": [n_features, <n_classes int array>, n_outputs],
     "state": {"max_depth": int, "node_count": int, "nodes": <NODE_DTYPE structured array>,
               "values": <float64 array (node_count, n_outputs, max_n_classes)>}}

sklearn's prediction code walks ``nodes`` without bounds checks, so a crafted table could read out of bounds or
loop forever. Before the state is handed to ``Tree.__setstate__`` we check: the dtype is sklearn's NODE_DTYPE,
``node_count`` rows; a node is a leaf iff both children are -1; otherwise both children are in range and greater
than the node's index (so the walk always terminates); every node but the root has exactly one parent; internal
nodes split on a feature in [0, n_features); ``values`` has the shape the tree's header implies.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import ValidationError
from ._core import ObjectHandler, expect, key_path

TREE = "sklearn.tree._tree.Tree"

_core = None
if os.environ.get("MILO_FAST_PURE") != "1":  # the compiled checks (same rules, GIL released); else Python's
    try:
        from .. import _core  # type: ignore[no-redef]
    except ImportError:  # pragma: no cover
        _core = None


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


_NODE_DTYPE = None
_TREE_CLS = None


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
        ps = key_path(path, "state")
        node["state"] = {"max_depth": int(st["max_depth"]), "node_count": int(st["node_count"]),
                         "nodes": enc.encode(st["nodes"], key_path(ps, "nodes")),
                         "values": enc.encode(st["values"], key_path(ps, "values"))}

    def construct(self, cls, node, dec, path):
        NODE_DTYPE = _node_dtype()
        pa, ps = key_path(path, "args"), key_path(path, "state")
        args = node.get("args")
        expect(type(args) is list and len(args) == 3, pa, "[n_features, n_classes, n_outputs]")
        n_features, n_classes, n_outputs = args[0], dec.decode(args[1], key_path(pa, 1)), args[2]
        expect(type(n_features) is int and 0 < n_features < 2**31, key_path(pa, 0), "a positive int")
        expect(type(n_outputs) is int and 0 < n_outputs < 2**31, key_path(pa, 2), "a positive int")
        counts = n_classes.tolist() if isinstance(n_classes, np.ndarray) and n_classes.dtype.kind in "iu" else None
        expect(counts is not None and n_classes.shape == (n_outputs,) and min(counts) >= 1 and max(counts) < 2**31,
               key_path(pa, 1), "n_outputs positive class counts")
        st = node.get("state")
        expect(type(st) is dict and set(st) == {"max_depth", "node_count", "nodes", "values"}, ps,
               "{max_depth, node_count, nodes, values}")
        max_depth, node_count = st["max_depth"], st["node_count"]
        nodes = dec.decode(st["nodes"], key_path(ps, "nodes"))
        values = dec.decode(st["values"], key_path(ps, "values"))
        expect(type(max_depth) is int and 0 <= max_depth < 2**31, key_path(ps, "max_depth"), "a depth")
        expect(type(node_count) is int and 0 < node_count, key_path(ps, "node_count"), "a positive node count")
        if not (isinstance(nodes, np.ndarray) and nodes.dtype == NODE_DTYPE and nodes.shape == (node_count,)):
            expect(False, key_path(ps, "nodes"), f"a node table of {node_count} rows with sklearn's NODE_DTYPE")
        max_n_classes = max(counts)
        if not (isinstance(values, np.ndarray) and values.dtype == np.float64
                and values.shape == (node_count, n_outputs, max_n_classes)):
            expect(False, key_path(ps, "values"),
                   f"a float64 array of shape ({node_count}, {n_outputs}, {max_n_classes})")
        if _core is not None:
            problem = _core.check_tree(nodes, node_count, n_features, node_count)
            if problem is not None:
                raise ValidationError(f"invalid tree node table at {key_path(ps, 'nodes')}: {problem[1]}")
        else:
            check_tree_nodes(nodes, n_features, key_path(ps, "nodes"))
        tree = cls(n_features, np.ascontiguousarray(n_classes, dtype=np.intp), n_outputs)
        tree.__setstate__({"max_depth": max_depth, "node_count": node_count,
                           "nodes": np.ascontiguousarray(nodes), "values": np.ascontiguousarray(values)})
        return tree


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
    expect(type(v) is int or isinstance(v, np.integer), key_path(key_path(path, "state"), name), "an int")
    return int(v)


def validate_hist_gradient_boosting(est, path) -> None:
    """Everything HistGradientBoosting's compiled prediction indexes: node tables against the number of
    features and of bitsets, and the bin mapper's per-feature arrays."""
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE, X_BITSET_INNER_DTYPE
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    preds = est.__dict__.get("_predictors")
    if preds is None:
        return
    st = key_path(path, "state")
    n_features = _fitted_int(est, "n_features_in_", path)
    expect(n_features is not None and n_features > 0, key_path(st, "n_features_in_"), "a positive int")
    bm = est.__dict__.get("_bin_mapper")
    cat = getattr(bm, "is_categorical_", None)
    expect(cat is None or (isinstance(cat, np.ndarray) and cat.shape == (n_features,)),
           key_path(key_path(st, "_bin_mapper"), "is_categorical_"), f"an array of {n_features} flags")
    expect(type(preds) is list and all(type(it) is list for it in preds), key_path(st, "_predictors"),
           "a list of lists of predictors")
    for i, it in enumerate(preds):
        for k, pr in enumerate(it):
            p = key_path(key_path(key_path(st, "_predictors"), i), k)
            expect(type(pr) is TreePredictor, p, "a TreePredictor")
            nodes, raw, binned = pr.nodes, pr.raw_left_cat_bitsets, pr.binned_left_cat_bitsets
            expect(isinstance(nodes, np.ndarray) and nodes.dtype == PREDICTOR_RECORD_DTYPE and nodes.ndim == 1,
                   p, "nodes with sklearn's PREDICTOR_RECORD_DTYPE")
            for name, b in (("raw_left_cat_bitsets", raw), ("binned_left_cat_bitsets", binned)):
                expect(isinstance(b, np.ndarray) and b.dtype == X_BITSET_INNER_DTYPE and b.ndim == 2
                       and b.shape[1] == 8 and b.flags.c_contiguous, key_path(p, name), "a (n, 8) uint32 bitset array")
            expect(raw.shape == binned.shape, key_path(p, "binned_left_cat_bitsets"), "as many rows as raw bitsets")
            if _core is not None:
                problem = _core.check_hist_tree(nodes, n_features, raw.shape[0])
                if problem is not None:
                    raise ValidationError(f"invalid predictor node table at {key_path(p, 'nodes')}: {problem[1]}")
            else:
                check_hist_nodes(nodes, n_features, raw.shape[0], key_path(p, "nodes"))


def validate_tree_estimator(est, path) -> None:
    """A single decision tree: its Tree reads X's columns up to tree_.n_features."""
    tree = est.__dict__.get("tree_")
    if tree is None:
        return
    expect(type(tree) is _tree_cls(), key_path(key_path(path, "state"), "tree_"), "an sklearn Tree")
    n = _fitted_int(est, "n_features_in_", path)
    expect(n == tree.n_features, key_path(key_path(path, "state"), "n_features_in_"),
           f"the tree's number of features ({tree.n_features})")


def validate_tree_ensemble(est, path) -> None:
    """Forests and gradient boosting call their trees' compiled code on X without re-checking its width."""
    from sklearn.tree._classes import BaseDecisionTree
    ests = est.__dict__.get("estimators_")
    if ests is None:
        return
    n = _fitted_int(est, "n_features_in_", path)
    flat = ests.ravel() if isinstance(ests, np.ndarray) else ests
    p = key_path(key_path(path, "state"), "estimators_")
    expect(isinstance(flat, (list, np.ndarray)), p, "a list of trees")
    for i, t in enumerate(flat):
        expect(isinstance(t, BaseDecisionTree) and getattr(getattr(t, "tree_", None), "n_features", None) == n,
               key_path(p, i), f"a fitted decision tree over {n} features")


_TREES = ("DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier", "ExtraTreeRegressor")
_ENSEMBLES = ("sklearn.ensemble._forest.RandomForestClassifier", "sklearn.ensemble._forest.RandomForestRegressor",
              "sklearn.ensemble._forest.ExtraTreesClassifier", "sklearn.ensemble._forest.ExtraTreesRegressor",
              "sklearn.ensemble._forest.RandomTreesEmbedding", "sklearn.ensemble._gb.GradientBoostingClassifier",
              "sklearn.ensemble._gb.GradientBoostingRegressor")
_HGB = ("sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor")

TRANSPORTERS: list = []
HANDLERS = [TreeHandler()]
# Checks run on a generically rebuilt object after its state is set (qualified name -> check(obj, path)).
VALIDATORS = {**{f"sklearn.tree._classes.{n}": validate_tree_estimator for n in _TREES},
              **{n: validate_tree_ensemble for n in _ENSEMBLES},
              **{n: validate_hist_gradient_boosting for n in _HGB}}

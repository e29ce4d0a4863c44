"""Checks on what a PyMilo document hands to scikit-learn's compiled code, and strict array building.

scikit-learn's Cython code trusts the node tables of ``Tree`` and ``TreePredictor`` (no bounds checks): a crafted
child index or feature index reads outside the arrays.  PyMilo passes whatever the file says; here every table is
checked first.  ``fail(msg, path)`` raises a ValidationError naming the JSON path.
"""
from __future__ import annotations

import numpy as np

from ..errors import DecodeError, ValidationError

_INT_RANGES = {
    "numpy.int32": (-(2 ** 31), 2 ** 31 - 1),
    "numpy.int64": (-(2 ** 63), 2 ** 63 - 1),
    "numpy.uint8": (0, 255),
    "numpy.uint64": (0, 2 ** 64 - 1),
}


def check_int_range(v, qual, path, fail):
    lo, hi = _INT_RANGES.get(qual, (None, None))
    if lo is not None and not lo <= v <= hi:
        fail(f"{v} is out of range for {qual}", path)


def flatten_to_shape(items, shape, path, fail):
    """Leaves of a nested list that must match ``shape`` exactly, with their JSON paths."""
    out = []

    def rec(v, dim, p):
        if dim == len(shape):
            out.append((v, p))
            return
        if not isinstance(v, list) or len(v) != shape[dim]:
            fail("array items do not match the declared shape", p, DecodeError)
        for i, x in enumerate(v):
            rec(x, dim + 1, f"{p}[{i}]")

    if len(shape) == 0:
        return [(items, path)]
    rec(items, 0, path)
    return out


def collect_numbers(v, out, path, fail):
    """Check a rectangular nested list holds only numbers (leaves appended to ``out``)."""
    shape = infer_shape(v, path, fail)
    for x, p in flatten_to_shape(v, shape, path, fail):
        if type(x) not in (int, float):
            fail("expected numbers", p, DecodeError)
        out.append(x)


def infer_shape(items, path, fail):
    """The shape numpy would give a rectangular nested list (for envelopes written without one)."""
    shape = []
    v = items
    while isinstance(v, list):
        shape.append(len(v))
        if not v:
            break
        v = v[0]
    shape = tuple(shape)
    flatten_to_shape(items, shape, path, fail)  # checks it is rectangular
    return shape


def numeric_column(values, dtype, path, fail):
    """A 1-d array of ``dtype`` from JSON values: no strings, no bools for numbers, no floats for integers."""
    kind = dtype.kind
    if kind == "b":
        if not all(type(v) is bool for v in values):
            fail("expected true or false", path, DecodeError)
        return np.array(values, dtype=dtype)
    if kind in "iu":
        if not all(type(v) is int for v in values):
            fail("expected integers", path, DecodeError)
        info = np.iinfo(dtype)
        if values and not (info.min <= min(values) and max(values) <= info.max):
            fail(f"an integer is out of range for {dtype}", path, DecodeError)
        return np.array(values, dtype=dtype)
    if not all(type(v) in (int, float) for v in values):
        fail("expected numbers", path, DecodeError)
    return np.array(values, dtype=dtype)


def structured_array(items, shape, dtype, path, fail):
    leaves = flatten_to_shape(items, shape, path, fail)
    names = dtype.names
    rows = []
    for row, p in leaves:
        if not isinstance(row, (list, tuple)) or len(row) != len(names):
            fail(f"expected a row of {len(names)} fields", p, DecodeError)
        rows.append(row)
    out = np.empty(len(rows), dtype=dtype)
    for j, n in enumerate(names):
        out[n] = numeric_column([r[j] for r in rows], dtype.fields[n][0], f"{path}[*][{j}]", fail)
    return out.reshape(shape)


# ------------------------------------------------------------------------------------------------ sklearn Tree

def parse_tree_spec(spec, path, fail):
    """Everything a ``Tree`` needs, converted and checked (no sklearn object is made here)."""
    from sklearn.tree._tree import NODE_DTYPE

    if not isinstance(spec, dict):
        fail("pymilo-tree must be an object", path)
    st = spec.get("internal_state")
    if not isinstance(st, dict):
        fail("missing internal_state", path)
    n_features, n_outputs, n_classes = spec.get("n_features"), spec.get("n_outputs"), spec.get("n_classes")
    if not _pos_int(n_features):
        fail("n_features must be a positive integer", f"{path}.n_features")
    if not _pos_int(n_outputs):
        fail("n_outputs must be a positive integer", f"{path}.n_outputs")
    if isinstance(n_classes, np.ndarray):
        n_classes = n_classes.tolist()
    if not isinstance(n_classes, list) or len(n_classes) != n_outputs or not all(_pos_int(c) for c in n_classes):
        fail("n_classes must be a list of n_outputs positive integers", f"{path}.n_classes")
    node_count, max_depth = st.get("node_count"), st.get("max_depth")
    if not _pos_int(node_count):
        fail("node_count must be a positive integer", f"{path}.internal_state.node_count")
    if not isinstance(max_depth, int) or isinstance(max_depth, bool) or not 0 <= max_depth < node_count:
        fail("max_depth must be an integer in [0, node_count)", f"{path}.internal_state.max_depth")
    nodes = st.get("nodes")
    np_ = f"{path}.internal_state.nodes"
    if not isinstance(nodes, dict):
        fail("nodes must be an object", np_)
    names, rows = nodes.get("field-names"), nodes.get("values")
    if not isinstance(names, list) or names != list(NODE_DTYPE.names):
        fail(f"node fields must be {list(NODE_DTYPE.names)}", f"{np_}.field-names")
    if not isinstance(rows, list) or len(rows) != node_count:
        fail("there must be node_count node rows", f"{np_}.values")
    table = structured_array(rows, (node_count,), NODE_DTYPE, f"{np_}.values", fail)
    values = st.get("values")
    vp = f"{path}.internal_state.values"
    shape = (node_count, n_outputs, max(n_classes))
    if isinstance(values, np.ndarray):
        if values.shape != shape or values.dtype.kind not in "fiu":
            fail(f"values must be a float array of shape {shape}", vp)
        values = values.astype(np.float64)
    else:
        leaves = flatten_to_shape(values, shape, vp, fail)
        values = numeric_column([x for x, _ in leaves], np.dtype(np.float64), vp, fail).reshape(shape)
    check_tree_table(table, n_features, np_, fail)
    return {"n_features": n_features, "n_outputs": n_outputs, "n_classes": n_classes,
            "state": {"max_depth": max_depth, "node_count": node_count, "nodes": table, "values": values}}


def check_tree_table(t, n_features, path, fail):
    n = len(t)
    left, right, feat = t["left_child"], t["right_child"], t["feature"]
    idx = np.arange(n)
    leaf = left == -1
    if np.any(leaf & (right != -1)) or np.any(~leaf & (right == -1)):
        fail("a node must have both children or none", path)
    inner = ~leaf
    li, ri = left[inner], right[inner]
    if np.any(li <= idx[inner]) or np.any(ri <= idx[inner]) or np.any(li >= n) or np.any(ri >= n):
        fail("child indices must lie after their parent and inside the table", path)
    kids = np.concatenate([li, ri])
    if len(np.unique(kids)) != len(kids):
        fail("a node has more than one parent", path)
    if np.any(feat[inner] < 0) or np.any(feat[inner] >= n_features):
        fail(f"split feature indices must lie in [0, {n_features})", path)
    if np.any(t["missing_go_to_left"] > 1):
        fail("missing_go_to_left must be 0 or 1", path)


def build_tree(cls, spec, path, fail):
    n_classes = np.asarray(spec["n_classes"], dtype=np.intp)
    tree = cls(spec["n_features"], n_classes, spec["n_outputs"])
    try:
        tree.__setstate__(spec["state"])
    except (ValueError, TypeError) as e:
        fail(f"scikit-learn refused the tree ({e})", path)
    from ..transport.sklearn_trees import check_tree_depth
    try:
        check_tree_depth(tree, spec["state"]["nodes"], spec["state"]["max_depth"],
                         f"{path}.pymilo-tree.internal_state.max_depth")
    except ValidationError as e:  # the file's name, as the reader's other messages
        fail(str(e).rsplit(" at ", 1)[0], f"{path}.pymilo-tree.internal_state.max_depth")
    return tree


# ------------------------------------------------------------------------------------------------ HGB predictors

def build_predictor(cls, nodes, binned, raw, path, fail):
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    if nodes.dtype.names != PREDICTOR_RECORD_DTYPE.names or nodes.ndim != 1 or len(nodes) == 0:
        fail(f"TreePredictor nodes must have the fields {list(PREDICTOR_RECORD_DTYPE.names)}", path)
    nodes = nodes.astype(PREDICTOR_RECORD_DTYPE)
    for name, bits in (("binned_left_cat_bitsets", binned), ("raw_left_cat_bitsets", raw)):
        if not isinstance(bits, np.ndarray) or bits.ndim != 2 or bits.shape[1] != 8 or bits.dtype.kind not in "iu":
            fail(f"{name} must be an integer array of shape (n, 8)", f"{path}.pymiloed-data.{name}")
    binned = binned.astype(np.uint32)
    raw = raw.astype(np.uint32)
    n = len(nodes)
    idx = np.arange(n)
    inner = nodes["is_leaf"] == 0
    if np.any(nodes["is_leaf"] > 1):
        fail("is_leaf must be 0 or 1", path)
    li, ri = nodes["left"][inner].astype(np.int64), nodes["right"][inner].astype(np.int64)
    if np.any(li <= idx[inner]) or np.any(ri <= idx[inner]) or np.any(li >= n) or np.any(ri >= n):
        fail("child indices must lie after their parent and inside the table", path)
    kids = np.concatenate([li, ri])
    if len(np.unique(kids)) != len(kids):
        fail("a node has more than one parent", path)
    if np.any(nodes["feature_idx"][inner] < 0):
        fail("split feature indices must not be negative", path)
    cat = inner & (nodes["is_categorical"] != 0)
    if np.any(nodes["is_categorical"] > 1) or np.any(nodes["missing_go_to_left"] > 1):
        fail("is_categorical and missing_go_to_left must be 0 or 1", path)
    if np.any(cat) and (np.any(nodes["bitset_idx"][cat] >= len(binned)) or
                        np.any(nodes["bitset_idx"][cat] >= len(raw))):
        fail("a categorical split points past the bitsets", path)
    return cls(nodes=nodes, binned_left_cat_bitsets=binned, raw_left_cat_bitsets=raw)


# ------------------------------------------------------------------------------------------------ whole models

def _pos_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _trees_in(est):
    ests = est.__dict__.get("estimators_")
    if isinstance(ests, np.ndarray):
        ests = list(ests.reshape(-1))
    if not isinstance(ests, list):
        return []
    return [e for e in ests if "tree_" in getattr(e, "__dict__", {})]


def check_estimator(obj, path, fail):
    """Cross-attribute checks for what the compiled code of a rebuilt model indexes."""
    from sklearn.tree._tree import Tree

    d = obj.__dict__
    n_in = d.get("n_features_in_")
    tree = d.get("tree_")
    if isinstance(tree, Tree) and n_in is not None and tree.n_features != n_in:
        fail(f"tree_ has {tree.n_features} features but the model {n_in}", f"{path}.tree_")
    if n_in is not None and "estimators_features_" not in d:
        for e in _trees_in(obj):
            if isinstance(e.tree_, Tree) and e.tree_.n_features != n_in:
                fail(f"an inner tree has {e.tree_.n_features} features but the model {n_in}",
                     f"{path}.estimators_")
    preds = d.get("_predictors")
    if preds is not None:
        n_feat = d.get("_n_features", n_in)
        bm = d.get("_bin_mapper")
        is_cat = getattr(bm, "is_categorical_", None)
        for it in preds:
            for p in it:
                nodes = getattr(p, "nodes", None)
                if nodes is None:
                    continue
                inner = nodes["is_leaf"] == 0
                f = nodes["feature_idx"][inner]
                if n_feat is None or np.any(f >= n_feat):
                    fail("a HistGradientBoosting split uses a feature the model does not have",
                         f"{path}._predictors")
                cat = inner & (nodes["is_categorical"] != 0)
                if np.any(cat):
                    if is_cat is None or len(is_cat) != n_feat or not np.all(np.asarray(is_cat)[
                            nodes["feature_idx"][cat]]):
                        fail("a categorical split uses a feature not marked categorical",
                             f"{path}._predictors")

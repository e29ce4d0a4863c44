"""scikit-learn's compiled neighbor structures: KDTree / BallTree and the DistanceMetric classes.

    {"milo:object": "sklearn.neighbors._kd_tree.KDTree",
     "state": {"data": <(n, d) float array>, "idx_array": <intp (n,)>, "node_data": <NodeData (n_nodes,)>,
               "node_bounds": <float (k, n_nodes, d)>, "leaf_size": int, "n_levels": int, "n_nodes": int,
               "n_trims": int, "n_leaves": int, "n_splits": int, "n_calls": int,
               "dist_metric": <DistanceMetric node>, "sample_weight": <float (n,)> | null}}
    {"milo:object": "sklearn.metrics._dist_metrics.EuclideanDistance64",
     "state": {"p": float, "vec": <float array>, "mat": <2-d float array>}}   (+ "func", "kwargs": PyFuncDistance)

The query code indexes ``data`` through ``idx_array`` and ``node_data`` without bounds checks; before
``__setstate__`` we check the permutation, the node ranges, the implicit binary layout (n_nodes = 2**n_levels - 1,
children of internal nodes in range, the root covering every row and each reachable internal node's range split
exactly between its two children), the node dtype, every shape (a KD tree keeps two bounds per node, a ball tree
one centroid), and that the distance metric accepts the data (sklearn's own ``_validate_data``: a SEuclidean or
weighted Minkowski vector, a Mahalanobis matrix of the data's width; Haversine in 2-d).

Neighbors estimators are checked once rebuilt (VALIDATORS): the training data the brute-force compiled search
(``ArgKmin`` / ``RadiusNeighbors``) reads row by row with the query's width has ``n_features_in_`` columns, the KD or
ball tree holds exactly that data, and the row counts agree.
"""
from __future__ import annotations

import numpy as np

from ..errors import ValidationError
from ._core import ObjectHandler, expect, key_path, state_path

_TREE_FIELDS = ("data", "idx_array", "node_data", "node_bounds", "leaf_size", "n_levels", "n_nodes", "n_trims",
                "n_leaves", "n_splits", "n_calls", "dist_metric", "sample_weight")
_BINARY_TREES = tuple(f"sklearn.neighbors._{m}.{c}{s}" for m, c in (("kd_tree", "KDTree"), ("ball_tree", "BallTree"))
                      for s in ("", "64", "32"))
DIST_METRICS = tuple(f"sklearn.metrics._dist_metrics.{n}{s}" for n in (
    "BrayCurtisDistance", "CanberraDistance", "ChebyshevDistance", "DiceDistance", "EuclideanDistance",
    "HammingDistance", "HaversineDistance", "JaccardDistance", "KulsinskiDistance", "MahalanobisDistance",
    "ManhattanDistance", "MatchingDistance", "MinkowskiDistance", "PyFuncDistance", "RogersTanimotoDistance",
    "RussellRaoDistance", "SEuclideanDistance", "SokalMichenerDistance", "SokalSneathDistance") for s in ("64", "32"))


def _float_dtype(cls) -> np.dtype:
    return np.dtype(np.float32) if "32" in [b.__name__[-2:] for b in cls.__mro__ if b.__name__.startswith(
        ("BinaryTree", "DistanceMetric"))] else np.dtype(np.float64)


class BinaryTreeHandler(ObjectHandler):
    classes = _BINARY_TREES
    aux = frozenset({"state"})

    def encode(self, obj, enc, path, node):
        st = obj.__getstate__()
        p = state_path(path)
        node["state"] = {k: enc.encode(v, key_path(p, k)) for k, v in zip(_TREE_FIELDS, st)}

    def construct(self, cls, node, dec, path):
        p = state_path(path)
        st = node.get("state")
        expect(type(st) is dict and set(st) == set(_TREE_FIELDS), p, "{" + ", ".join(_TREE_FIELDS) + "}")
        st = {k: dec.decode(st[k], key_path(p, k)) for k in _TREE_FIELDS}
        fdt = _float_dtype(cls)
        data, idx, nd, nb = st["data"], st["idx_array"], st["node_data"], st["node_bounds"]
        expect(isinstance(data, np.ndarray) and data.dtype == fdt and data.ndim == 2, key_path(p, "data"),
               f"a 2-d {fdt} array")
        n, d = data.shape
        for k in _TREE_FIELDS[4:11]:
            expect(type(st[k]) is int and 0 <= st[k] < 2**62, key_path(p, k), "a non-negative int")
        n_nodes, n_levels = st["n_nodes"], st["n_levels"]
        expect(1 <= n_levels <= 62 and n_nodes == 2 ** n_levels - 1, key_path(p, "n_nodes"), "2**n_levels - 1")
        expect(isinstance(idx, np.ndarray) and idx.dtype == np.intp and idx.shape == (n,), key_path(p, "idx_array"),
               f"an intp array of {n} indices")
        if n and not np.array_equal(np.sort(idx), np.arange(n, dtype=np.intp)):
            raise ValidationError(f"idx_array is not a permutation of the data rows at {key_path(p, 'idx_array')}")
        expect(isinstance(nd, np.ndarray) and nd.dtype == NODE_DATA_DTYPE and nd.shape == (n_nodes,),
               key_path(p, "node_data"), f"a NodeData array of {n_nodes} rows ({NODE_DATA_DTYPE.descr})")
        check_node_ranges(nd, n, key_path(p, "node_data"))
        k = 2 if "KDTree" in cls.__name__ else 1  # KD: lower and upper bounds; ball: the centroid
        expect(isinstance(nb, np.ndarray) and nb.dtype == fdt and nb.shape == (k, n_nodes, d),
               key_path(p, "node_bounds"), f"a {fdt} array of shape ({k}, {n_nodes}, {d})")
        sw = st["sample_weight"]
        expect(sw is None or (isinstance(sw, np.ndarray) and sw.dtype == fdt and sw.shape == (n,)),
               key_path(p, "sample_weight"), f"null or a {fdt} array of {n} weights")
        dm = st["dist_metric"]
        expect(type(dm).__module__ == "sklearn.metrics._dist_metrics" and _float_dtype(type(dm)) == fdt,
               key_path(p, "dist_metric"), "a DistanceMetric of the tree's float type")
        try:
            dm._validate_data(data)
        except ValueError as e:
            raise ValidationError(f"the distance metric does not fit the data at {key_path(p, 'dist_metric')}: "
                                  f"{e}") from None
        obj = cls.__new__(cls)
        obj.__setstate__(tuple(st[k] for k in _TREE_FIELDS))
        return obj


NODE_DATA_DTYPE = np.dtype([("idx_start", np.intp), ("idx_end", np.intp), ("is_leaf", np.intp),
                            ("radius", np.float64)])


def check_node_ranges(nd: np.ndarray, n: int, path) -> None:
    """The implicit binary layout sklearn builds: node i's children are 2i+1 and 2i+2; the root covers rows
    [0, n); a reachable internal node's range is split, without gap or overlap, between its two children (so
    every walk stays inside idx_array and a node never yields more rows than the data has)."""
    s, e = nd["idx_start"], nd["idx_end"]
    if np.any(s < 0) or np.any(s > e) or np.any(e > n):
        raise ValidationError(f"a node's index range is outside the data at {path}")
    if s[0] != 0 or e[0] != n:
        raise ValidationError(f"the root does not cover the {n} rows of the data at {path}")
    n_nodes = nd.shape[0]
    internal = nd["is_leaf"] == 0
    level = np.array([0])
    while level.size:
        inner = level[internal[level]]
        if not inner.size:
            break
        left, right = 2 * inner + 1, 2 * inner + 2
        if right.max() >= n_nodes:
            raise ValidationError(f"an internal node has no children at {path}")
        if not (np.array_equal(s[left], s[inner]) and np.array_equal(e[left], s[right])
                and np.array_equal(e[right], e[inner])):
            raise ValidationError(f"a node's rows are not split between its two children at {path}")
        level = np.concatenate([left, right])


class DistanceMetricHandler(ObjectHandler):
    classes = DIST_METRICS
    aux = frozenset({"state"})

    def encode(self, obj, enc, path, node):
        st = obj.__getstate__()
        p = state_path(path)
        keys = ("p", "vec", "mat", "func", "kwargs")[:len(st)]
        node["state"] = {k: enc.encode(v, key_path(p, k)) for k, v in zip(keys, st)}

    def construct(self, cls, node, dec, path):
        p = state_path(path)
        st = node.get("state")
        pyfunc = cls.__name__.startswith("PyFuncDistance")
        keys = ("p", "vec", "mat", "func", "kwargs") if pyfunc else ("p", "vec", "mat")
        expect(type(st) is dict and set(st) == set(keys), p, "{" + ", ".join(keys) + "}")
        st = {k: dec.decode(st[k], key_path(p, k)) for k in keys}
        expect(type(st["p"]) is float, key_path(p, "p"), "a float")
        expect(isinstance(st["vec"], np.ndarray) and st["vec"].dtype == np.float64 and st["vec"].ndim == 1,
               key_path(p, "vec"), "a 1-d float64 array")
        mat = st["mat"]
        expect(isinstance(mat, np.ndarray) and mat.dtype == np.float64 and mat.ndim == 2, key_path(p, "mat"),
               "a 2-d float64 array")
        if cls.__name__.startswith("MahalanobisDistance"):
            expect(mat.shape[0] == mat.shape[1], key_path(p, "mat"), "a square matrix")
        if pyfunc:
            expect(callable(st["func"]), key_path(p, "func"), "a function")
            expect(type(st["kwargs"]) is dict, key_path(p, "kwargs"), "a dict")
        obj = cls.__new__(cls)
        obj.__setstate__(tuple(st[k] for k in keys))
        return obj


_NEIGHBORS = tuple(f"sklearn.neighbors.{m}" for m in (
    "_classification.KNeighborsClassifier", "_classification.RadiusNeighborsClassifier",
    "_regression.KNeighborsRegressor", "_regression.RadiusNeighborsRegressor", "_unsupervised.NearestNeighbors",
    "_graph.KNeighborsTransformer", "_graph.RadiusNeighborsTransformer", "_lof.LocalOutlierFactor"))
_TREE_METHODS = {"kd_tree": "KDTree", "ball_tree": "BallTree"}


def _state_path(path, name):
    return key_path(state_path(path), name)


def _tree_data(tree) -> np.ndarray:
    return np.asarray(tree.data)


def validate_neighbors(est, path) -> None:
    """kneighbors / radius_neighbors: the brute-force search (compiled ArgKmin / RadiusNeighbors) reads each
    training row with the query's width (n_features_in_, validated): _fit_X must have that many columns; a KD or
    ball tree must hold _fit_X itself; targets and counts one per training row."""
    import scipy.sparse as sp
    d = est.__dict__
    if "_fit_X" not in d:
        return
    fx = d["_fit_X"]
    px = _state_path(path, "_fit_X")
    expect((isinstance(fx, np.ndarray) and fx.ndim == 2 and fx.dtype.kind in "fiub")
           or (sp.issparse(fx) and fx.format == "csr"), px, "a 2-d numeric array or a CSR matrix")
    n_fit = fx.shape[0]
    method = d.get("_fit_method")
    expect(method in ("brute", "kd_tree", "ball_tree"), _state_path(path, "_fit_method"),
           "'brute', 'kd_tree' or 'ball_tree'")
    nsf = d.get("n_samples_fit_")
    expect((type(nsf) is int or isinstance(nsf, np.integer)) and int(nsf) == n_fit,
           _state_path(path, "n_samples_fit_"), f"the {n_fit} rows of _fit_X")
    n = d.get("n_features_in_")
    if n is not None:
        expect((type(n) is int or isinstance(n, np.integer)) and fx.shape[1] == int(n), px,
               f"n_features_in_ ({n}) columns")
    tree = d.get("_tree")
    pt = _state_path(path, "_tree")
    if method == "brute":
        expect(tree is None, pt, "null for a brute-force model")
    else:
        expect(type(tree).__name__.startswith(_TREE_METHODS[method]) and type(tree).__module__.startswith(
            "sklearn.neighbors.") and isinstance(fx, np.ndarray), pt, f"a {_TREE_METHODS[method]}")
        data = _tree_data(tree)
        expect(data.shape == fx.shape and np.array_equal(data, fx), pt, "a tree over _fit_X itself")
    y = d.get("_y")
    if y is not None:
        expect(isinstance(y, np.ndarray) and y.ndim in (1, 2) and y.shape[0] == n_fit, _state_path(path, "_y"),
               f"{n_fit} targets")


def validate_kernel_density(est, path) -> None:
    tree = est.__dict__.get("tree_")
    if tree is None:
        return
    pt = _state_path(path, "tree_")
    expect(type(tree).__name__ in ("KDTree", "BallTree", "KDTree64", "BallTree64") and type(tree).__module__.startswith(
        "sklearn.neighbors."), pt, "a KDTree or BallTree")
    n = est.__dict__.get("n_features_in_")
    expect(n is None or _tree_data(tree).shape[1] == n, pt, f"a tree over {n} features")


TRANSPORTERS: list = []
HANDLERS = [BinaryTreeHandler(), DistanceMetricHandler()]
VALIDATORS = {**{qn: validate_neighbors for qn in _NEIGHBORS},
              "sklearn.neighbors._kde.KernelDensity": validate_kernel_density}

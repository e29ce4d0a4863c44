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
children of internal nodes in range) and every shape.
"""
from __future__ import annotations

import numpy as np

from ..errors import ValidationError
from ._core import ObjectHandler, expect, key_path

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
        p = key_path(path, "state")
        node["state"] = {k: enc.encode(v, key_path(p, k)) for k, v in zip(_TREE_FIELDS, st)}

    def construct(self, cls, node, dec, path):
        p = key_path(path, "state")
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
        expect(isinstance(nd, np.ndarray) and nd.dtype.names == ("idx_start", "idx_end", "is_leaf", "radius")
               and nd.shape == (n_nodes,), key_path(p, "node_data"), f"a NodeData array of {n_nodes} rows")
        s, e = nd["idx_start"], nd["idx_end"]
        if np.any(s < 0) or np.any(s > e) or np.any(e > n):
            raise ValidationError(f"a node's index range is outside the data at {key_path(p, 'node_data')}")
        internal = np.flatnonzero(nd["is_leaf"] == 0)
        if internal.size and 2 * internal.max() + 2 >= n_nodes:
            raise ValidationError(f"an internal node has no children at {key_path(p, 'node_data')}")
        expect(isinstance(nb, np.ndarray) and nb.dtype == fdt and nb.ndim == 3 and nb.shape[0] in (1, 2)
               and nb.shape[1:] == (n_nodes, d), key_path(p, "node_bounds"), f"a {fdt} array (k, {n_nodes}, {d})")
        sw = st["sample_weight"]
        expect(sw is None or (isinstance(sw, np.ndarray) and sw.dtype == fdt and sw.shape == (n,)),
               key_path(p, "sample_weight"), f"null or a {fdt} array of {n} weights")
        dm = st["dist_metric"]
        expect(type(dm).__module__ == "sklearn.metrics._dist_metrics" and _float_dtype(type(dm)) == fdt,
               key_path(p, "dist_metric"), "a DistanceMetric of the tree's float type")
        obj = cls.__new__(cls)
        obj.__setstate__(tuple(st[k] for k in _TREE_FIELDS))
        return obj


class DistanceMetricHandler(ObjectHandler):
    classes = DIST_METRICS
    aux = frozenset({"state"})

    def encode(self, obj, enc, path, node):
        st = obj.__getstate__()
        p = key_path(path, "state")
        keys = ("p", "vec", "mat", "func", "kwargs")[:len(st)]
        node["state"] = {k: enc.encode(v, key_path(p, k)) for k, v in zip(keys, st)}

    def construct(self, cls, node, dec, path):
        p = key_path(path, "state")
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


TRANSPORTERS: list = []
HANDLERS = [BinaryTreeHandler(), DistanceMetricHandler()]

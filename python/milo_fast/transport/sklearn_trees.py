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

import numpy as np

from ..errors import ValidationError
from ._core import ObjectHandler, expect, key_path

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
        from sklearn.tree._tree import NODE_DTYPE

        pa, ps = key_path(path, "args"), key_path(path, "state")
        args = node.get("args")
        expect(type(args) is list and len(args) == 3, pa, "[n_features, n_classes, n_outputs]")
        n_features, n_classes, n_outputs = args[0], dec.decode(args[1], key_path(pa, 1)), args[2]
        expect(type(n_features) is int and 0 < n_features < 2**31, key_path(pa, 0), "a positive int")
        expect(type(n_outputs) is int and 0 < n_outputs < 2**31, key_path(pa, 2), "a positive int")
        expect(isinstance(n_classes, np.ndarray) and n_classes.dtype.kind in "iu" and n_classes.shape == (n_outputs,)
               and (n_classes.size == 0 or (n_classes.min() >= 1 and n_classes.max() < 2**31)), key_path(pa, 1),
               "n_outputs positive class counts")
        st = node.get("state")
        expect(type(st) is dict and set(st) == {"max_depth", "node_count", "nodes", "values"}, ps,
               "{max_depth, node_count, nodes, values}")
        max_depth, node_count = st["max_depth"], st["node_count"]
        nodes = dec.decode(st["nodes"], key_path(ps, "nodes"))
        values = dec.decode(st["values"], key_path(ps, "values"))
        expect(type(max_depth) is int and 0 <= max_depth < 2**31, key_path(ps, "max_depth"), "a depth")
        expect(type(node_count) is int and 0 < node_count, key_path(ps, "node_count"), "a positive node count")
        expect(isinstance(nodes, np.ndarray) and nodes.dtype == NODE_DTYPE and nodes.shape == (node_count,),
               key_path(ps, "nodes"), f"a node table of {node_count} rows with sklearn's NODE_DTYPE")
        max_n_classes = int(n_classes.max())
        expect(isinstance(values, np.ndarray) and values.dtype == np.float64
               and values.shape == (node_count, n_outputs, max_n_classes), key_path(ps, "values"),
               f"a float64 array of shape ({node_count}, {n_outputs}, {max_n_classes})")
        check_tree_nodes(nodes, n_features, key_path(ps, "nodes"))
        tree = cls(n_features, np.ascontiguousarray(n_classes, dtype=np.intp), n_outputs)
        tree.__setstate__({"max_depth": max_depth, "node_count": node_count,
                           "nodes": np.ascontiguousarray(nodes), "values": np.ascontiguousarray(values)})
        return tree


TRANSPORTERS: list = []
HANDLERS = [TreeHandler()]

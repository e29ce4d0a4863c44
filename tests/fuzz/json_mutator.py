"""Structural mutations of JSON documents, for fuzz_load.py and tests/test_fuzz_load_smoke.py.

    mutate_json(doc, random.Random(seed))   # one mutation of a parsed document, in place

A value somewhere in the document is replaced (numbers by boundary values, strings by planted names such as
os.system or by an edited copy), deleted, duplicated, swapped, or replaced by a copy of another subtree, or a
dict gets a key that means something to a reader (milo:ref, args, state, _in_fit ...).
"""
from __future__ import annotations

import json
import math
import random

_NUMBERS = [0, 1, -1, 2, 3, 7, 8, 255, 256, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 62, 2 ** 63 - 1, -2 ** 63,
            2 ** 64, 10 ** 30, 0.5, -0.0, 1e308, math.inf, -math.inf, math.nan]
_NAMES = ["os.system", "builtins.eval", "builtins.exec", "builtins.__import__", "builtins.getattr", "builtins.type",
          "builtins.bytes", "builtins.object", "subprocess.Popen", "numpy.load", "numpy.fromfile", "numpy.memmap",
          "pickle.loads", "importlib.import_module", "sklearn.tree.os.system", "sklearn.NotAThing",
          "numpy.lib.npyio.load", "functools.partial", "collections.defaultdict", "numpy.ndarray",
          "sklearn.tree._tree.Tree", "sklearn.neighbors._kd_tree.KDTree", "sklearn.utils._bunch.Bunch",
          "numpy.random.mtrand.RandomState", "scipy.sparse._csr.csr_matrix", "numpy.log1p", "numpy.add",
          "sklearn.svm._classes.SVC", "sklearn.cluster._birch._CFNode", "milo:ref", "milo:id", "milo:object",
          "milo:graph", "milo:shared", "milo:tuple", "<U999999", "|O", "float64", "int8", "uint64", ">f8", "bool",
          "precomputed", "kd_tree", "brute", "rbf", "relu", "c_svc", "zero", "",
          "pymilo-bypass", "pymiloed-ndarray-list", "numpy.int64", "os", "system", "Popen"]
_KEYS = ["milo:id", "milo:ref", "milo:object", "milo:function", "milo:type", "args", "state", "items", "list",
         "shape", "view", "strides", "offset", "objects", "factory", "pymiloed-ndarray-shape", "pymiloed-ndarray-dtype",
         "pymilo-bypass", "function_name", "function_module", "np-type", "value", "_in_fit", "__class__",
         "__reduce__", "__setstate__"]


def _nodes(v, out, depth=0):
    """Every container and leaf of a parsed document as (parent, key) pairs (the root as (None, None))."""
    if depth > 200:
        return
    if isinstance(v, dict):
        for k in list(v):
            out.append((v, k))
            _nodes(v[k], out, depth + 1)
    elif isinstance(v, list):
        for i in range(len(v)):
            out.append((v, i))
            _nodes(v[i], out, depth + 1)


def _new_leaf(rng: random.Random, old):
    r = rng.random()
    if isinstance(old, bool) or r < 0.1:
        return rng.choice([True, False, None, [], {}, "", 0])
    if isinstance(old, (int, float)) and r < 0.7:
        if isinstance(old, int) and rng.random() < 0.5:
            return old + rng.choice([-2, -1, 1, 2])
        return rng.choice(_NUMBERS)
    if isinstance(old, str) and r < 0.7:
        if rng.random() < 0.3 and old:
            i = rng.randrange(len(old))
            return old[:i] + rng.choice(["", ".os.system", ".", "_", "x", "__"]) + old[i + 1:]
        return rng.choice(_NAMES)
    return rng.choice(_NUMBERS + _NAMES)


def mutate_json(doc, rng: random.Random) -> None:
    """One structural mutation of ``doc`` in place."""
    nodes: list = []
    _nodes(doc, nodes)
    if not nodes:
        return
    parent, key = rng.choice(nodes)
    value = parent[key]
    op = rng.random()
    if op < 0.45 or not isinstance(value, (dict, list)):
        parent[key] = _new_leaf(rng, value) if not isinstance(value, (dict, list)) or rng.random() < 0.3 else value
        if isinstance(value, (dict, list)) and parent[key] is value:
            parent[key] = _new_leaf(rng, None)
    elif op < 0.6:  # delete
        del parent[key]
    elif op < 0.75:  # graft another subtree here (or a copy of this one elsewhere)
        _, other_key = src = rng.choice(nodes)
        parent[key] = json.loads(json.dumps(src[0][other_key]))
    elif isinstance(value, list) and value:
        i = rng.randrange(len(value))
        what = rng.random()
        if what < 0.4:
            value.append(json.loads(json.dumps(value[i])))
        elif what < 0.7:
            del value[i]
        else:
            j = rng.randrange(len(value))
            value[i], value[j] = value[j], value[i]
    elif isinstance(value, dict):
        value[rng.choice(_KEYS)] = _new_leaf(rng, rng.choice([0, "x"]))
    else:
        parent[key] = _new_leaf(rng, value)


__all__ = ["mutate_json"]

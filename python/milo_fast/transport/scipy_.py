"""scipy.sparse matrices and arrays, by their defining arrays (never by scipy's private attributes):

    csr / csc / bsr   {"milo:object": "scipy.sparse._csr.csr_matrix",
                       "state": {"shape": [r, c], "data": <array>, "indices": <array>, "indptr": <array>}}
    coo               "state": {"shape": [...], "data": <array>, "coords": [<array>, ...], "canonical": bool}
    dia               "state": {"shape": [r, c], "data": <array>, "offsets": <array>}
    lil / dok         stored like csr, converted back on import

Index arrays keep their dtype. On import scipy's full format check runs (indices in range, indptr monotonic)
before the matrix is handed back.
"""
from __future__ import annotations

import numpy as np

from ..errors import ValidationError
from ._core import ObjectHandler, expect, key_path

_M = "scipy.sparse._{0}.{0}_matrix"
_A = "scipy.sparse._{0}.{0}_array"


def _names(*fmts):
    return tuple(t.format(f) for f in fmts for t in (_M, _A))


def _shape(v, path, ndim=None):
    expect(type(v) is list and (ndim is None or len(v) == ndim) and 1 <= len(v) <= 64
           and all(type(d) is int and d >= 0 for d in v), path, "a sparse shape (list of non-negative ints)")
    return tuple(v)


_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def _arr(st, key, path, ndim=None, kinds="biuf"):
    a = st.get(key)
    p = key_path(path, key)
    expect(isinstance(a, np.ndarray) and a.dtype.kind in kinds and (ndim is None or a.ndim == ndim), p,
           f"a numeric array{'' if ndim is None else f' of {ndim} dimension(s)'}")
    if kinds == "iu":  # scipy's compiled routines take int32 or int64 indices (what scipy itself makes)
        expect(a.dtype in _INDEX_DTYPES, p, "an int32 or int64 index array")
    return a


def _state(node, path, keys):
    st = node.get("state")
    p = key_path(path, "state")
    expect(type(st) is dict and set(st) == set(keys), p, "{" + ", ".join(sorted(keys)) + "}")
    return st, p


def _keep(m, attr: str, arr: np.ndarray) -> None:
    """Put the decoded array itself back when scipy copied it without changing it (keeps shared arrays
    shared, as in the original)."""
    cur = getattr(m, attr)
    if cur is not arr and cur.dtype == arr.dtype and cur.shape == arr.shape:
        setattr(m, attr, arr)


class CompressedHandler(ObjectHandler):
    classes = _names("csr", "csc", "bsr")
    aux = frozenset({"state"})

    def encode(self, obj, enc, path, node):
        p = key_path(path, "state")
        node["state"] = {"shape": list(obj.shape), "data": enc.encode(obj.data, key_path(p, "data")),
                         "indices": enc.encode(obj.indices, key_path(p, "indices")),
                         "indptr": enc.encode(obj.indptr, key_path(p, "indptr"))}

    def construct(self, cls, node, dec, path):
        st, p = _state(node, path, ("shape", "data", "indices", "indptr"))
        st = {k: dec.decode(v, key_path(p, k)) for k, v in st.items()}
        shape = _shape(st["shape"], key_path(p, "shape"), 2)
        data = _arr(st, "data", p, 3 if cls.__module__.endswith("._bsr") else 1)
        indices = _arr(st, "indices", p, 1, "iu")
        indptr = _arr(st, "indptr", p, 1, "iu")
        try:
            m = cls((data, indices, indptr), shape=shape, copy=False)
            m.check_format(full_check=True)
        except (ValueError, TypeError, IndexError) as e:
            raise ValidationError(f"inconsistent sparse matrix at {p}: {e}") from None
        if m.indices.dtype != indices.dtype or m.indptr.dtype != indptr.dtype:
            m.indices, m.indptr = indices, indptr  # same values, the saved index dtype
        for attr, arr in (("data", data), ("indices", indices), ("indptr", indptr)):
            _keep(m, attr, arr)
        return m


class CooHandler(ObjectHandler):
    classes = _names("coo")
    aux = frozenset({"state"})

    def encode(self, obj, enc, path, node):
        p = key_path(path, "state")
        node["state"] = {"shape": list(obj.shape), "data": enc.encode(obj.data, key_path(p, "data")),
                         "coords": [enc.encode(c, key_path(key_path(p, "coords"), i)) for i, c in enumerate(obj.coords)],
                         "canonical": bool(obj.has_canonical_format)}

    def construct(self, cls, node, dec, path):
        st, p = _state(node, path, ("shape", "data", "coords", "canonical"))
        st = {k: dec.decode(v, key_path(p, k)) for k, v in st.items()}
        shape = _shape(st["shape"], key_path(p, "shape"))
        data = _arr(st, "data", p, 1)
        coords = st["coords"]
        expect(type(coords) is list and len(coords) == len(shape)
               and all(isinstance(c, np.ndarray) and c.ndim == 1 and c.dtype in _INDEX_DTYPES and c.shape == data.shape
                       for c in coords), key_path(p, "coords"),
               "one int32 or int64 index array per dimension, as long as data")
        for c, n in zip(coords, shape):
            if c.size and (c.min() < 0 or c.max() >= n):
                raise ValidationError(f"sparse coordinates out of range at {key_path(p, 'coords')}")
        expect(type(st["canonical"]) is bool, key_path(p, "canonical"), "true or false")
        try:
            m = cls((data, tuple(coords)), shape=shape, copy=False)
        except (ValueError, TypeError, IndexError) as e:
            raise ValidationError(f"inconsistent sparse matrix at {p}: {e}") from None
        if any(a is not c for a, c in zip(m.coords, coords)) and all(
                a.dtype == c.dtype and a.shape == c.shape for a, c in zip(m.coords, coords)):
            m.coords = tuple(coords)  # the decoded arrays themselves (shared ones stay shared)
        elif any(a.dtype != c.dtype for a, c in zip(m.coords, coords)):
            m.coords = tuple(coords)  # same values, the saved index dtype
        m.has_canonical_format = st["canonical"]
        _keep(m, "data", data)
        return m


class DiaHandler(ObjectHandler):
    classes = _names("dia")
    aux = frozenset({"state"})

    def encode(self, obj, enc, path, node):
        p = key_path(path, "state")
        node["state"] = {"shape": list(obj.shape), "data": enc.encode(obj.data, key_path(p, "data")),
                         "offsets": enc.encode(obj.offsets, key_path(p, "offsets"))}

    def construct(self, cls, node, dec, path):
        st, p = _state(node, path, ("shape", "data", "offsets"))
        st = {k: dec.decode(v, key_path(p, k)) for k, v in st.items()}
        shape = _shape(st["shape"], key_path(p, "shape"), 2)
        data = _arr(st, "data", p, 2)
        offsets = _arr(st, "offsets", p, 1, "iu")
        expect(offsets.shape[0] == data.shape[0], key_path(p, "offsets"), "one offset per row of data")
        try:
            m = cls((data, offsets), shape=shape, copy=False)
            m.check_format() if hasattr(m, "check_format") else None
        except (ValueError, TypeError, IndexError) as e:
            raise ValidationError(f"inconsistent sparse matrix at {p}: {e}") from None
        return m


class ConvertedHandler(CompressedHandler):
    """lil / dok: written as csr (their internals are Python lists and dicts), converted back on import."""

    classes = _names("lil", "dok")

    def encode(self, obj, enc, path, node):
        super().encode(obj.tocsr(), enc, path, node)

    def construct(self, cls, node, dec, path):
        import scipy.sparse as sp
        csr_cls = sp.csr_array if "_array" in cls.__name__ else sp.csr_matrix
        return cls(super().construct(csr_cls, node, dec, path))


class BSplineHandler(ObjectHandler):
    """scipy.interpolate.BSpline (SplineTransformer's splines): knots, coefficients, degree, extrapolation, axis.

    Rebuilt through BSpline's own constructor, which checks the knots (sorted, finite) and that knots,
    coefficients and degree agree; then the saved arrays themselves are put back (same values, same layout).
    """

    classes = ("scipy.interpolate._bsplines.BSpline",)
    aux = frozenset({"state"})
    _KEYS = ("t", "c", "k", "extrapolate", "axis")

    def encode(self, obj, enc, path, node):
        p = key_path(path, "state")
        node["state"] = {"t": enc.encode(obj._t, key_path(p, "t")), "c": enc.encode(obj._c, key_path(p, "c")),
                         "k": int(obj.k), "extrapolate": enc.encode(obj.extrapolate, key_path(p, "extrapolate")),
                         "axis": int(obj.axis)}

    def construct(self, cls, node, dec, path):
        st, p = _state(node, path, self._KEYS)
        st = {k: dec.decode(v, key_path(p, k)) for k, v in st.items()}
        t, c, k, extrapolate, axis = (st[x] for x in self._KEYS)
        expect(isinstance(t, np.ndarray) and t.dtype == np.float64 and t.ndim == 1, key_path(p, "t"),
               "a 1-d float64 array")
        expect(isinstance(c, np.ndarray) and c.dtype.kind == "f" and c.ndim >= 1, key_path(p, "c"), "a float array")
        expect(type(k) is int and 0 <= k < 64, key_path(p, "k"), "a degree")
        expect(type(extrapolate) is bool or extrapolate == "periodic", key_path(p, "extrapolate"),
               "true, false or 'periodic'")
        expect(type(axis) is int and 0 <= axis < c.ndim, key_path(p, "axis"), "an axis of c")
        try:
            obj = cls(t, np.moveaxis(c, 0, axis), k, extrapolate=extrapolate, axis=axis)
        except (ValueError, TypeError) as e:
            raise ValidationError(f"inconsistent B-spline at {p}: {e}") from None
        if obj._c.dtype != c.dtype or obj._c.shape != c.shape:
            raise ValidationError(f"inconsistent B-spline coefficients at {key_path(p, 'c')}")
        obj._t, obj._c = t, c
        return obj


def _stats_distribution(name, path):
    """The scipy.stats distribution called ``name`` (scipy.stats.uniform ...), or ValidationError."""
    import scipy.stats as st
    expect(type(name) is str and name.isidentifier(), path, "a scipy.stats distribution name")
    dist = getattr(st, name, None)
    expect(isinstance(dist, (st.rv_continuous, st.rv_discrete)), path, f"a scipy.stats distribution, not {name!r}")
    return dist


def _number(x) -> bool:
    return type(x) in (int, float) or isinstance(x, (np.integer, np.floating))


class FrozenDistributionHandler(ObjectHandler):
    """Frozen scipy.stats distributions (``loguniform(1e-3, 1e2)`` in RandomizedSearchCV's param_distributions).

        {"milo:object": "scipy.stats._distn_infrastructure.rv_continuous_frozen",
         "state": {"dist": "loguniform", "args": [0.001, 100.0], "kwds": {}, "random_state": null | <generator>}}

    Pickle rebuilds these objects by generating and executing code from their state; here they are rebuilt by
    calling the scipy.stats distribution named in ``dist`` (only scipy.stats's own distribution objects qualify)
    with numeric arguments.
    """

    classes = ("scipy.stats._distn_infrastructure.rv_continuous_frozen",
               "scipy.stats._distn_infrastructure.rv_discrete_frozen")
    aux = frozenset({"state"})

    def encode(self, obj, enc, path, node):
        import scipy.stats as st
        from ..errors import ExportError
        dist = obj.dist
        name = getattr(dist, "name", None)
        if not isinstance(name, str) or type(getattr(st, name, None)) is not type(dist):
            raise ExportError(f"the distribution at {path} is not one of scipy.stats's own; it cannot be written")
        if not all(_number(a) for a in obj.args) or not all(
                type(k) is str and _number(v) for k, v in obj.kwds.items()):
            raise ExportError(f"the distribution at {path} has non-numeric parameters; it cannot be written")
        rs = dist._random_state
        p = key_path(path, "state")
        node["state"] = {"dist": name, "args": [enc.encode(a, key_path(key_path(p, "args"), i))
                                                for i, a in enumerate(obj.args)],
                         "kwds": {k: enc.encode(v, key_path(key_path(p, "kwds"), k)) for k, v in obj.kwds.items()},
                         "random_state": None if rs is np.random.mtrand._rand else enc.encode(
                             rs, key_path(p, "random_state"))}

    def construct(self, cls, node, dec, path):
        st, p = _state(node, path, ("dist", "args", "kwds", "random_state"))
        dist = _stats_distribution(st["dist"], key_path(p, "dist"))
        args = dec.decode(st["args"], key_path(p, "args"))
        kwds = dec.decode(st["kwds"], key_path(p, "kwds"))
        rs = dec.decode(st["random_state"], key_path(p, "random_state"))
        expect(type(args) is list and len(args) <= 8 and all(_number(a) for a in args), key_path(p, "args"),
               "a list of numbers")
        expect(type(kwds) is dict and len(kwds) <= 8 and all(_number(v) for v in kwds.values()),
               key_path(p, "kwds"), "a dict of numbers")
        expect(rs is None or isinstance(rs, (np.random.RandomState, np.random.Generator)),
               key_path(p, "random_state"), "null or a random generator")
        try:
            frozen = dist(*args, **kwds)
        except (TypeError, ValueError) as e:
            raise ValidationError(f"bad parameters for scipy.stats.{st['dist']} at {p}: {e}") from None
        expect(type(frozen) is cls, p, f"a {cls.__name__}")
        if rs is not None:
            frozen.random_state = rs
        return frozen


TRANSPORTERS: list = []
HANDLERS = [CompressedHandler(), CooHandler(), DiaHandler(), ConvertedHandler(), BSplineHandler(),
            FrozenDistributionHandler()]

"""numpy values: arrays of every dtype, masked arrays, scalars, dtype objects.

Numeric arrays (bool, ints, uints, float16/32/64 and structured dtypes of those) are handed to the codec as they
are: it writes them in one of its array envelopes (docs/format.md, "Arrays"). Everything else:

    Fortran-ordered numeric array   {"milo:farray": <the C-ordered transpose>}
    object array                    {"milo:ndarray": "|O", "shape": [...], "items": [v, ...]}      (C order)
    str / bytes array               {"milo:ndarray": "<U5", "shape": [...], "items": ["...", ...]}  (bytes as latin-1)
    complex / datetime / timedelta  {"milo:ndarray": "<c16", "shape": [...], "view": <float or int64 array>}
    masked array                    {"milo:masked": <data>, "mask": <bool array or false>, "fill_value": v}
    non-numeric numpy scalar        {"milo:scalar": <0-d array node>}
    dtype object                    {"milo:dtype": "float64" | "<U5" | {"names": ..., "formats": ...}}
"""
from __future__ import annotations

import math
import re

import numpy as np

from .. import _dtypes
from ..errors import ExportError, ValidationError
from ._core import Transporter, expect, key_path

_codec_ok: dict = {}


def codec_dtype(dt: np.dtype) -> bool:
    """True if the codec writes arrays of this dtype itself."""
    ok = _codec_ok.get(dt)
    if ok is None:
        ok = _codec_ok[dt] = _dtypes.dtype_spec(dt) is not None
    return ok


_OTHER_DTYPE = re.compile(r"^(\|O|[<>|=]U\d{1,9}|\|S\d{1,9}|[<>=]c(8|16)|[<>=][Mm]8(\[(\d{1,4})?(Y|M|W|D|h|m|s|ms|us|ns|ps|fs|as)\])?)$")
_VIEW_BASE = {"c": lambda dt: np.dtype(f"{dt.byteorder if dt.byteorder in '<>' else '='}f{dt.itemsize // 2}"),
              "M": lambda dt: np.dtype(f"{dt.byteorder if dt.byteorder in '<>' else '='}i8"),
              "m": lambda dt: np.dtype(f"{dt.byteorder if dt.byteorder in '<>' else '='}i8")}


def other_dtype(spec, path) -> np.dtype:
    expect(type(spec) is str and _OTHER_DTYPE.match(spec) is not None, path,
           "a dtype spelling among |O, <U<n>, |S<n>, <c8, <c16, <M8[unit], <m8[unit]")
    return np.dtype(spec)


def shape_of(v, path) -> tuple:
    expect(type(v) is list and len(v) <= 32 and all(type(d) is int and 0 <= d < 1 << 62 for d in v), path,
           "a shape (list of at most 32 non-negative ints)")
    expect(math.prod(v) < 1 << 62, path, "a shape of fewer than 2**62 items")
    if 0 in v:  # numpy refuses some zero-size shapes whose other dimensions overflow; so do we
        expect(math.prod(d for d in v if d) < 1 << 62, path, "a shape numpy can represent")
    return tuple(v)


class ArrayT(Transporter):
    kind = "milo:ndarray"
    aux = frozenset({"shape", "items", "view"})
    types = (np.ndarray,)
    memo = True

    def encode(self, obj, enc, path):
        dt = obj.dtype
        if codec_dtype(dt):
            if obj.flags.c_contiguous:
                pf = enc.prefetch
                if pf is not None and obj.size >= 64:  # (a cheap filter before the call: the codec writes arrays
                    # under 512 numbers in its walk; one it would have taken, of many fields, is written there too)
                    pf(obj)
                return obj
            if obj.flags.f_contiguous:
                return {FArrayT.kind: obj.T}
            return StridedT.encode_view(obj)
        k = dt.kind
        node = {self.kind: dt.str, "shape": list(obj.shape)}
        if k == "O":
            p = key_path(path, "items")
            e = enc.encode
            node["items"] = [e(x, key_path(p, i)) for i, x in enumerate(obj.flat)]
        elif k == "U":
            node["items"] = obj.ravel().tolist()
        elif k == "S":
            node["items"] = [b.decode("latin-1") for b in obj.ravel().tolist()]
        elif k in _VIEW_BASE:
            flat = np.ascontiguousarray(obj).reshape(-1)
            node["view"] = flat.view(_VIEW_BASE[k](dt))
        else:
            raise ExportError(f"cannot represent a numpy array of dtype {dt} at {path}")
        return node

    def decode(self, node, dec, path):
        dt = other_dtype(node[self.kind], key_path(path, self.kind))
        shape = shape_of(node.get("shape"), key_path(path, "shape"))
        n = math.prod(shape)
        k = dt.kind
        if k in _VIEW_BASE:
            v = node.get("view")
            p = key_path(path, "view")
            base = _VIEW_BASE[k](dt)
            expect(isinstance(v, np.ndarray) and v.dtype == base and v.ndim == 1
                   and v.size == n * (2 if k == "c" else 1), p, f"a 1-d {base} array of the right size")
            return v.view(dt).reshape(shape)
        items = node.get("items")
        p = key_path(path, "items")
        expect(type(items) is list and len(items) == n, p, f"a list of {n} items")
        dec.budget.charge(n, n * dt.itemsize, path)  # a short string can claim a wide dtype: charged first
        if k == "O":
            res = np.empty(shape, dtype=object)
            dec.register(node, res, path)  # before its items: an item may refer back to it
            flat = res.reshape(-1)  # a view: res is fresh and C-contiguous
            for i, x in enumerate(items):
                flat[i] = dec.decode(x, key_path(p, i))
            return res
        expect(all(type(s) is str for s in items), p, "a list of strings")
        if k == "S":
            try:
                items = [s.encode("latin-1") for s in items]
            except UnicodeEncodeError:
                raise ValidationError(f"bytes items must be latin-1 text at {p}") from None
        out = np.empty(n, dtype=dt)
        if n:
            out[:] = items
        return out.reshape(shape)


class FArrayT(Transporter):
    kind = "milo:farray"
    memo = True

    def decode(self, node, dec, path):
        a = node[self.kind]
        expect(isinstance(a, np.ndarray) and a.ndim > 1, key_path(path, self.kind), "a numeric array (ndim > 1)")
        return a.T


class StridedT(Transporter):
    """A non-contiguous view (``components_ = Vt[:k]`` of a Fortran matrix...). Its values are written compactly,
    with the view's strides and its byte offset in its base: on import the same layout is rebuilt in a fresh
    buffer. BLAS results depend on the layout, so this is what makes outputs bit-identical."""

    kind = "milo:strided"
    aux = frozenset({"strides", "offset"})
    memo = True
    MAX_OFFSET = 1 << 16

    @classmethod
    def encode_view(cls, obj):
        offset = 0
        base = obj.base
        while isinstance(base, np.ndarray) and base.base is not None and isinstance(base.base, np.ndarray):
            base = base.base
        if isinstance(base, np.ndarray):
            lo = obj.__array_interface__["data"][0] + sum(min(0, (n - 1) * st) for n, st in zip(obj.shape, obj.strides))
            offset = lo - base.__array_interface__["data"][0]
            if not 0 <= offset < cls.MAX_OFFSET:
                offset = 0
        offset -= offset % obj.dtype.alignment
        return {cls.kind: np.ascontiguousarray(obj), "strides": list(obj.strides), "offset": offset}

    def decode(self, node, dec, path):
        a = node[self.kind]
        p = key_path(path, self.kind)
        expect(isinstance(a, np.ndarray), p, "a numeric array")
        strides, offset = node.get("strides"), node.get("offset")
        al = a.dtype.alignment
        expect(type(strides) is list and len(strides) == a.ndim
               and all(type(s) is int and abs(s) < 1 << 40 and s % al == 0 for s in strides),
               key_path(path, "strides"), f"{a.ndim} strides, multiples of {al}")
        expect(type(offset) is int and 0 <= offset < self.MAX_OFFSET and offset % al == 0,
               key_path(path, "offset"), f"an offset in [0, {self.MAX_OFFSET}), a multiple of {al}")
        if a.size == 0:
            return a
        lo = sum(min(0, (n - 1) * s) for n, s in zip(a.shape, strides))
        hi = sum(max(0, (n - 1) * s) for n, s in zip(a.shape, strides)) + a.dtype.itemsize
        extent = offset + hi - lo
        expect(extent <= 64 * a.nbytes + self.MAX_OFFSET, path, "strides spanning at most 64 times the data")
        dec.budget.charge(0, extent, path)
        buf = np.zeros(extent, dtype=np.uint8)
        out = np.ndarray(a.shape, a.dtype, buffer=buf, offset=offset - lo, strides=tuple(strides))
        out[...] = a
        return out


class MaskedT(Transporter):
    kind = "milo:masked"
    aux = frozenset({"mask", "fill_value"})
    types = (np.ma.MaskedArray,)
    memo = True

    def encode(self, obj, enc, path):
        mask = np.ma.getmask(obj)
        return {self.kind: enc.encode(np.asarray(obj.data), key_path(path, self.kind)),
                "mask": enc.encode(mask if mask is np.ma.nomask else np.asarray(mask), key_path(path, "mask")),
                "fill_value": enc.encode(obj._fill_value, key_path(path, "fill_value"))}

    def decode(self, node, dec, path):
        data = dec.decode(node[self.kind], key_path(path, self.kind))
        mask = dec.decode(node.get("mask"), key_path(path, "mask"))
        fv = dec.decode(node.get("fill_value"), key_path(path, "fill_value"))
        expect(isinstance(data, np.ndarray), key_path(path, self.kind), "an array")
        if isinstance(mask, np.ndarray):
            expect(mask.dtype == np.bool_ and mask.shape == data.shape, key_path(path, "mask"),
                   "a bool array of the data's shape")
        else:
            expect(mask is np.False_ or mask is False, key_path(path, "mask"), "a bool array or false")
            mask = np.ma.nomask
        out = np.ma.MaskedArray(data, mask=mask)
        if fv is not None:
            expect(isinstance(fv, np.ndarray) and fv.ndim == 0, key_path(path, "fill_value"), "a 0-d array or null")
            out._fill_value = fv
        return out


class ScalarT(Transporter):
    kind = "milo:scalar"
    fallback = True

    def match(self, obj):
        return isinstance(obj, np.generic)

    def encode(self, obj, enc, path):
        if codec_dtype(obj.dtype):
            return obj
        return {self.kind: enc.encode(np.asarray(obj), key_path(path, self.kind))}

    def decode(self, node, dec, path):
        a = dec.decode(node[self.kind], key_path(path, self.kind))
        expect(isinstance(a, np.ndarray) and a.ndim == 0, key_path(path, self.kind), "a 0-d array")
        return a[()]


class DtypeT(Transporter):
    kind = "milo:dtype"
    fallback = True

    def match(self, obj):
        return isinstance(obj, np.dtype)

    def encode(self, obj, enc, path):
        spec = _dtypes.dtype_spec(obj)
        if spec is None:
            spec = obj.str
            if _OTHER_DTYPE.match(spec) is None:
                raise ExportError(f"cannot represent the numpy dtype {obj} at {path}")
        return {self.kind: spec}

    def decode(self, node, dec, path):
        spec = node[self.kind]
        p = key_path(path, self.kind)
        try:
            dt = _dtypes.spec_to_dtype(spec)
        except ValueError as e:
            raise ValidationError(f"bad dtype at {p}: {e}") from None
        return dt if dt is not None else other_dtype(spec, p)


TRANSPORTERS = [ArrayT(), FArrayT(), StridedT(), MaskedT(), ScalarT(), DtypeT()]
HANDLERS: list = []

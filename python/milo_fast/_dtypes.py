"""Array dtypes the codec carries, and how they are spelled in a document (docs/format.md, "dtype").

Shared by the compiled codec (which asks here for the memory layout of a dtype) and the pure-Python
reference codec, so there is one definition of the spelling.
"""
from __future__ import annotations

import sys

import numpy as np

# kind codes understood by the C++ core (src/cpp/core/array_codec.hpp, ElemKind)
KIND_CODES = {
    ("b", 1): 0,
    ("i", 1): 1, ("i", 2): 2, ("i", 4): 3, ("i", 8): 4,
    ("u", 1): 5, ("u", 2): 6, ("u", 4): 7, ("u", 8): 8,
    ("f", 2): 9, ("f", 4): 10, ("f", 8): 11,
}

_SIMPLE_NAMES = {
    "bool": "?", "int8": "i1", "int16": "i2", "int32": "i4", "int64": "i8",
    "uint8": "u1", "uint16": "u2", "uint32": "u4", "uint64": "u8",
    "float16": "f2", "float32": "f4", "float64": "f8",
}
# Accepted on read besides the names: '<f8', '>i4', '|b1', '|u1', '=f8' ...
_BIG = sys.byteorder == "big"


def _is_simple(dt: np.dtype) -> bool:
    return dt.fields is None and dt.subdtype is None and (dt.kind, dt.itemsize) in KIND_CODES


def _is_big_endian(dt: np.dtype) -> bool:
    return dt.byteorder == ">" or (dt.byteorder == "=" and _BIG)


def simple_spec(dt: np.dtype) -> str:
    if _is_big_endian(dt) and dt.itemsize > 1:
        return dt.str  # e.g. '>f8'
    return dt.name


def dtype_spec(dt: np.dtype):
    """The JSON spelling of dtype ``dt`` (str or dict), or None if the codec does not carry it."""
    if _is_simple(dt):
        return simple_spec(dt)
    if dt.fields is not None and dt.names:
        formats, offsets = [], []
        for name in dt.names:
            fdt, off = dt.fields[name][:2]
            if not _is_simple(fdt):
                return None
            formats.append(simple_spec(fdt))
            offsets.append(int(off))
        return {"names": list(dt.names), "formats": formats, "offsets": offsets, "itemsize": int(dt.itemsize)}
    return None


def _simple_from_spec(spec):
    if not isinstance(spec, str):
        return None
    code = _SIMPLE_NAMES.get(spec)
    if code is not None:
        return np.dtype(code)
    if len(spec) == 3 and spec[0] in "<>|=" and spec[1] in "biuf?" and spec[2] in "1248":
        try:
            dt = np.dtype(spec)
        except TypeError:
            return None
        return dt if _is_simple(dt) else None
    return None


def spec_to_dtype(spec):
    """numpy dtype for a JSON dtype spelling; None if it is not one the codec carries (left to Python).

    Raises ValueError with a reason when the spelling looks like a structured dtype but is inconsistent.
    """
    if isinstance(spec, str):
        return _simple_from_spec(spec)
    if isinstance(spec, dict):
        if set(spec) != {"names", "formats", "offsets", "itemsize"}:
            raise ValueError("a structured dtype has exactly the keys names, formats, offsets, itemsize")
        names, formats, offsets, itemsize = spec["names"], spec["formats"], spec["offsets"], spec["itemsize"]
        if not (isinstance(names, list) and isinstance(formats, list) and isinstance(offsets, list)):
            raise ValueError("names, formats and offsets of a structured dtype must be lists")
        if not (len(names) == len(formats) == len(offsets)) or not names:
            raise ValueError("names, formats and offsets of a structured dtype must have the same, non-zero length")
        if not isinstance(itemsize, int) or isinstance(itemsize, bool) or not 0 < itemsize <= 65536:
            raise ValueError("itemsize of a structured dtype must be an int in [1, 65536]")
        fdts = []
        for i, (n, f, o) in enumerate(zip(names, formats, offsets)):
            if not isinstance(n, str) or not n:
                raise ValueError(f"field name {i} must be a non-empty string")
            fdt = _simple_from_spec(f)
            if fdt is None:
                raise ValueError(f"field {n!r} has an unsupported format {f!r}")
            if not isinstance(o, int) or isinstance(o, bool) or o < 0 or o + fdt.itemsize > itemsize:
                raise ValueError(f"field {n!r} has offset {o!r} outside the item of {itemsize} bytes")
            fdts.append(fdt)
        if len(set(names)) != len(names):
            raise ValueError("field names of a structured dtype must be unique")
        spans = sorted((o, o + d.itemsize) for o, d in zip(offsets, fdts))
        for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
            if b0 < a1:
                raise ValueError("fields of a structured dtype must not overlap")
        return np.dtype({"names": names, "formats": fdts, "offsets": offsets, "itemsize": itemsize})
    return None


def layout(dt: np.dtype):
    """(itemsize, [(offset, kind_code, big_endian), ...]) for the C++ core."""
    if dt.fields is None:
        return dt.itemsize, [(0, KIND_CODES[(dt.kind, dt.itemsize)], _is_big_endian(dt) and dt.itemsize > 1)]
    out = []
    for name in dt.names:
        fdt, off = dt.fields[name][:2]
        out.append((int(off), KIND_CODES[(fdt.kind, fdt.itemsize)], _is_big_endian(fdt) and fdt.itemsize > 1))
    return dt.itemsize, out

"""Pure-Python reference implementation of the codec (docs/format.md).

Slow and simple on purpose: the tests decode the compiled codec's output with it and vice versa, so the
two implementations check each other. Selected in place of the compiled core only when the environment
variable MILO_FAST_PURE=1 is set (development).
"""
from __future__ import annotations

import base64
import json
import math
import struct

import numpy as np

from . import _dtypes
from .errors import DecodeError, EncodeError

T_LIST, T_DTYPE, T_SHAPE, T_DS = ("pymiloed-ndarray-list", "pymiloed-ndarray-dtype", "pymiloed-ndarray-shape",
                                  "pymiloed-data-structure")
B_DATA, B_DTYPE, B_SHAPE, B_DS = "milo-ndarray-b64", "milo-ndarray-dtype", "milo-ndarray-shape", "milo-data-structure"
F_BITS = "milo-float-bits"
CANON_NAN64 = 0x7FF8000000000000


def _bits64(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _fmt_float(x, strict: bool) -> str:
    """Text of one float (numpy float16/32/64 or Python float) at its own precision."""
    if math.isnan(x):
        return '"NaN"' if strict else "NaN"
    if math.isinf(x):
        t = "Infinity" if x > 0 else "-Infinity"
        return f'"{t}"' if strict else t
    if isinstance(x, np.float32) and (int(np.array(x).view(np.uint32)) & 0x7FFFFFFF) == 0x15AE43FD:
        return np.format_float_scientific(x, precision=7, unique=False)  # see json_writer.cpp: one more digit
    if isinstance(x, (np.float16, np.float32)):
        s = np.format_float_positional(x, unique=True, trim="0") if 1e-4 <= abs(float(x)) < 1e16 or x == 0 \
            else np.format_float_scientific(x, unique=True, trim="0")
        if s.endswith("."):
            s += "0"
        return s
    return repr(float(x))


def _noncanonical_nan(arr: np.ndarray) -> bool:
    flat = np.ascontiguousarray(arr).reshape(-1)
    if flat.dtype.kind != "f" or flat.size == 0:
        return False
    nan = np.isnan(flat)
    if not nan.any():
        return False
    canon = np.array(np.nan, dtype=flat.dtype.newbyteorder("=")).view(f"u{flat.dtype.itemsize}")
    bits = flat[nan].astype(flat.dtype.newbyteorder("=")).view(f"u{flat.dtype.itemsize}")
    return bool((bits != canon).any())


def _arr_has_noncanonical_nan(arr):
    if arr.dtype.fields is None:
        return _noncanonical_nan(arr)
    return any(_noncanonical_nan(arr[n]) for n in arr.dtype.names)


def _elem_text(v, strict):
    if isinstance(v, (np.floating,)):
        return _fmt_float(v, strict)
    if isinstance(v, (np.bool_, bool)):
        return "true" if v else "false"
    if isinstance(v, np.void):  # structured row
        return "[" + ",".join(_elem_text(v[n], strict) for n in v.dtype.names) + "]"
    return str(int(v))


def _array_text(arr, strict):
    if arr.ndim == 0:
        return _elem_text(arr[()], strict)
    return "[" + ",".join(_array_text(arr[i], strict) for i in range(arr.shape[0])) + "]"


class _Writer:
    def __init__(self, b64: bool, indent: int, strict: bool):
        self.b64, self.indent, self.strict = b64, indent, strict

    def dump(self, obj, path, level) -> str:
        # Exact types only (as the compiled core): subclasses (OrderedDict, IntEnum, numpy.str_ ...) are the
        # transport layer's business, never silently written as their base type.
        t = type(obj)
        if obj is None:
            return "null"
        if obj is True or obj is False:
            return "true" if obj else "false"
        if t is int:
            return str(obj)
        if t is float:
            if math.isnan(obj) and _bits64(obj) != CANON_NAN64:
                return self._obj([(json.dumps(F_BITS), json.dumps(f"{_bits64(obj):016x}"))], level)
            if self.strict and not math.isfinite(obj):
                return self._obj([(json.dumps(F_BITS), json.dumps(f"{_bits64(obj):016x}"))], level)
            return _fmt_float(obj, False)
        if t is str:
            return json.dumps(obj, ensure_ascii=False)
        if t is np.ndarray or t is np.memmap or isinstance(obj, np.generic):
            return self._array(obj, path, level)
        if t is dict:
            items = []
            for k, v in obj.items():
                if type(k) is not str:
                    raise EncodeError(f"dict key {k!r} at {path} is a {type(k).__name__}, not a str")
                items.append((json.dumps(k, ensure_ascii=False), self.dump(v, f"{path}.{k}", level + 1)))
            return self._obj(items, level)
        if t is list or t is tuple:
            return self._list([self.dump(v, f"{path}[{i}]", level + 1) for i, v in enumerate(obj)], level)
        raise EncodeError(f"cannot encode a {t.__module__}.{t.__qualname__} at {path}")

    def _nl(self, level):
        return "\n" + " " * (self.indent * level)

    def _obj(self, items, level):
        if not items:
            return "{}"
        if self.indent < 0:
            return "{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
        inner = ",".join(f"{self._nl(level + 1)}{k}: {v}" for k, v in items)
        return "{" + inner + self._nl(level) + "}"

    def _list(self, parts, level):
        if not parts:
            return "[]"
        if self.indent < 0:
            return "[" + ",".join(parts) + "]"
        return "[" + ",".join(self._nl(level + 1) + p for p in parts) + self._nl(level) + "]"

    def _array(self, obj, path, level):
        scalar = isinstance(obj, np.generic)
        arr = np.asarray(obj)
        spec = _dtypes.dtype_spec(arr.dtype)
        if spec is None:
            raise EncodeError(f"cannot encode a numpy array of dtype {arr.dtype} at {path}")
        shape = "[" + ",".join(str(d) for d in arr.shape) + "]"
        dspec = json.dumps(spec, separators=(",", ":"))
        if self.b64 or _arr_has_noncanonical_nan(arr):
            le = arr.astype(arr.dtype.newbyteorder("<")) if arr.dtype.fields is None else arr
            if arr.dtype.fields is not None:
                raw = bytearray(np.ascontiguousarray(arr).tobytes())  # items as in memory, padding included
                for n in arr.dtype.names:
                    fdt, off = arr.dtype.fields[n][:2]
                    if fdt.byteorder == ">" and fdt.itemsize > 1:
                        for i in range(arr.size):
                            s = i * arr.dtype.itemsize + off
                            raw[s:s + fdt.itemsize] = raw[s:s + fdt.itemsize][::-1]
                raw = bytes(raw)
            else:
                raw = np.ascontiguousarray(le).tobytes()
            items = [(json.dumps(B_DTYPE), dspec), (json.dumps(B_SHAPE), shape)]
            if scalar:
                items.append((json.dumps(B_DS), '"numpy.generic"'))
            items.append((json.dumps(B_DATA), json.dumps(base64.b64encode(raw).decode())))
            return self._obj(items, level)
        items = [(json.dumps(T_LIST), _array_text(arr, self.strict)), (json.dumps(T_DTYPE), dspec),
                 (json.dumps(T_SHAPE), shape),
                 (json.dumps(T_DS), '"numpy.generic"' if scalar else '"numpy.ndarray"')]
        return self._obj(items, level)


def encode(obj, b64: bool, indent: int, strict: bool) -> bytes:
    return _Writer(b64, indent, strict).dump(obj, "$", 0).encode("utf-8", "surrogatepass")


# ---------------------------------------------------------------- decode

def _check_shape(shape, path):
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise DecodeError(f"array shape must be a list of non-negative ints at {path}", path=path)
    if math.prod(d for d in shape if d) > 2 ** 46:  # as the core: the non-zero dims, even when one is 0
        raise DecodeError(f"array shape too large at {path}", path=path)
    return tuple(shape)


def _fill(lst, shape, dtype, path):
    """Nested list -> array, checking the nesting matches shape exactly."""
    out = np.zeros(shape, dtype=dtype)  # padding bytes of structured items are zero
    fields = dtype.names

    def conv(v, fdt, p):
        if isinstance(v, str):
            m = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
            if fdt.kind != "f" or v not in m:
                raise DecodeError(f"unexpected string {v!r} in numeric array at {p}", path=p)
            return m[v]
        if fdt.kind == "b":
            if not isinstance(v, bool):
                raise DecodeError(f"expected true/false at {p}", path=p)
            return v
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise DecodeError(f"expected a number at {p}", path=p)
        if fdt.kind in "iu":
            if not isinstance(v, int):
                raise DecodeError(f"expected an integer at {p}", path=p)
            info = np.iinfo(fdt)
            if not info.min <= v <= info.max:
                raise DecodeError(f"integer {v} out of range for {fdt} at {p}", path=p)
        return v

    def rec(v, idx, p):
        if len(idx) == len(shape):
            if fields:
                if not isinstance(v, list) or len(v) != len(fields):
                    raise DecodeError(f"expected a row of {len(fields)} fields at {p}", path=p)
                out[idx] = tuple(conv(x, dtype.fields[n][0], f"{p}[{j}]") for j, (n, x) in enumerate(zip(fields, v)))
            else:
                out[idx] = conv(v, dtype, p)
            return
        if not isinstance(v, list) or len(v) != shape[len(idx)]:
            raise DecodeError(f"array list does not match the declared shape at {p}", path=p)
        for i, x in enumerate(v):
            rec(x, idx + (i,), f"{p}[{i}]")

    rec(lst, (), path)
    return out


def _check_bool_bytes(raw: bytes, dt, path):
    """As the core: a bool (or bool field) byte other than 0 and 1 is an error, not a bool numpy would keep."""
    if dt.fields is None:
        bool_bytes = [np.frombuffer(raw, dtype=np.uint8)] if dt.kind == "b" else []
    else:
        rows = np.frombuffer(raw, dtype=dt)
        bool_bytes = [rows[n].view(np.uint8) for n in dt.names if dt.fields[n][0].kind == "b"]
    if any((b > 1).any() for b in bool_bytes):
        raise DecodeError(f"bool array holds a byte other than 0 and 1 at {path}", path=path)


def _convert(obj, path):
    if isinstance(obj, list):
        return [_convert(v, f"{path}[{i}]") for i, v in enumerate(obj)]
    if not isinstance(obj, dict):
        return obj
    if T_LIST in obj and T_DTYPE in obj and T_SHAPE in obj and set(obj) <= {T_LIST, T_DTYPE, T_SHAPE, T_DS}:
        try:
            dt = _dtypes.spec_to_dtype(obj[T_DTYPE])
        except ValueError as e:
            raise DecodeError(f"bad dtype at {path}.{T_DTYPE}: {e}", path=path) from None
        if dt is not None:
            if T_DS in obj and obj[T_DS] not in ("numpy.ndarray", "numpy.generic"):
                raise DecodeError(f"data-structure marker must be numpy.ndarray or numpy.generic at {path}", path=path)
            shape = _check_shape(obj[T_SHAPE], f"{path}.{T_SHAPE}")
            if obj.get(T_DS) == "numpy.generic" and shape:
                raise DecodeError(f"a numpy.generic envelope must have shape [] at {path}", path=path)
            arr = _fill(obj[T_LIST], shape, dt, f"{path}.{T_LIST}")
            return arr[()] if obj.get(T_DS) == "numpy.generic" and arr.ndim == 0 else arr
    if B_DATA in obj:
        if not ({B_DATA, B_DTYPE, B_SHAPE} <= set(obj) <= {B_DATA, B_DTYPE, B_SHAPE, B_DS}):
            raise DecodeError(f"malformed base64 array envelope at {path}", path=path)
        if B_DS in obj and obj[B_DS] not in ("numpy.ndarray", "numpy.generic"):
            raise DecodeError(f"data-structure marker must be numpy.ndarray or numpy.generic at {path}", path=path)
        if not isinstance(obj[B_DATA], str):
            raise DecodeError(f"base64 data must be a string at {path}", path=path)
        try:
            dt = _dtypes.spec_to_dtype(obj.get(B_DTYPE))
        except ValueError as e:
            raise DecodeError(f"bad dtype at {path}.{B_DTYPE}: {e}", path=path) from None
        if dt is None:
            raise DecodeError(f"unsupported dtype at {path}.{B_DTYPE}", path=path)
        shape = _check_shape(obj.get(B_SHAPE), f"{path}.{B_SHAPE}")
        try:
            raw = base64.b64decode(obj[B_DATA], validate=True)
        except Exception:
            raise DecodeError(f"bad base64 at {path}.{B_DATA}", path=path) from None
        if base64.b64encode(raw) != obj[B_DATA].encode("ascii"):  # docs/format.md: zero padding bits
            raise DecodeError(f"bad base64 (non-zero padding bits) at {path}.{B_DATA}", path=path)
        if len(raw) != math.prod(shape) * dt.itemsize:
            raise DecodeError(f"base64 data length does not match shape and dtype at {path}", path=path)
        _check_bool_bytes(raw, dt, f"{path}.{B_DATA}")
        if dt.fields is None:
            arr = np.frombuffer(raw, dtype=dt.newbyteorder("<")).reshape(shape).astype(dt).copy()
        else:
            buf = bytearray(raw)
            for n in dt.names:  # the file holds little-endian fields: swap the big-endian ones
                fdt, off = dt.fields[n][:2]
                if fdt.byteorder == ">" and fdt.itemsize > 1:
                    for i in range(len(buf) // dt.itemsize):
                        s0 = i * dt.itemsize + off
                        buf[s0:s0 + fdt.itemsize] = buf[s0:s0 + fdt.itemsize][::-1]
            # every byte as the document has it, padding between fields included (a structured copy() would
            # leave the padding of a fresh array uninitialised)
            arr = np.empty(shape, dtype=dt)
            if arr.size:
                arr.reshape(-1).view(np.uint8)[:] = np.frombuffer(bytes(buf), dtype=np.uint8)
        return arr[()] if obj.get(B_DS) == "numpy.generic" and arr.ndim == 0 else arr
    if F_BITS in obj and len(obj) == 1:
        v = obj[F_BITS]
        if not (isinstance(v, str) and len(v) == 16 and all(c in "0123456789abcdef" for c in v)):
            raise DecodeError(f'"{F_BITS}" must be 16 lowercase hex digits at {path}', path=path)
        return struct.unpack("<d", struct.pack("<Q", int(v, 16)))[0]
    return {k: _convert(v, f"{path}.{k}") for k, v in obj.items()}


def _finite_float(s: str) -> float:
    v = float(s)
    if math.isinf(v):  # a number literal beyond float64's range is an error, not infinity
        raise DecodeError(f"number {s[:40]} out of the range of float64")
    return v


def decode(data, max_depth: int = 512, threads: int = 0):
    try:
        text = bytes(data).decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as e:
        raise DecodeError(f"invalid UTF-8 (byte {e.start})", offset=e.start) from None
    try:
        obj = json.loads(text, parse_float=_finite_float)
    except json.JSONDecodeError as e:
        raise DecodeError(f"JSON is malformed: {e.msg} (byte {len(text[:e.pos].encode())})", offset=e.pos) from None
    return _convert(obj, "$")

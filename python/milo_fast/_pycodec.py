"""Pure-Python reference implementation of the codec (docs/format.md).

Slow and simple on purpose: the tests decode the compiled codec's output with it and vice versa, so the
two implementations check each other. Selected in place of the compiled core only when the environment
variable MILO_FAST_PURE=1 is set (development).
"""
from __future__ import annotations

import base64
import json
import math
import re
import struct
import sys
from fractions import Fraction

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
        self.open: set = set()  # ids of the containers being written (a cycle is an EncodeError)

    def dump(self, obj, path, level) -> str:
        # Exact types only (as the compiled core): subclasses (OrderedDict, IntEnum, numpy.str_ ...) are the
        # transport layer's business, never silently written as their base type.
        t = type(obj)
        if obj is None:
            return "null"
        if obj is True or obj is False:
            return "true" if obj else "false"
        if t is int:
            try:
                return str(obj)
            except ValueError:  # more digits than int -> str converts (sys.get_int_max_str_digits)
                raise EncodeError(f"an int of more than {sys.get_int_max_str_digits()} digits at {path} cannot be "
                                  "written") from None
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
        if t is dict or t is list or t is tuple:
            if id(obj) in self.open:
                raise EncodeError(f"a cycle at {path}: the value contains itself")
            self.open.add(id(obj))
            try:
                if t is dict:
                    items = []
                    for k, v in obj.items():
                        if type(k) is not str:
                            raise EncodeError(f"dict key {k!r} at {path} is a {type(k).__name__}, not a str")
                        items.append((json.dumps(k, ensure_ascii=False), self.dump(v, f"{path}.{k}", level + 1)))
                    return self._obj(items, level)
                return self._list([self.dump(v, f"{path}[{i}]", level + 1) for i, v in enumerate(obj)], level)
            finally:
                self.open.discard(id(obj))
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
    try:
        return _Writer(b64, indent, strict).dump(obj, "$", 0).encode("utf-8", "surrogatepass")
    except RecursionError:
        raise EncodeError("the value nests too deeply to be written") from None


# ---------------------------------------------------------------- decode

def _envelope_dtype(spec, path):
    """The dtype an array envelope spells (None: not one the codec carries), as the core reads it: at most 1024
    fields."""
    try:
        dt = _dtypes.spec_to_dtype(spec)
    except ValueError as e:
        raise DecodeError(f"bad dtype at {path}: {e}", path=path) from None
    if dt is not None and dt.names is not None and len(dt.names) > 1024:
        raise DecodeError(f"a structured dtype of more than 1024 fields at {path}", path=path)
    return dt


def _check_shape(shape, path):
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise DecodeError(f"array shape must be a list of non-negative ints at {path}", path=path)
    if len(shape) > 64:  # as the core (and numpy 2): at most 64 dimensions
        raise DecodeError(f"array shape has more than 64 dimensions at {path}", path=path)
    if math.prod(d for d in shape if d) > 2 ** 46:  # as the core: the non-zero dims, even when one is 0
        raise DecodeError(f"array shape too large at {path}", path=path)
    return tuple(shape)


def _shape_mismatch(lst, shape, path):
    """None if the nested lists have exactly the declared shape (the items themselves unchecked), else the path of
    the first list (depth first, in order) whose length is not the declared one. Checked before the array is
    allocated, so that a short document cannot claim a huge one; the path is made only for the mismatch."""
    stack = [(lst, 0, None)]  # (value, its depth, (parent's entry, index) or None for the root)
    while stack:
        entry = stack.pop()
        v, d, _ = entry
        if d == len(shape):
            continue
        if not isinstance(v, list) or len(v) != shape[d]:
            keys = []
            while entry[2] is not None:
                entry, i = entry[2]
                keys.append(f"[{i}]")
            return path + "".join(reversed(keys))
        stack.extend((v[i], d + 1, (entry, i)) for i in range(len(v) - 1, -1, -1))
    return None


def _fill(lst, shape, dtype, path):
    """Nested list -> array, checking the nesting matches shape exactly."""
    p = _shape_mismatch(lst, shape, path)
    if p is not None:
        raise DecodeError(f"array list does not match the declared shape at {p}", path=p)
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
                raise DecodeError(f"expected an integer, not a number with a fraction or exponent, at {p}", path=p)
            if fdt.kind == "u" and v < 0:
                raise DecodeError(f"negative integer in an unsigned array at {p}", path=p)
            info = np.iinfo(fdt)
            if not info.min <= v <= info.max:
                raise DecodeError(f"integer {v} out of range for {fdt} at {p}", path=p)
            return v
        if fdt.kind == "f":
            if fdt.itemsize < 8 and (type(v) is _Num or type(v) is int):
                q = Fraction(v.text) if type(v) is _Num else Fraction(v)
                if q == 0:  # (keeps the sign of "-0.0")
                    return fdt.type(v)
                return _round_once(q, fdt, p)
            if type(v) is int:
                try:
                    return float(v)  # (correctly rounded)
                except OverflowError:
                    raise DecodeError(f"number out of the range of {fdt} at {p}", path=p) from None
            return float(v)
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
        for i, x in enumerate(v):  # (a list of the declared length: _shape_mismatch has seen to it)
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
        return float(obj) if type(obj) is _Num else obj
    if T_LIST in obj and T_DTYPE in obj and T_SHAPE in obj and set(obj) <= {T_LIST, T_DTYPE, T_SHAPE, T_DS}:
        dt = _envelope_dtype(obj[T_DTYPE], f"{path}.{T_DTYPE}")
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
        dt = _envelope_dtype(obj.get(B_DTYPE), f"{path}.{B_DTYPE}")
        if dt is None:
            raise DecodeError(f"unsupported dtype at {path}.{B_DTYPE}", path=path)
        shape = _check_shape(obj.get(B_SHAPE), f"{path}.{B_SHAPE}")
        if obj.get(B_DS) == "numpy.generic" and shape:
            raise DecodeError(f"a numpy.generic envelope must have shape [] at {path}", path=path)
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


class _OutOfRange(Exception):
    """A number literal beyond float64's range (json.loads' float hook cannot say where it is)."""


class _Num(float):
    """A float literal as read, with its text: a float32 or float16 array rounds the decimal itself (once), not
    the float64 it reads as. Plain floats everywhere else (_convert)."""

    __slots__ = ("text",)


def _finite_float(s: str) -> float:
    v = _Num(s)
    if math.isinf(v):  # a number literal beyond float64's range is an error, not infinity
        raise _OutOfRange(s)
    v.text = s
    return v


def _round_once(q: Fraction, fdt: np.dtype, p: str):
    """The float of dtype fdt (float16 or float32) nearest to the exact value q, ties to even; DecodeError beyond
    the dtype's range."""
    try:
        with np.errstate(over="ignore"):
            c = fdt.type(float(q))  # within an ulp of the answer (float64 rounds once, the cast again: maybe off by one)
    except OverflowError:  # beyond float64 too
        c = fdt.type(np.inf)
    if not np.isfinite(c):
        raise DecodeError(f"number out of the range of {fdt} at {p}", path=p)
    with np.errstate(over="ignore"):  # (the neighbour of the largest finite value is infinity: left out)
        near = (np.nextafter(c, fdt.type(-np.inf)), np.nextafter(c, fdt.type(np.inf)))
    cands = [c] + [x for x in near if np.isfinite(x)]
    bits = np.dtype(f"u{fdt.itemsize}")
    return min(cands, key=lambda x: (abs(Fraction(float(x)) - q), int(np.array(x, dtype=fdt).view(bits)) & 1))


_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _check_depth(text: str, max_depth: int) -> None:
    """DecodeError at the first bracket that opens a container deeper than max_depth (strings skipped)."""
    depth = 0
    for m in _BRACKETS.finditer(text):
        c = m.group()
        if c == "[" or c == "{":
            depth += 1
            if depth > max_depth:
                at = len(text[:m.start()].encode("utf-8", "surrogatepass"))
                raise DecodeError(f"nesting deeper than {max_depth} (byte {at})", offset=at)
        elif c == "]" or c == "}":
            depth -= 1


def _pairs(pairs):
    """A JSON object: the last duplicate key wins, except in an array envelope (docs/format.md)."""
    d = dict(pairs)
    if len(d) != len(pairs) and (T_LIST in d or B_DATA in d):
        seen: set = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise DecodeError(f"duplicate key {dup!r} in an array envelope (keys {', '.join(map(repr, d))})")
    return d


def decode(data, max_depth: int = 512, threads: int = 0):
    try:
        text = bytes(data).decode("utf-8", "surrogatepass")
    except UnicodeDecodeError as e:
        raise DecodeError(f"invalid UTF-8 (byte {e.start})", offset=e.start) from None
    _check_depth(text, max_depth)
    from .transport._core import deep_recursion  # json and _convert recurse once per level
    with deep_recursion(max(20000, 4 * max_depth + 1000)):
        try:
            obj = json.loads(text, parse_float=_finite_float, object_pairs_hook=_pairs)
        except json.JSONDecodeError as e:
            at = len(text[:e.pos].encode("utf-8", "surrogatepass"))  # a byte offset, as the core gives
            raise DecodeError(f"JSON is malformed: {e.msg} (byte {at})", offset=at) from None
        except _OutOfRange as e:
            lit = e.args[0]
            at = len(text[:max(text.find(lit), 0)].encode("utf-8", "surrogatepass"))  # (its first occurrence)
            raise DecodeError(f"number {lit[:40]} out of the range of float64 (byte {at})", offset=at) from None
        except DecodeError:
            raise
        except ValueError as e:  # an integer literal longer than int() reads (sys.get_int_max_str_digits)
            m = re.search(r"\d{%d,}" % (sys.get_int_max_str_digits() + 1), text)
            at = len(text[:m.start()].encode("utf-8", "surrogatepass")) if m else 0
            raise DecodeError(f"JSON number not readable (byte {at}): {e}", offset=at) from None
        return _convert(obj, "$")

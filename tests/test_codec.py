"""Unit tests of milo_fast.codec (encode / decode), independent of which implementation is active.

Run against the compiled core (default) or the pure-Python reference (MILO_FAST_PURE=1). The only tests that
name an implementation are the differential ones at the end, which compare milo_fast._core with
milo_fast._pycodec and are skipped when the compiled core is not built.

Equality is always exact: same type, same dtype (byte order included), same shape, and the same bytes
(field by field for structured dtypes, whose padding text cannot carry).
"""
from __future__ import annotations

import base64
import itertools
import json
import math
import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest

import milo_fast
from milo_fast import DecodeError, EncodeError, MiloError, codec
from milo_fast import _pycodec

try:  # the compiled core, for the differential tests only
    from milo_fast import _core
except ImportError:  # pragma: no cover - depends on the build
    _core = None

T_LIST, T_DTYPE, T_SHAPE, T_DS = ("pymiloed-ndarray-list", "pymiloed-ndarray-dtype", "pymiloed-ndarray-shape",
                                  "pymiloed-data-structure")
B_DATA, B_DTYPE, B_SHAPE, B_DS = "milo-ndarray-b64", "milo-ndarray-dtype", "milo-ndarray-shape", "milo-data-structure"
F_BITS = "milo-float-bits"

MODES = ["text", "base64"]
SIMPLE_NAMES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "float16", "float32", "float64"]
SIMPLE = [np.dtype(n) for n in SIMPLE_NAMES]
BIG = [np.dtype(d).newbyteorder(">") for d in SIMPLE if np.dtype(d).itemsize > 1]
ALL_DTYPES = SIMPLE + BIG
CANON_NAN_BITS = {2: 0x7E00, 4: 0x7FC00000, 8: 0x7FF8000000000000}
UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}

# sklearn's Tree node table: 8 fields, 64-byte items with 7 bytes of padding at the end
NODE_DTYPE = np.dtype({
    "names": ["left_child", "right_child", "feature", "threshold", "impurity", "n_node_samples",
              "weighted_n_node_samples", "missing_go_to_left"],
    "formats": ["<i8", "<i8", "<i8", "<f8", "<f8", "<i8", "<f8", "u1"],
    "offsets": [0, 8, 16, 24, 32, 40, 48, 56], "itemsize": 64})
STRUCT_DTYPES = [
    NODE_DTYPE,
    np.dtype([("a", "<f4"), ("b", "i1"), ("c", "?"), ("d", "<u8")]),  # packed, odd offsets
    np.dtype([("x", ">f8"), ("y", ">i4"), ("z", "<f2"), ("w", ">u2")]),  # mixed byte orders
    np.dtype({"names": ["hi", "lo"], "formats": ["<u4", "<f2"], "offsets": [8, 0], "itemsize": 16}),  # holes
]


def dtype_id(dt):
    return dt.str if dt.names is None else "struct%d" % STRUCT_DTYPES.index(dt)


# ----------------------------------------------------------------- helpers

def raw(a) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def c_copy(a) -> np.ndarray:
    """A C-ordered copy that keeps 0-d arrays 0-d (np.ascontiguousarray makes them 1-d)."""
    return np.array(a, order="C", copy=True)


def assert_array_identical(got, want):
    """Same type, dtype, shape and bits; decoded arrays are C-contiguous, aligned and writeable."""
    assert type(got) is np.ndarray, f"expected an ndarray, got {type(got).__name__}: {got!r}"
    assert got.dtype == want.dtype, f"dtype {got.dtype!r} != {want.dtype!r}"
    assert got.dtype.str == want.dtype.str
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    assert got.flags.c_contiguous and got.flags.aligned and got.flags.writeable, got.flags
    if want.dtype.names is None:
        if raw(got) != raw(want):
            g = np.ascontiguousarray(got).reshape(-1).view(UINT.get(want.dtype.itemsize, np.uint8))
            w = np.ascontiguousarray(want).reshape(-1).view(UINT.get(want.dtype.itemsize, np.uint8))
            bad = np.nonzero(g != w)[0][:5]
            raise AssertionError(f"bits differ at flat indices {bad.tolist()}: got {[hex(int(g[i])) for i in bad]}"
                                 f" want {[hex(int(w[i])) for i in bad]} ({want.dtype})")
    else:
        for name in want.dtype.names:
            assert raw(got[name]) == raw(want[name]), f"field {name!r} differs: {got[name]!r} != {want[name]!r}"


def assert_identical(got, want, path="$"):
    """Recursive exact comparison of decoded values (types included, dict key order included)."""
    if isinstance(want, np.ndarray):
        assert_array_identical(got, want)
    elif isinstance(want, np.generic):
        assert type(got) is type(want), f"{path}: {type(got).__name__} is not {type(want).__name__}"
        assert got.dtype == want.dtype, f"{path}: dtype {got.dtype} != {want.dtype}"
        if want.dtype.names is None:
            assert np.asarray(got).tobytes() == np.asarray(want).tobytes(), f"{path}: {got!r} != {want!r}"
        else:
            for n in want.dtype.names:
                assert np.asarray(got[n]).tobytes() == np.asarray(want[n]).tobytes(), f"{path}.{n}"
    elif isinstance(want, bool) or want is None:
        assert got is want, f"{path}: {got!r} is not {want!r}"
    elif isinstance(want, int):
        assert type(got) is int and got == want, f"{path}: {got!r} != {want!r}"
    elif isinstance(want, float):
        assert type(got) is float, f"{path}: {type(got).__name__} is not float"
        assert struct.pack("<d", got) == struct.pack("<d", want), f"{path}: {got!r} != {want!r} (bits)"
    elif isinstance(want, str):
        assert type(got) is str and got == want, f"{path}: {got!r} != {want!r}"
    elif isinstance(want, dict):
        assert type(got) is dict, f"{path}: {type(got).__name__} is not dict"
        assert list(got) == list(want), f"{path}: keys {list(got)} != {list(want)}"
        for k in want:
            assert_identical(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, (list, tuple)):
        assert type(got) is list, f"{path}: {type(got).__name__} is not list"
        assert len(got) == len(want), f"{path}: length {len(got)} != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_identical(g, w, f"{path}[{i}]")
    else:  # pragma: no cover
        raise AssertionError(f"unexpected value in expectation at {path}: {want!r}")


def roundtrip(obj, **kw):
    data = codec.encode(obj, **kw)
    assert isinstance(data, bytes)
    return data, codec.decode(data)


def loads_tokens(data: bytes):
    """Parse JSON (NaN/Infinity allowed) keeping every number's text: ('f'|'i'|'c', text)."""
    return json.loads(data, parse_float=lambda t: ("f", t), parse_int=lambda t: ("i", t),
                      parse_constant=lambda t: ("c", t))


def loads_strict(data: bytes):
    def bad(t):
        raise AssertionError(f"non-standard token {t} in strict JSON")
    return json.loads(data, parse_constant=bad)


def float_bits(dt, bits):
    return np.array(bits, dtype=UINT[dt.itemsize]).view(dt.newbyteorder("="))


def edge_values(dt: np.dtype) -> np.ndarray:
    """Boundary values of a simple dtype (no non-canonical NaN), in dtype ``dt`` (byte order kept)."""
    nat = dt.newbyteorder("=")
    if nat.kind == "b":
        vals = np.array([False, True, True, False])
    elif nat.kind in "iu":
        info = np.iinfo(nat)
        py = sorted({info.min, info.min + 1, 0, 1, 2, 100, info.max // 2, info.max - 1, info.max}
                    | ({-1, -2, -100, info.min // 2} if nat.kind == "i" else set()))
        vals = np.array(py, dtype=nat)
    else:
        n = nat.itemsize * 8
        mant = {16: 10, 32: 23, 64: 52}[n]
        sign = 1 << (n - 1)
        exp_all = ((1 << (n - 1 - mant)) - 1) << mant
        bits = [0, sign, 1, sign | 1, (1 << mant) - 1, (1 << mant), (1 << mant) + 1,  # 0, -0, subnormals, min normal
                exp_all - 1, sign | (exp_all - 1),  # max finite
                exp_all, sign | exp_all, CANON_NAN_BITS[nat.itemsize]]  # +inf, -inf, NaN
        specials = float_bits(nat, bits)
        finfo = np.finfo(nat)
        common = np.array([1.0, -1.0, 0.1, -0.1, 1 / 3, 2 / 3, math.pi, math.e, 0.5, 1.5, 100.0, 1e-3, 1e-4,
                           1e-5, 123.456, 65504.0 if n == 16 else 1e10, float(finfo.eps), float(finfo.tiny),
                           2.0 ** (mant + 1) - 1 if n > 16 else 2047.0, 1e4, 9999.0], dtype=np.float64)
        with np.errstate(over="ignore"):
            vals = np.concatenate([specials, common.astype(nat), np.nextafter(common.astype(nat), nat.type(np.inf))])
    return vals.astype(dt)


def noncanonical_nans(dt: np.dtype) -> np.ndarray:
    nat = dt.newbyteorder("=")
    n = nat.itemsize * 8
    mant = {16: 10, 32: 23, 64: 52}[n]
    sign = 1 << (n - 1)
    exp_all = ((1 << (n - 1 - mant)) - 1) << mant
    canon = CANON_NAN_BITS[nat.itemsize]
    bits = [sign | canon,  # negative quiet NaN
            exp_all | 1,  # signalling NaN, payload 1
            canon | 1, canon | 0x155, sign | exp_all | ((1 << mant) - 1), exp_all | (1 << (mant - 2))]
    return float_bits(nat, bits).astype(dt)


def make_struct(dt: np.dtype, n: int, seed=0) -> np.ndarray:
    """n rows of dtype dt with every field filled from random bits (floats restricted to no NaN payloads)."""
    rng = np.random.default_rng(seed)
    a = np.zeros(n, dt)
    for name in dt.names:
        fdt = dt.fields[name][0]
        if fdt.kind == "b":
            a[name] = rng.integers(0, 2, n).astype(bool)
        elif fdt.kind in "iu":
            a[name] = rng.integers(0, 256, n * fdt.itemsize, dtype=np.uint8).view(fdt.newbyteorder("="))
        else:
            vals = edge_values(fdt)
            a[name] = vals[rng.integers(0, len(vals), n)]
    return a


def envelope_of(data: bytes, path=()):
    doc = json.loads(data)
    for p in path:
        doc = doc[p]
    return doc


def sig_digits(token: str) -> int:
    mant = re.split("[eE]", token.lstrip("-"))[0].replace(".", "").lstrip("0").rstrip("0")
    return max(len(mant), 1)


def check_text_tokens(arr: np.ndarray, data: bytes, strict: bool):
    """The text envelope read by a plain JSON reader (as PyMilo does) gives the same bits, at the
    shortest decimal precision for floats."""
    env = loads_tokens(data)
    assert set(env) == {T_LIST, T_DTYPE, T_SHAPE, T_DS}
    assert env[T_SHAPE] == [("i", str(d)) for d in arr.shape]
    flat_tokens = []

    def walk(v, depth):
        if depth == arr.ndim:
            flat_tokens.append(v)
            return
        assert isinstance(v, list)
        for x in v:
            walk(x, depth + 1)
    walk(env[T_LIST], 0)
    flat = np.ascontiguousarray(arr).reshape(-1)
    assert len(flat_tokens) == flat.size
    nat = arr.dtype.newbyteorder("=")
    for tok, want in zip(flat_tokens, flat.astype(nat)):
        if nat.kind == "b":
            assert tok is bool(want)
        elif nat.kind in "iu":
            assert tok == ("i", str(int(want))), (tok, want)
        elif math.isnan(want):
            assert tok == ("NaN" if strict else ("c", "NaN")), tok
        elif math.isinf(want):
            t = "Infinity" if want > 0 else "-Infinity"
            assert tok == (t if strict else ("c", t)), tok
        else:
            kind, text = tok
            assert kind == "f", f"{want!r} written as {text!r}, which does not read back as a float"
            got = np.array(float(text)).astype(nat)  # what a float64 reader + cast (PyMilo) gets
            assert got.tobytes() == np.array(want, nat).tobytes(), (text, want)
            shortest = np.format_float_scientific(want, unique=True)
            assert sig_digits(text) == sig_digits(shortest), f"{text!r} is not shortest ({shortest!r})"


def le_bytes(arr: np.ndarray) -> bytes:
    """The little-endian C-order bytes the base64 envelope must hold (padding excluded for structs)."""
    if arr.dtype.names is None:
        return raw(arr.astype(arr.dtype.newbyteorder("<")))
    dt = arr.dtype
    le = np.dtype({"names": list(dt.names), "formats": [dt.fields[n][0].newbyteorder("<") for n in dt.names],
                   "offsets": [dt.fields[n][1] for n in dt.names], "itemsize": dt.itemsize})
    out = np.zeros(arr.shape, le)
    for n in dt.names:
        out[n] = arr[n]
    return raw(out)


def padding_mask(dt: np.dtype) -> np.ndarray:
    m = np.ones(dt.itemsize, bool)
    for n in dt.names:
        fdt, off = dt.fields[n][:2]
        m[off:off + fdt.itemsize] = False
    return m


# ----------------------------------------------------------------- arrays: every dtype, edge values

@pytest.mark.parametrize("strict", [False, True], ids=["tokens", "strict"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dt", ALL_DTYPES, ids=dtype_id)
def test_edge_values_roundtrip(dt, mode, strict):
    arr = edge_values(dt)
    data, back = roundtrip(arr, arrays=mode, strict=strict)
    assert_array_identical(back, arr)
    env = json.loads(data)
    if mode == "text":
        check_text_tokens(arr, data, strict)
        assert env[T_DS] == "numpy.ndarray"
        assert env[T_DTYPE] == (dt.name if dt.byteorder != ">" else dt.str)
    else:
        assert set(env) == {B_DATA, B_DTYPE, B_SHAPE}
        assert base64.b64decode(env[B_DATA], validate=True) == le_bytes(arr)
        assert env[B_SHAPE] == list(arr.shape)
        assert env[B_DTYPE] == (dt.name if dt.byteorder != ">" else dt.str)
    if strict:
        loads_strict(data)


@pytest.mark.parametrize("dt", ALL_DTYPES, ids=dtype_id)
def test_dtype_spelling(dt):
    env = json.loads(codec.encode(np.zeros(2, dt)))
    if dt.byteorder == ">":
        assert env[T_DTYPE] == ">" + dt.kind + str(dt.itemsize)
    else:
        assert env[T_DTYPE] == dt.name  # what PyMilo writes: str(dtype)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dt", [np.dtype("<f2"), np.dtype(">f2")], ids=["f2", ">f2"])
def test_float16_all_patterns(dt, mode):
    bits = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    arr = bits.view(np.float16).astype(dt)
    if mode == "text":  # non-canonical NaNs force the base64 envelope: keep them out of the text check
        arr = arr[~np.isnan(arr) | (bits == CANON_NAN_BITS[2])]
    data, back = roundtrip(arr, arrays=mode)
    assert_array_identical(back, arr)
    if mode == "text":
        assert T_LIST in json.loads(data)
        check_text_tokens(arr, data, strict=False)


@pytest.mark.parametrize("dt", ["float32", "float64", ">f4", ">f8"])
def test_powers_of_two_and_ten(dt):
    """Every power of two in range (all binades, subnormal to max) and neighbours of powers of ten."""
    dt = np.dtype(dt)
    nat = dt.newbyteorder("=")
    fi = np.finfo(nat)
    exps = np.arange(fi.minexp - fi.nmant, fi.maxexp, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        p2 = np.ldexp(np.ones(1, nat), exps.astype(int)).astype(nat)
        lo, hi = int(fi.minexp * 0.30103) - int(fi.nmant * 0.30103) - 1, int(fi.maxexp * 0.30103) + 1
        p10 = np.array([float(f"1e{e}") for e in range(lo, hi)], dtype=np.float64).astype(nat)
    p10 = p10[np.isfinite(p10) & (p10 != 0)]
    vals = np.concatenate([p2, -p2, p10, np.nextafter(p10, nat.type(0)), np.nextafter(p10, nat.type(np.inf))])
    arr = vals.astype(dt)
    for mode in MODES:
        data, back = roundtrip(arr, arrays=mode)
        assert_array_identical(back, arr)
        if mode == "text":
            check_text_tokens(arr, data, strict=False)


@pytest.mark.parametrize("dt", ["float32", "float64", "<f2", ">f8"])
def test_random_float_bits_text(dt):
    """Seeded random bit patterns (NaN payloads excluded: they are tested separately) through text."""
    dt = np.dtype(dt)
    rng = np.random.default_rng(12345)
    n = 20000
    bits = rng.integers(0, 256, n * dt.itemsize, dtype=np.uint8).view(UINT[dt.itemsize])
    arr = bits.view(dt.newbyteorder("=")).copy()
    arr[np.isnan(arr)] = np.nan
    arr = arr.astype(dt)
    data, back = roundtrip(arr)
    assert T_LIST in json.loads(data)
    assert_array_identical(back, arr)
    check_text_tokens(arr[:3000], codec.encode(arr[:3000]), strict=False)


def test_float32_text_safe_for_float64_readers():
    """The one float32 magnitude (found by tests/test_float_exhaustive.py) whose shortest text, 7.038531e-26,
    lies within float64 rounding of the midpoint between two float32s: read as a float64 and then cast (how
    PyMilo and np.asarray(list, float32) read the PyMilo envelope) it becomes the neighbour 0x15ae43fe. The
    text must read back exactly both ways, e.g. by writing more digits for this value."""
    arr = np.array([0x15AE43FD, 0x95AE43FD], np.uint32).view(np.float32)
    for dt in ["<f4", ">f4"]:
        a = arr.astype(dt)
        data = codec.encode(a)
        assert_array_identical(codec.decode(data), a)
        toks = [t for _, t in loads_tokens(data)[T_LIST]]
        via64 = np.array([float(t) for t in toks]).astype(np.float32)
        assert via64.view(np.uint32).tolist() == [0x15AE43FD, 0x95AE43FD], toks


@pytest.mark.parametrize("dt", ["int64", "uint64", ">i8", ">u8", "int32", "uint32"])
def test_random_int_bits(dt):
    dt = np.dtype(dt)
    rng = np.random.default_rng(7)
    arr = rng.integers(0, 256, 5000 * dt.itemsize, dtype=np.uint8).view(dt).copy()
    for mode in MODES:
        data, back = roundtrip(arr, arrays=mode)
        assert_array_identical(back, arr)
    assert json.loads(codec.encode(arr))[T_LIST] == arr.tolist()


# ----------------------------------------------------------------- shapes and memory layouts

SHAPES = [(), (0,), (1,), (5,), (0, 3), (3, 0), (2, 3), (3, 1), (2, 0, 3), (2, 3, 4), (1, 1, 1, 1, 1), (2, 1, 2, 1, 2)]
LAYOUTS = ["C", "F", "strided", "reversed", "transposed"]
LAYOUT_DTYPES = [np.dtype(d) for d in ["float64", "float32", "float16", "int32", "uint64", "bool", "int8",
                                        ">f8", ">i2"]] + STRUCT_DTYPES[:3]


def make_array(dt, shape, layout, seed=0):
    n = math.prod(shape)
    if dt.names is not None:
        base = make_struct(dt, n * 4, seed)
    else:
        vals = edge_values(dt)
        base = vals[np.random.default_rng(seed).integers(0, len(vals), n * 4)]
    if layout == "C":
        return c_copy(base[:n].reshape(shape))
    if layout == "F":
        return np.array(base[:n].reshape(shape), order="F", copy=True)
    if layout == "strided":  # every other element of a larger array along each axis... non-contiguous
        big = base[: n * 2].reshape(shape + (2,)) if shape else base[:2]
        return big[..., 0] if shape else big[0:1].reshape(())
    if layout == "reversed":
        a = base[:n].reshape(shape)
        return a[tuple(slice(None, None, -1) for _ in shape)] if shape else a
    if layout == "transposed":
        return base[:n].reshape(shape[::-1]).T
    raise AssertionError(layout)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)) or "0d")
@pytest.mark.parametrize("dt", LAYOUT_DTYPES, ids=dtype_id)
def test_shapes_and_layouts(dt, shape, layout, mode):
    arr = make_array(dt, shape, layout)
    assert arr.shape == shape
    if layout in ("strided", "reversed") and arr.size > 1:
        assert not arr.flags.c_contiguous
    want = c_copy(arr)
    data, back = roundtrip(arr, arrays=mode)
    assert_array_identical(back, want)
    env = json.loads(data)
    if mode == "text":
        assert env[T_SHAPE] == list(shape)
        assert env[T_DS] == "numpy.ndarray"
        if dt.names is None and dt.kind != "f":
            assert env[T_LIST] == want.tolist()
    else:
        assert env[B_SHAPE] == list(shape)
        assert base64.b64decode(env[B_DATA]) .__len__() == want.nbytes
        if dt.names is None:
            assert base64.b64decode(env[B_DATA]) == le_bytes(want)


def test_zero_d_array_is_not_a_scalar():
    for mode in MODES:
        for a in [np.array(1.5), np.array(-3, np.int8), np.array(True), np.array(2.5, ">f4")]:
            data, back = roundtrip(a, arrays=mode)
            assert_array_identical(back, a)
            if mode == "text":
                assert json.loads(data)[T_DS] == "numpy.ndarray"
                assert json.loads(data)[T_SHAPE] == []


def test_zero_size_list_text():
    for shape, text in [((0,), "[]"), ((0, 3), "[]"), ((3, 0), "[[],[],[]]"), ((2, 0, 1), "[[],[]]")]:
        data = codec.encode(np.zeros(shape))
        assert json.loads(data)[T_LIST] == json.loads(text)
        assert_array_identical(codec.decode(data), np.zeros(shape))


# ----------------------------------------------------------------- structured dtypes

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dt", STRUCT_DTYPES, ids=dtype_id)
def test_structured_roundtrip(dt, mode):
    arr = make_struct(dt, 50, seed=3)
    for a in [arr, arr[::3], arr.reshape(5, 10).T, arr[:0], arr[7:8].reshape(())]:
        data, back = roundtrip(a, arrays=mode)
        assert_array_identical(back, c_copy(a))
        env = json.loads(data)
        spec = env[T_DTYPE] if mode == "text" else env[B_DTYPE]
        assert spec == {"names": list(dt.names),
                        "formats": [(f.name if f.byteorder != ">" else f.str)
                                    for f in (dt.fields[n][0] for n in dt.names)],
                        "offsets": [dt.fields[n][1] for n in dt.names], "itemsize": dt.itemsize}
        if mode == "text" and a.ndim == 1:
            rows = loads_tokens(data)[T_LIST]
            assert all(isinstance(r, list) and len(r) == len(dt.names) for r in rows)
        if mode == "base64":
            got = np.frombuffer(base64.b64decode(env[B_DATA]), np.uint8).reshape(-1, dt.itemsize)
            want = np.frombuffer(le_bytes(c_copy(a)), np.uint8).reshape(-1, dt.itemsize)
            keep = ~padding_mask(dt)
            assert np.array_equal(got[:, keep], want[:, keep]), "base64 holds little-endian field bytes"


def test_structured_big_endian_fields_base64():
    """Minimal case: a structured array with big-endian fields through the base64 envelope."""
    a = np.array([(1.5, 7)], dtype=[("a", ">f8"), ("b", ">i4")])
    back = codec.decode(codec.encode(a, arrays="base64"))
    assert_array_identical(back, a)
    assert back["a"][0] == 1.5 and back["b"][0] == 7


def test_structured_noncanonical_nan_uses_base64():
    a = np.zeros(3, [("a", ">f8"), ("b", "<f4"), ("c", "i1")])
    a["a"][1] = float_bits(np.dtype("f8"), [0xFFF8000000000000])[0]  # -NaN
    data, back = roundtrip(a)
    assert B_DATA in json.loads(data)
    assert_array_identical(back, a)


def _fill_padding(a: np.ndarray, byte: int):
    u = a.view(np.uint8).reshape(-1, a.dtype.itemsize)
    u[:, padding_mask(a.dtype)] = byte


def test_structured_padding_kept_on_encode():
    """docs/format.md: the base64 envelope holds each item's bytes exactly as in memory, padding included
    (never stale memory)."""
    a = make_struct(NODE_DTYPE, 6)
    _fill_padding(a, 0xAB)
    for _ in range(3):
        junk = np.full(a.nbytes, 0xCD, np.uint8)  # stale memory a careless np.empty would pick up
        del junk
        env = json.loads(codec.encode(a, arrays="base64"))
        got = np.frombuffer(base64.b64decode(env[B_DATA]), np.uint8).reshape(-1, 64)[:, padding_mask(NODE_DTYPE)]
        assert np.all(got == 0xAB), got[0].tobytes().hex()


def test_structured_padding_zero_after_text_decode():
    """Text cannot carry padding: arrays decoded from text have zeroed padding, not stale memory
    (else re-encoding the same document in base64 gives different bytes each time)."""
    a = make_struct(NODE_DTYPE, 6)
    data = codec.encode(a)
    outs = []
    for _ in range(3):
        junk = np.full(a.nbytes, 0xCD, np.uint8)
        del junk
        back = codec.decode(data)
        assert_array_identical(back, a)
        pad = back.view(np.uint8).reshape(-1, 64)[:, padding_mask(NODE_DTYPE)]
        assert np.all(pad == 0), pad[0].tobytes().hex()
        outs.append(codec.encode(back, arrays="base64"))
    assert outs[0] == outs[1] == outs[2]


def test_structured_base64_padding_kept():
    """Through base64 every bit round-trips, padding bytes included (the decoder must not hand back stale
    memory there: re-encoding would then write it into a document)."""
    a = make_struct(NODE_DTYPE, 4)
    _fill_padding(a, 0x5A)
    data = codec.encode(a, arrays="base64")
    for _ in range(3):
        junk = np.full(a.nbytes, 0xCD, np.uint8)
        del junk
        back = codec.decode(data)
        assert_array_identical(back, a)
        pad = back.view(np.uint8).reshape(-1, 64)[:, padding_mask(NODE_DTYPE)]
        assert np.all(pad == 0x5A), pad[0].tobytes().hex()
        assert codec.encode(back, arrays="base64") == data


def test_structured_base64_padding_kept_by_the_reference_codec():
    """The pure-Python codec (MILO_FAST_PURE=1, or no compiled core) keeps the padding bytes too: it used to copy
    the decoded array field by field, leaving the padding of the new array as malloc left it."""
    a = make_struct(NODE_DTYPE, 4)
    _fill_padding(a, 0x5A)
    data = _pycodec.encode(a, True, -1, False)
    for _ in range(3):
        junk = np.full(a.nbytes, 0xCD, np.uint8)
        del junk
        back = _pycodec.decode(data, 512, 0)
        assert_array_identical(back, a)
        assert back.flags.c_contiguous and back.flags.writeable and back.flags.owndata
        pad = back.view(np.uint8).reshape(-1, 64)[:, padding_mask(NODE_DTYPE)]
        assert np.all(pad == 0x5A), pad[0].tobytes().hex()
        assert _pycodec.encode(back, True, -1, False) == data
    empty = a[:0]
    back = _pycodec.decode(_pycodec.encode(empty, True, -1, False), 512, 0)
    assert back.shape == (0,) and back.dtype == NODE_DTYPE


@pytest.fixture(scope="module")
def forest_arrays():
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    X, y = make_classification(n_samples=300, n_features=6, n_classes=3, n_informative=4, random_state=0)
    rf = RandomForestClassifier(n_estimators=4, max_depth=6, random_state=0).fit(X, y)
    out = []
    for est in rf.estimators_:
        st = est.tree_.__getstate__()
        out.extend([st["nodes"], st["values"]])
    return out


@pytest.mark.parametrize("mode", MODES)
def test_sklearn_tree_tables(forest_arrays, mode):
    assert forest_arrays[0].dtype.names[0] == "left_child"
    data, back = roundtrip({"trees": forest_arrays}, arrays=mode)
    assert_identical(back, {"trees": forest_arrays})


# ----------------------------------------------------------------- numpy scalars

SCALARS = [np.bool_(True), np.bool_(False), np.int8(-128), np.int16(32767), np.int32(-7), np.int64(-2 ** 63),
           np.uint8(255), np.uint16(1), np.uint32(2 ** 32 - 1), np.uint64(2 ** 64 - 1), np.uint64(2 ** 53 + 1),
           np.float16(-0.0), np.float16(6e-8), np.float32(0.1), np.float32(np.inf), np.float32(np.nan),
           np.float64(-0.0), np.float64(5e-324), np.float64(np.nan), np.float64(-np.inf), np.float64(0.1)]


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("s", SCALARS, ids=lambda s: f"{type(s).__name__}({s!r})")
def test_numpy_scalars(s, mode, strict):
    data, back = roundtrip(s, arrays=mode, strict=strict)
    assert_identical(back, s)
    env = json.loads(data)
    if mode == "text":
        assert env[T_DS] == "numpy.generic" and env[T_SHAPE] == []
    else:
        assert env[B_DS] == "numpy.generic" and env[B_SHAPE] == []
    if strict:
        loads_strict(data)


def test_numpy_float64_is_not_a_python_float():
    """np.float64 subclasses float: it must come back as np.float64, a Python float as float."""
    _, back = roundtrip([np.float64(1.5), 1.5])
    assert type(back[0]) is np.float64 and type(back[1]) is float


def test_structured_scalar():
    a = make_struct(STRUCT_DTYPES[1], 3)
    for mode in MODES:
        _, back = roundtrip(a[1], arrays=mode)
        assert_identical(back, a[1])


# ----------------------------------------------------------------- non-finite values and NaN payloads

FLOATS = [np.dtype(d) for d in ["float16", "float32", "float64", ">f2", ">f4", ">f8"]]


@pytest.mark.parametrize("dt", FLOATS, ids=dtype_id)
def test_canonical_nan_and_inf_tokens(dt):
    arr = np.array([np.nan, np.inf, -np.inf, 1.0], dtype=dt)
    data = codec.encode(arr)
    toks = loads_tokens(data)[T_LIST]
    assert toks[:3] == [("c", "NaN"), ("c", "Infinity"), ("c", "-Infinity")] and toks[3][0] == "f"
    assert_array_identical(codec.decode(data), arr)
    data = codec.encode(arr, strict=True)
    toks = loads_tokens(data)[T_LIST]
    assert toks[:3] == ["NaN", "Infinity", "-Infinity"] and toks[3][0] == "f"
    loads_strict(data)
    assert_array_identical(codec.decode(data), arr)


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("dt", FLOATS, ids=dtype_id)
def test_noncanonical_nan_in_text_mode_goes_base64(dt, strict):
    nans = noncanonical_nans(dt)
    for i in range(len(nans)):
        arr = np.ones(3, dtype=dt)
        arr[1:2] = nans[i:i + 1]
        assert arr[1:2].tobytes() == nans[i:i + 1].tobytes()
        data, back = roundtrip(arr, strict=strict)
        env = json.loads(data)
        assert B_DATA in env and T_LIST not in env
        assert_array_identical(back, arr)
    arr = noncanonical_nans(dt).reshape(2, 3)
    for mode in MODES:
        assert_array_identical(roundtrip(arr, arrays=mode, strict=strict)[1], arr)
        assert_array_identical(roundtrip(arr.T, arrays=mode, strict=strict)[1], c_copy(arr.T))


@pytest.mark.parametrize("where", [0, 150_000, 299_999])
def test_noncanonical_nan_in_large_array_rewinds_the_text(where):
    # Large arrays are written in pieces on several threads; a payload NaN in any piece must drop all the
    # text written for the array (and nothing before it) and write the base64 envelope instead.
    arr = np.arange(300_000, dtype=np.float64) / 7
    arr[where] = _py_float(0x7FF8_0000_0000_0001)
    doc = {"before": [1.5, "x"], "a": arr, "after": np.arange(3.0)}
    data = codec.encode(doc)
    env = json.loads(data)
    assert B_DATA in env["a"] and T_LIST not in env["a"]
    assert env["before"] == [1.5, "x"] and T_LIST in env["after"]
    back = codec.decode(data)
    assert_array_identical(back["a"], arr)
    assert_array_identical(back["after"], doc["after"])


def test_noncanonical_nan_scalars():
    for dt in FLOATS[:3]:
        for nan in noncanonical_nans(dt):
            for mode in MODES:
                data, back = roundtrip(nan, arrays=mode)
                assert_identical(back, nan)
                assert type(back) is dt.type


def _py_float(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


PY_FLOATS = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
             0.1, 1 / 3, 1e16, 1e15, 123456789.123, 1e-7, 1e22, 1e23, 9007199254740993.0, 2.0 ** 63, -1.5]


def test_python_floats():
    for strict in [False, True]:
        _, back = roundtrip(PY_FLOATS, strict=strict)
        assert_identical(back, PY_FLOATS)
    toks = loads_tokens(codec.encode(PY_FLOATS))
    for (kind, text), f in zip(toks, PY_FLOATS):
        assert kind == "f" and float(text) == f and sig_digits(text) == sig_digits(repr(f))


def test_python_nonfinite_floats():
    vals = [math.nan, math.inf, -math.inf]
    data = codec.encode(vals)
    assert data == b"[NaN,Infinity,-Infinity]"
    assert_identical(codec.decode(data), vals)
    data = codec.encode(vals, strict=True)
    doc = loads_strict(data)
    assert doc == [{F_BITS: "7ff8000000000000"}, {F_BITS: "7ff0000000000000"}, {F_BITS: "fff0000000000000"}]
    assert_identical(codec.decode(data), vals)


@pytest.mark.parametrize("strict", [False, True])
def test_python_noncanonical_nan(strict):
    for bits in [0xFFF8000000000000, 0x7FF0000000000001, 0x7FF8000000000001, 0xFFFFFFFFFFFFFFFF]:
        f = _py_float(bits)
        data, back = roundtrip({"x": [f]}, strict=strict)
        doc = loads_strict(data)
        assert doc == {"x": [{F_BITS: f"{bits:016x}"}]}  # 16 lowercase hex digits (docs/format.md)
        assert_identical(back, {"x": [f]})


def test_float_bits_envelope_read():
    assert_identical(codec.decode(b'{"milo-float-bits": "3ff8000000000000"}'), 1.5)
    assert_identical(codec.decode(b'[{"milo-float-bits":"8000000000000000"}]'), [-0.0])


# ----------------------------------------------------------------- Python values

PY_INTS = [0, 1, -1, 2 ** 31, 2 ** 53 + 1, 2 ** 63 - 1, 2 ** 63, -2 ** 63, -2 ** 63 - 1, 2 ** 64 - 1, 2 ** 64,
           -2 ** 64, 10 ** 30, -10 ** 30, 2 ** 200 + 12345, 10 ** 1000]
STRINGS = ["", "a", "héllo", "日本語", "emoji 🎉 \U0001F600", "quote \" backslash \\ slash /",
           "controls \x00\x01\x1f\x7f\b\f\n\r\t", "\u2028\u2029", "\ufeffbom", "NaN", "Infinity",
           "pymiloed-ndarray-list", "x" * 5000]


def test_python_ints():
    for mode in MODES:
        _, back = roundtrip(PY_INTS, arrays=mode)
        assert_identical(back, PY_INTS)
    assert json.loads(codec.encode(PY_INTS)) == PY_INTS


def test_bool_none_not_confused_with_int():
    obj = [True, False, None, 1, 0, {"t": True}]
    _, back = roundtrip(obj)
    assert_identical(back, obj)
    assert codec.encode(obj) == b'[true,false,null,1,0,{"t":true}]'


def test_strings():
    for s in STRINGS:
        data, back = roundtrip({s: s})
        assert_identical(back, {s: s})
        assert json.loads(data) == {s: s}
        data.decode("utf-8")  # valid UTF-8


def test_lone_surrogate_string():
    """A str holding a lone surrogate either round-trips or is refused at encode time."""
    s = "a\ud800b"
    try:
        data = codec.encode([s])
    except EncodeError:
        return
    assert_identical(codec.decode(data), [s])


def test_containers():
    obj = {"b": 1, "a": [1, [2, [3, []]], {}], "": {"nested": {"deeper": [None, {"x": []}]}},
           "t": (1, 2, (3,)), "z": [[[]]], "é": {"ü": "ö"}}
    for mode in MODES:
        _, back = roundtrip(obj, arrays=mode)
        assert_identical(back, obj)
    assert list(codec.decode(codec.encode(obj))) == ["b", "a", "", "t", "z", "é"]


def test_top_level_scalars():
    for v in [None, True, 0, -5, 1.5, "s", [], {}]:
        assert_identical(roundtrip(v)[1], v)


def test_mixed_document():
    obj = {"coef_": np.arange(12.0).reshape(3, 4), "intercept_": np.float64(0.5), "classes_": np.array([0, 1, 2]),
           "n_features_in_": 4, "params": {"alpha": 1e-4, "tol": None, "fit_intercept": True, "name": "x"},
           "arrays": [np.zeros((0, 3), np.float32), np.array(7, np.uint64), np.ones(3, ">i4")]}
    for mode in MODES:
        for indent in [None, 0, 2, 4]:
            for strict in [False, True]:
                _, back = roundtrip(obj, arrays=mode, indent=indent, strict=strict)
                assert_identical(back, obj)


def test_many_arrays_with_threads():
    rng = np.random.default_rng(1)
    obj = [rng.standard_normal(rng.integers(0, 300)) for _ in range(60)] + [rng.integers(-9, 9, (50, 3))]
    for mode in MODES:
        data = codec.encode(obj, arrays=mode)
        for threads in [0, 1, 2, 4]:
            assert_identical(codec.decode(data, threads=threads), obj)


def _big_document():
    """Arrays above the reader's thresholds for splitting work across threads (text arrays are cut every few
    hundred KB along axis 0, long base64 strings into pieces)."""
    rng = np.random.default_rng(5)
    return {
        "f64": rng.standard_normal(30000),
        "f32": rng.standard_normal((2000, 16)).astype(np.float32),
        "i64": rng.integers(-2 ** 63, 2 ** 63 - 1, 20000, dtype=np.int64),
        "bool": rng.integers(0, 2, 60000).astype(bool),
        "nodes": make_struct(NODE_DTYPE, 3000, seed=5),
        "f16": rng.standard_normal(40000).astype(np.float16),
        "be": rng.standard_normal(15000).astype(">f8"),
    }


def test_large_arrays_any_thread_count():
    obj = _big_document()
    data = codec.encode(obj)
    assert len(data) > 2 << 20
    for threads in [1, 2, 3, 0]:
        assert_identical(codec.decode(data, threads=threads), obj)
    rng = np.random.default_rng(6)
    b64 = {"le": rng.standard_normal(100000), "be": rng.standard_normal(100000).astype(">f8"),
           "u8": rng.integers(0, 256, 1 << 21, dtype=np.uint8)}
    data = codec.encode(b64, arrays="base64")
    for threads in [1, 2, 3, 0]:
        assert_identical(codec.decode(data, threads=threads), b64)


def _int_env_with_bad_item(n, bad_at):
    items = ["7777777"] * n
    items[bad_at] = "1.5"  # well-formed JSON, wrong for an int64 array: found only when the items are read
    return '{"pymiloed-ndarray-list": [%s], "pymiloed-ndarray-dtype": "int64", "pymiloed-ndarray-shape": [%d]}' % (
        ",".join(items), n)


def test_first_error_in_document_order_whatever_the_threads():
    """With several bad arrays (or a bad item in several pieces of one array), the error reported is the first
    in the document, the same with any number of threads."""
    n = 60000  # ~480 KB of text per array: cut in pieces
    doc = ('{"a": %s, "b": %s}' % (_int_env_with_bad_item(n, n - 3), _int_env_with_bad_item(n, 2))).encode()
    items = ["7777777"] * n
    items[45000] = items[20000] = "1.5"
    two_pieces = ('{"a": {"pymiloed-ndarray-list": [%s], "pymiloed-ndarray-dtype": "int64", '
                  '"pymiloed-ndarray-shape": [%d]}}' % (",".join(items), n)).encode()
    for d, first_bad in [(doc, doc.index(b"1.5")), (two_pieces, two_pieces.index(b"1.5"))]:
        seen = set()
        for threads in [1, 2, 4, 2, 4, 2, 4]:
            with pytest.raises(DecodeError) as ei:
                codec.decode(d, threads=threads)
            seen.add((ei.value.offset, ei.value.path))
        assert len(seen) == 1, seen
        offset, path = seen.pop()
        assert path.startswith("$.a"), path
        if offset is not None:
            assert offset == first_bad


@pytest.mark.skipif(_core is None, reason="milo_fast._core is not built")
@pytest.mark.parametrize("op", ["encode", "decode"])
def test_compiled_core_releases_the_gil(op):
    """While the compiled core writes or parses a large array, other Python threads keep running."""
    import threading
    import time
    arr = np.random.default_rng(0).standard_normal(1_000_000)
    data = _core.encode(arr, False, -1, False)
    call = (lambda: _core.encode(arr, False, -1, False)) if op == "encode" else (lambda: _core.decode(data, 512, 1))
    t0 = time.perf_counter()
    call()
    single = time.perf_counter() - t0
    done = threading.Event()

    def work():
        for _ in range(3):
            call()
        done.set()
    th = threading.Thread(target=work)
    worst, last = 0.0, time.perf_counter()
    th.start()
    while not done.is_set():
        now = time.perf_counter()
        worst, last = max(worst, now - last), now
    th.join()
    assert worst < max(single / 2, 0.02), f"main thread stalled {worst * 1e3:.0f} ms; one {op} takes " \
                                           f"{single * 1e3:.0f} ms"


# ----------------------------------------------------------------- output format: indent, strict, determinism

def _outside_strings(text: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)


def test_compact_has_no_whitespace():
    obj = {"a b": [1, 2.5, "x y"], "c": np.arange(3.0), "d": {"e": None}}
    for mode in MODES:
        text = codec.encode(obj, arrays=mode).decode()
        assert not re.search(r"\s", _outside_strings(text)), text


@pytest.mark.parametrize("indent", [0, 1, 2, 4, 16])
def test_indent_matches_json_layout(indent):
    """With indent, dicts and lists of values are laid out as Python's json.dumps(indent=...) does
    (modulo the space after ':')."""
    obj = {"a": [1, "x", None, True, {"b": [], "c": {}}], "d": {"e": {"f": [[1], [2, 3]]}}, "g": "h"}
    got = codec.encode(obj, indent=indent).decode()
    want = json.dumps(obj, indent=indent, ensure_ascii=False)
    norm = lambda s: [re.sub(r'":\s*', '":', line) for line in s.split("\n")]  # noqa: E731
    assert norm(got) == norm(want)


@pytest.mark.parametrize("indent", [0, 2, 3])
def test_indent_with_arrays(indent):
    obj = {"w": np.arange(6, dtype=np.int16).reshape(2, 3), "s": np.float32(2.5), "l": [np.zeros(0)]}
    for mode in MODES:
        data = codec.encode(obj, arrays=mode, indent=indent)
        assert b"\n" in data
        assert_identical(codec.decode(data), obj)
        assert json.loads(data) == json.loads(codec.encode(obj, arrays=mode))
        for line in data.decode().split("\n"):
            n = len(line) - len(line.lstrip(" "))
            assert n == 0 if indent == 0 else n % indent == 0, line


def test_strict_document_is_rfc8259():
    obj = {"a": np.array([np.nan, np.inf, -np.inf, 0.0], np.float32), "b": math.nan, "c": -math.inf,
           "d": [np.float64(np.inf)], "e": np.array([[np.nan]]), "f": math.inf}
    for mode in MODES:
        data = codec.encode(obj, arrays=mode, strict=True)
        loads_strict(data)
        assert_identical(codec.decode(data), obj)


def test_encode_is_deterministic_and_idempotent():
    obj = {"x": np.arange(10.0) / 3, "y": [1, 2.5, "s"], "z": make_struct(STRUCT_DTYPES[1], 5)}
    for mode in MODES:
        first = codec.encode(obj, arrays=mode)
        assert codec.encode(obj, arrays=mode) == first
        assert codec.encode(codec.decode(first), arrays=mode) == first


# ----------------------------------------------------------------- reading: envelopes as others write them

def _text_env(lst, dtype, shape, ds="numpy.ndarray"):
    return {T_LIST: lst, T_DTYPE: dtype, T_SHAPE: shape, T_DS: ds}


def test_text_envelope_key_orders():
    env = _text_env([[1.5, -2.0], [3.0, 4.25]], "float32", [2, 2])
    want = np.array([[1.5, -2.0], [3.0, 4.25]], np.float32)
    for perm in itertools.permutations(env):
        doc = json.dumps({"m": {k: env[k] for k in perm}})
        assert_identical(codec.decode(doc), {"m": want})


def test_base64_envelope_key_orders():
    want = np.array([[1, -2], [3, 2 ** 40]], ">i8")
    env = {B_DATA: base64.b64encode(le_bytes(want)).decode(), B_DTYPE: ">i8", B_SHAPE: [2, 2]}
    for perm in itertools.permutations(env):
        assert_identical(codec.decode(json.dumps([{k: env[k] for k in perm}])), [want])
    env[B_DS] = "numpy.generic"
    env[B_SHAPE] = []
    env[B_DATA] = base64.b64encode(np.array(-5, "<i8").tobytes()).decode()
    for perm in itertools.permutations(env):
        got = codec.decode(json.dumps({k: env[k] for k in perm}))
        assert type(got) is np.int64 and got == -5


def test_duplicate_keys():
    """docs/format.md: the last duplicate key wins, except inside an array envelope (an error)."""
    assert codec.decode(b'{"a": 1, "b": 2, "a": 3}') == {"a": 3, "b": 2}
    for doc in [b'{"pymiloed-ndarray-list": [1], "pymiloed-ndarray-dtype": "int8", "pymiloed-ndarray-shape": [1],'
                b' "pymiloed-ndarray-list": [2]}',
                b'{"milo-ndarray-b64": "AQ==", "milo-ndarray-dtype": "uint8", "milo-ndarray-shape": [1],'
                b' "milo-ndarray-shape": [1]}']:
        with pytest.raises(DecodeError):
            codec.decode(doc)


def test_base64_envelope_key_orders_and_declared_length():
    """milo_fast writes the data last (the reader then knows where the string ends from dtype and shape);
    every key order reads the same, and a string whose length disagrees with them is an error even when a
    quote happens to sit where the declared length ends."""
    arr = np.arange(12, dtype="<f8").reshape(3, 4)
    data = codec.encode(arr, arrays="base64")
    assert list(json.loads(data)) == [B_DTYPE, B_SHAPE, B_DATA]
    rows = make_struct(NODE_DTYPE, 5)
    for a in (arr, rows):
        env = json.loads(codec.encode(a, arrays="base64"))
        for order in itertools.permutations(env):
            assert_array_identical(codec.decode(json.dumps({k: env[k] for k in order})), a)
    good = _b64(np.array([1.5, -2.0]))
    assert len(good) == 24
    for doc in [
        # one char short: a quote sits at the declared end only by accident, inside the next key
        '{"milo-ndarray-dtype": "<f8", "milo-ndarray-shape": [2], "milo-ndarray-b64": "' + good[:23] + '"}',
        # too short, with the declared end pointing into a later string
        '{"milo-ndarray-dtype": "<f8", "milo-ndarray-shape": [2], "milo-ndarray-b64": "AAAA", "x": "' + "A" * 30 + '"}',
        # too long
        '{"milo-ndarray-dtype": "<f8", "milo-ndarray-shape": [2], "milo-ndarray-b64": "' + good + 'AAAA"}',
        # a quote inside, at the declared end
        '{"milo-ndarray-dtype": "<f8", "milo-ndarray-shape": [2], "milo-ndarray-b64": "' + good[:10] + '","' + good[12:] + '"}',
        # the declared end beyond the document
        '{"milo-ndarray-dtype": "<f8", "milo-ndarray-shape": [1000], "milo-ndarray-b64": "' + good + '"}',
        # a structured dtype's itemsize declares the length
        '{"milo-ndarray-dtype": {"names": ["a"], "formats": ["<f8"], "offsets": [0], "itemsize": 8},'
        ' "milo-ndarray-shape": [3], "milo-ndarray-b64": "' + good + '"}',
    ]:
        with pytest.raises(DecodeError):
            codec.decode(doc)
    assert_identical(codec.decode('{"milo-ndarray-dtype": "<f8", "milo-ndarray-shape": [2], "milo-ndarray-b64": "'
                                  + good + '"}'), np.array([1.5, -2.0]))


def test_text_envelope_with_extra_key_is_a_plain_object():
    env = {T_LIST: [1, 2], T_DTYPE: "int64", T_SHAPE: [2], T_DS: "numpy.ndarray", "extra": 1}
    assert_identical(codec.decode(json.dumps(env)), env)


def test_base64_envelope_with_explicit_ndarray_marker():
    doc = json.dumps({B_DATA: _b64(np.array([1.5, -2.0])), B_DTYPE: "float64", B_SHAPE: [2], B_DS: "numpy.ndarray"})
    assert_identical(codec.decode(doc), np.array([1.5, -2.0]))
    doc = json.dumps({B_DATA: _b64(np.array(1.5)), B_DTYPE: "float64", B_SHAPE: [], B_DS: "numpy.ndarray"})
    assert_identical(codec.decode(doc), np.array(1.5))


def test_integer_literals_in_float_arrays():
    """Float arrays take any JSON number, integer literals included, correctly rounded."""
    doc = ('{"pymiloed-ndarray-list": [1, -7, 123456789012345678901234567890, 9007199254740993], '
           '"pymiloed-ndarray-dtype": "float64", "pymiloed-ndarray-shape": [4]}')
    assert_identical(codec.decode(doc), np.array([1.0, -7.0, 1.2345678901234568e29, 9007199254740992.0]))
    doc = doc.replace('"float64"', '"float32"')
    assert_identical(codec.decode(doc), np.array([1.0, -7.0, 1.2345678901234568e29, 9007199254740992.0],
                                                 np.float32))


@pytest.mark.parametrize("tok", ["1e3", "1E3", "1.0", "-0.0", "1e+0", "0x1", "+1", "01"])
def test_integer_arrays_take_integer_literals_only(tok):
    doc = ('{"pymiloed-ndarray-list": [1, %s], "pymiloed-ndarray-dtype": "int64", "pymiloed-ndarray-shape": [2]}'
           % tok)
    with pytest.raises(DecodeError):
        codec.decode(doc)


def test_unsigned_minus_zero():
    got = codec.decode(json.dumps(_text_env([0, 1], "uint64", [2])).replace("[0, 1]", "[-0, 1]"))
    assert_identical(got, np.array([0, 1], np.uint64))


def test_text_envelope_without_data_structure_key():
    got = codec.decode(json.dumps({T_LIST: [1, 2], T_DTYPE: "int64", T_SHAPE: [2]}))
    assert_identical(got, np.array([1, 2]))


@pytest.mark.parametrize("spelling,dt", [("<f8", "<f8"), ("=f8", "<f8"), ("|u1", "u1"), ("|b1", "?"),
                                         ("<i4", "<i4"), (">i4", ">i4"), (">f2", ">f2"), ("<u8", "<u8")])
def test_dtype_spellings_read(spelling, dt):
    want = np.array([1, 0], dt)
    got = codec.decode(json.dumps(_text_env(want.tolist(), spelling, [2])))
    assert_identical(got, want)


def test_pymilo_style_tokens_and_nested_lists():
    """As PyMilo writes arrays: json.dumps(arr.tolist()) with indent=4, NaN/Infinity tokens,
    float32/float16 values printed at float64 precision."""
    a64 = np.array([[0.1, np.nan, -np.inf], [np.inf, -0.0, 5e-324]])
    a32 = np.array([[0.1, 1 / 3, 3.4028235e38], [np.nan, -np.inf, 1e-45]], np.float32)
    a16 = np.array([0.1, 65504, 6e-8, np.nan], np.float16)
    ints = np.array([[-(2 ** 63), 2 ** 63 - 1]], np.int64)
    u64 = np.array([2 ** 64 - 1, 2 ** 53 + 1, 0], np.uint64)
    bools = np.array([[True], [False]])
    doc = {"data": {n: {T_LIST: a.tolist(), T_DTYPE: str(a.dtype), T_SHAPE: list(a.shape), T_DS: "numpy.ndarray"}
                    for n, a in [("a64", a64), ("a32", a32), ("a16", a16), ("ints", ints), ("u64", u64),
                                 ("bools", bools)]},
           "n": {"value": 2, "np-type": "numpy.int64"}, "nan": math.nan}
    text = json.dumps(doc, indent=4)
    assert "NaN" in text and "-Infinity" in text
    got = codec.decode(text)
    assert_identical(got["data"], {"a64": a64, "a32": a32, "a16": a16, "ints": ints, "u64": u64, "bools": bools})
    assert got["n"] == {"value": 2, "np-type": "numpy.int64"}
    assert math.isnan(got["nan"])


@pytest.mark.parametrize("dtype", ["object", "<U5", "str", "datetime64[ns]", "complex128", "float128",
                                   "[('a', '<i8'), ('b', '<f8')]", "int", "float", 7, None])
def test_unknown_text_dtypes_left_as_dicts(dtype):
    inner = {T_LIST: [1.5], T_DTYPE: "float64", T_SHAPE: [1], T_DS: "numpy.ndarray"}
    env = {T_LIST: [["a", 1, None, [2, 3]], [float("nan")]], T_DTYPE: dtype, T_SHAPE: [2],
           T_DS: "numpy.ndarray", "inner": inner}
    got = codec.decode(json.dumps(env))
    assert type(got) is dict
    assert list(got) == list(env)
    assert got[T_LIST][0] == ["a", 1, None, [2, 3]] and math.isnan(got[T_LIST][1][0])
    assert got[T_DTYPE] == dtype and got[T_SHAPE] == [2]
    assert_identical(got["inner"], np.array([1.5]))


def test_pymilo_ensemble_envelope_without_shape_left_as_dict():
    env = {T_LIST: [{"x": 1}, {"y": 2}], T_DTYPE: "object", T_DS: "numpy.ndarray"}
    assert codec.decode(json.dumps(env)) == env


@pytest.fixture(scope="module")
def pymilo_exports():
    pymilo = pytest.importorskip("pymilo")
    from sklearn.datasets import make_classification, make_regression
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LinearRegression
    from sklearn.neural_network import MLPRegressor
    from sklearn.tree import DecisionTreeClassifier
    import warnings
    X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    Xr, yr = make_regression(n_samples=80, n_features=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = [DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y),
                  RandomForestClassifier(n_estimators=2, max_depth=3, random_state=0).fit(X, y),
                  LinearRegression().fit(Xr, yr),
                  MLPRegressor(hidden_layer_sizes=(4,), max_iter=20, random_state=0).fit(Xr, yr)]
        return [pymilo.Export(m).to_json() for m in models]


def _walk_envelopes(plain, decoded, path="$"):
    """Yield (path, json_envelope, decoded_value) for every text envelope of a known dtype."""
    if isinstance(plain, dict):
        if T_LIST in plain and T_DTYPE in plain and T_SHAPE in plain and plain[T_DTYPE] in SIMPLE_NAMES:
            yield path, plain, decoded
            return
        assert isinstance(decoded, dict) and list(decoded) == list(plain), path
        for k in plain:
            yield from _walk_envelopes(plain[k], decoded[k], f"{path}.{k}")
    elif isinstance(plain, list):
        assert isinstance(decoded, list) and len(decoded) == len(plain), path
        for i, (p, d) in enumerate(zip(plain, decoded)):
            yield from _walk_envelopes(p, d, f"{path}[{i}]")
    elif isinstance(plain, float) and math.isnan(plain):
        assert isinstance(decoded, float) and math.isnan(decoded), path
    else:
        assert type(decoded) is type(plain) and decoded == plain, path


def test_reads_real_pymilo_files(pymilo_exports):
    n_env = 0
    for text in pymilo_exports:
        plain = json.loads(text)
        for mode_input in [text, text.encode()]:
            decoded = codec.decode(mode_input)
            for path, env, arr in _walk_envelopes(plain, decoded):
                want = np.asarray(env[T_LIST], dtype=env[T_DTYPE]).reshape(env[T_SHAPE])
                assert_array_identical(arr, want)
                n_env += 1
    assert n_env > 10


@pytest.mark.parametrize("dt", ["float64", "float32", "int64", "int32", "uint8", "bool", "float16"])
def test_pymilo_reads_our_text_envelopes(dt):
    pytest.importorskip("pymilo")
    from pymilo.transporters.general_data_structure_transporter import GeneralDataStructureTransporter
    arr = np.resize(edge_values(np.dtype(dt)), 12).reshape(3, 4)
    env = json.loads(codec.encode(arr))
    got = GeneralDataStructureTransporter().deep_deserialize_ndarray(env)
    assert_array_identical(np.ascontiguousarray(got), arr)


# ----------------------------------------------------------------- decode input types

def test_decode_input_types():
    obj = {"a": np.arange(4, dtype=np.int32), "s": "é"}
    data = codec.encode(obj)
    for inp in [data, bytearray(data), memoryview(data), data.decode("utf-8"), memoryview(b"xx" + data)[2:]]:
        assert_identical(codec.decode(inp), obj)
    for bad in [None, 1, [data], np.frombuffer(data, np.uint8).tolist()]:
        with pytest.raises(TypeError):
            codec.decode(bad)


def test_decode_non_contiguous_memoryview():
    """A strided memoryview is read as the bytes it shows (or refused with TypeError), never as the raw
    memory under it: b"1234"[::2] is the document "13"."""
    mv = memoryview(b"1234")[::2]
    assert mv.tobytes() == b"13"
    try:
        got = codec.decode(mv)
    except TypeError:
        return
    assert got == 13


def test_memmap_and_readonly_arrays():
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        mm = np.memmap(os.path.join(d, "m.dat"), dtype=">f4", mode="w+", shape=(2, 3))
        mm[:] = [[1, 2, 3], [4, 5, np.nan]]
        for mode in MODES:
            assert_identical(codec.decode(codec.encode(mm, arrays=mode)), np.array(mm))
        del mm
    ro = np.arange(6.0).reshape(2, 3)
    ro.setflags(write=False)
    back = codec.decode(codec.encode(ro))
    assert_identical(back, ro.copy())


def test_masked_array_not_silently_unmasked():
    """A masked array keeps its mask through the codec, or is refused: never written as if unmasked."""
    m = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])
    for mode in MODES:
        try:
            back = codec.decode(codec.encode({"m": m}, arrays=mode))
        except EncodeError:
            continue
        assert isinstance(back["m"], np.ma.MaskedArray) and back["m"].mask.tolist() == [False, True, False]


def test_decode_whitespace_and_trailing():
    assert codec.decode(b" \t\r\n[1 , 2 ] \n") == [1, 2]
    assert codec.decode(b'\n{ "a" :\t1 }\n') == {"a": 1}


# ----------------------------------------------------------------- encode errors

class Custom:
    pass


@pytest.mark.parametrize("bad", [object(), Custom(), {1, 2}, b"bytes", 1 + 2j, np.array([1 + 2j]),
                                 np.array(["a", "b"]), np.array([None], dtype=object), np.array([1], "M8[ns]"),
                                 np.complex64(1), np.array([(1, [2, 3])], [("a", "i4"), ("b", "i4", (2,))]),
                                 np.array(b"x", "V1"), lambda: 0], ids=lambda b: type(b).__name__)
def test_encode_unsupported(bad):
    for mode in MODES:
        with pytest.raises(EncodeError) as ei:
            codec.encode({"a": [0, bad]}, arrays=mode)
        assert isinstance(ei.value, MiloError) and isinstance(ei.value, TypeError)
        assert "$.a[1]" in str(ei.value)


def test_encode_non_str_key():
    for key in [1, None, (1,), 1.5, b"k", True]:
        with pytest.raises(EncodeError) as ei:
            codec.encode({"x": {key: 1}})
        assert "$.x" in str(ei.value)


_HEALTH_SCRIPT = r"""
import sys
from milo_fast import codec, EncodeError
def depth(n):
    return 0 if n == 0 else 1 + depth(n - 1)
cyc = []
cyc.append(cyc)
deep = []
for _ in range(100000):
    deep = [deep]
results = []
for name, bad in [("unsupported", {"a": [{"b": object()}]}), ("key", {"a": [{1: 2}]}), ("cycle", cyc),
                  ("deep", deep)]:
    kinds = set()
    for _ in range(600):
        try:
            codec.encode(bad)
            kinds.add("ok")
        except EncodeError:
            kinds.add("EncodeError")
        except RecursionError:
            kinds.add("RecursionError")
    try:
        depth(400)
        healthy = True
    except RecursionError:
        healthy = False
    results.append(f"{name}:{'+'.join(sorted(kinds))}:{'healthy' if healthy else 'BROKEN'}")
print(" ".join(results))
"""


def test_failed_encodes_leave_the_interpreter_healthy():
    """Encoding errors raised inside nested containers (an unsupported value, a non-str key, a cycle, a very
    deep nesting) are EncodeErrors, and after hundreds of them ordinary Python recursion still works (own
    process: a leaked recursion counter breaks every later call)."""
    proc = subprocess.run([sys.executable, "-c", _HEALTH_SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["unsupported:EncodeError:healthy", "key:EncodeError:healthy",
                                   "cycle:EncodeError:healthy", "deep:EncodeError:healthy"], proc.stdout


@pytest.mark.parametrize("kw", [{"arrays": "xml"}, {"arrays": None}, {"indent": -1}, {"indent": 17},
                                {"indent": 2.0}, {"indent": True}, {"indent": "2"}])
def test_encode_bad_options(kw):
    with pytest.raises(ValueError):
        codec.encode([1], **kw)


def test_encode_options_are_keyword_only():
    with pytest.raises(TypeError):
        codec.encode([1], "base64")  # type: ignore[misc]


# ----------------------------------------------------------------- decode errors: syntax, offsets

SYNTAX_ERRORS = [  # (document, byte offset of the first offending byte)
    (b"", 0), (b"   ", 3), (b"[1,]", 3), (b"[1 2]", 3), (b'{"a":1 "b":2}', 7), (b"[1] x", 4), (b"{1:2}", 1),
    (b"[1,2", 4), (b'{"a":}', 5), (b"[@]", 1), (b'{"a" 1}', 5), (b"[1]]", 3), (b"{}{}", 2), (b'["a"b]', 4),
    (b"[.5]", 1), (b"[+1]", 1), (b'{"a":1,}', 7),
    (b"[\x00]", 1), (b"[1]\x00", 3),
    ('["é", @]'.encode(), 7), ('{"日本": 1,}'.encode(), 13), ('["😀"] x'.encode(), 9),
]


@pytest.mark.parametrize("doc,offset", SYNTAX_ERRORS, ids=lambda v: repr(v)[:24])
def test_syntax_error_offsets(doc, offset):
    with pytest.raises(DecodeError) as ei:
        codec.decode(doc)
    e = ei.value
    assert isinstance(e, MiloError) and isinstance(e, ValueError) and isinstance(e, milo_fast.LoadError)
    assert e.offset == offset, f"offset {e.offset} != {offset}: {e}"
    assert re.search(rf"\b{offset}\b", str(e)), f"message does not give byte {offset}: {e}"


@pytest.mark.parametrize("doc", [b"[tru]", b"[nul]", b"[fals]", b"[nan]", b"[inf]", b"[-NaN]", b"[Infinit]",
                                 b'"abc', b'"\\x"', b'"\\u12"', b'"\\uZZZZ"', b'"a\nb"', b"[1,2,3", b"{",
                                 b'{"a"', b'{"a":', b"'a'", b"[1]/*c*/", b"[1e999999999999999999999999]x", b"[01]", b"[1.]", b"[-]",
                                 b"[1e]", b"[1.e5]", b"[0x10]", b"[1_000]",
                                 b"-", b"--1", b"[-Infinity1]", b"[NaNa]"],
                         ids=lambda v: repr(v)[:24])
def test_malformed_documents(doc):
    with pytest.raises(DecodeError) as ei:
        codec.decode(doc)
    assert isinstance(ei.value.offset, int) and 0 <= ei.value.offset <= len(doc)


@pytest.mark.parametrize("doc,offset", [(b'["\xff"]', 2), (b'["a\xc3"]', 3), (b'["\xc0\x80"]', 2), (b'{"a\xffb": 1}', 3),
                                        (b'{"pymiloed-ndarray-list": [1], "pymiloed-ndarray-\xff": 1}', 49), (b'["\xf5\x80\x80\x80"]', 2), (b"\xff", 0),
                                        (b'["ok", "\xe2\x82"]', 8)],
                         ids=lambda v: repr(v)[:24])
def test_invalid_utf8(doc, offset):
    with pytest.raises(DecodeError) as ei:
        codec.decode(doc)
    assert ei.value.offset == offset, f"{ei.value.offset} != {offset}: {ei.value}"


def test_surrogates():
    """Escaped surrogate pairs combine; escaped lone surrogates are kept (docs/format.md, as Python's json);
    a str holding a lone surrogate decodes too."""
    assert codec.decode(b'["\\ud83d\\ude00"]') == ["\U0001F600"]
    assert codec.decode(b'["\\ud800", "\\udc00x"]') == ["\ud800", "\udc00x"]
    assert codec.decode('["\ud800"]') == ["\ud800"]


# ----------------------------------------------------------------- decode errors: content, paths

def _b64(a):
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


BAD_ENVELOPES = {
    # text: shape and nesting
    "short_list": _text_env([1.0, 2.0], "float64", [3]),
    "long_list": _text_env([1.0, 2.0, 3.0, 4.0], "float64", [3]),
    "too_shallow": _text_env([1.0, 2.0], "float64", [2, 1]),
    "too_deep": _text_env([[1.0], [2.0]], "float64", [2]),
    "ragged": _text_env([[1.0, 2.0], [3.0]], "float64", [2, 2]),
    "scalar_for_1d": _text_env(1.0, "float64", [1]),
    "list_for_0d": _text_env([1.0], "float64", []),
    "generic_with_shape": _text_env([1.0, 2.0], "float64", [2], "numpy.generic"),
    "ds_unknown": _text_env([1.0], "float64", [1], "numpy.matrix"),  # docs/format.md: ndarray or generic
    "null_elem": _text_env([1.0, None], "float64", [2]),
    "dict_elem": _text_env([{}], "float64", [1]),
    "str_in_float": _text_env(["1.0"], "float64", [1]),
    "lower_nan_str": _text_env(["nan"], "float64", [1]),
    "inf_str": _text_env(["Inf"], "float32", [1]),
    "nan_in_int": _text_env([float("nan")], "int64", [1]),
    "nan_str_in_int": _text_env(["NaN"], "int32", [1]),
    "float_in_int": _text_env([1.5], "int64", [1]),
    "float_int_in_int": _text_env([1.0], "int64", [1]),
    "bool_in_int": _text_env([True], "int8", [1]),
    "int_in_bool": _text_env([1], "bool", [1]),
    "str_in_bool": _text_env(["true"], "bool", [1]),
    "int8_high": _text_env([128], "int8", [1]),
    "int8_low": _text_env([-129], "int8", [1]),
    "uint8_neg": _text_env([-1], "uint8", [1]),
    "uint16_high": _text_env([65536], "uint16", [1]),
    "int32_high": _text_env([2 ** 31], "int32", [1]),
    "int64_high": _text_env([2 ** 63], "int64", [1]),
    "int64_low": _text_env([-2 ** 63 - 1], "int64", [1]),
    "uint64_high": _text_env([2 ** 64], "uint64", [1]),
    "uint64_huge": _text_env([10 ** 40], "uint64", [1]),
    "big_endian_int_high": _text_env([2 ** 31], ">i4", [1]),
    # text: structured rows
    "row_short": _text_env([[1, 2.0]], {"names": ["a", "b", "c"], "formats": ["int64", "float64", "uint8"],
                                         "offsets": [0, 8, 16], "itemsize": 24}, [1]),
    "row_dict": _text_env([{"a": 1}], {"names": ["a"], "formats": ["int64"], "offsets": [0], "itemsize": 8}, [1]),
    "row_scalar": _text_env([1], {"names": ["a"], "formats": ["int64"], "offsets": [0], "itemsize": 8}, [1]),
    "row_field_range": _text_env([[256]], {"names": ["a"], "formats": ["uint8"], "offsets": [0], "itemsize": 1},
                                 [1]),
    # text: shape
    "shape_neg": _text_env([], "float64", [-1]),
    "shape_float": _text_env([1.0, 2.0], "float64", [2.0]),
    "shape_bool": _text_env([1.0], "float64", [True]),
    "shape_str": _text_env([1.0], "float64", ["1"]),
    "shape_not_list": _text_env([1.0], "float64", 1),
    "shape_null": _text_env([1.0], "float64", None),
    "shape_65_dims": _text_env([], "float64", [0] * 65),
    "shape_65_ones": _text_env(json.loads("[" * 65 + "1" + "]" * 65), "float64", [1] * 65),
    "shape_beyond_int64": _text_env([], "float64", [0, 10 ** 30]),
    # structured dtype specs
    "struct_missing_key": _text_env([], {"names": ["a"], "formats": ["int64"], "offsets": [0]}, [0]),
    "struct_extra_key": _text_env([], {"names": ["a"], "formats": ["int64"], "offsets": [0], "itemsize": 8,
                                       "titles": None}, [0]),
    "struct_overlap": _text_env([], {"names": ["a", "b"], "formats": ["int64", "int32"], "offsets": [0, 4],
                                     "itemsize": 8}, [0]),
    "struct_out_of_item": _text_env([], {"names": ["a"], "formats": ["int64"], "offsets": [4], "itemsize": 8},
                                    [0]),
    "struct_unknown_format": _text_env([], {"names": ["a"], "formats": ["object"], "offsets": [0], "itemsize": 8},
                                       [0]),
    "struct_dup_names": _text_env([], {"names": ["a", "a"], "formats": ["int8", "int8"], "offsets": [0, 1],
                                       "itemsize": 2}, [0]),
    "struct_empty": _text_env([], {"names": [], "formats": [], "offsets": [], "itemsize": 8}, [0]),
    "struct_itemsize_0": _text_env([], {"names": ["a"], "formats": ["int8"], "offsets": [0], "itemsize": 0}, [0]),
    "struct_itemsize_huge": _text_env([], {"names": ["a"], "formats": ["int8"], "offsets": [0],
                                           "itemsize": 10 ** 12}, [0]),
    "struct_neg_offset": _text_env([], {"names": ["a"], "formats": ["int8"], "offsets": [-1], "itemsize": 8}, [0]),
    "struct_lengths": _text_env([], {"names": ["a", "b"], "formats": ["int8"], "offsets": [0], "itemsize": 8}, [0]),
    "struct_name_not_str": _text_env([], {"names": [1], "formats": ["int8"], "offsets": [0], "itemsize": 8}, [0]),
    "struct_1025_fields": _text_env([], {"names": [f"f{i}" for i in range(1025)], "formats": ["int8"] * 1025,
                                         "offsets": list(range(1025)), "itemsize": 1025}, [0]),
    # base64
    "b64_bad_char": {B_DATA: "AAAA*AAA", B_DTYPE: "uint8", B_SHAPE: [6]},
    "b64_urlsafe": {B_DATA: "-_-_", B_DTYPE: "uint8", B_SHAPE: [3]},
    "b64_no_padding": {B_DATA: "AAA", B_DTYPE: "uint8", B_SHAPE: [2]},
    "b64_whitespace": {B_DATA: "AAAA AAAA", B_DTYPE: "uint8", B_SHAPE: [6]},
    "b64_padding_middle": {B_DATA: "AA==AAAA", B_DTYPE: "uint8", B_SHAPE: [4]},
    "b64_too_short": {B_DATA: _b64(np.zeros(3)), B_DTYPE: "float64", B_SHAPE: [4]},
    "b64_too_long": {B_DATA: _b64(np.zeros(5)), B_DTYPE: "float64", B_SHAPE: [4]},
    "b64_partial_item": {B_DATA: _b64(np.zeros(9, np.uint8)), B_DTYPE: "float64", B_SHAPE: [1]},
    "b64_not_str": {B_DATA: 5, B_DTYPE: "uint8", B_SHAPE: [0]},
    "b64_list": {B_DATA: ["AAAA"], B_DTYPE: "uint8", B_SHAPE: [3]},
    "b64_unknown_dtype": {B_DATA: "AAAA", B_DTYPE: "object", B_SHAPE: [3]},
    "b64_unicode_dtype": {B_DATA: "AAAA", B_DTYPE: "<U1", B_SHAPE: [3]},
    "b64_missing_dtype": {B_DATA: "AAAA", B_SHAPE: [3]},
    "b64_missing_shape": {B_DATA: "AAAA", B_DTYPE: "uint8"},
    "b64_extra_key": {B_DATA: "AAAA", B_DTYPE: "uint8", B_SHAPE: [3], "x": 1},
    "b64_nonzero_pad_bits": {B_DATA: "AB==", B_DTYPE: "uint8", B_SHAPE: [1]},
    "b64_generic_with_shape": {B_DATA: "AAAA", B_DTYPE: "uint8", B_SHAPE: [3], B_DS: "numpy.generic"},
    "b64_shape_neg": {B_DATA: "", B_DTYPE: "uint8", B_SHAPE: [-3]},
    "b64_shape_beyond_int64": {B_DATA: "", B_DTYPE: "uint8", B_SHAPE: [0, 10 ** 30]},
    "b64_shape_65_dims": {B_DATA: "", B_DTYPE: "uint8", B_SHAPE: [0] * 65},
    "b64_struct_bad": {B_DATA: "", B_DTYPE: {"names": ["a"], "formats": ["int64"], "offsets": [4], "itemsize": 8},
                       B_SHAPE: [0]},
    # Python float bits
    "fbits_not_hex": {F_BITS: "zzzzzzzzzzzzzzzz"},
    "fbits_17_digits": {F_BITS: "1ffffffffffffffff"},
    "fbits_int": {F_BITS: 5},
    "fbits_null": {F_BITS: None},
    "fbits_empty": {F_BITS: ""},
    "fbits_sign": {F_BITS: "-000000000000001"},
}


@pytest.mark.parametrize("name", list(BAD_ENVELOPES))
def test_bad_envelope_raises_with_path(name):
    env = BAD_ENVELOPES[name]
    for doc, path in [({"a": [0, {"b": env}]}, "$.a[1].b"), (env, "$"), ([[env]], "$[0][0]")]:
        text = json.dumps(doc)
        with pytest.raises(DecodeError) as ei:
            codec.decode(text)
        e = ei.value
        assert e.path is not None, f"no path: {e}"
        assert e.path == path or e.path.startswith(path + ".") or e.path.startswith(path + "["), \
            f"path {e.path!r} is not within {path!r}: {e}"
        assert e.path in str(e), f"message does not name the path {e.path!r}: {e}"


def test_bool_bytes_in_base64():
    """A bool array holds 0/1 only: a base64 envelope with another byte is rejected or normalised,
    never turned into a bool array holding 2."""
    doc = json.dumps({B_DATA: _b64(np.array([0, 1, 2, 255], np.uint8)), B_DTYPE: "bool", B_SHAPE: [4]})
    try:
        got = codec.decode(doc)
    except DecodeError:
        return
    assert set(got.view(np.uint8).tolist()) <= {0, 1}


# ----------------------------------------------------------------- limits: allocation, depth

_LIMIT_SCRIPT = r"""
import json, resource, sys
from milo_fast import codec, DecodeError
docs = json.loads(sys.stdin.read())
vm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize:")][0] * 1024
cap = vm + int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
out = []
for d in docs:
    try:
        codec.decode(d, max_depth=int(sys.argv[2]))
        out.append("ok")
    except DecodeError as e:
        out.append("DecodeError")
    except BaseException as e:
        out.append(f"{type(e).__name__}: {str(e)[:200]}")
print(json.dumps(out))
"""


def _run_limited(docs, headroom=768 << 20, max_depth=512):
    proc = subprocess.run([sys.executable, "-c", _LIMIT_SCRIPT, str(headroom), str(max_depth)],
                          input=json.dumps(docs), capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, f"decoder process died ({proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(proc.stdout)


HUGE = {
    "text_1e12": _text_env([], "float64", [10 ** 12]),
    "text_1e9_one_elem": _text_env([1.0], "float64", [10 ** 9]),
    "text_2d_1e10": _text_env([[1.0]], "float64", [100000, 100000]),
    "text_2_62": _text_env([], "uint8", [2 ** 62]),
    "text_overflowing_product": _text_env([], "float64", [2 ** 32, 2 ** 32, 2 ** 32]),
    "text_struct_big_items": _text_env([], {"names": ["a"], "formats": ["int8"], "offsets": [0], "itemsize": 65536},
                                       [10 ** 7]),
    "text_nested_claim": _text_env([[]], "float64", [1, 10 ** 10]),
    "b64_1e12": {B_DATA: "AAAA", B_DTYPE: "float64", B_SHAPE: [10 ** 12]},
    "b64_1e9": {B_DATA: "", B_DTYPE: "uint8", B_SHAPE: [10 ** 9]},
    "b64_overflow_product": {B_DATA: "", B_DTYPE: "float64", B_SHAPE: [2 ** 40, 2 ** 40]},
}


def test_huge_declared_shapes_rejected_without_allocating():
    """A few-hundred-byte document claiming a huge shape is a DecodeError, under a 768 MB address-space cap."""
    docs = [json.dumps(d) for d in HUGE.values()]
    results = _run_limited(docs)
    assert dict(zip(HUGE, results)) == {k: "DecodeError" for k in HUGE}


def _nest(depth, open_="[", close="]", inner="1"):
    return open_ * depth + inner + close * depth


def test_nesting_depth_bounded():
    assert codec.decode(_nest(100)) is not None
    assert codec.decode(_nest(400)) is not None
    for doc in [_nest(600), _nest(600, '{"a":', "}")]:
        with pytest.raises(DecodeError):
            codec.decode(doc)
    with pytest.raises(DecodeError):
        codec.decode(_nest(20), max_depth=10)
    assert codec.decode(_nest(5), max_depth=10) is not None


def test_nesting_depth_inside_array_envelope():
    env = _text_env(json.loads(_nest(50)), "float64", [1] * 50)
    with pytest.raises(DecodeError):
        codec.decode(json.dumps({"a": env}), max_depth=20)


def test_max_depth_raised_allows_deeper():
    got = codec.decode(_nest(1500), max_depth=2000)
    for _ in range(1500):
        got = got[0]
    assert got == 1


def test_very_deep_documents_do_not_crash():
    """Deep nesting is a DecodeError, never a stack overflow or RecursionError (own process: a crash must
    not take the test run down)."""
    docs = [_nest(100000), _nest(100000, '{"a":', "}"), "[" * 1000000, '{"a":' * 300000,
            json.dumps(_text_env([], "float64", [0])).replace("[]", "[" * 50000 + "]" * 50000)]
    assert _run_limited(docs) == ["DecodeError"] * len(docs)


def test_huge_integer_literals():
    """Python ints of any size are read exactly; a very long literal is either read or is a DecodeError
    (never another exception)."""
    for n in [30, 500, 4000]:
        assert codec.decode(("9" * n).encode()) == int("9" * n)
    for n in [5000, 100000]:
        doc = ("[" + "7" * n + "]").encode()
        try:
            got = codec.decode(doc)
        except DecodeError:
            continue
        assert got == [int("7" * n)]


def test_huge_int_encode():
    """A Python int too long for int->str (over sys.get_int_max_str_digits() digits) is written and read back,
    or refused with an EncodeError naming the path; never a bare ValueError."""
    x = 10 ** 5000
    try:
        data = codec.encode({"a": [x]})
    except EncodeError as e:
        assert "$.a[0]" in str(e)
        return
    assert codec.decode(data) == {"a": [x]}


def test_big_int_and_big_float_literal_in_float_array():
    env = _text_env([10 ** 400], "float64", [1])
    try:
        got = codec.decode(json.dumps(env))
    except DecodeError:
        return
    assert_identical(got, np.array([np.inf]))


OVERFLOW_DOCS = [
    json.dumps(_text_env([1e300], "float32", [1])), json.dumps(_text_env([-1e39], "float32", [1])),
    json.dumps(_text_env([70000.0], "float16", [1])), json.dumps(_text_env([65520.0], "float16", [1])),
    json.dumps(_text_env([1e400], "float64", [1])).replace("Infinity", "1e400"), "[1e400]", "[-1e400]",
]


@pytest.mark.parametrize("doc", OVERFLOW_DOCS)
def test_float_literal_overflow(doc):
    """A finite decimal beyond the dtype's range is either a DecodeError or rounds to +-Infinity (IEEE)."""
    try:
        got = codec.decode(doc)
    except DecodeError:
        return
    flat = np.asarray(got[0] if isinstance(got, list) else got, dtype=np.float64).reshape(-1)
    assert np.isinf(flat).all(), got


def test_float_literal_underflow_and_largest():
    """Below the smallest subnormal rounds to (signed) zero; the largest finite values are read exactly."""
    doc = json.dumps({"a": _text_env([1e-50, -1e-50, 3.4028235e38, 65519.0], "float32", [4]),
                      "b": _text_env([1e-10, -1e-10, 65504.0, 65519.0], "float16", [4])})
    got = codec.decode(doc)
    assert_identical(got["a"], np.array([0.0, -0.0, 3.4028235e38, 65519.0], np.float32))
    assert_identical(got["b"], np.array([0.0, -0.0, 65504.0, 65504.0], np.float16))
    assert_identical(codec.decode(b"[1e-400, -1e-400]"), [0.0, -0.0])


def test_float_correct_rounding_hard_cases():
    """Decimal strings near a halfway point of the target precision (no double rounding via float64)."""
    # 1 + 2^-24 (exactly between two float32) plus a tiny bit: must round up in float32
    s32 = "1.00000005960464477539062500000000001"
    s16 = "1.00048828125000000000000001"  # 1 + 2^-11 + tiny: rounds up in float16
    doc = ('{"a": {"pymiloed-ndarray-list": [%s], "pymiloed-ndarray-dtype": "float32", "pymiloed-ndarray-shape": [1]},'
           ' "b": {"pymiloed-ndarray-list": [%s], "pymiloed-ndarray-dtype": "float16", "pymiloed-ndarray-shape": [1]}}'
           % (s32, s16))
    got = codec.decode(doc)
    assert got["a"].view(np.uint32)[0] == 0x3F800001
    assert got["b"].view(np.uint16)[0] == 0x3C01
    f64 = codec.decode(b"[9007199254740993.0000000000001, 2.2250738585072011e-308]")
    assert f64 == [9007199254740994.0, 2.225073858507201e-308]


# ----------------------------------------------------------------- differential: compiled core vs reference

needs_core = pytest.mark.skipif(_core is None, reason="milo_fast._core is not built")

DIFF_OBJECTS = {
    "mixed": lambda: {"a": np.arange(12.0).reshape(3, 4), "b": [1, 2.5, None, "s", True], "c": np.float32(0.1),
                      "d": {"e": np.array([], np.int8)}, "f": 2 ** 70, "g": math.nan, "h": -0.0},
    "edges": lambda: [edge_values(dt) for dt in ALL_DTYPES],
    "scalars": lambda: list(SCALARS),
    "structs": lambda: [make_struct(dt, 7, 1) for dt in STRUCT_DTYPES if dt is not STRUCT_DTYPES[2]],
    "structs_big_endian": lambda: [make_struct(STRUCT_DTYPES[2], 7, 1)],
    "nans": lambda: [noncanonical_nans(dt) for dt in FLOATS] + [_py_float(0xFFF8000000000001)],
    "layouts": lambda: [make_array(np.dtype("f4"), (2, 3, 4), lay) for lay in LAYOUTS],
    "pyfloats": lambda: PY_FLOATS + [math.inf, -math.inf, math.nan],
    "strings": lambda: {s: s for s in STRINGS},
}


class _IntE(__import__("enum").IntEnum):
    A = 3


class _Str(str):
    pass


class _Float(float):
    pass


def _matrix():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix([[1, 2]])


@needs_core
@pytest.mark.parametrize("value", [__import__("collections").OrderedDict(a=1), _IntE.A, _Str("x"), _Float(1.5),
                                   __import__("collections").defaultdict(int, a=1), np.str_("x"), np.bytes_(b"x"),
                                   _matrix()], ids=lambda v: type(v).__name__)
def test_differential_subclasses_of_builtins(value):
    """Both implementations treat subclasses of dict/int/str/float (and numpy's str_, matrix) the same way:
    both refuse them with EncodeError, or both write the same document."""
    outcomes = []
    for impl in (_core, _pycodec):
        try:
            outcomes.append(impl.encode({"v": value}, False, -1, False))
        except EncodeError:
            outcomes.append("EncodeError")
    assert outcomes[0] == outcomes[1], f"core: {outcomes[0]!r}, reference: {outcomes[1]!r}"


@needs_core
@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("indent", [-1, 2])
@pytest.mark.parametrize("b64", [False, True], ids=["text", "base64"])
@pytest.mark.parametrize("name", list(DIFF_OBJECTS))
def test_differential_core_vs_reference(name, b64, indent, strict):
    obj = DIFF_OBJECTS[name]()
    from_core = _core.encode(obj, b64, indent, strict)
    from_ref = _pycodec.encode(obj, b64, indent, strict)
    assert_identical(_pycodec.decode(from_core, 512, 0), _pycodec.decode(from_ref, 512, 0))
    assert_identical(_core.decode(from_ref, 512, 0), _core.decode(from_core, 512, 0))
    assert_identical(_core.decode(from_ref, 512, 0), _pycodec.decode(from_core, 512, 0))


# ----------------------------------------------------------------- integer tokens in text arrays

def _int_doc(dt: str, token: str) -> bytes:
    return (f'{{"{T_LIST}": [{token}], "{T_DTYPE}": "{dt}", "{T_SHAPE}": [1], '
            f'"{T_DS}": "numpy.ndarray"}}').encode()


@pytest.mark.parametrize("dt", ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"])
def test_integer_tokens_at_the_limits(dt):
    info = np.iinfo(dt)
    for v in (info.min, info.max, 0, 1, -1 if info.min < 0 else 0):
        got = codec.decode(_int_doc(dt, str(v)))
        assert got.dtype == np.dtype(dt) and int(got[0]) == v
    for v in (int(info.min) - 1, int(info.max) + 1):
        want = "negative integer in an unsigned array" if v < 0 and info.min == 0 else f"out of range for {dt}"
        if v > np.iinfo(np.uint64).max or v < np.iinfo(np.int64).min:
            want = "negative integer" if v < 0 and info.min == 0 else "out of range for"
        with pytest.raises(DecodeError, match=want):
            codec.decode(_int_doc(dt, str(v)))


@pytest.mark.compiled_codec  # (the reference codec words these errors and lays rows out its own way)
@pytest.mark.parametrize("dt", ["int64", "uint64", "int8", "uint8"])
def test_integer_token_errors(dt):
    unsigned = dt.startswith("u")
    cases = {
        "1.0": "fraction or exponent", "1e3": "fraction or exponent", "-2E+1": "fraction or exponent",
        "1.": "expected an integer", "1e": "expected an integer", "-": "expected an integer",
        "+1": "expected an integer", "x": "expected an integer", "01": "expected ']'",
        "18446744073709551616": "out of range for", "99999999999999999999999": "out of range for",
        "-9223372036854775809": "negative integer" if unsigned else "out of range for",
        "-1": "negative integer" if unsigned else None, "-00": "expected ']'",
    }
    for token, want in cases.items():
        if want is None:
            assert int(codec.decode(_int_doc(dt, token))[0]) == int(token)
            continue
        with pytest.raises(DecodeError, match=want):
            codec.decode(_int_doc(dt, token))
    assert int(codec.decode(_int_doc(dt, "-0"))[0]) == 0  # "-0" is zero in any integer array
    if dt == "uint64":
        assert int(codec.decode(_int_doc(dt, "18446744073709551615"))[0]) == 2 ** 64 - 1
        assert int(codec.decode(_int_doc(dt, "10000000000000000000"))[0]) == 10 ** 19
    if dt == "int64":
        assert int(codec.decode(_int_doc(dt, "-9223372036854775808"))[0]) == -2 ** 63
        assert int(codec.decode(_int_doc(dt, "0000"[:1]))[0]) == 0


# ----------------------------------------------------------------- arrays written on several threads

def _many_arrays_doc():
    rng = np.random.default_rng(7)
    nan_payload = rng.standard_normal(900)
    nan_payload[450] = _py_float(0x7FF8_0000_0000_0002)
    trees = [{"nodes": make_struct(NODE_DTYPE, 300 + 37 * i, seed=i), "values": rng.standard_normal((300 + 37 * i, 1, 2)),
              "n": i, "small": np.arange(i % 4, dtype=np.int32)} for i in range(24)]
    return {"head": "x", "trees": trees, "mid": [rng.integers(-5, 5, 5000).astype(">i8"), 2.5, np.float32(1.25)],
            "payload_nan": nan_payload, "f16": rng.standard_normal((64, 20)).astype(np.float16),
            "bools": rng.integers(0, 2, 3000).astype(bool), "tail": [None, True]}


@pytest.mark.parametrize("strict", [False, True])
def test_deferred_arrays_are_spliced_in_place(strict):
    """Text of middle-sized arrays (a forest's node tables) is written after the walk, on several threads,
    and spliced in: the document must be byte for byte what the reference writer gives, and a payload NaN in
    one of them still turns that one array to base64."""
    doc = _many_arrays_doc()
    data = codec.encode(doc, strict=strict)
    assert data == _pycodec.encode(doc, False, -1, strict)
    back = codec.decode(data)
    assert B_DATA in json.loads(data)["payload_nan"]
    assert_identical(back["payload_nan"], doc["payload_nan"])
    for t, u in zip(back["trees"], doc["trees"]):
        assert_array_identical(t["nodes"], u["nodes"])
        assert_array_identical(t["values"], u["values"])
    indented = codec.encode(doc, strict=strict, indent=2)
    json.loads(indented)
    back2 = codec.decode(indented)
    assert_array_identical(back2["mid"][0], doc["mid"][0])
    assert_array_identical(back2["trees"][23]["nodes"], doc["trees"][23]["nodes"])
    assert_array_identical(back2["f16"], doc["f16"])


@pytest.mark.compiled_codec  # (the reference codec words these errors and lays rows out its own way)
def test_walk_failing_while_deferred_arrays_are_written():
    """A worker starts on the deferred arrays' text while the walk goes on (once they hold 64K numbers): a walk
    that fails after that raises its own error, naming the path, with the worker stopped; whatever the array at
    which it fails, and the next encode of the same document is whole."""
    doc = _many_arrays_doc()
    for at in (3, 12, 23):
        bad = dict(doc, trees=[dict(t) for t in doc["trees"]])
        bad["trees"][at]["n"] = object()
        with pytest.raises(EncodeError, match=rf"cannot encode a value of type object at \$\.trees\[{at}\]\.n"):
            codec.encode(bad)
    assert codec.encode(doc) == _pycodec.encode(doc, False, -1, False)


@pytest.mark.compiled_codec  # (the reference codec words these errors and lays rows out its own way)
def test_indented_deferred_arrays_keep_their_layout_while_the_walk_writes_dtype_specs():
    """The worker writes deferred arrays during the walk, while the walk writes each new dtype's spec compact (it
    sets its indent to -1 meanwhile): the worker must write with the indent asked for, not the walk's. Every row of
    an indented 2-d array on a line of its own, in every one of many encodes (the worker once read the walk's
    indent: compact rows in 4 encodes of 30)."""
    rng = np.random.default_rng(5)
    doc = []
    for _ in range(100):
        doc.append(rng.standard_normal((600, 3)))  # deferred (1800 numbers; the worker starts at the 37th)
        doc.append(np.arange(5, dtype=np.dtype(">i4")))  # a dtype object of its own: its spec written by the walk
    for _ in range(20):
        data = codec.encode({"x": doc}, indent=2)
        assert not re.search(rb"\],\[", data)
    for got, want in zip(codec.decode(data)["x"], doc):
        assert_array_identical(got, want)


def test_large_array_written_while_deferred_arrays_wait():
    """While the walk writes an array the writer splits across threads itself, the worker started on the deferred
    arrays takes no job; it takes them again after, and the document is the reference writer's, byte for byte."""
    doc = _many_arrays_doc()
    rng = np.random.default_rng(11)
    doc = {"first": doc["trees"][:20], "big": rng.standard_normal((20000, 10)), "then": doc["trees"][20:],
           "big2": rng.integers(-10 ** 9, 10 ** 9, 150_000), "tail": doc["mid"]}
    data = codec.encode(doc)
    assert data == _pycodec.encode(doc, False, -1, False)
    back = codec.decode(data)
    assert_array_identical(back["big"], doc["big"])
    assert_array_identical(back["then"][3]["nodes"], doc["then"][3]["nodes"])


def test_large_document_joined_on_threads():
    """A document of many middle-sized arrays, 15 MB in all, is joined from its pieces on several threads, each
    copying one stretch of it: the same bytes as the arrays' own documents put together, and it reads back."""
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(20000 + i) if i % 3 else rng.integers(-10 ** 12, 10 ** 12, 30000 + i)
              for i in range(40)]
    data = codec.encode(arrays)
    assert len(data) > 12 << 20
    assert data == b"[" + b",".join(codec.encode(a) for a in arrays) + b"]"
    for got, want in zip(codec.decode(data), arrays):
        assert_array_identical(got, want)


@pytest.mark.parametrize("strict", [False, True])
def test_deferred_base64_arrays_are_spliced_in_place(strict):
    """Base64 of every array of 16 KiB and more is left out of the walk's text and encoded at the end straight
    into the document, in pieces on several threads: the document is byte for byte the reference writer's, and
    reads back, compact and indented (non-contiguous and big-endian arrays too)."""
    doc = _many_arrays_doc()
    rng = np.random.default_rng(3)
    doc["big"] = [rng.standard_normal(70000), rng.integers(0, 255, 50000).astype(np.uint8), np.arange(3.0),
                  rng.standard_normal(500_001),  # 4 MB: encoded in pieces of 1.5 MiB, on several threads
                  rng.standard_normal((3000, 4))[::2, ::-1],  # not contiguous
                  rng.integers(-9, 9, 3000).astype(">i8"),  # big-endian
                  (np.arange(16385) % 251).astype(np.uint8)]  # 16385 bytes: a last group of 2 bytes
    for indent in (None, 2):
        data = codec.encode(doc, arrays="base64", strict=strict, indent=indent)
        if indent is None:  # (indented, the two writers lay a shape's list out differently)
            assert data == _pycodec.encode(doc, True, -1, strict)
        back = codec.decode(data)
        for got, want in zip(back["big"], doc["big"]):
            assert_array_identical(got, want)
        for t, u in zip(back["trees"], doc["trees"]):
            assert_array_identical(t["nodes"], u["nodes"])
            assert_array_identical(t["values"], u["values"])


def test_decode_threads_argument():
    assert codec.decode(b"[1]", threads=64) == [1]
    for bad in (-1, 65, 10 ** 6, 1.5, True, "2"):
        with pytest.raises(ValueError, match=r"threads must be an int in \[0, 64\]"):
            codec.decode(b"[1]", threads=bad)


# ------------------------------------------------------------------ prepared arrays (codec.text_encoder)

def _prepared_cases():
    """Documents with arrays of every kind the walk defers (and some it does not), the same objects in the tree."""
    rng = np.random.default_rng(7)
    nodes = np.zeros(300, dtype=[("l", "<i8"), ("r", "<i8"), ("f", "<i8"), ("t", "<f8"), ("i", "<f8"),
                                 ("n", "<i8"), ("w", "<f8"), ("m", "u1")])
    nodes["t"] = rng.standard_normal(300)
    shared = rng.standard_normal(2000)
    big_endian = rng.standard_normal((40, 30)).astype(">f8")
    odd = rng.standard_normal(3000).astype(np.float32)
    odd[::7] = np.nan
    odd[1::11] = -np.inf
    return {
        "shared twice": {"a": shared, "b": [shared, {"c": shared}]},
        "dtypes": {"nodes": nodes, "be": big_endian, "f32": odd, "i8": rng.integers(-128, 127, 5000, dtype=np.int8),
                   "u64": rng.integers(0, 2**63, 700, dtype=np.uint64), "bool": rng.random(600) < 0.5,
                   "f16": rng.standard_normal(900).astype(np.float16)},
        "small and large": {"small": np.arange(10.0), "edge": np.arange(512.0), "large": rng.standard_normal(200_000),
                            "2d": rng.standard_normal((300, 4)), "scalar": np.float64(2.5)},
    }


def _walk_arrays(v, out):
    if isinstance(v, np.ndarray):
        out.append(v)
    elif isinstance(v, dict):
        for x in v.values():
            _walk_arrays(x, out)
    elif isinstance(v, list):
        for x in v:
            _walk_arrays(x, out)
    return out


@pytest.mark.compiled_codec
@pytest.mark.parametrize("case", list(_prepared_cases()))
def test_prepared_arrays_give_the_same_document(case):
    doc = _prepared_cases()[case]
    want = _pycodec.encode(doc, False, -1, False)  # the reference writer's bytes
    assert codec.encode(doc) == want
    enc = codec.text_encoder()
    queued = [a for a in _walk_arrays(doc, []) if enc.prepare(a)]
    assert enc.prepared == len({id(a) for a in queued})
    assert codec.encode(doc, encoder=enc) == want
    assert enc.reused == len(queued) > 0  # every prepared array met (a shared one each time) and taken as written
    small = doc.get("small")
    if small is not None:  # what the walk does not defer is not prepared
        assert not codec.text_encoder().prepare(small) and not codec.text_encoder().prepare(doc["large"])


@pytest.mark.compiled_codec
def test_a_prepared_array_the_document_does_not_hold_is_left_out():
    rng = np.random.default_rng(3)
    held, dropped = rng.standard_normal(5000), rng.standard_normal(5000)
    enc = codec.text_encoder()
    assert enc.prepare(dropped) and enc.prepare(held) and enc.prepare(held)  # (twice: queued once)
    assert enc.prepared == 2
    doc = {"x": held}
    assert codec.encode(doc, encoder=enc) == _pycodec.encode(doc, False, -1, False) and enc.reused == 1
    enc = codec.text_encoder()
    enc.prepare(dropped)
    assert codec.encode({"x": 1}, encoder=enc) == codec.encode({"x": 1}) and enc.reused == 0


@pytest.mark.compiled_codec
def test_a_prepared_encoder_writes_one_document_with_its_own_settings():
    a = np.arange(5000.0)
    enc = codec.text_encoder()
    enc.prepare(a)
    with pytest.raises(ValueError, match="other settings"):
        codec.encode({"a": a}, arrays="base64", encoder=enc)
    with pytest.raises(ValueError, match="other settings"):
        codec.encode({"a": a}, indent=2, encoder=enc)
    assert codec.encode({"a": a}, encoder=enc) == codec.encode({"a": a})
    with pytest.raises(ValueError, match="already written"):
        codec.encode({"a": a}, encoder=enc)
    assert not enc.prepare(np.arange(5000.0))  # (a spent encoder takes nothing)
    with pytest.raises(TypeError):
        codec.encode({"a": a}, encoder=object())
    with pytest.raises(EncodeError, match=r"at \$\.b"):  # the walk's errors, with prepared arrays queued
        enc = codec.text_encoder()
        enc.prepare(a)
        codec.encode({"a": a, "b": object()}, encoder=enc)


@pytest.mark.compiled_codec
def test_prepared_encoders_dropped_unused_stop_their_workers():
    import gc
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(20_000) for _ in range(8)]  # enough for the early worker to start
    refs = [sys.getrefcount(a) for a in arrays]
    for _ in range(20):
        enc = codec.text_encoder()
        for a in arrays:
            enc.prepare(a)
        del enc, a  # (the worker may be mid-array: joined, and the arrays let go)
        gc.collect()
    assert [sys.getrefcount(a) for a in arrays] == refs
    enc = codec.text_encoder()
    assert all(enc.prepare(a) for a in arrays) and enc.prepared == len(arrays)
    enc.close()  # the same, without waiting for the encoder to go
    assert enc.prepared == 0 and [sys.getrefcount(a) for a in arrays] == refs
    with pytest.raises(ValueError, match="already written"):
        codec.encode({"a": arrays}, encoder=enc)
    assert codec.encode({"a": arrays}) == _pycodec.encode({"a": arrays}, False, -1, False)

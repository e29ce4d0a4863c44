"""Property tests (hypothesis) of milo_fast.codec.

- arrays: every carried dtype (simple, big-endian, structured incl. generated ones) x shapes (0-size and 0-d
  included) x memory layouts (C, Fortran, strided, negative strides) x random bit patterns, in both envelopes,
  strict and not, with and without indent: decode(encode(x)) is x, bit for bit;
- nested Python structures (big ints, any float bit pattern, unicode) round-trip exactly;
- the decoder reads what Python's json writes exactly as json.loads does;
- mutated documents raise DecodeError or decode, nothing else;
- differential: the compiled core's output read by the reference decoder and vice versa (skipped without
  milo_fast._core).
"""
from __future__ import annotations

import base64
import json
import math
import os
import struct
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from milo_fast import DecodeError, codec
from milo_fast import _pycodec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_codec as tc  # noqa: E402  (shared helpers: exact comparisons, edge values)

try:
    from milo_fast import _core
except ImportError:  # pragma: no cover
    _core = None

needs_core = pytest.mark.skipif(_core is None, reason="milo_fast._core is not built")

# MILO_PROPS_SCALE=N multiplies every property test's example count (a long run, not in CI: README, "Longer checks").
try:
    SCALE = int(os.environ.get("MILO_PROPS_SCALE", "1"))
except ValueError:
    SCALE = 0
if SCALE < 1:
    raise pytest.UsageError(f"MILO_PROPS_SCALE must be a positive integer, not {os.environ['MILO_PROPS_SCALE']!r}")


def _n(k: int) -> int:
    return k * SCALE


PROPS = settings(max_examples=_n(200), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.data_too_large])
FEW = settings(PROPS, max_examples=_n(100))

SIMPLE_FORMATS = tc.SIMPLE + tc.BIG


# ----------------------------------------------------------------- strategies

@st.composite
def struct_dtypes(draw):
    """Structured dtypes made of simple fields, in any order, with holes and trailing padding."""
    n = draw(st.integers(1, 5))
    names = draw(st.lists(st.text("abcdefgh_xyz", min_size=1, max_size=6), min_size=n, max_size=n, unique=True))
    formats = [draw(st.sampled_from(SIMPLE_FORMATS)) for _ in range(n)]
    order = draw(st.permutations(range(n)))
    offsets = [0] * n
    pos = 0
    for i in order:
        pos += draw(st.integers(0, 3))
        offsets[i] = pos
        pos += formats[i].itemsize
    itemsize = pos + draw(st.integers(0, 9))
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": itemsize})


any_dtype = st.one_of(st.sampled_from(SIMPLE_FORMATS), st.sampled_from(tc.STRUCT_DTYPES), struct_dtypes())
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)


def _fix_bools(raw: np.ndarray, dt: np.dtype) -> None:
    """A numpy bool holds 0 or 1: clear the other bits of every bool byte."""
    rows = raw.reshape(-1, dt.itemsize)
    fields = [(0, dt)] if dt.names is None else [(dt.fields[n][1], dt.fields[n][0]) for n in dt.names]
    for off, fdt in fields:
        if fdt.kind == "b":
            rows[:, off] &= 1


@st.composite
def arrays(draw, dtype=any_dtype):
    """(array in some memory layout, its C-ordered copy)."""
    dt = draw(dtype)
    shape = draw(shapes)
    n = math.prod(shape)
    how = draw(st.sampled_from(["bits", "edges"]))
    if how == "edges" and dt.names is None:
        vals = tc.edge_values(dt)
        idx = draw(st.lists(st.integers(0, len(vals) - 1), min_size=n, max_size=n))
        flat = vals[np.array(idx, dtype=np.intp)] if n else vals[:0]
    else:
        raw = np.frombuffer(draw(st.binary(min_size=n * dt.itemsize, max_size=n * dt.itemsize)), np.uint8).copy()
        _fix_bools(raw, dt)
        flat = raw.view(dt)
    want = flat.reshape(shape).copy()
    layout = draw(st.sampled_from(["C", "F", "strided", "reversed", "transposed"]))
    if layout == "F" or (layout == "transposed" and want.ndim):
        arr = np.array(want, order="F", copy=True) if layout == "F" else np.ascontiguousarray(want.T).T
    elif layout == "strided" and want.ndim:
        big = np.zeros(shape[:-1] + (shape[-1] * 2 + 1,), dt)
        big[..., 1::2] = want
        arr = big[..., 1::2]
    elif layout == "reversed" and want.ndim:
        rev = tuple(slice(None, None, -1) for _ in shape)
        arr = want[rev].copy()[rev]
    else:
        arr = want.copy()
    return arr, want


def _has_noncanonical_nan(a: np.ndarray) -> bool:
    fields = [a] if a.dtype.names is None else [a[n] for n in a.dtype.names]
    for f in fields:
        if f.dtype.kind != "f" or f.size == 0:
            continue
        nat = np.ascontiguousarray(f).astype(f.dtype.newbyteorder("="))
        bits = nat.view(tc.UINT[nat.dtype.itemsize])
        if (np.isnan(nat) & (bits != tc.CANON_NAN_BITS[nat.dtype.itemsize])).any():
            return True
    return False


def _float_from_bits(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


RESERVED_PREFIXES = ("pymiloed-", "milo-")
keys = st.text(max_size=8).filter(lambda k: not k.startswith(RESERVED_PREFIXES))
py_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                      st.integers(0, 2 ** 64 - 1).map(_float_from_bits),
                      st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1.7976931348623157e308, 0.1, 1e16, 1e-7]))
leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2 ** 200, 2 ** 200), py_floats,
                   st.text(max_size=20))
small_arrays = arrays(st.sampled_from(SIMPLE_FORMATS)).map(lambda p: p[1])
numpy_scalars = st.sampled_from(SIMPLE_FORMATS).flatmap(
    lambda dt: st.binary(min_size=dt.itemsize, max_size=dt.itemsize).map(
        lambda b, dt=dt: _scalar_from_bytes(b, dt)))


def _scalar_from_bytes(b: bytes, dt: np.dtype):
    raw = np.frombuffer(b, np.uint8).copy()
    _fix_bools(raw, dt)
    return raw.view(dt)[0]


trees = st.recursive(st.one_of(leaves, small_arrays, numpy_scalars),
                     lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(keys, kids, max_size=4)),
                     max_leaves=25)

plain_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(keys, kids, max_size=4)), max_leaves=30)

modes = st.sampled_from(["text", "base64"])
indents = st.sampled_from([None, None, 0, 1, 2, 4])


# ----------------------------------------------------------------- arrays

@PROPS
@given(pair=arrays(), mode=modes, strict=st.booleans(), indent=indents)
def test_array_roundtrip(pair, mode, strict, indent):
    arr, want = pair
    data = codec.encode(arr, arrays=mode, strict=strict, indent=indent)
    tc.assert_array_identical(codec.decode(data), want)
    env = json.loads(data)
    if mode == "text" and not _has_noncanonical_nan(want):
        assert tc.T_LIST in env, "an array without NaN payloads is written as text in text mode"
    else:
        assert tc.B_DATA in env
        assert len(base64.b64decode(env[tc.B_DATA])) == want.nbytes
    if strict:
        tc.loads_strict(data)


numpy_dtypes = st.one_of(hnp.boolean_dtypes(), hnp.integer_dtypes(endianness="?"),
                         hnp.unsigned_integer_dtypes(endianness="?"), hnp.floating_dtypes(endianness="?"))


@PROPS
@given(arr=hnp.arrays(numpy_dtypes, shapes), mode=modes, strict=st.booleans(), fortran=st.booleans())
def test_hypothesis_numpy_arrays_roundtrip(arr, mode, strict, fortran):
    """hypothesis.extra.numpy's own arrays and values (subnormals, -0.0, NaN, +-inf, extremes)."""
    want = arr.copy()
    if fortran:
        arr = np.array(arr, order="F", copy=True)
    data = codec.encode(arr, arrays=mode, strict=strict)
    tc.assert_array_identical(codec.decode(data), want)
    if mode == "text" and not _has_noncanonical_nan(want):
        assert tc.T_LIST in json.loads(data)
        if want.dtype.kind == "f":
            tc.check_text_tokens(want, data, strict)


@PROPS
@given(pair=arrays(st.sampled_from([np.dtype(d) for d in ["f2", "f4", "f8", ">f4", ">f8"]])), strict=st.booleans())
def test_float_text_is_shortest_and_plain_json(pair, strict):
    """Read by a plain JSON reader + numpy cast (as PyMilo reads), the text gives the same bits; floats are
    written with the fewest significant digits that do."""
    arr, want = pair
    assume(not _has_noncanonical_nan(want))
    data = codec.encode(arr, strict=strict)
    tc.check_text_tokens(want, data, strict)


@PROPS
@given(pair=arrays(), mode=modes)
def test_numpy_scalar_roundtrip(pair, mode):
    _, want = pair
    assume(want.size > 0)
    s = want.reshape(-1)[0]
    tc.assert_identical(codec.decode(codec.encode(s, arrays=mode)), s)
    tc.assert_identical(codec.decode(codec.encode([s, {"k": s}], arrays=mode)), [s, {"k": s}])


@FEW
@given(pair=arrays(), mode=modes)
def test_reencode_is_stable(pair, mode):
    """encode(decode(encode(x))) == encode(x): the document is a function of the values."""
    arr, want = pair
    first = codec.encode(arr, arrays=mode)
    assert codec.encode(codec.decode(first), arrays=mode) == first


# ----------------------------------------------------------------- Python structures

@PROPS
@given(obj=trees, mode=modes, strict=st.booleans(), indent=indents)
def test_nested_structures_roundtrip(obj, mode, strict, indent):
    data = codec.encode(obj, arrays=mode, strict=strict, indent=indent)
    tc.assert_identical(codec.decode(data), obj)
    if strict:
        tc.loads_strict(data)


@PROPS
@given(obj=plain_json, indent=st.sampled_from([None, 0, 2]), ascii_=st.booleans(),
       seps=st.sampled_from([None, (",", ":"), (" , ", " : ")]))
def test_reads_python_json_like_json_loads(obj, indent, ascii_, seps):
    text = json.dumps(obj, indent=indent, ensure_ascii=ascii_, separators=seps)
    tc.assert_identical(codec.decode(text.encode()), json.loads(text))
    tc.assert_identical(codec.decode(text), json.loads(text))


structural_text = st.text(alphabet='[]{}",\\:ab 1\u00e9\n', max_size=40)
listish = st.recursive(
    st.one_of(st.integers(), st.floats(allow_nan=False), structural_text, st.none()),
    lambda kids: st.one_of(st.lists(kids, max_size=6), st.dictionaries(structural_text, kids, max_size=3)),
    max_leaves=60)


@PROPS
@given(items=st.lists(listish, max_size=12), pad=st.integers(0, 40), indent=st.sampled_from([None, 0, 3]))
def test_list_under_array_key_read_like_json_loads(items, pad, indent):
    """The value of "pymiloed-ndarray-list" is first skipped by a fast bracket/string matcher (16 bytes at a
    time); when the object is no array envelope it must still read exactly as json.loads reads it, whatever
    brackets, quotes and escapes its strings hold and wherever they fall against 16-byte blocks."""
    obj = {"k" * pad: 1, "pymiloed-ndarray-list": items, "z": [items]}
    text = json.dumps(obj, indent=indent)
    tc.assert_identical(codec.decode(text.encode()), json.loads(text))
    bad = text[: text.rindex("]")]  # cut inside: an error, never a crash or a wrong value
    with pytest.raises(DecodeError):
        codec.decode(bad.encode())


@PROPS
@given(obj=plain_json)
def test_plain_json_written_like_json_dumps(obj):
    """Without arrays and non-finite floats, the output means what json.dumps's output means."""
    assert json.loads(codec.encode(obj)) == json.loads(json.dumps(obj))


# ----------------------------------------------------------------- robustness

_SEEDS = [
    {"a": np.arange(6.0).reshape(2, 3), "b": [1, "x", None, True, 2.5], "c": np.float32(-0.0)},
    [np.array([1, -2, 3], ">i4"), np.zeros((0, 2), np.uint8), tc.make_struct(tc.NODE_DTYPE, 2)],
    {"s": "é\u2028\"\\", "n": -(2 ** 70), "f": [math.nan, math.inf], "e": {}},
    np.array([[True, False]]),
]
SEED_DOCS = [codec.encode(o, arrays=m, strict=s, indent=i) for o in _SEEDS for m in ("text", "base64")
             for s in (False, True) for i in (None, 1)]

mutations = st.lists(st.tuples(st.sampled_from(["flip", "insert", "delete", "dup", "cut"]), st.integers(0, 10 ** 6),
                               st.sampled_from(list(b'[]{}",:0123456789-+.eE \\ntfuNIa\x00\xff') + [0x80, 0xc3])),
                     min_size=1, max_size=6)


def _mutate(doc: bytes, muts) -> bytes:
    b = bytearray(doc)
    for op, pos, byte in muts:
        if not b:
            break
        i = pos % len(b)
        if op == "flip":
            b[i] = byte
        elif op == "insert":
            b.insert(i, byte)
        elif op == "delete":
            del b[i]
        elif op == "dup":
            j = min(len(b), i + 1 + pos % 7)
            b[i:i] = b[i:j]
        elif op == "cut":
            del b[i:]
    return bytes(b)


@settings(PROPS, max_examples=_n(300))
@given(doc=st.sampled_from(SEED_DOCS), muts=mutations)
def test_mutated_documents_raise_only_decode_error(doc, muts):
    bad = _mutate(doc, muts)
    try:
        codec.decode(bad)
    except DecodeError as e:
        assert e.offset is None or 0 <= e.offset <= len(bad)


def _outcome(data: bytes, threads: int):
    try:
        return ("ok", codec.decode(data, threads=threads))
    except DecodeError as e:
        return ("error", str(e))


_MANY = {f"t{i}": {"nodes": tc.make_struct(tc.NODE_DTYPE, 40 + i, seed=i), "v": np.arange(30 + i, dtype=np.float64) / 3,
                   "i": np.arange(i, dtype=">i4"), "s": "x" * i} for i in range(12)}
MANY_DOCS = [codec.encode(_MANY, arrays=m, indent=i) for m in ("text", "base64") for i in (None, 1)]


@settings(PROPS, max_examples=_n(150))
@given(doc=st.sampled_from(MANY_DOCS + SEED_DOCS), muts=mutations, threads=st.sampled_from([2, 3, 5]))
def test_decode_on_threads_matches_one_thread(doc, muts, threads):
    """With several threads, arrays are converted while the parser reads on (a pipeline); the value or the
    error (message, offset, path) must be exactly what one thread gives, for valid and mutated documents."""
    bad = _mutate(doc, muts)
    one, many = _outcome(bad, 1), _outcome(bad, threads)
    assert one[0] == many[0], (one, many)
    if one[0] == "error":
        assert one[1] == many[1]
    else:
        tc.assert_identical(one[1], many[1])
    tc.assert_identical(codec.decode(doc, threads=threads), codec.decode(doc, threads=1))


@PROPS
@given(data=st.binary(max_size=200))
def test_random_bytes_raise_only_decode_error(data):
    try:
        codec.decode(data)
    except DecodeError:
        pass


# ----------------------------------------------------------------- differential: core vs reference

@needs_core
@PROPS
@given(pair=arrays(), b64=st.booleans(), strict=st.booleans())
def test_differential_arrays(pair, b64, strict):
    arr, want = pair
    from_core = _core.encode(arr, b64, -1, strict)
    from_ref = _pycodec.encode(arr, b64, -1, strict)
    tc.assert_array_identical(_pycodec.decode(from_core, 512, 0), want)
    tc.assert_array_identical(_core.decode(from_ref, 512, 0), want)
    assert (tc.T_LIST in json.loads(from_core)) == (tc.T_LIST in json.loads(from_ref)), "same envelope choice"


@needs_core
@PROPS
@given(obj=trees, b64=st.booleans(), strict=st.booleans())
def test_differential_structures(obj, b64, strict):
    from_core = _core.encode(obj, b64, 2, strict)
    from_ref = _pycodec.encode(obj, b64, -1, strict)
    tc.assert_identical(_pycodec.decode(from_core, 512, 0), obj)
    tc.assert_identical(_core.decode(from_ref, 512, 0), obj)


@needs_core
@settings(PROPS, max_examples=_n(300))
@given(doc=st.sampled_from(SEED_DOCS), muts=mutations)
def test_differential_mutated_documents(doc, muts):
    """On any input the two decoders agree: both fail with DecodeError, or both give the same value."""
    bad = _mutate(doc, muts)
    outcomes = []
    for dec in (_core.decode, _pycodec.decode):
        try:
            outcomes.append(("ok", dec(bad, 512, 0)))
        except DecodeError:
            outcomes.append(("error", None))
    assert outcomes[0][0] == outcomes[1][0], f"core {outcomes[0][0]}, reference {outcomes[1][0]} on {bad!r}"
    if outcomes[0][0] == "ok":
        tc.assert_identical(outcomes[0][1], outcomes[1][1])


@needs_core
@pytest.mark.parametrize("dtype, raw", [
    ("?", b"\xd1\x00"),                                        # found by test_differential_mutated_documents
    ("?", b"\x00\x02"),
    ([("a", "<i2"), ("b", "?")], b"\x05\x00\x01" + b"\x07\x00\x03"),   # a bool field of a structured row
])
def test_bool_bytes_other_than_0_1_rejected_by_both_decoders(dtype, raw):
    """A base64 bool byte other than 0 or 1 is a DecodeError in the core and in the reference decoder alike."""
    dt = np.dtype(dtype)
    good = np.zeros(len(raw) // dt.itemsize, dtype=dt)
    doc = json.loads(_core.encode(good, True, -1, False))
    key = next(k for k in doc if k.endswith("-b64"))
    doc[key] = base64.b64encode(raw).decode()
    bad = json.dumps(doc).encode()
    for dec in (_core.decode, _pycodec.decode):
        with pytest.raises(DecodeError, match="bool"):
            dec(bad, 512, 0)


@needs_core
@pytest.mark.parametrize("text", ["AB1=", "AAE=", "AB==", "AR=="])
def test_nonzero_base64_padding_bits_rejected_by_both_decoders(text):
    """docs/format.md: base64 with non-zero padding bits is not milo_fast's; found by the differential test
    (a flipped last character before '=' decoded by the reference, refused by the core)."""
    n = len(base64.b64decode(text))
    canonical = base64.b64encode(base64.b64decode(text)).decode()
    doc = json.dumps({"milo-ndarray-dtype": "uint8", "milo-ndarray-shape": [n], "milo-ndarray-b64": text}).encode()
    for dec in (_core.decode, _pycodec.decode):
        if text == canonical:
            assert dec(doc, 512, 0).shape == (n,)
        else:
            with pytest.raises(DecodeError, match="base64"):
                dec(doc, 512, 0)

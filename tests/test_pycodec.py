"""The pure-Python reference codec (milo_fast._pycodec: MILO_FAST_PURE=1, or no compiled core) on the inputs where
it used to differ from the compiled one in kind, not only in wording: hostile documents (duplicate envelope keys,
deep nesting, huge integer literals, huge declared shapes, too many dimensions or fields), byte offsets after
multi-byte characters, float32/float16 rounding from the decimal itself, and values the writer must refuse (cycles,
very deep nesting, ints too long for int -> str). tests/test_codec.py runs whole under MILO_FAST_PURE=1 but for
the exact wording of four integer-token messages, which would take a tokenizer of its own."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from milo_fast import _pycodec
from milo_fast.errors import DecodeError, EncodeError

T = ("pymiloed-ndarray-list", "pymiloed-ndarray-dtype", "pymiloed-ndarray-shape")


def dec(doc, max_depth=512):
    return _pycodec.decode(doc.encode() if isinstance(doc, str) else doc, max_depth, 0)


def text_env(values, dtype, shape) -> str:
    return json.dumps(dict(zip(T, (values, dtype, shape))))


def test_duplicate_keys_win_last_except_in_an_envelope():
    assert dec(b'{"a": 1, "b": 2, "a": 3}') == {"a": 3, "b": 2}
    for doc in ['{"pymiloed-ndarray-list": [1], "pymiloed-ndarray-dtype": "int8", "pymiloed-ndarray-shape": [1],'
                ' "pymiloed-ndarray-list": [2]}',
                '{"milo-ndarray-b64": "AQ==", "milo-ndarray-dtype": "uint8", "milo-ndarray-shape": [1],'
                ' "milo-ndarray-shape": [1]}']:
        with pytest.raises(DecodeError, match="duplicate key"):
            dec(doc)


def test_nesting_is_bounded_and_the_bound_can_be_raised():
    deep = "[" * 600 + "1" + "]" * 600
    with pytest.raises(DecodeError, match="nesting deeper than 512") as e:
        dec(deep)
    assert e.value.offset == 512
    assert dec("[" * 20 + '"[[[["' + "]" * 20, max_depth=20) is not None  # brackets in strings do not count
    got = dec("[" * 1500 + "1" + "]" * 1500, max_depth=2000)
    for _ in range(1500):
        got = got[0]
    assert got == 1
    with pytest.raises(DecodeError):
        dec('{"a":' * 100000 + "1" + "}" * 100000)


def test_huge_literals_are_read_or_refused_as_decode_errors():
    assert dec("9" * 4000) == int("9" * 4000)
    for doc in ["[" + "7" * 5000 + "]", "[1e999999999999999999999999]x", "[1e400]"]:
        with pytest.raises(DecodeError) as e:
            dec(doc)
        assert isinstance(e.value.offset, int) and 0 <= e.value.offset <= len(doc)
    with pytest.raises(DecodeError, match="out of the range of float64"):
        dec(text_env([10 ** 400], "float64", [1]))


@pytest.mark.parametrize("doc", [
    text_env([], {"names": ["a"], "formats": ["int8"], "offsets": [0], "itemsize": 65536}, [10 ** 7]),
    text_env([[]], "float64", [1, 10 ** 10]),
    text_env([[1.0] * 10000] + [[]] * 999999, "float64", [10 ** 6, 10 ** 4]),  # 80 GB claimed by 3 MB
    text_env([], "float64", [0] * 65),
    text_env([], {"names": [f"f{i}" for i in range(1025)], "formats": ["int8"] * 1025}, [0]),
    json.dumps({"milo-ndarray-b64": "AAAA", "milo-ndarray-dtype": "uint8", "milo-ndarray-shape": [3],
                "milo-data-structure": "numpy.generic"}),
], ids=["big_items", "nested_claim", "ragged_claim", "65_dims", "1025_fields", "b64_generic_with_shape"])
def test_hostile_envelopes_are_decode_errors_before_any_allocation(doc):
    with pytest.raises(DecodeError):
        dec(doc)


def test_a_ragged_list_is_reported_where_it_breaks():
    with pytest.raises(DecodeError, match=r"declared shape at \$\.pymiloed-ndarray-list\[1\]"):
        dec(text_env([[1, 2], [3]], "int64", [2, 2]))


@pytest.mark.parametrize("doc,offset", [('["é", @]', 7), ('{"日本": 1,}', 13), ('["😀"] x', 9)])
def test_syntax_error_offsets_are_bytes(doc, offset):
    with pytest.raises(DecodeError) as e:
        dec(doc)
    assert e.value.offset == offset and f"byte {offset}" in str(e.value)


def test_float32_and_float16_are_rounded_once_from_the_decimal():
    got = dec(text_env([1.0], "float32", [1]).replace("1.0", "1.00000005960464477539062500000000001"))
    assert got.view(np.uint32)[0] == 0x3F800001  # (through float64 it would round to 1.0)
    got = dec(text_env([1.0], "float16", [1]).replace("1.0", "1.00048828125000000000000001"))
    assert got.view(np.uint16)[0] == 0x3C01
    got = dec(text_env([-0.0, 0.0, 3.4028235e38, 65504.0], "float32", [4]))
    assert got.view(np.uint32).tolist() == [0x80000000, 0, 0x7F7FFFFF, 0x477FE000]
    rng = np.random.default_rng(0)
    for dt, e in ((np.float16, 3), (np.float32, 30)):
        values = rng.standard_normal(200) * 10.0 ** rng.integers(-e, e, 200)
        got = dec(text_env([float(v) for v in values], np.dtype(dt).name, [200]))
        want = np.array([np.array(repr(float(v)), dtype=dt) for v in values])  # numpy's own correctly rounded parse
        assert got.dtype == dt and np.array_equal(got.view(f"u{np.dtype(dt).itemsize}"),
                                                  want.view(f"u{np.dtype(dt).itemsize}"))
    with pytest.raises(DecodeError, match="out of the range of float32"):
        dec(text_env([1e39], "float32", [1]))
    assert type(dec("[0.5]")[0]) is float  # (plain floats outside arrays)


def test_the_writer_refuses_what_it_cannot_write_with_encode_errors():
    cyc: list = []
    cyc.append(cyc)
    deep: list = []
    for _ in range(100000):
        deep = [deep]
    shared = [1, 2]
    assert dec(_pycodec.encode({"a": shared, "b": shared}, False, -1, False)) == {"a": [1, 2], "b": [1, 2]}
    with pytest.raises(EncodeError, match=r"cycle at \$\[0\]"):
        _pycodec.encode(cyc, False, -1, False)
    with pytest.raises(EncodeError, match="nests too deeply"):
        _pycodec.encode(deep, False, -1, False)
    if hasattr(sys, "get_int_max_str_digits") and sys.get_int_max_str_digits():
        with pytest.raises(EncodeError, match=r"\$\.a\[0\]"):
            _pycodec.encode({"a": [10 ** 5000]}, False, -1, False)
    assert sys.getrecursionlimit() < 20000  # restored after each decode

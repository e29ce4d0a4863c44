"""milo_fast.codec against orjson and pickle on the same arrays (see conftest.py for the data sets).

Groups, one table each with --benchmark-group-by=group: {f64,i64,forest}-{encode,decode}. Contenders:

- milo_text:   codec.encode(x, arrays="text") / codec.decode(doc)   (PyMilo envelope, shortest float text)
- milo_base64: codec.encode(x, arrays="base64") / codec.decode(doc)
- orjson:      orjson.dumps(x, option=OPT_SERIALIZE_NUMPY) / np.asarray(orjson.loads(doc)).
               orjson cannot serialize structured arrays: the forest's node tables are converted with
               .tolist() inside the timed encode, and rebuilt with np.array(list of tuples, dtype) inside the
               timed decode (what a user of orjson would have to do); its documents carry no dtype or shape.
- pickle:      pickle.dumps(x, protocol=5) / pickle.loads(doc)

Every benchmark checks its result after timing: milo_fast and pickle bit-exactly (dtype, shape, bytes),
orjson for equal values.
"""
from __future__ import annotations

import pickle

import numpy as np
import orjson
import pytest

from milo_fast import codec

OPT = orjson.OPT_SERIALIZE_NUMPY


def _same(got, want):
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
        return
    assert isinstance(got, np.ndarray) and got.dtype == want.dtype and got.shape == want.shape
    if want.dtype.names is None:
        assert got.tobytes() == np.ascontiguousarray(want).tobytes()
    else:
        for n in want.dtype.names:
            assert np.ascontiguousarray(got[n]).tobytes() == np.ascontiguousarray(want[n]).tobytes()


# ----------------------------------------------------------------- orjson adapters

def _orjson_dumps(x):
    if isinstance(x, list):  # the forest: structured node tables are not supported by orjson
        return orjson.dumps([a.tolist() if a.dtype.names else a for a in x], option=OPT)
    return orjson.dumps(x, option=OPT)


def _orjson_loads(doc, like):
    obj = orjson.loads(doc)
    if isinstance(like, list):
        return [np.array([tuple(r) for r in o], dtype=w.dtype) if w.dtype.names else np.asarray(o, dtype=w.dtype)
                for o, w in zip(obj, like)]
    return np.asarray(obj)


def _orjson_same(got, want):
    if isinstance(want, list):
        for g, w in zip(got, want):
            _orjson_same(g, w)
        return
    assert got.shape == want.shape and got.dtype == want.dtype
    if want.dtype.names is None:
        assert np.array_equal(got, want)
    else:
        for n in want.dtype.names:
            assert np.array_equal(got[n], want[n])


# ----------------------------------------------------------------- the benchmarks

DATA = ["f64", "i64", "forest"]


@pytest.fixture(params=DATA)
def data(request):
    return request.param, request.getfixturevalue(request.param)


def _group(benchmark, name, op):
    benchmark.group = f"{name}-{op}"


def test_encode_milo_text(benchmark, data):
    name, x = data
    _group(benchmark, name, "encode")
    doc = benchmark(codec.encode, x, arrays="text")
    _same(codec.decode(doc), x)


def test_encode_milo_base64(benchmark, data):
    name, x = data
    _group(benchmark, name, "encode")
    doc = benchmark(codec.encode, x, arrays="base64")
    _same(codec.decode(doc), x)


def test_encode_orjson(benchmark, data):
    name, x = data
    _group(benchmark, name, "encode")
    doc = benchmark(_orjson_dumps, x)
    _orjson_same(_orjson_loads(doc, x), x)


def test_encode_pickle(benchmark, data):
    name, x = data
    _group(benchmark, name, "encode")
    doc = benchmark(pickle.dumps, x, protocol=5)
    _same(pickle.loads(doc), x)


def test_decode_milo_text(benchmark, data):
    name, x = data
    _group(benchmark, name, "decode")
    doc = codec.encode(x, arrays="text")
    _same(benchmark(codec.decode, doc), x)


def test_decode_milo_base64(benchmark, data):
    name, x = data
    _group(benchmark, name, "decode")
    doc = codec.encode(x, arrays="base64")
    _same(benchmark(codec.decode, doc), x)


def test_decode_orjson(benchmark, data):
    name, x = data
    _group(benchmark, name, "decode")
    doc = _orjson_dumps(x)
    _orjson_same(benchmark(_orjson_loads, doc, x), x)


def test_decode_pickle(benchmark, data):
    name, x = data
    _group(benchmark, name, "decode")
    doc = pickle.dumps(x, protocol=5)
    _same(benchmark(pickle.loads, doc), x)


# ------------------------------------------------ base64 decode and pickle.loads, call for call

INTERLEAVED_PAIRS = 200


def test_decode_base64_vs_pickle_interleaved(benchmark, data):
    """The two decoders one call after the other, 200 times: both are bound by memory bandwidth here (pickle.loads
    of an array is one memcpy), so the benchmarks above, run minutes apart, can put either ahead by the machine's
    drift alone. Alternating calls see the same machine. The row's time is one pair; extra_info holds each side's
    median and min, and the summary prints pickle's median over milo's."""
    import time
    name, x = data
    benchmark.group = f"{name}-base64-vs-pickle"
    doc, pdoc = codec.encode(x, arrays="base64"), pickle.dumps(x, protocol=5)
    milo_t, pickle_t = [], []

    def pair():
        t = time.perf_counter()
        a = codec.decode(doc)
        milo_t.append(time.perf_counter() - t)
        del a
        t = time.perf_counter()
        b = pickle.loads(pdoc)
        pickle_t.append(time.perf_counter() - t)
        return b

    _same(benchmark.pedantic(pair, rounds=INTERLEAVED_PAIRS, iterations=1, warmup_rounds=1), x)
    _same(codec.decode(doc), x)
    milo_t.sort()
    pickle_t.sort()
    info = benchmark.extra_info
    info["milo_base64_median"], info["pickle_median"] = milo_t[len(milo_t) // 2], pickle_t[len(pickle_t) // 2]
    info["milo_base64_min"], info["pickle_min"] = milo_t[0], pickle_t[0]

"""Bounded resources: each limit of a load (document size, nesting depth, array elements, total allocation) has a
default and a keyword on load / loads / Import; one byte or element over the limit is refused with a LoadError
naming it, exactly at the limit loads. A small document never makes the loader reserve a large amount of memory
(checked in a subprocess under an address-space limit)."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import milo_fast
from milo_fast import DecodeError, LoadError, codec, limits

warnings.filterwarnings("ignore")

rng = np.random.RandomState(0)
X = rng.randn(30, 3)


@pytest.fixture(scope="module")
def knn():
    from sklearn.neighbors import KNeighborsRegressor
    return KNeighborsRegressor(n_neighbors=2, algorithm="kd_tree").fit(X, X[:, 0].copy())  # no strided view


def _entries(blob: bytes, tmp_path, **kw):
    """The same document through load, loads, Import(file) and Import(json_dump)."""
    path = tmp_path / "m.json"
    path.write_bytes(blob)
    return [lambda: milo_fast.load(path, **kw), lambda: milo_fast.loads(blob, **kw),
            lambda: milo_fast.Import(str(path), **kw).to_model(),
            lambda: milo_fast.Import(json_dump=blob, **kw).to_model()]


def _array_totals(blob: bytes):
    """Elements and bytes of the arrays in a document, counted independently of milo_fast.limits."""
    elements = nbytes = 0
    stack = [codec.decode(blob, max_depth=1000)]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, (np.ndarray, np.generic)):
            elements += v.size
            nbytes += v.nbytes
    return elements, nbytes


def test_defaults():
    assert (limits.DEFAULT_MAX_SIZE, limits.DEFAULT_MAX_DEPTH, limits.DEFAULT_MAX_ELEMENTS,
            limits.DEFAULT_MAX_ALLOC) == (4 << 30, 2048, 1 << 31, 8 << 30)
    for f in (milo_fast.load, milo_fast.loads, milo_fast.Import.__init__):
        kw = f.__kwdefaults__
        assert kw["max_size"] == 4 << 30 and kw["max_depth"] == 2048
        assert kw["max_elements"] == 1 << 31 and kw["max_alloc"] == 8 << 30


@pytest.mark.parametrize("arrays", ["text", "base64"])
def test_max_size(knn, tmp_path, arrays):
    blob = milo_fast.dumps(knn, arrays=arrays)
    for call in _entries(blob, tmp_path, max_size=len(blob) - 1):
        with pytest.raises(LoadError, match=f"max_size={len(blob) - 1}"):
            call()
    for call in _entries(blob, tmp_path, max_size=len(blob)):
        assert call().n_samples_fit_ == 30


def test_max_size_applies_to_the_decompressed_document(knn, tmp_path):
    text = milo_fast.dumps(knn)
    for compress in ("gzip", "zstd"):
        blob = milo_fast.dumps(knn, compress=compress)
        assert len(blob) < len(text) - 100
        for call in _entries(blob, tmp_path, max_size=len(text) - 1):
            with pytest.raises(LoadError, match="max_size"):
                call()
        for call in _entries(blob, tmp_path, max_size=len(text)):
            call()
    bomb = gzip.compress(b" " * (50 << 20), mtime=0)  # 50 MB in 50 KB: stopped at max_size, not inflated whole
    with pytest.raises(LoadError, match="max_size"):
        milo_fast.loads(bomb, max_size=1 << 20)


def _depth(v) -> int:
    """Nesting of JSON containers ([1] is 1 deep)."""
    best, stack = 0, [(v, 1)]
    while stack:
        x, d = stack.pop()
        if isinstance(x, (dict, list)):
            best = max(best, d)
            stack.extend((y, d + 1) for y in (x.values() if isinstance(x, dict) else x))
    return best


def test_max_depth(knn, tmp_path):
    blob = milo_fast.dumps(knn, arrays="text")
    depth = _depth(json.loads(blob))
    for call in _entries(blob, tmp_path, max_depth=depth - 1):
        with pytest.raises(DecodeError, match=f"nesting deeper than {depth - 1}"):
            call()
    for call in _entries(blob, tmp_path, max_depth=depth):
        call()


def test_max_depth_default_and_ceiling(knn):
    hdr = json.loads(milo_fast.dumps(knn))["milo_fast"]
    hdr["model_type"] = "builtins.list"

    def nested(n):
        return ('{"milo_fast":' + json.dumps(hdr) + ',"data":' + "[" * n + "1" + "]" * n + "}").encode()
    assert milo_fast.loads(nested(2040)) is not None       # 2047 levels with the envelope: under the default
    with pytest.raises(DecodeError, match="nesting deeper than 2048"):
        milo_fast.loads(nested(2100))
    assert milo_fast.loads(nested(5000), max_depth=8192) is not None
    for bad in (8193, 0, -1, 2.5, True, None):
        with pytest.raises(ValueError):
            milo_fast.loads(nested(3), max_depth=bad)


def test_max_elements(knn, tmp_path):
    blob = milo_fast.dumps(knn, arrays="base64")
    n, _ = _array_totals(blob)
    assert n >= 90  # _fit_X alone has 90
    for call in _entries(blob, tmp_path, max_elements=n - 1):
        with pytest.raises(LoadError, match=f"max_elements={n - 1}.*at \\$\\.data"):
            call()
    for call in _entries(blob, tmp_path, max_elements=n):
        call()


def test_max_alloc(knn, tmp_path):
    blob = milo_fast.dumps(knn, arrays="base64")
    _, nbytes = _array_totals(blob)
    for call in _entries(blob, tmp_path, max_alloc=nbytes - 1):
        with pytest.raises(LoadError, match=f"max_alloc={nbytes - 1}"):
            call()
    for call in _entries(blob, tmp_path, max_alloc=nbytes):
        call()


def _with_kw_args(value) -> bytes:
    """A LinearRegression document with an extra attribute holding ``value`` (a JSON-ready node)."""
    from sklearn.linear_model import LinearRegression
    doc = json.loads(milo_fast.dumps(LinearRegression().fit(X, X[:, 0])))
    doc["data"]["state"]["extra_"] = value
    return json.dumps(doc).encode()


def test_allocations_the_text_does_not_carry_are_charged_before_they_happen():
    wide = _with_kw_args({"milo:ndarray": "<U1000000", "shape": [10], "items": ["a"] * 10})  # 40 MB from 300 bytes
    assert len(wide) < 3000
    with pytest.raises(LoadError, match="max_alloc=10000000"):
        milo_fast.loads(wide, max_alloc=10_000_000)
    assert milo_fast.loads(wide, max_alloc=50_000_000).extra_.dtype == np.dtype("<U1000000")
    strided = _with_kw_args({"milo:strided": json.loads(codec.encode(np.zeros(1000))), "strides": [400],
                             "offset": 0})  # 8 KB of values in a 400 KB buffer
    with pytest.raises(LoadError, match="max_alloc=200000"):
        milo_fast.loads(strided, max_alloc=200_000)
    assert milo_fast.loads(strided, max_alloc=1_000_000).extra_.strides == (400,)
    items = _with_kw_args({"milo:ndarray": "|O", "shape": [50], "items": list(range(50))})
    with pytest.raises(LoadError, match="max_elements=40"):
        milo_fast.loads(items, max_elements=40)


def test_pymilo_arrays_built_from_lists_are_charged():
    from sklearn.linear_model import LinearRegression
    doc = json.loads(milo_fast.dumps(LinearRegression().fit(X, X[:, 0]), format="pymilo"))
    doc["data"]["extra_"] = {"pymiloed-ndarray-list": ["a"] * 10, "pymiloed-ndarray-dtype": "<U999999",
                             "pymiloed-ndarray-shape": [10], "pymiloed-data-structure": "numpy.ndarray"}
    blob = json.dumps(doc).encode()
    with pytest.raises(LoadError, match="max_alloc=1000000"):
        milo_fast.loads(blob, max_alloc=1_000_000)
    assert milo_fast.loads(blob, max_alloc=100_000_000).extra_.shape == (10,)


@pytest.mark.parametrize("kw", [{"max_size": 0}, {"max_elements": -1}, {"max_alloc": "1G"}, {"max_size": 1.5}])
def test_bad_limit_arguments(knn, kw):
    blob = milo_fast.dumps(knn)
    with pytest.raises(ValueError, match=next(iter(kw))):
        milo_fast.loads(blob, **kw)
    with pytest.raises(ValueError, match=next(iter(kw))):
        milo_fast.Import(json_dump=blob, **kw)


_SMALL_ALLOC = r"""
import resource, sys, warnings
warnings.simplefilter("ignore")
import milo_fast
vm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize:")][0] * 1024
cap = vm + (256 << 20)
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
path, blob = sys.argv[1], open(sys.argv[1], "rb").read()
m1 = milo_fast.load(path)
m2 = milo_fast.Import(path).to_model()
m3 = milo_fast.loads(blob)
with open(path, "rb") as f:
    m4 = milo_fast.load(f)
print("ok", type(m1).__name__, type(m4).__name__)
"""


def test_small_documents_reserve_little_memory(knn, tmp_path):
    """Loading a 10 KB file with the default limits (max_size 4 GiB) works with 256 MiB of address space to spare:
    the reader never reserves max_size bytes up front."""
    path = tmp_path / "small.json"
    path.write_bytes(milo_fast.dumps(knn))
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", _SMALL_ALLOC, str(path)], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok KNeighborsRegressor KNeighborsRegressor")


def test_file_larger_than_max_size_is_not_read(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "wb") as f:
        f.truncate(3 << 30)  # sparse: 3 GiB that would have to be read
    with pytest.raises(LoadError, match="larger than max_size=1048576"):
        milo_fast.load(path, max_size=1 << 20)


_OOM_SCRIPT = r"""
import resource, sys
import numpy as np
from milo_fast import codec
x = np.random.default_rng(0).standard_normal(3_000_000)
doc = codec.encode(x[:1_000_000])
with open("/proc/self/status") as f:
    vm = next(int(l.split()[1]) for l in f if l.startswith("VmSize:")) * 1024
limit = vm + int(sys.argv[1]) * (1 << 20)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
for f in (lambda: codec.encode(x), lambda: codec.encode([x[i:i + 20000] for i in range(0, x.size, 20000)]),
          lambda: codec.encode(x, arrays="base64"), lambda: codec.decode(doc)):
    try:
        f()
        print("ok")
    except MemoryError:
        print("MemoryError")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux's")
@pytest.mark.parametrize("headroom_mb", [8, 40, 90, 160])
def test_out_of_memory_is_a_memory_error_never_a_crash(headroom_mb):
    """The writer and reader allocate on worker threads too: running out of address space at any point must
    raise MemoryError in the caller (nothing may escape a thread and terminate the process)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    r = subprocess.run([sys.executable, "-c", _OOM_SCRIPT, str(headroom_mb)], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    outcomes = r.stdout.split()
    assert len(outcomes) == 4 and set(outcomes) <= {"ok", "MemoryError"}, r.stdout

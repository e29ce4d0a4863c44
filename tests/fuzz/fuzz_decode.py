"""atheris fuzz target over milo_fast.codec.decode.

Contract: for any bytes, decode() returns a value or raises milo_fast.DecodeError. Any other exception
(or a crash, a hang, a sanitizer report) is a bug.

    python tests/fuzz/fuzz_decode.py -atheris_runs=20000 tests/fuzz/corpus     # the short CI run
    python tests/fuzz/fuzz_decode.py -max_total_time=3600 -jobs=1 tests/fuzz/corpus   # a long run

Flags are libFuzzer's (-runs, -max_len, -max_total_time, -dict, ...) plus atheris' -atheris_runs=N (N inputs
in total, corpus included). The seed corpus directories given on the command line are only read: new inputs
go to a temporary directory (or to the directory in MILO_FUZZ_CORPUS_OUT, if set), so the committed corpus
stays as it is.

MILO_FUZZ_ROUNDTRIP=1 adds an oracle: whatever decodes must encode, and decode back identical (bit-exact).
MILO_FUZZ_THREADS=1 adds another: decoding on 3 threads (arrays converted while the parser reads on) gives
exactly the value or the error message of one thread.
MILO_FAST_PURE=1 fuzzes the pure-Python reference codec instead of the compiled core.
See tests/fuzz/README.md.
"""
from __future__ import annotations

import os
import struct
import sys
import tempfile

import atheris
import numpy as np  # imported before instrumentation: numpy itself is not the target

with atheris.instrument_imports(include=["milo_fast"]):
    from milo_fast import DecodeError, codec

ROUNDTRIP = os.environ.get("MILO_FUZZ_ROUNDTRIP") == "1"
THREADS = os.environ.get("MILO_FUZZ_THREADS") == "1"


def _same(a, b) -> bool:
    """Exact equality of decoded values: types, dtypes, shapes, bits."""
    if isinstance(a, np.ndarray) or isinstance(a, np.generic):
        if type(a) is not type(b) or a.dtype != b.dtype or np.shape(a) != np.shape(b):
            return False
        aa, bb = np.asarray(a), np.asarray(b)
        if a.dtype.names is None:
            return aa.tobytes() == bb.tobytes()
        return all(np.ascontiguousarray(aa[n]).tobytes() == np.ascontiguousarray(bb[n]).tobytes()
                   for n in a.dtype.names)
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


# The compiled core is not coverage-instrumented (that needs clang, see README.md), so libFuzzer would see
# almost no coverage and shrink the corpus to a couple of bytes. These two instrumented functions give it a
# signal instead: one edge per kind of value decoded and per kind of error raised.

@atheris.instrument_func
def _value_features(v, depth: int = 0) -> None:
    if depth > 8:
        return
    if isinstance(v, (np.ndarray, np.generic)):
        dt = v.dtype
        if dt.names is not None:
            if len(dt.names) > 4:
                pass
            if dt.itemsize > sum(dt.fields[n][0].itemsize for n in dt.names):
                pass
        elif dt.kind == "f":
            if dt.itemsize == 2:
                pass
            elif dt.itemsize == 4:
                pass
            if np.isnan(v).any():
                pass
            if np.isinf(v).any():
                pass
        elif dt.kind == "i":
            pass
        elif dt.kind == "u":
            pass
        elif dt.kind == "b":
            pass
        if dt.byteorder == ">":
            pass
        if isinstance(v, np.generic):
            return
        if v.ndim == 0:
            pass
        elif v.ndim == 1:
            pass
        elif v.ndim == 2:
            pass
        else:
            pass
        if v.size == 0:
            pass
        return
    if isinstance(v, dict):
        if not v:
            return
        for k, x in list(v.items())[:6]:
            if k.startswith("pymiloed-"):
                pass
            elif k.startswith("milo-"):
                pass
            _value_features(x, depth + 1)
    elif isinstance(v, list):
        if not v:
            return
        for x in v[:6]:
            _value_features(x, depth + 1)
    elif isinstance(v, bool) or v is None:
        pass
    elif isinstance(v, int):
        if v.bit_length() > 64:
            pass
        elif v < 0:
            pass
    elif isinstance(v, float):
        if v != v:
            pass
        elif v in (float("inf"), float("-inf")):
            pass
        elif v == 0:
            pass
    elif isinstance(v, str):
        if not v.isascii():
            pass


@atheris.instrument_func
def _error_features(msg: str) -> None:
    m = msg.lower()
    for word in ("utf-8", "shape", "base64", "dtype", "depth", "nest", "duplicate", "range", "integer", "float",
                 "bool", "string", "escape", "number", "expected", "trailing", "end of", "structured", "field",
                 "envelope", "bits", "key", "size", "allocate", "surrogate", "control"):
        if word in m:
            break


def _threads_agree(data: bytes, one) -> None:
    try:
        many = codec.decode(data, threads=3)
    except DecodeError as e:
        many = e
    if isinstance(one, DecodeError) or isinstance(many, DecodeError):
        if str(one) != str(many):
            raise AssertionError(f"1 thread: {one!r}; 3 threads: {many!r}; input {data[:200]!r}")
    elif not _same(one, many):
        raise AssertionError(f"3 threads decoded another value than 1 thread from {data[:200]!r}")


def TestOneInput(data: bytes) -> None:
    try:
        value = codec.decode(data, threads=1) if THREADS else codec.decode(data)
    except DecodeError as e:
        if THREADS:
            _threads_agree(data, e)
        off = e.offset
        if off is not None and not (isinstance(off, int) and 0 <= off <= len(data)):
            raise AssertionError(f"DecodeError offset {off!r} outside the {len(data)}-byte input: {e}")
        _error_features(str(e))
        return
    _value_features(value)
    if THREADS:
        _threads_agree(data, value)
    if ROUNDTRIP:
        for mode in ("text", "base64"):
            again = codec.decode(codec.encode(value, arrays=mode))
            if not _same(again, value):
                raise AssertionError(f"round trip through {mode} changed the value decoded from {data[:200]!r}")


def _argv_with_scratch_corpus(argv: list[str]) -> list[str]:
    """libFuzzer writes new inputs into the first corpus directory: put a scratch directory first. Crash
    reproducers go to a temporary directory (printed by libFuzzer) unless -artifact_prefix is given."""
    flags = [a for a in argv[1:] if a.startswith("-")]
    dirs = [a for a in argv[1:] if not a.startswith("-")]
    if not any(f.startswith("-artifact_prefix=") for f in flags):
        flags.append("-artifact_prefix=" + tempfile.mkdtemp(prefix="milo-fuzz-artifacts-") + os.sep)
    if dirs:
        out = os.environ.get("MILO_FUZZ_CORPUS_OUT") or tempfile.mkdtemp(prefix="milo-fuzz-corpus-")
        os.makedirs(out, exist_ok=True)
        dirs = [out] + dirs
    return [argv[0]] + flags + dirs


def main() -> None:
    atheris.Setup(_argv_with_scratch_corpus(sys.argv), TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

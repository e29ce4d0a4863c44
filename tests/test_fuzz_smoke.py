"""The fuzz seed corpus through codec.decode in-process: each file (and each truncation of it) decodes or
raises DecodeError, nothing else. Plus a few-hundred-run smoke of the atheris harness itself."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from milo_fast import DecodeError, codec

HERE = Path(__file__).parent
CORPUS = sorted((HERE / "fuzz" / "corpus").iterdir())


def test_corpus_is_there():
    assert len(CORPUS) >= 30
    assert any(p.name.startswith("bad_") for p in CORPUS) and any(p.name.startswith("pymilo_") for p in CORPUS)


def _decode_or_decode_error(data: bytes):
    try:
        return codec.decode(data)
    except DecodeError as e:
        assert e.offset is None or 0 <= e.offset <= len(data), (e.offset, len(data), e)
        return e


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_seed_file(path):
    data = path.read_bytes()
    got = _decode_or_decode_error(data)
    if path.name.startswith("bad_"):
        assert isinstance(got, DecodeError), f"{path.name} should be rejected"
    elif not path.name.startswith("any_"):  # any_: either outcome is allowed (e.g. float overflow)
        assert not isinstance(got, DecodeError), f"{path.name}: {got}"
    from_str = _decode_or_decode_error(data.decode("utf-8", "surrogatepass"))  # the str input path
    assert isinstance(from_str, DecodeError) == isinstance(got, DecodeError)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_seed_file_truncations(path):
    data = path.read_bytes()
    step = max(1, len(data) // 300)
    for n in range(0, len(data), step):
        _decode_or_decode_error(data[:n])


def test_harness_runs():
    pytest.importorskip("atheris")
    proc = subprocess.run([sys.executable, str(HERE / "fuzz" / "fuzz_decode.py"), "-atheris_runs=300",
                           str(HERE / "fuzz" / "corpus")], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done 300 in" in proc.stderr, proc.stderr[-2000:]

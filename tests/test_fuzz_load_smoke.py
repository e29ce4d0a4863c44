"""The load fuzz target's contract, in-process on its seed corpus (tests/fuzz/corpus_load/): every seed loads
through loads and Import(json_dump=...); truncations and structural mutants of the seeds load or raise a
LoadError, nothing else; the fuzzer's past findings (tests/fuzz/regress_load/) are refused cleanly; plus a
3000-run smoke of the atheris harness itself (tests/fuzz/fuzz_load.py)."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import milo_fast
from milo_fast import LoadError

HERE = Path(__file__).parent
FUZZ = HERE / "fuzz"
CORPUS = sorted((FUZZ / "corpus_load").iterdir())
LIMITS = dict(max_size=1 << 22, max_elements=1 << 22, max_alloc=256 << 20)  # as in fuzz_load.py

sys.path.insert(0, str(FUZZ))
from json_mutator import mutate_json  # noqa: E402
from load_oracle import loads_outcome  # noqa: E402

warnings.filterwarnings("ignore")


def _load(data: bytes, import_api: bool):
    if import_api:
        return milo_fast.Import(json_dump=data, **LIMITS).to_model()
    return milo_fast.loads(data, **LIMITS)


def _contract(data: bytes):
    """Load ``data`` through both entry points: a model or a LoadError (a ValueError), never anything else."""
    outcomes = []
    for import_api in (False, True):
        try:
            outcomes.append(type(_load(data, import_api)).__name__)
        except LoadError as e:
            assert isinstance(e, ValueError)
            outcomes.append(type(e).__name__)
    assert outcomes[0] == outcomes[1], (outcomes, data[:300])  # both entry points agree
    # building while the arrays are still being converted (what loads does with documents of 1 MiB and more)
    # changes nothing, message for message
    assert loads_outcome(data, 2, LIMITS) == loads_outcome(data, 1, LIMITS), data[:300]
    return outcomes[0]


def test_corpus_is_there():
    names = [p.name for p in CORPUS]
    assert len(names) >= 40
    assert sum(".pymilo." in n for n in names) >= 10 and sum(".b64." in n for n in names) >= 10
    assert any(n.endswith(".zst") for n in names) and any(n.endswith(".gz") for n in names)
    kinds = {n.split(".")[0] for n in names}
    assert {"tree", "forest", "hgb", "knn_kd", "svc", "birch", "pipeline", "kmeans"} <= kinds


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_seed_loads(path):
    data = path.read_bytes()
    got = _contract(data)
    assert not got.endswith("Error"), f"{path.name}: {got}"


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_seed_truncations(path):
    data = path.read_bytes()
    step = max(1, len(data) // 40)
    for n in range(0, len(data), step):
        _contract(data[:n])


@pytest.mark.parametrize("path", [p for p in CORPUS if p.suffix == ".json"], ids=lambda p: p.name)
def test_structural_mutants(path):
    """A few dozen structural mutants per seed (the fuzzer's own mutator, fixed seeds)."""
    doc = json.loads(path.read_bytes())
    rng = random.Random(path.name)
    refused = 0
    for _ in range(30):
        mutant = json.loads(json.dumps(doc))
        for _ in range(rng.choice([1, 2, 3])):
            mutate_json(mutant, rng)
        try:
            data = json.dumps(mutant, separators=(",", ":")).encode()
        except ValueError:
            continue
        refused += _contract(data).endswith("Error")
    assert refused > 0  # the mutator reaches the checks


REGRESSIONS = sorted((FUZZ / "regress_load").iterdir())


@pytest.mark.parametrize("path", REGRESSIONS, ids=lambda p: p.name)
def test_fuzz_findings_stay_fixed(path):
    """Inputs the long runs found (each raised something other than a LoadError): now refused cleanly."""
    assert _contract(path.read_bytes()).endswith("Error")


def test_harness_runs():
    pytest.importorskip("atheris")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(FUZZ / "fuzz_load.py"), "-atheris_runs=3000", "-timeout=60",
                           str(FUZZ / "corpus_load")], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done 3000 in" in proc.stderr, proc.stderr[-2000:]

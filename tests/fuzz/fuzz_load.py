"""atheris fuzz target over milo_fast.loads and milo_fast.Import(json_dump=...).to_model().

Contract: for any bytes, loading returns a model or raises milo_fast.LoadError (a MiloError and a ValueError:
DecodeError, ValidationError, UntrustedTypeError, SignatureError are its subclasses). Any other exception, a
crash, a hang, an allocation beyond the limits below or a sanitizer report is a bug. The input is the document
(JSON text, zstd or gzip); its length picks the entry point (even: loads, odd: Import), so the seed corpus is
plain documents and mutations reach both.

    python tests/fuzz/fuzz_load.py -atheris_runs=3000 tests/fuzz/corpus_load            # the short CI run
    python tests/fuzz/fuzz_load.py -max_total_time=3600 -timeout=30 -rss_limit_mb=3072 tests/fuzz/corpus_load

Flags are libFuzzer's plus atheris' -atheris_runs=N, as for fuzz_decode.py; the seed directories are only read
(new inputs go to a temporary directory, or to $MILO_FUZZ_CORPUS_OUT).

Mutations: half are libFuzzer's byte mutations, half are structural (the input parsed as JSON, one value
replaced, deleted, duplicated or grafted from elsewhere in the document, numbers set to boundary values, names
set to planted ones such as os.system), so that mutants get past the parser into the audit, the transporters
and the validators. MILO_FUZZ_BYTES=1 keeps byte mutations only.

MILO_FUZZ_PREDICT=1 adds an oracle for validated state: every model that loads is called (predict,
predict_proba, decision_function, transform, score_samples, apply, decision_path, kneighbors) on a small
input of its width. Those calls may raise (a loaded model can be a bad model) but must not crash the process,
hang or write out of bounds: that would be compiled code fed state the validators let through.
MILO_FUZZ_DEFER=1 adds a differential oracle: every even-length input (the loads entry point) is loaded again
with its arrays converted while the model is built (what loads does with documents of 1 MiB and more), and
both loads must end the same way, with the same message.
See tests/fuzz/README.md.
"""
from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import warnings

import atheris
import numpy as np  # imported before instrumentation: numpy, scipy and scikit-learn are not the target
import scipy  # noqa: F401
import sklearn  # noqa: F401

with atheris.instrument_imports(include=["milo_fast"]):
    import milo_fast
    from milo_fast import LoadError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from json_mutator import mutate_json  # noqa: E402
from load_oracle import loads_outcome  # noqa: E402

PREDICT = os.environ.get("MILO_FUZZ_PREDICT") == "1"
DEFER = os.environ.get("MILO_FUZZ_DEFER") == "1"
STRUCTURED = os.environ.get("MILO_FUZZ_BYTES") != "1"
LIMITS = dict(max_size=1 << 22, max_elements=1 << 22, max_alloc=256 << 20)
METHODS = ("predict", "predict_proba", "decision_function", "transform", "score_samples", "apply", "decision_path",
           "kneighbors")

warnings.simplefilter("ignore")


def load(data: bytes):
    """The model in ``data`` through the entry point its length picks; LoadError for a refused document."""
    if len(data) & 1:
        return milo_fast.Import(json_dump=data, **LIMITS).to_model()
    return milo_fast.loads(data, **LIMITS)


def exercise(model) -> None:
    """Call the model's output methods on a few rows of its width; exceptions are fine (a loaded model may be a
    bad model, its properties may raise), crashes and hangs are not."""
    try:
        n = getattr(model, "n_features_in_", 3)
    except Exception:  # noqa: BLE001
        n = 3
    if not isinstance(n, (int, np.integer)) or not 0 < n <= 4096:
        return
    X = np.linspace(-2.0, 2.0, 4 * int(n)).reshape(4, int(n))
    for name in METHODS:
        try:
            getattr(model, name)(X)
        except Exception:  # noqa: BLE001 - only crashes are findings
            pass


@atheris.instrument_func
def _outcome_features(ok: bool, msg: str) -> None:
    if ok:
        return
    m = msg.lower()
    for word in ("untrusted", "allow-list", "expected", "tree", "node", "shape", "dtype", "depth", "max_",
                 "signature", "encrypted", "header", "format_version", "marker", "milo:", "pymilo", "parameter",
                 "columns", "unexpected key", "ref", "base64", "utf-8"):
        if word in m:
            break


def TestOneInput(data: bytes) -> None:
    if DEFER and not len(data) & 1:
        whole, deferred = loads_outcome(data, 1, LIMITS), loads_outcome(data, 2, LIMITS)
        if whole != deferred:
            raise AssertionError(f"deferred load differs: {deferred} vs {whole}")
    try:
        model = load(data)
    except LoadError as e:
        _outcome_features(False, str(e))
        return
    _outcome_features(True, "")
    if PREDICT:
        exercise(model)


def CustomMutator(data: bytes, max_size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    if STRUCTURED and rng.random() < 0.5:
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, (dict, list)):
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                mutate_json(doc, rng)
            try:
                out = json.dumps(doc, separators=(",", ":")).encode()
            except (ValueError, RecursionError, TypeError):
                out = b""
            if out and len(out) <= max_size:
                return out
    return atheris.Mutate(data, max_size)


def _argv_with_scratch_corpus(argv: list[str]) -> list[str]:
    """As fuzz_decode.py: new inputs to a scratch directory first in the list, reproducers to a temporary
    directory unless -artifact_prefix is given."""
    flags = [a for a in argv[1:] if a.startswith("-")]
    dirs = [a for a in argv[1:] if not a.startswith("-")]
    if not any(f.startswith("-artifact_prefix=") for f in flags):
        flags.append("-artifact_prefix=" + tempfile.mkdtemp(prefix="milo-fuzz-load-artifacts-") + os.sep)
    if dirs and all(os.path.isdir(d) for d in dirs):  # files: reproducers to run once, no corpus
        out = os.environ.get("MILO_FUZZ_CORPUS_OUT") or tempfile.mkdtemp(prefix="milo-fuzz-load-corpus-")
        os.makedirs(out, exist_ok=True)
        dirs = [out] + dirs
    return [argv[0]] + flags + dirs


def main() -> None:
    atheris.Setup(_argv_with_scratch_corpus(sys.argv), TestOneInput, custom_mutator=CustomMutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

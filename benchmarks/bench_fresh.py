"""Loading in a fresh process: what a command-line tool, a worker or a server pays to load a model once.

    python -m pytest benchmarks/bench_fresh.py --benchmark-only --benchmark-group-by=group \
        --benchmark-columns=min,median,rounds

bench_models.py loads the same model over and over in one process: from the second round on, every format
finds memory that earlier rounds freed, and which format glibc's heap favours then depends on the run's
history (pickle.loads of the 100-tree forest has taken 9 ms and 26 ms in two such processes). Here each round
starts a new interpreter that imports what its format needs and reads the file into memory, then waits; only
the load itself is timed (the parent writes "go" on a pipe and waits for the child's answer, about 0.1 ms
of the time). Every page the load touches is a fresh page for every contender alike. After timing, each child
predicts on unseen data and the parent checks the predictions bit for bit.

Groups are "<model> fresh load". MILO_BENCH_NO_PYMILO=1 leaves PyMilo out (seconds per load).
"""
from __future__ import annotations

import hashlib
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

from bench_models import _rounds, saved

MODELS = ["random_forest", "hist_gradient_boosting", "mlp"]
FORMATS = ["pickle", "joblib", "milo_text", "milo_base64", "pymilo", "skops"]


def digest(pred: np.ndarray) -> str:
    """What a child answers for its model's predictions and the parent checks (the children run this source)."""
    return hashlib.sha256(pred.tobytes()).hexdigest() + " " + str(pred.dtype)


# The child's set-up (shared with bench_repeat.py): imports what its format needs, reads the blob, picks `load`.
CHILD_SETUP = r"""
import hashlib, io, os, pickle, sys
import numpy as np
""" + inspect.getsource(digest) + r"""
import sklearn.ensemble, sklearn.neural_network, sklearn.tree
fmt, blob_path, x_path = sys.argv[1:4]
blob = open(blob_path, "rb").read()
if fmt == "pickle":
    load = pickle.loads
elif fmt == "joblib":
    import joblib
    load = lambda b: joblib.load(io.BytesIO(b))
elif fmt.startswith("milo"):
    import milo_fast
    load = milo_fast.loads
elif fmt == "pymilo":
    import pymilo
    load = lambda b: pymilo.Import(json_dump=b).to_model()
elif fmt == "skops":
    import skops.io as sio
    load = lambda b: sio.loads(b, trusted=sio.get_untrusted_types(data=b))
if fmt == "pymilo":
    blob = blob.decode()
"""

# The child: set up, says "ready"; on "go" loads the blob and says "done"; then answers with a digest of the
# loaded model's predictions on the X_new it is given.
CHILD = CHILD_SETUP + r"""
out, inp = sys.stdout.buffer, sys.stdin.buffer
out.write(b"ready\n"); out.flush()
inp.readline()
model = load(blob)
out.write(b"done\n"); out.flush()
out.write((digest(model.predict(np.load(x_path))) + "\n").encode()); out.flush()
"""


def ask_load(proc, fmt) -> None:
    """Tell a child of CHILD_SETUP to load ("go") and wait for its "done"."""
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if line != b"done\n":
        raise RuntimeError(f"the {fmt} child failed to load: {line!r}")


def child_files(tmp_path, name, fmt):
    """``(model, X_new, blob, child_args, env)`` for a child of CHILD_SETUP: the model saved by ``fmt`` in a file,
    X_new in another, and the environment that imports the milo_fast this run imports (tree or installed)."""
    model, X_new, blob = saved(name, fmt)
    blob_path, x_path = tmp_path / "model.bin", tmp_path / "x.npy"
    blob_path.write_bytes(blob.encode() if isinstance(blob, str) else blob)
    np.save(x_path, X_new)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return model, X_new, blob, [fmt, str(blob_path), str(x_path)], env


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", MODELS)
def test_fresh_load(benchmark, tmp_path, name, fmt):
    model, X_new, blob, args, env = child_files(tmp_path, name, fmt)
    children, digests = [], []

    def finish_last():  # the previous child's check, outside the timed region and before the next child starts
        if children and len(digests) < len(children):
            proc = children[-1]
            digests.append(proc.stdout.readline().decode().strip())
            proc.stdin.close()
            proc.wait(timeout=60)

    def start():
        finish_last()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = proc.stdout.readline()
        if line != b"ready\n":
            proc.kill()
            raise RuntimeError(f"the {fmt} child did not start: {line!r}")
        children.append(proc)

    def go():
        ask_load(children[-1], fmt)

    benchmark.group = f"{name} fresh load"
    benchmark.extra_info["size_bytes"] = len(blob)
    try:
        benchmark.pedantic(go, setup=start, rounds=min(_rounds(fmt), 10), iterations=1, warmup_rounds=0)
        finish_last()
    finally:
        for proc in children:
            if proc.poll() is None:
                proc.kill()
    expected = digest(model.predict(X_new))
    assert digests and all(d == expected for d in digests), f"{fmt}: a fresh process predicted differently"

"""Loading the same model again and again in a process of its own: a server or worker that reloads its model.

    python -m pytest benchmarks/bench_repeat.py --benchmark-only --benchmark-group-by=group \
        --benchmark-columns=min,median,rounds

bench_models.py times every format in one process, where each load finds memory that other formats' loads freed;
bench_fresh.py times one load per new process, where every page is new. Here each format gets a process of its
own (the child of bench_fresh.py's set-up: it imports what its format needs and reads the file), which loads the
file once per round, so each load finds the heap that its own format's previous loads left, in one of two ways:

- ``replace``: ``model = load(blob)``, the new model replacing the previous one once it is loaded (a server
  swapping in a new model keeps serving the old one meanwhile);
- ``drop``: the previous model is dropped first, then the file loaded (a worker that frees one model before it
  loads the next).

The parent writes "go" on a pipe and waits for "done" (about 0.1 ms of each round); two warm-up rounds are not
counted. After timing, the child predicts on unseen data and the parent checks the predictions bit for bit.

The two ways are where glibc's heap treats the formats most differently. With ``drop``, the memory the last model
freed lies at the top of the heap and is given back to the system, so each load faults in fresh pages (on the
development VM, pickle.loads of the 100-tree forest then takes 30-60 ms, its 21 MB of node tables being fresh
memory every time); with ``replace`` the freed memory lies below the new model's and is reused (pickle: 12-15 ms).
milo_fast's load reuses its own memory within a load (it consumes the document: see README) and varies less.
Groups are "<model> repeated load (<way>)"; the summary prints issue 3's forest load targets for each.
MILO_BENCH_NO_PYMILO=1 leaves PyMilo out.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from bench_fresh import CHILD_SETUP, FORMATS, MODELS, ask_load, child_files, digest
from bench_models import _rounds

WARMUP = 2

# Set up, say "ready"; each "go" loads the blob (replacing the last model) and says "done"; "predict" answers
# with a digest of the last model's predictions on X_new.
CHILD = CHILD_SETUP + r"""
out, inp = sys.stdout.buffer, sys.stdin.buffer
out.write(b"ready\n"); out.flush()
drop = sys.argv[4] == "drop"
model = None
for line in inp:
    if line == b"go\n":
        if drop:
            model = None
        model = load(blob)
        out.write(b"done\n"); out.flush()
    elif line == b"predict\n":
        out.write((digest(model.predict(np.load(x_path))) + "\n").encode())
        out.flush()
        break
"""


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("way", ["replace", "drop"])
@pytest.mark.parametrize("name", MODELS)
def test_repeated_load(benchmark, tmp_path, name, way, fmt):
    model, X_new, blob, args, env = child_files(tmp_path, name, fmt)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *args, way], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        if line != b"ready\n":
            raise RuntimeError(f"the {fmt} child did not start: {line!r}")

        benchmark.group = f"{name} repeated load ({way})"
        benchmark.extra_info["size_bytes"] = len(blob)
        rounds = 2 if fmt == "pymilo" else 2 * _rounds(fmt)  # 30, skops 10
        benchmark.pedantic(ask_load, args=(proc, fmt), rounds=rounds, iterations=1, warmup_rounds=WARMUP)
        proc.stdin.write(b"predict\n")
        proc.stdin.flush()
        answer = proc.stdout.readline().decode().strip()
        proc.stdin.close()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert answer == digest(model.predict(X_new)), f"{fmt}: the reloaded model predicted differently"

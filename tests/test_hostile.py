"""The hostile corpus (tests/hostile/cases.json, written by tests/hostile/make_corpus.py): every case is loaded
in a subprocess under a 2 GiB address-space limit, in a fresh empty working directory, and must raise exactly the
error class it lists, with its message fragment, its JSON path (or, for file-level failures, the file's name),
and nothing else may happen: no file appears in the working directory (planted commands would create one), no
child process is started, and no module a planted name would import (webbrowser, smtplib, antigravity ...) is
imported. Cases run in a few batches (one interpreter each) to keep the whole file quick."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "hostile"
MANIFEST = json.loads((CORPUS / "cases.json").read_text())
ALL = MANIFEST["cases"]
CASES = [c for c in ALL if c["category"] != "controls"]
CONTROLS = [c for c in ALL if c["category"] == "controls"]
BATCHES = 3
LIMIT_AS = 2 << 30
TIMEOUT = 240

# Modules that no load may import: what planted names in the corpus would pull in, and other dangerous ones.
# (Modules milo_fast, numpy or scikit-learn import themselves, such as os, ctypes or subprocess, cannot be told
# apart this way: for those the corpus relies on the marker file and the child-process check.)
# The child imports every scikit-learn module first (all_estimators), and checks that none of these was imported.
NEVER_IMPORTED = ["webbrowser", "smtplib", "antigravity", "this", "pty", "ftplib", "telnetlib", "pdb", "shelve",
                  "xmlrpc.client", "http.server", "socketserver", "turtle", "tkinter", "sqlite3", "cProfile",
                  "poplib", "imaplib", "nntplib"]

_CHILD = r"""
import json, os, resource, sys, warnings
cap = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
corpus, cases, never = sys.argv[2], json.loads(sys.stdin.read()), json.loads(sys.argv[3])
warnings.simplefilter("ignore")
import milo_fast
from sklearn.utils import all_estimators
all_estimators()  # every scikit-learn module: what a load could legitimately import is imported already

keys = json.loads(open(os.path.join(corpus, "cases.json")).read())["keys"]


def arg(v):
    if isinstance(v, str) and v.startswith("@"):
        k = v[1:]
        return bytes.fromhex(keys[k]) if k.endswith("decrypt_key") else keys[k]
    return v


def children():
    out = []
    for tid in os.listdir("/proc/self/task"):
        try:
            out += open(f"/proc/self/task/{tid}/children").read().split()
        except OSError:
            pass
    return out


def run(entry, path, kwargs):
    if entry == "load":
        return milo_fast.load(path, **kwargs)
    if entry == "loads":
        return milo_fast.loads(open(path, "rb").read(), **kwargs)
    if entry == "Import":
        return milo_fast.Import(path, **kwargs).to_model()
    if entry == "Import_json":
        return milo_fast.Import(json_dump=open(path, "rb").read(), **kwargs).to_model()
    raise AssertionError(entry)


already = sorted(m for m in never if m in sys.modules)
results = []
for case in cases:
    path = os.path.join(corpus, case["file"])
    kwargs = {k: arg(v) for k, v in case["kwargs"].items()}
    for entry in case["entries"]:
        try:
            run(entry, path, kwargs)
            outcome = {"error": None, "message": "the document loaded"}
        except BaseException as e:
            outcome = {"error": type(e).__name__, "message": str(e)[:4000],
                       "is_load_error": isinstance(e, milo_fast.LoadError) and isinstance(e, ValueError)}
        outcome.update(name=case["name"], entry=entry, files=sorted(os.listdir(".")), children=children(),
                       imported=sorted(m for m in never if m in sys.modules))
        results.append(outcome)
print(json.dumps({"already": already, "results": results}))
"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Run every case (in BATCHES interpreters) and return {(name, entry): outcome}."""
    return _run_corpus(tmp_path_factory, ALL, {})


@pytest.fixture(scope="module")
def outcomes_deferred(tmp_path_factory):
    """The load and loads entries again, every document decoded deferred (arrays converted while the model is
    built; by default only documents of 1 MiB and more are)."""
    cases = [dict(c, entries=[e for e in c["entries"] if e in ("load", "loads")]) for c in ALL]
    return _run_corpus(tmp_path_factory, [c for c in cases if c["entries"]], {"MILO_FAST_DEFER_THREADS": "2"})


def _run_corpus(tmp_path_factory, cases, extra_env) -> dict:
    out: dict = {}
    for b in range(BATCHES):
        batch = cases[b::BATCHES]
        cwd = tmp_path_factory.mktemp(f"hostile-cwd-{b}")
        pythonpath = [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        import milo_fast  # the child imports the same milo_fast, whatever its working directory
        pythonpath.insert(0, str(Path(milo_fast.__file__).resolve().parent.parent))
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONPATH=os.pathsep.join(pythonpath), PYTHONHASHSEED="0", **extra_env)
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(LIMIT_AS), str(CORPUS), json.dumps(NEVER_IMPORTED)],
                              input=json.dumps(batch), capture_output=True, text=True, cwd=cwd, env=env,
                              timeout=TIMEOUT)
        assert proc.returncode == 0, f"batch {b} died ({proc.returncode}): {proc.stderr[-3000:]}"
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        assert got["already"] == [], f"importing milo_fast already imported {got['already']}: the check proves nothing"
        for r in got["results"]:
            out[(r["name"], r["entry"])] = r
        assert os.listdir(cwd) == [], f"batch {b} left files behind: {os.listdir(cwd)}"
    return out


def test_corpus_size_and_categories():
    assert len(CASES) >= 60
    cats = {c["category"] for c in CASES}
    for needed in ("malformed JSON", "wrong types in envelope fields", "shape/length mismatch", "huge declared shapes",
                   "deep nesting", "planted types and functions", "crafted tree tables",
                   "HistGradientBoosting predictors", "KD / ball trees", "libsvm state", "inconsistent attributes",
                   "Birch CF tree", "sparse matrices", "bounded resources", "signatures", "encryption",
                   "PyMilo documents"):
        assert needed in cats, needed
    assert len(CONTROLS) >= 20
    for c in ALL:
        assert (CORPUS / c["file"]).is_file(), c["file"]
    for c in CASES:
        assert c["error"] in ("LoadError", "DecodeError", "ValidationError", "UntrustedTypeError", "SignatureError")
        assert c["entries"] and set(c["entries"]) <= {"load", "loads", "Import", "Import_json"}, c["name"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case, outcomes):
    for entry in case["entries"]:
        r = outcomes[(case["name"], entry)]
        where = f"{case['name']} via {entry}: {r['error']}: {r['message'][:600]}"
        assert r["error"] == case["error"], where
        assert r["is_load_error"], where
        assert case["match"] in r["message"], where
        if case["path"]:
            assert case["path"] in r["message"], where
        if entry in ("load", "Import"):  # a file was read: its name is in the message
            assert Path(case["file"]).name in r["message"], where
        assert r["files"] == [], f"{where}\nfiles created: {r['files']}"
        assert r["children"] == [], f"{where}\nprocesses started: {r['children']}"
        assert r["imported"] == [], f"{where}\nmodules imported: {r['imported']}"


@pytest.mark.parametrize("case", CONTROLS, ids=[c["name"] for c in CONTROLS])
def test_control_loads(case, outcomes):
    """The documents the cases were made from load, under the same limits: each case fails because of its change."""
    for entry in case["entries"]:
        r = outcomes[(case["name"], entry)]
        assert r["error"] is None, f"{case['name']} via {entry}: {r['error']}: {r['message'][:600]}"
        assert r["files"] == [] and r["children"] == [] and r["imported"] == [], r


def test_deferred_decoding_changes_no_outcome(outcomes, outcomes_deferred):
    """Building the model while its arrays are still being converted (what load and loads do with documents of
    1 MiB and more) gives every case the same error, word for word, and every control the same success, with
    nothing else happening."""
    assert len(outcomes_deferred) >= 150
    for key, r in outcomes_deferred.items():
        want = outcomes[key]
        where = f"{key[0]} via {key[1]}"
        assert (r["error"], r["message"]) == (want["error"], want["message"]), where
        assert r["files"] == [] and r["children"] == [] and r["imported"] == [], where


def test_markers_would_be_seen(tmp_path):
    """The side-effect checks can fail: a planted command that did run would leave the marker, and would show up
    as a child process while it runs."""
    code = ("import os, subprocess, json; p = subprocess.Popen(['sleep', '2']); "
            "kids = open(f'/proc/self/task/{os.getpid()}/children').read().split(); "
            f"os.system('touch {MANIFEST['marker']}'); print(json.dumps(kids)); p.kill()")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout) != []
    assert (tmp_path / MANIFEST["marker"]).exists()

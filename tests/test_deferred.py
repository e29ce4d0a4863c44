"""Deferred decoding: load and loads build the model while worker threads still convert its arrays (documents of
1 MiB and more). Nothing may read an array before it is converted, the result is the same model, and every
failure is the one the whole decode reports (a malformed array first, wherever it is)."""
from __future__ import annotations

import gc
import re
import threading

import numpy as np
import pytest

import milo_fast
from milo_fast import _core, codec, document
from milo_fast.errors import DecodeError, DeferredArrayEscaped, LoadError, UntrustedTypeError
from estimator_cases import break_node_table


@pytest.fixture(scope="module")
def forest():
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    X, y = make_classification(n_samples=7000, n_features=12, random_state=0)
    model = RandomForestClassifier(n_estimators=40, random_state=0, n_jobs=2).fit(X[:6500], y[:6500])
    return model, X[6500:]


@pytest.fixture(scope="module", params=["text", "base64"])
def blob(request, forest):
    b = milo_fast.dumps(forest[0], arrays=request.param)
    assert len(b) >= 1 << 20  # large enough to be deferred by default
    return b


def _whole(monkeypatch):
    """Load without deferral (the decode finishes before anything is built)."""
    monkeypatch.setattr(document, "decode_document_deferred",
                        lambda blob, **kw: (document.decode_document(blob, **kw), None, None))


def _error_of(f):
    try:
        f()
    except Exception as e:  # noqa: BLE001 - the test compares whatever is raised
        return type(e), str(e)
    return None


@pytest.mark.compiled_codec
def test_large_documents_are_deferred_and_load_the_same_model(forest, blob):
    model, X = forest
    tree, deferred, scan = document.decode_document_deferred(blob)
    assert isinstance(deferred, _core.Deferred) and deferred.count > 50
    del tree, deferred, scan
    loaded = milo_fast.loads(blob)
    for m in ("predict_proba", "apply"):
        a, b = getattr(model, m)(X), getattr(loaded, m)(X)
        assert a.dtype == b.dtype and np.array_equal(a, b)


def test_fill_puts_arrays_in_place_in_document_order(blob):
    tree, deferred = _core.decode_deferred(blob, 2048, 2)
    whole = codec.decode(blob)
    slots = []  # (container, key) of every placeholder, in the order of their index
    ready = []  # arrays built whole: tiny ones, converted during phase 1

    def walk(x, y):
        items = x.items() if type(x) is dict else enumerate(x) if type(x) is list else ()
        for k, v in items:
            if type(v) is _core.PendingArray:
                slots.append((v.index, x, k, y[k]))
            elif isinstance(v, (np.ndarray, np.generic)):
                ready.append((v, y[k]))
            elif type(v) in (dict, list):
                walk(v, y[k])

    walk(tree, whole)
    slots.sort(key=lambda s: s[0])
    indices = [s[0] for s in slots]
    assert len(indices) == len(set(indices)) and len(slots) + len(ready) == deferred.count
    assert all(0 <= i < deferred.count for i in indices)
    # the forest's classes_, n_classes_ and class counts are tiny: whole, and equal to the plain decode's
    assert len(ready) >= 3 * 40 and len(slots) >= 2 * 40
    for got, want in ready:
        assert type(got) is type(want) and got.dtype == want.dtype and got.tobytes() == want.tobytes()
        assert got.nbytes <= 1024  # (at most 256 characters of text or base64)
    for i, c, k, want in slots:
        assert c[k].size == want.size and c[k].nbytes == want.nbytes
    k = deferred.count // 2
    deferred.fill(k)
    assert deferred.filled == k
    for i, c, key, want in slots:
        got = c[key]
        if i < k:
            assert type(got) is type(want) and got.dtype == want.dtype and got.tobytes() == want.tobytes()
        else:
            assert type(got) is _core.PendingArray
    del got  # (a placeholder held here would make fill_all refuse: see the next test)
    deferred.fill_all()
    assert all(type(c[key]) is not _core.PendingArray for _, c, key, _ in slots)


def test_a_placeholder_kept_elsewhere_is_refused(blob):
    """A copy of a container taken before its arrays were filled would keep a placeholder in the model:
    fill_all refuses to finish instead (and load / loads redo the load from the whole decode)."""
    tree, deferred = _core.decode_deferred(blob, 2048, 2)
    kept = tree["data"]["state"]["estimators_"][-1]["state"]["tree_"]["state"]["nodes"]
    assert type(kept) is _core.PendingArray
    with pytest.raises(DeferredArrayEscaped, match="still referenced after the build"):
        deferred.fill_all()


def _corrupt_last_array(blob: bytes) -> bytes:
    """The document with a bad character in its last array (the last tree's values)."""
    if b'"pymiloed-ndarray-list"' in blob:
        i = blob.rindex(b'"pymiloed-ndarray-list":[') + len(b'"pymiloed-ndarray-list":[')
        m = re.compile(rb"\d").search(blob, i + 100)
        return blob[:m.start()] + b"x" + blob[m.end():]
    i = blob.rindex(b'"milo-ndarray-b64"')  # the data string of the last base64 envelope
    j = blob.index(b'"', blob.index(b":", i) + 2) - 40
    return blob[:j] + b"!" + blob[j + 1:]


def test_a_malformed_last_array_gives_the_whole_decodes_error(blob, monkeypatch, tmp_path):
    bad = _corrupt_last_array(blob)
    with pytest.raises(DecodeError):
        codec.decode(bad)
    deferred_err = _error_of(lambda: milo_fast.loads(bad))
    path = tmp_path / "bad.json"
    path.write_bytes(bad)
    deferred_file_err = _error_of(lambda: milo_fast.load(path))
    _whole(monkeypatch)
    assert deferred_err is not None and deferred_err[0] is DecodeError
    assert deferred_err == _error_of(lambda: milo_fast.loads(bad))
    assert deferred_file_err == _error_of(lambda: milo_fast.load(path))
    assert str(path) in deferred_file_err[1]


def test_a_malformed_array_comes_before_any_other_problem(blob, monkeypatch):
    """An untrusted name early in the document and a malformed array at its end: the array's DecodeError, as
    when the whole document is decoded before the audit."""
    planted = (b'"milo:object":"sklearn.ensemble._forest.RandomForestClassifier"', b'"milo:object":"os.system"')
    bad = _corrupt_last_array(blob).replace(*planted)
    assert bad.count(b'"os.system"') == 1
    err = _error_of(lambda: milo_fast.loads(bad))
    assert err is not None and err[0] is DecodeError
    _whole(monkeypatch)
    assert err == _error_of(lambda: milo_fast.loads(bad))
    with pytest.raises(UntrustedTypeError):
        milo_fast.loads(blob.replace(*planted))


def test_limits_count_placeholders(blob, monkeypatch):
    err = _error_of(lambda: milo_fast.loads(blob, max_elements=10_000))
    assert err is not None and err[0] is LoadError and "max_elements" in err[1]
    _whole(monkeypatch)
    assert err == _error_of(lambda: milo_fast.loads(blob, max_elements=10_000))


def test_abandoned_deferred_decodes_stop_cleanly(blob):
    for _ in range(5):
        tree, deferred = _core.decode_deferred(blob, 2048, 2)
        deferred.fill(3)
        del tree, deferred  # workers still converting: stopped and joined before the buffers go
        gc.collect()
    tree, deferred = _core.decode_deferred(blob, 2048, 2)
    deferred.fill_all()


def test_loads_from_several_threads(forest, blob):
    model, X = forest
    want = model.predict_proba(X)
    out, errors = [], []

    def run():
        try:
            for _ in range(3):
                out.append(milo_fast.loads(blob).predict_proba(X))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(out) == 12
    assert all(o.dtype == want.dtype and np.array_equal(o, want) for o in out)


class _CountingCore:
    """milo_fast._core with the loader's checks of node tables counted: its check_tree calls from Python, and
    those the compiled TreeHandler.construct (sk_build_tree) runs itself (without a worker's note)."""

    def __init__(self):
        self.python_calls = 0
        self.builder_start = _core.sk_builder_table_checks()

    @property
    def calls(self):
        return self.python_calls + _core.sk_builder_table_checks() - self.builder_start

    def check_tree(self, *a):
        self.python_calls += 1
        return _core.check_tree(*a)

    def __getattr__(self, name):
        return getattr(_core, name)


@pytest.mark.compiled_codec
def test_node_tables_are_checked_on_the_workers(forest, blob, monkeypatch):
    """A deferred load checks each node table on the worker thread that converted it (same rules, n_features
    compared by the loader), so the loader's own check_tree runs for none of a sound forest's trees."""
    from milo_fast.transport import sklearn_trees
    counting = _CountingCore()
    monkeypatch.setattr(sklearn_trees, "_core", counting)
    model = milo_fast.loads(blob)
    assert counting.calls == 0
    _whole(monkeypatch)
    whole = milo_fast.loads(blob)
    assert counting.calls == len(forest[0].estimators_)
    for a, b in zip(model.estimators_, whole.estimators_):
        assert a.tree_.max_depth == b.tree_.max_depth


@pytest.mark.parametrize("defect", ["feature_too_large", "negative_feature", "shared_child", "unreachable",
                                    "max_depth"])
def test_crafted_node_tables_give_the_whole_decodes_error(blob, defect, monkeypatch):
    mode = "base64" if b'"milo-ndarray-b64"' in blob else "text"
    doc = codec.decode(blob)
    tree = doc["data"]["state"]["estimators_"][-1]["state"]["tree_"]
    if defect == "max_depth":
        tree["state"]["max_depth"] += 1
    else:
        break_node_table(tree["state"]["nodes"], tree["args"][0], defect)
    bad = codec.encode(doc, arrays=mode)
    err = _error_of(lambda: milo_fast.loads(bad))
    assert err is not None and err[0].__name__ == "ValidationError" and "estimators_[39]" in err[1]
    _whole(monkeypatch)
    assert err == _error_of(lambda: milo_fast.loads(bad))


def test_an_array_as_the_whole_model_is_loaded_from_the_whole_decode(monkeypatch, tmp_path):
    """No node's fill reaches an array that is the whole model: the build would keep its placeholder, so the
    load is redone from the whole decode (found by the load fuzzer's deferred oracle)."""
    x = np.arange(300_000, dtype=np.float64) / 7
    blob = milo_fast.dumps(x)
    assert len(blob) >= 1 << 20
    whole_decodes = []
    real = document.decode_document
    monkeypatch.setattr(document, "decode_document", lambda *a, **kw: whole_decodes.append(1) or real(*a, **kw))
    got = milo_fast.loads(blob)
    assert whole_decodes == [1]
    assert got.dtype == x.dtype and np.array_equal(got, x)
    path = tmp_path / "x.json"
    path.write_bytes(blob)
    got = milo_fast.load(path)
    assert whole_decodes == [1, 1] and np.array_equal(got, x)


def test_the_build_collects_what_the_audit_walk_finds(blob):
    """The scan (gathered while the codec builds the tree, deferred or whole) holds the same names and the same
    array totals as the audit's walk of the decoded document: the load relies on it instead of the walk."""
    from milo_fast import transport
    from milo_fast.limits import Budget
    from milo_fast.transport._core import walk_document
    keys = transport.naming_kinds()
    for threads in (2, 1):  # deferred, whole
        tree, deferred, (names, elements, nbytes) = _core.decode_deferred(blob, 2048, threads, keys)
        assert (deferred is None) == (threads == 1)
        if deferred is not None:
            deferred.fill_all()
        budget = Budget()
        walked = walk_document(tree, keys, "$", budget)
        assert sorted(names) == sorted(n for n, _ in walked)  # (the walk goes depth first from the end)
        assert len(names) > 40 and (elements, nbytes) == (budget.elements, budget.nbytes) and nbytes > 1 << 20
    tree, deferred, scan = _core.decode_deferred(blob, 2048, 2, ())  # no keys: no names, the totals still
    assert scan == ([], elements, nbytes)
    deferred.fill_all()
    assert len(_core.decode_deferred(blob, 2048, 2)) == 2  # without name_keys: (tree, deferred) only


@pytest.mark.compiled_codec
def test_the_walk_runs_only_when_the_scan_does_not_pass(blob, monkeypatch):
    """A sound document is audited from the scan alone, deferred or whole; one naming anything untrusted, or a
    name that is not a string, anywhere, goes through the walk, and fails with the error of a load without a scan
    (every offender, with its path)."""
    from milo_fast import transport
    calls = []
    real = transport.collect_names
    monkeypatch.setattr(transport, "collect_names", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    for threads in (0, 1):  # (0: deferred, as the size decides)
        monkeypatch.setattr(document, "DEFER_THREADS", threads)
        milo_fast.loads(blob)
        assert calls == []
    tree_name = b'"milo:object":"sklearn.tree._tree.Tree"'
    i = blob.rindex(tree_name)  # the last tree's
    for planted in (b'"milo:object":"os.system"', b'"milo:object":7'):
        bad = blob[:i] + planted + blob[i + len(tree_name):]
        for threads in (0, 1):
            monkeypatch.setattr(document, "DEFER_THREADS", threads)
            err = _error_of(lambda: milo_fast.loads(bad))
            assert err is not None and err[0] is UntrustedTypeError and "estimators_[" in err[1]
            assert calls, "the walk did not run"
            calls.clear()
            with monkeypatch.context() as m:
                _whole(m)
                assert err == _error_of(lambda: milo_fast.loads(bad))
    err = _error_of(lambda: milo_fast.loads(blob, max_elements=10_000))
    assert calls and err[0] is LoadError and "$.data" in err[1]  # the walk names where the limit is passed


def test_a_foreign_error_quoting_the_document_is_cut_short(blob, monkeypatch):
    """A TypeError or ValueError from below the codec (numpy, or pybind11 refusing its arguments, which quotes
    them: the whole document) becomes a DecodeError whose message stays short and says how much was left out."""
    class Refusing:
        def decode_deferred(self, data, *a):
            raise TypeError(f"decode_deferred(): incompatible function arguments. Invoked with: {data!r}")

    monkeypatch.setattr(codec, "_impl", Refusing())
    with pytest.raises(DecodeError) as e:
        milo_fast.loads(blob)
    msg = str(e.value)
    assert len(msg) < 700 and "incompatible function arguments" in msg and "more characters)" in msg

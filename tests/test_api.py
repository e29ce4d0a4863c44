"""The public API (PyMilo-compatible Export/Import, dump/dumps/load/loads), the document envelope, the allow-list
audit, the value markers of the transporter chain, and crash-safe writes."""
from __future__ import annotations

import collections
import errno
import functools
import gzip
import http.server
import json
import os
import re
import sys
import threading
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import milo_fast
from milo_fast import document, transport, trust
from milo_fast.transport import registry
from estimator_cases import D, assert_same


@pytest.fixture(scope="module")
def forest():
    from sklearn.ensemble import RandomForestClassifier
    return RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0).fit(D["X"], D["ys"])


@pytest.fixture(scope="module")
def linreg():
    from sklearn.linear_model import LinearRegression
    return LinearRegression().fit(D["X"], D["yr"])


def same_predictions(a, b):
    assert np.array_equal(a.predict(D["X_new"]), b.predict(D["X_new"]))


# --------------------------------------------------------------------------------- dump / load

@pytest.mark.parametrize("arrays", ["text", "base64"])
@pytest.mark.parametrize("compress", [None, "zstd", "gzip"])
@pytest.mark.parametrize("indent", [None, 2])
def test_dump_load_file(tmp_path, forest, arrays, compress, indent):
    path = tmp_path / "model.json"
    milo_fast.dump(forest, path, arrays=arrays, compress=compress, indent=indent)
    raw = path.read_bytes()
    if compress == "zstd":
        assert raw[:4] == document.ZSTD_MAGIC
    elif compress == "gzip":
        assert raw[:2] == document.GZIP_MAGIC
        raw = gzip.decompress(raw)
    else:
        doc = json.loads(raw)  # plain JSON
        assert ("\n" in raw.decode()) == (indent is not None)
        assert doc["milo_fast"]["model_type"] == "sklearn.ensemble._forest.RandomForestClassifier"
    loaded = milo_fast.load(path)
    assert_same(forest, loaded)
    same_predictions(forest, loaded)
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temporary file left behind


def test_dump_durable_fsyncs_file_and_directory(tmp_path, forest, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    milo_fast.dump(forest, tmp_path / "a.json")
    assert len(synced) == 2  # the temporary file, then the directory after the rename
    synced.clear()
    milo_fast.dump(forest, tmp_path / "b.json", durable=False)
    assert synced == []
    assert_same(milo_fast.load(tmp_path / "a.json"), milo_fast.load(tmp_path / "b.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]
    with pytest.raises(TypeError, match="durable must be True or False"):
        milo_fast.dump(forest, tmp_path / "c.json", durable="no")
    assert not (tmp_path / "c.json").exists()


def test_dumps_loads_and_file_objects(tmp_path, forest):
    blob = milo_fast.dumps(forest)
    assert isinstance(blob, bytes) and b"pymiloed-ndarray-list" in blob and b"milo-ndarray-b64" not in blob  # text by default, as dump
    assert_same(forest, milo_fast.loads(blob))
    assert_same(forest, milo_fast.loads(blob.decode("utf-8")))  # str works too
    with open(tmp_path / "m.json", "wb") as f:
        milo_fast.dump(forest, f)
    with open(tmp_path / "m.json", "rb") as f:
        assert_same(forest, milo_fast.load(f))
    assert b"pymiloed-ndarray-list" in (tmp_path / "m.json").read_bytes()  # dump defaults to text arrays


def test_header(linreg):
    import platform

    import scipy
    import sklearn
    doc = json.loads(milo_fast.dumps(linreg, arrays="text"))
    assert set(doc) == {"milo_fast", "data"}
    assert doc["milo_fast"] == {
        "format_version": 1, "milo_fast_version": milo_fast.__version__,
        "python_version": platform.python_version(), "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__, "scipy_version": scipy.__version__,
        "model_type": "sklearn.linear_model._base.LinearRegression"}
    assert doc["data"]["milo:object"] == "sklearn.linear_model._base.LinearRegression"
    assert doc["data"]["state"]["coef_"]["pymiloed-ndarray-shape"] == [5]


def test_other_sklearn_version_warns_naming_both(linreg):
    import sklearn
    doc = json.loads(milo_fast.dumps(linreg, arrays="text"))
    doc["milo_fast"]["sklearn_version"] = "0.99.0"
    with pytest.warns(milo_fast.VersionWarning, match=rf"0\.99\.0.*{sklearn.__version__}"):
        loaded = milo_fast.loads(json.dumps(doc))
    same_predictions(linreg, loaded)


@pytest.mark.parametrize("mutate, error, match", [
    (lambda d: d["milo_fast"].update(format_version=2), milo_fast.LoadError, "format_version 2"),
    (lambda d: d["milo_fast"].update(format_version="1"), milo_fast.ValidationError, "format_version"),
    (lambda d: d["milo_fast"].pop("model_type"), milo_fast.ValidationError, "model_type"),
    (lambda d: d["milo_fast"].update(model_type="sklearn.tree._classes.DecisionTreeClassifier"),
     milo_fast.ValidationError, "header says"),
    (lambda d: d.update(extra=1), milo_fast.ValidationError, "exactly the keys"),
    (lambda d: d.pop("milo_fast"), milo_fast.LoadError, "not a milo_fast document"),
])
def test_bad_envelopes(linreg, mutate, error, match):
    doc = json.loads(milo_fast.dumps(linreg, arrays="text"))
    mutate(doc)
    with pytest.raises(error, match=match) as info:
        milo_fast.loads(json.dumps(doc))
    assert isinstance(info.value, ValueError) and isinstance(info.value, milo_fast.MiloError)


def test_compressed_limits_and_corruption(linreg):
    blob = milo_fast.dumps(linreg, compress="zstd")
    with pytest.raises(milo_fast.LoadError, match="max_size"):
        milo_fast.loads(blob, max_size=100)
    with pytest.raises(milo_fast.LoadError, match="corrupt|truncated"):
        milo_fast.loads(blob[:-10])
    gz = milo_fast.dumps(linreg, compress="gzip")
    with pytest.raises(milo_fast.LoadError, match="max_size"):
        milo_fast.loads(gz, max_size=100)
    with pytest.raises(milo_fast.LoadError):
        milo_fast.loads(gz[:20])


def test_bad_options(linreg):
    with pytest.raises(ValueError):
        milo_fast.dumps(linreg, arrays="hex")
    with pytest.raises(ValueError):
        milo_fast.dumps(linreg, compress="lz4")
    with pytest.raises(ValueError):
        milo_fast.dumps(linreg, format="pickle")


# ------------------------------------------------------------------------------ Export / Import

def test_export_import_pymilo_api(tmp_path, forest):
    exp = milo_fast.Export(forest)
    import sklearn
    assert exp.version == sklearn.__version__ and exp.type == "RandomForestClassifier"
    assert exp.model_type == "sklearn.ensemble._forest.RandomForestClassifier"
    assert isinstance(exp.data, dict) and exp.data["milo:object"] == exp.model_type
    text = exp.to_json()
    assert isinstance(text, str) and json.loads(text)["milo_fast"]["model_type"] == exp.model_type
    exp.save(str(tmp_path / "f.json"))
    for imp in (milo_fast.Import(str(tmp_path / "f.json")), milo_fast.Import(file_adr=tmp_path / "f.json"),
                milo_fast.Import(json_dump=text), milo_fast.Import(None, text)):
        assert imp.version == sklearn.__version__ and imp.type == "RandomForestClassifier"
        model, again = imp.to_model(), imp.to_model()
        assert model is not again  # a new model each time, from a document the first build left whole
        assert_same(forest, model)
        assert_same(forest, again)
    with pytest.raises(milo_fast.MiloError):
        milo_fast.Import()


def test_import_url(tmp_path, forest):
    (tmp_path / "m.json").write_bytes(milo_fast.dumps(forest, compress="zstd"))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/m.json"
        assert_same(forest, milo_fast.Import(url=url).to_model())
        with pytest.raises(milo_fast.LoadError, match="max_size"):
            milo_fast.Import(url=url, max_size=1000)
        with pytest.raises(milo_fast.LoadError, match="cannot download"):
            milo_fast.Import(url=url.replace("m.json", "missing.json"))
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(milo_fast.LoadError, match="http"):
        milo_fast.Import(url=(tmp_path / "m.json").as_uri())  # file:// is refused


@pytest.mark.parametrize("run_parallel", [False, True])
def test_batch_export_import(tmp_path, forest, linreg, run_parallel):
    from sklearn.preprocessing import FunctionTransformer
    models = [forest, linreg, FunctionTransformer(lambda x: x), linreg]
    out = tmp_path / "batch"
    assert milo_fast.Export.batch_export(models, str(out), run_parallel=run_parallel) == 3
    assert sorted(os.listdir(out)) == ["model_0.json", "model_1.json", "model_3.json"]
    count, loaded = milo_fast.Import.batch_import(str(out), run_parallel=run_parallel)
    assert count == 3
    assert_same(forest, loaded[0])
    assert_same(linreg, loaded[1])
    assert_same(linreg, loaded[2])  # files in numeric order (model_3 is third)
    with pytest.raises(FileNotFoundError):
        milo_fast.Import.batch_import(str(tmp_path / "nope"))


# ------------------------------------------------------------------------------- crash-safe writes

def test_failed_save_keeps_previous_file(tmp_path, forest, monkeypatch):
    path = tmp_path / "model.json"
    milo_fast.dump(forest, path)
    before = path.read_bytes()

    def boom(*a, **kw):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        milo_fast.dump(forest, path, arrays="base64")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_save_into_a_missing_directory_names_the_file(tmp_path, linreg):
    """The error names the file asked for and the directory, not the temporary file beside it."""
    target = tmp_path / "nowhere" / "model.json"
    with pytest.raises(FileNotFoundError) as e:
        milo_fast.dump(linreg, target)
    assert str(target) in str(e.value) and "no directory" in str(e.value) and ".tmp" not in str(e.value)
    assert e.value.filename == str(target) and e.value.errno == errno.ENOENT
    assert not target.parent.exists()


def test_save_failing_after_the_temporary_file_names_the_file(tmp_path, linreg, monkeypatch):
    """A failure once the temporary file exists (here the rename, as onto a directory) is reported for the file
    asked for: its type and errno kept, the path as its filename, no temporary file named or left behind."""
    target = tmp_path / "model.json"
    target.mkdir()  # a directory where the file should go: os.replace refuses
    with pytest.raises(OSError) as e:
        milo_fast.dump(linreg, target)
    assert e.value.filename == str(target) and e.value.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST)
    assert ".tmp" not in str(e.value) and str(target) in str(e.value)
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"] and target.is_dir()

    def full(*a, **kw):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as e:
        milo_fast.dump(linreg, tmp_path / "other.json")
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(tmp_path / "other.json")
    assert "No space left" in str(e.value)
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_save_into_a_closed_directory_names_the_file(tmp_path, linreg):
    closed = tmp_path / "closed"
    closed.mkdir()
    os.chmod(closed, 0o500)
    try:
        if os.access(closed, os.W_OK):  # root: permissions do not stop it
            pytest.skip("running as a user whom directory permissions do not stop")
        with pytest.raises(PermissionError) as e:
            milo_fast.dump(linreg, closed / "model.json")
        assert str(closed / "model.json") in str(e.value) and ".tmp" not in str(e.value)
        assert list(closed.iterdir()) == []
    finally:
        os.chmod(closed, 0o700)


def test_save_keeps_permissions(tmp_path, linreg):
    path = tmp_path / "model.json"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    milo_fast.dump(linreg, path)
    assert (os.stat(path).st_mode & 0o777) == 0o640
    fresh = tmp_path / "fresh.json"
    milo_fast.dump(linreg, fresh)
    umask = os.umask(0)
    os.umask(umask)
    assert (os.stat(fresh).st_mode & 0o777) == 0o666 & ~umask


# ------------------------------------------------------------------------- audit before construct

def _doc(data, model_type="builtins.dict"):
    hdr = document.make_header(model_type)
    return json.dumps({"milo_fast": hdr, "data": data})


PLANTED = {
    "a": {"milo:function": "os.system"},
    "b": {"milo:object": "subprocess.Popen", "args": [["touch", "/tmp/pwned"]]},
    "c": [{"milo:type": "builtins.eval"}, {"milo:object": "milo_test_never_imported.Evil", "state": {}}],
    "d": {"milo:dict": [[{"milo:function": "builtins.exec"}, 1]]},
    "e": {"milo:object": "functools.partial", "state": {"func": {"milo:function": "numpy.load"}, "args": [],
                                                        "keywords": {}}},
}


def test_untrusted_names_all_listed_with_paths_and_nothing_imported():
    sys.modules.pop("milo_test_never_imported", None)
    with pytest.raises(milo_fast.UntrustedTypeError) as info:
        milo_fast.loads(_doc(PLANTED))
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, milo_fast.MiloError)
    assert sorted(err.names) == sorted([
        ("os.system", '$.data.a["milo:function"]'),
        ("subprocess.Popen", '$.data.b["milo:object"]'),
        ("builtins.eval", '$.data.c[0]["milo:type"]'),
        ("milo_test_never_imported.Evil", '$.data.c[1]["milo:object"]'),
        ("builtins.exec", '$.data.d["milo:dict"][0][0]["milo:function"]'),
        ("numpy.load", '$.data.e.state.func["milo:function"]'),
    ])
    for name, path in err.names:
        assert name in str(err) and path in str(err)
    assert "milo_test_never_imported" not in sys.modules
    assert not os.path.exists("/tmp/pwned")
    assert milo_fast.get_untrusted_types(_doc(PLANTED).encode()) == sorted(
        ["builtins.eval", "builtins.exec", "milo_test_never_imported.Evil", "numpy.load", "os.system",
         "subprocess.Popen"])


def test_import_audits_in_init(tmp_path):
    (tmp_path / "evil.json").write_text(_doc({"f": {"milo:function": "os.system"}}))
    with pytest.raises(milo_fast.UntrustedTypeError, match="os.system"):
        milo_fast.Import(str(tmp_path / "evil.json"))
    assert milo_fast.get_untrusted_types(str(tmp_path / "evil.json")) == ["os.system"]


def test_trusted_extends_by_exact_name_only():
    doc = _doc({"f": {"milo:function": "operator.add"}})
    with pytest.raises(milo_fast.UntrustedTypeError):
        milo_fast.loads(doc)
    with pytest.raises(milo_fast.UntrustedTypeError):
        milo_fast.loads(doc, trusted=["operator", "operator.*", "operator.ad"])
    import operator
    assert milo_fast.loads(doc, trusted=["operator.add"]) == {"f": operator.add}


def test_trust_api():
    assert trust.is_trusted("sklearn.ensemble._forest.RandomForestClassifier")
    assert trust.is_trusted("numpy.log1p") and trust.is_trusted("scipy.special.expit")
    for bad in ("os.system", "builtins.eval", "builtins.exec", "subprocess.Popen", "numpy.load", "numpy.save",
                "pickle.loads", "sklearn.utils._testing.assert_run_python_script_without_output",
                "numpy.lib.npyio.load", "<lambda>", "", "sklearn.nonexistent.Thing"):
        assert not trust.is_trusted(bad), bad
    assert trust.is_trusted("os.system", trusted=["os.system"])  # the caller's explicit choice
    trust.audit([("numpy.mean", "$.x")])
    with pytest.raises(milo_fast.UntrustedTypeError) as info:
        trust.audit([("numpy.mean", "$.x"), ("os.system", "$.y"), ("os.popen", "$.z")])
    assert info.value.names == [("os.system", "$.y"), ("os.popen", "$.z")]
    assert trust.resolve("numpy.mean", "$") is np.mean
    from sklearn.tree._tree import Tree
    assert trust.resolve("sklearn.tree._tree.Tree", "$") is Tree
    with pytest.raises(milo_fast.UntrustedTypeError):
        trust.resolve("os.system", "$.p")


def test_allow_list_names_all_exist():
    """Every name on the static allow-lists designates an existing class or function (no drift)."""
    names = (trust.SKLEARN_ESTIMATORS | trust.SKLEARN_HELPERS | trust.SKLEARN_KERNELS | trust.SKLEARN_SPLITTERS
             | trust.VALUE_TYPES | trust.FUNCTIONS)
    missing = []
    for n in sorted(names):
        try:
            trust.resolve(n, "$")
        except milo_fast.UntrustedTypeError:
            missing.append(n)
    assert missing == []


def test_handlers_are_on_the_allow_list_and_tables_are_consistent():
    tb = registry.tables()
    assert set(registry.FAMILIES) == set(transport.FAMILIES)
    assert sorted(h for h in tb.handlers if not trust.is_trusted(h)) == []
    for fam in registry.FAMILIES:
        assert hasattr(fam, "TRANSPORTERS") and hasattr(fam, "HANDLERS"), fam.__name__
    assert registry.FAMILIES[-1].__name__.endswith(".objects")  # the generic fallback comes last
    kinds = {tr.kind for fam in registry.FAMILIES for tr in fam.TRANSPORTERS if tr.kind}
    assert all(k.startswith("milo:") for k in kinds)


@pytest.mark.parametrize("node, match", [
    ({"milo:object": "sklearn.tree._tree.Tree", "args": [1, {"milo:ref": 0}, 1]}, "milo:ref"),
    ({"milo:tuple": [1], "milo:set": [2]}, "two marker keys"),
    ({"milo:unknown": 1}, "unknown marker"),
    ({"milo:tuple": [1], "extra": 2}, "unexpected key"),
    ({"milo:object": "sklearn.linear_model._base.LinearRegression", "bogus": 1}, "unexpected key"),
    ({"milo:object": "numpy.mean"}, "to be a class"),
    ({"milo:function": "sklearn.linear_model._base.LinearRegression"}, "to be a function"),
    ({"milo:object": "sklearn.tree._tree.Tree", "args": [2, [1], 1]}, "n_outputs positive class counts"),
    ({"milo:ndarray": "<U3", "shape": [2], "items": ["a"]}, "2 items"),
    ({"milo:ndarray": "object; import os", "shape": [1], "items": [1]}, "dtype spelling"),
    ({"milo:strided": [1.0, 2.0], "strides": [8], "offset": 0}, "numeric array"),
    ({"milo:ref": 7}, "does not refer"),
    ({"a": {"milo:ref": 0}, "milo:id": 0}, None),  # a dict that contains itself: allowed
])
def test_malformed_nodes(node, match):
    doc = _doc(node)
    if match is None:
        d = milo_fast.loads(doc)
        assert d["a"] is d
        return
    with pytest.raises(milo_fast.LoadError, match=match):
        milo_fast.loads(doc)


def setf(nodes, i, field, value):
    nodes[field][i] = value


def _tree_doc(mutate):
    from sklearn.tree import DecisionTreeRegressor
    est = DecisionTreeRegressor(max_depth=3, random_state=0).fit(D["X"], D["yr"])
    tree = transport.to_tree(est)
    nodes = tree["state"]["tree_"]["state"]["nodes"]
    mutate(nodes, tree["state"]["tree_"])
    return json.dumps({"milo_fast": document.make_header(document.model_type_of(est)),
                       "data": json.loads(milo_fast.codec.encode(tree))})


@pytest.mark.parametrize("mutate, match", [
    (lambda n, t: setf(n, 0, "left_child", 0), "not greater"),
    (lambda n, t: setf(n, 0, "left_child", 10_000), "out of range|not greater|exactly one child"),
    (lambda n, t: setf(n, 1, "left_child", -1), "exactly one child|but right child is"),
    (lambda n, t: setf(n, 0, "right_child", n["left_child"][0]), "two parents|same node"),
    (lambda n, t: setf(n, 2, "right_child", n["right_child"][0]), "two parents|not greater"),
    (lambda n, t: setf(n, 0, "feature", 99), "feature"),
    (lambda n, t: setf(n, 0, "feature", -5), "feature"),
    (lambda n, t: t["state"].__setitem__("node_count", 3), "node table"),
    (lambda n, t: t["state"].__setitem__("values", np.zeros((1, 1, 1))), "float64 array of shape"),
])
def test_crafted_tree_tables_are_rejected(mutate, match):
    with pytest.raises(milo_fast.ValidationError, match=match):
        milo_fast.loads(_tree_doc(mutate))


def test_python_tree_check_agrees_with_compiled():
    """The pure-Python checks (MILO_FAST_PURE=1) and the compiled ones accept and reject the same tables."""
    from milo_fast.transport import sklearn_trees as st
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.tree import DecisionTreeRegressor
    if st._core is None:
        pytest.skip("the compiled core is not in use")
    rng = np.random.RandomState(0)
    t = DecisionTreeRegressor(max_depth=5, random_state=0).fit(D["X"], D["yr"]).tree_.__getstate__()["nodes"]
    h = HistGradientBoostingRegressor(max_iter=2, random_state=0).fit(D["X"], D["yr"])._predictors[0][0].nodes
    for trial in range(300):
        a, b = t.copy(), h.copy()
        for arr, fields in ((a, ("left_child", "right_child", "feature")), (b, ("left", "right", "feature_idx"))):
            f = fields[rng.randint(3)]
            i = rng.randint(len(arr))
            arr[f][i] = rng.choice([-2, -1, 0, 1, i, i + 1, len(arr) - 1, len(arr), 4, 5])
        py_t = py_h = None
        try:
            st.check_tree_nodes(a, 5, "$")
        except milo_fast.ValidationError as e:
            py_t = e
        try:
            st.check_hist_nodes(b, 5, 0, "$")
        except milo_fast.ValidationError as e:
            py_h = e
        assert (py_t is None) == (type(st._core.check_tree(a, len(a), 5, len(a))) is int), (trial, py_t)
        assert (py_h is None) == (st._core.check_hist_tree(b, 5, 0) is None), (trial, py_h)


def test_tree_depth_from_the_structural_check():
    """The compiled check returns the table's depth, which is sklearn's own max_depth; the pure-Python fallback's
    tree_depth measures the same."""
    from milo_fast.transport import sklearn_trees as st
    from sklearn.tree import DecisionTreeRegressor, ExtraTreeRegressor
    for k, est in enumerate([DecisionTreeRegressor(max_depth=d, random_state=d) for d in (1, 3, 8, None)]
                            + [ExtraTreeRegressor(random_state=r) for r in range(3)]):
        tree = est.fit(D["X"], D["yr"]).tree_
        nodes = tree.__getstate__()["nodes"]
        assert st.tree_depth(nodes["left_child"], nodes["right_child"], tree.max_depth) == tree.max_depth, k
        if st._core is not None:
            assert st._core.check_tree(nodes, len(nodes), tree.n_features, len(nodes)) == tree.max_depth, k
            wide = np.zeros(2 * len(nodes), nodes.dtype)  # a strided view: records 128 bytes apart
            wide[::2] = nodes
            assert st._core.check_tree(wide[::2], len(nodes), tree.n_features, -1) == tree.max_depth, k


@pytest.mark.parametrize("pure", [False, True], ids=["compiled", "pure"])
@pytest.mark.parametrize("delta", [-1, 1])
def test_max_depth_must_be_the_table_depth(monkeypatch, pure, delta):
    """Checked from the node table, before a Tree is built, by the compiled check and its Python fallback."""
    from milo_fast.transport import sklearn_trees as st
    if pure:
        monkeypatch.setattr(st, "_core", None)
    elif st._core is None:
        pytest.skip("the compiled core is not in use")
    doc = _tree_doc(lambda n, t: t["state"].__setitem__("max_depth", t["state"]["max_depth"] + delta))
    with pytest.raises(milo_fast.ValidationError,
                       match=rf"max_depth is {3 + delta} but the node table is 3 levels deep at .*tree_\.state\.max_depth"):
        milo_fast.loads(doc)
    assert milo_fast.loads(_tree_doc(lambda n, t: None)).tree_.max_depth == 3


# ---------------------------------------------------------------------------------- value kinds

class _Holder:  # not on the allow-list: only used through transport with trusted=
    pass


def _values():
    shared_list = [1, 2, 3]
    shared_arr = np.arange(4.0)
    F = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    big = np.arange(40.0).reshape(5, 8)
    v = {
        "none": None, "bool": True, "int": -(2 ** 80), "float": -0.0, "nan": float("nan"), "inf": float("-inf"),
        "str": "é\u2603\x00", "tuple": (1, (2, "x"), ()), "list": [1, [2, [3]]], "set": {3, 1, 2},
        "frozenset": frozenset({"a", "b"}), "bytes": b"\x00\xff", "bytearray": bytearray(b"ab"),
        "complex": 1.5 - 2j, "slice": slice(1, None, -2), "range": range(0, 10, 3),
        "odict": collections.OrderedDict([("b", 1), ("a", 2)]), "counter": collections.Counter("abracadabra"),
        "defaultdict": collections.defaultdict(list, {"k": [1]}), "int_keys": {1: "a", (2, 3): "b", None: 0},
        "colliding": {"milo:object": "os.system", "pymiloed-ndarray-list": [1], "milo-ndarray-b64": "x",
                      "milo:id": 3, "normal": 1},
        "types": [float, int, np.float64, np.int32, np.ndarray, dict],
        "dtypes": [np.dtype("float32"), np.dtype(">i4"), np.dtype("<U7"), np.dtype("O"),
                   np.dtype([("a", "<i4"), ("b", "<f8")])],
        "functions": [np.log1p, np.mean, np.add, functools.partial(np.add, 1)],
        "scalars": [np.float32(0.1), np.int64(-3), np.uint64(2 ** 64 - 1), np.bool_(True), np.str_("ab"),
                    np.complex128(1 + 2j), np.datetime64("2024-01-02T03:04", "m"), np.float16(-0.0)],
        "arrays": [np.array(["a", "bcd"]), np.array([b"x", b"yz"]), np.array([1, "a", None, (1,)], dtype=object),
                   np.array([1 + 2j, 3 - 4j], dtype=np.complex64), np.array(["2020-01-01"], dtype="M8[D]"),
                   np.array([5], dtype="m8[s]"), np.zeros((0, 3)), np.array(3.5), F, big[:, ::3], big[::-1, 1:3],
                   np.arange(10, dtype=">i8"), np.array([[np.nan, -0.0]], dtype=np.float32)],
        "masked": np.ma.MaskedArray([1.0, 2.0, 3.0], mask=[False, True, False], fill_value=-1.0),
        "masked_obj": np.ma.MaskedArray(np.array(["a", 1], dtype=object), mask=[True, False]),
        "sparse": sp.csr_matrix(np.eye(3)),
        "rng": [np.random.RandomState(3), np.random.default_rng(4), np.random.Generator(np.random.Philox(5)),
                np.random.RandomState(np.random.SFC64(6))],
        "shared": [shared_list, shared_list, shared_arr, shared_arr, F, F],
    }
    v["rng"][0].rand(3)
    v["rng"][0].standard_normal()  # has_gauss state
    cyc: list = [1]
    cyc.append(cyc)
    v["cycle_list"] = cyc
    d: dict = {"x": 1}
    d["self"] = d
    v["cycle_dict"] = d
    return v


@pytest.mark.parametrize("arrays", ["text", "base64"])
def test_every_value_kind_round_trips(arrays):
    v = _values()
    tree = transport.to_tree(v)
    assert json.loads(milo_fast.codec.encode(tree, arrays="text").decode().replace("NaN", "0")
                      .replace("-Infinity", "0"))  # the tree is plain JSON
    back = milo_fast.loads(milo_fast.dumps(v, arrays=arrays))
    assert_same(v, back)
    assert back["shared"][0] is back["shared"][1] and back["shared"][2] is back["shared"][3]
    assert back["shared"][4] is back["shared"][5] and back["shared"][4].flags.f_contiguous
    assert back["cycle_list"][1] is back["cycle_list"] and back["cycle_dict"]["self"] is back["cycle_dict"]
    assert back["colliding"] == v["colliding"]  # user data that looks like markers stays data
    assert back["defaultdict"]["new"] == [] and back["int_keys"][(2, 3)] == "b"
    rs, rs2 = v["rng"][0], back["rng"][0]
    assert np.array_equal(rs.rand(5), rs2.rand(5)) and rs.standard_normal() == rs2.standard_normal()
    assert np.array_equal(v["rng"][1].random(5), back["rng"][1].random(5))
    assert back["arrays"][10].strides == v["arrays"][10].strides  # a strided view keeps its layout


def test_marker_collisions_are_escaped():
    tree = transport.to_tree({"milo:tuple": 1, "ok": 2})
    assert list(tree) == ["milo:dict"]
    assert transport.from_tree(tree) == {"milo:tuple": 1, "ok": 2}
    assert transport.to_tree({"plain": 1}) == {"plain": 1}

    for d in ({"ok": 1, "pymiloed-x": 2}, {"milo-ndarray-b64": "x"}, {1: 2, "ok": 3}, {"ok": 1, "milo": 2}):
        tree = transport.to_tree(d)
        assert list(tree) == ["milo:dict"], d  # escaped: written as pairs
        back = transport.from_tree(tree)
        assert back == d and [type(k) for k in back] == [type(k) for k in d]
    for d in ({"xmilo": 1, "a milo:b": 2}, {"": 1, "pymilo": 2}):  # "milo" inside a key, not at its start
        assert transport.to_tree(d) == d

    class Key(str):  # a key of another type than str is written as pairs, as an object (refused: a local class)
        pass

    with pytest.raises(milo_fast.ExportError, match=re.escape('$["milo:dict"][1][0]')):
        transport.to_tree({"ok": 1, Key("k"): 2})


def test_shared_list_is_written_once():
    shared = [1, 2]
    tree = transport.to_tree({"a": shared, "b": shared})
    assert tree == {"a": {"milo:shared": [1, 2], "milo:id": 0}, "b": {"milo:ref": 0}}
    back = transport.from_tree(tree)
    assert back["a"] is back["b"]


def test_user_class_needs_trusted_on_both_sides():
    h = _Holder()
    h.x = np.arange(3)
    name = f"{__name__}._Holder"
    with pytest.raises(milo_fast.ExportError, match=r"test_api\._Holder.*\$"):
        transport.to_tree(h)
    tree = transport.to_tree(h, trusted=[name])
    with pytest.raises(milo_fast.UntrustedTypeError):
        transport.from_tree(tree)
    assert np.array_equal(transport.from_tree(tree, trusted=[name]).x, h.x)


def test_bound_methods_and_locals_are_refused():
    from sklearn.linear_model import LinearRegression
    with pytest.raises(milo_fast.ExportError, match="bound method"):
        transport.to_tree({"f": LinearRegression().fit})

    def local(x):
        return x
    with pytest.raises(milo_fast.ExportError, match="locally defined"):
        transport.to_tree({"f": local})
    with pytest.raises(milo_fast.ExportError, match="lambda"):
        transport.to_tree({"f": lambda x: x})
    with pytest.raises(milo_fast.ExportError, match="allow-list"):
        transport.to_tree({"f": os.system})


def test_loads_does_not_warn_for_own_documents(forest):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        milo_fast.loads(milo_fast.dumps(forest))


def test_pymilo_format_dispatch(tmp_path, linreg):
    """format="pymilo" goes through milo_fast.compat.pymilo; its files load back through Import and load."""
    path = tmp_path / "p.json"
    milo_fast.dump(linreg, path, format="pymilo")
    doc = json.loads(path.read_text())
    assert "milo_fast" not in doc and all(k in doc for k in document.PYMILO_KEYS)
    same_predictions(linreg, milo_fast.load(path))
    same_predictions(linreg, milo_fast.Import(str(path)).to_model())


def _model_doc(est, mutate):
    tree = milo_fast.codec.decode(milo_fast.codec.encode(transport.to_tree(est)))  # a copy: the tree shares arrays
    mutate(tree)
    return json.dumps({"milo_fast": document.make_header(document.model_type_of(est)),
                       "data": json.loads(milo_fast.codec.encode(tree))})


@pytest.fixture(scope="module")
def hgb():
    from sklearn.ensemble import HistGradientBoostingClassifier
    X = np.column_stack([np.arange(60) % 4, D["X"][:, :2]])
    return HistGradientBoostingClassifier(max_iter=3, categorical_features=[0], random_state=0).fit(X, D["y2"])


def _pred_nodes(tree):
    return tree["state"]["_predictors"][0][0]["state"]["nodes"]


@pytest.mark.parametrize("mutate, match", [
    (lambda t: setf(_pred_nodes(t), 0, "feature_idx", 3), "feature"),
    (lambda t: setf(_pred_nodes(t), 0, "left", 0), "out of range|not greater"),
    (lambda t: setf(_pred_nodes(t), 0, "right", 10**6), "out of range"),
    (lambda t: setf(_pred_nodes(t), 0, "is_categorical", 1) or setf(_pred_nodes(t), 0, "bitset_idx", 99), "bitset"),
    (lambda t: t["state"].__setitem__("n_features_in_", 2), "feature|is_categorical_"),
    (lambda t: t["state"]["_predictors"][0][0]["state"].__setitem__(
        "raw_left_cat_bitsets", np.zeros((1, 3), np.uint32)), "bitset"),
], ids=["feature", "child-cycle", "child-range", "bitset", "n_features", "bitset-shape"])
def test_crafted_hist_gradient_boosting_is_rejected(hgb, mutate, match):
    with pytest.raises(milo_fast.ValidationError, match=match):
        milo_fast.loads(_model_doc(hgb, mutate))


def test_tree_width_must_match_the_estimator(forest):
    from sklearn.tree import DecisionTreeClassifier
    dt = DecisionTreeClassifier(max_depth=2).fit(D["X"], D["ys"])
    with pytest.raises(milo_fast.ValidationError, match="n_features_in_"):
        milo_fast.loads(_model_doc(dt, lambda t: t["state"].__setitem__("n_features_in_", 9)))
    with pytest.raises(milo_fast.ValidationError, match="estimators_"):
        milo_fast.loads(_model_doc(forest, lambda t: t["state"].__setitem__("n_features_in_", 9)))


def test_pymilo_document_with_planted_function_is_refused_in_import(tmp_path):
    """PyMilo files name functions too (FunctionTransformer): audited before anything is built."""
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    path = tmp_path / "p.json"
    model = make_pipeline(FunctionTransformer(np.log1p), LinearRegression()).fit(D["Xp"], D["yr"])
    milo_fast.dump(model, path, format="pymilo")
    text = path.read_text()
    assert "log1p" in text
    path.write_text(text.replace('"log1p"', '"system"').replace('"numpy"', '"os"'))
    bad = milo_fast.get_untrusted_types(str(path))
    assert bad and all("system" in n or n.startswith("os") for n in bad), bad
    with pytest.raises(milo_fast.UntrustedTypeError):
        milo_fast.Import(str(path))
    with pytest.raises(milo_fast.UntrustedTypeError):
        milo_fast.load(path)


def test_load_in_a_fresh_process(tmp_path):
    """A service that only imports milo_fast loads what a training process wrote (nothing relies on modules the
    exporting process happened to import)."""
    import subprocess

    from estimator_cases import all_estimator_classes, case_for
    names = ["HistGradientBoostingClassifier", "KNeighborsClassifier", "GaussianProcessRegressor", "Birch",
             "HalvingGridSearchCV", "IterativeImputer", "SplineTransformer", "TransformedTargetRegressor",
             "MLPClassifier", "StackingClassifier", "TfidfVectorizer", "SGDClassifier"]
    classes = dict(all_estimator_classes())
    expected = {}
    for name in names:
        case = case_for(name, classes[name])
        est = case.fit(case.make())
        milo_fast.dump(est, tmp_path / f"{name}.json", arrays="base64" if len(expected) % 2 else "text")
        out = est.predict(case.X_new) if hasattr(est, "predict") else est.transform(case.X_new)
        np.save(tmp_path / f"{name}.X.npy", np.asarray(case.X_new, dtype=object), allow_pickle=True)
        expected[name] = out.toarray() if sp.issparse(out) else np.asarray(out)
    script = r"""
import sys, numpy as np, milo_fast
d = sys.argv[1]
for name in sys.argv[2:]:
    est = milo_fast.load(f"{d}/{name}.json")
    X = np.load(f"{d}/{name}.X.npy", allow_pickle=True)
    X = list(X) if X.ndim == 1 and isinstance(X[0], str) else X.astype(float) if X.ndim == 2 else X
    out = est.predict(X) if hasattr(est, "predict") else est.transform(X)
    out = out.toarray() if hasattr(out, "toarray") else np.asarray(out)
    np.save(f"{d}/{name}.out.npy", out, allow_pickle=True)
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path), *names], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
    for name, out in expected.items():
        got = np.load(tmp_path / f"{name}.out.npy", allow_pickle=True)
        assert got.dtype == out.dtype and np.array_equal(got, out), name


def test_signed_and_encrypted_files_through_every_entry_point(tmp_path, forest):
    """load / loads / Import check a signature before anything else and decrypt encrypted files."""
    from milo_fast import crypto, signing
    priv, pub = signing.generate_signing_key()
    _, other = signing.generate_signing_key()
    key = crypto.generate_encryption_key()
    path = tmp_path / "m.enc"
    milo_fast.dump(forest, path, encrypt_key=key, compress="zstd")
    signing.sign(path, priv)
    for loaded in (milo_fast.load(path, public_key=pub, decrypt_key=key),
                   milo_fast.Import(str(path), public_key=pub, decrypt_key=key).to_model(),
                   milo_fast.loads(path.read_bytes(), decrypt_key=key)):
        assert_same(forest, loaded)
    with pytest.raises(milo_fast.SignatureError):
        milo_fast.load(path, public_key=other, decrypt_key=key)
    with pytest.raises(milo_fast.SignatureError):
        milo_fast.Import(str(path), public_key=other, decrypt_key=key)
    with pytest.raises(milo_fast.SignatureError):
        milo_fast.load(path)  # encrypted, no key
    with pytest.raises(milo_fast.MiloError, match="signature_path"):
        milo_fast.Import(json_dump=milo_fast.dumps(forest), public_key=pub)
    blob = milo_fast.dumps(forest, encrypt_key="a passphrase")
    assert crypto.is_encrypted(blob)
    assert_same(forest, milo_fast.loads(blob, decrypt_key="a passphrase"))


def test_the_garbage_collector_is_paused_while_a_document_is_made(forest, monkeypatch):
    import gc

    from sklearn.preprocessing import FunctionTransformer

    from milo_fast import document
    seen = []

    def watched(*a, **k):
        seen.append(gc.isenabled())
        return make(*a, **k)

    make = document.make_document
    monkeypatch.setattr(document, "make_document", watched)
    blob = milo_fast.dumps(forest)
    assert gc.isenabled() and seen == [False]
    with pytest.raises(milo_fast.ExportError):
        milo_fast.dumps(FunctionTransformer(lambda x: x))
    assert gc.isenabled() and seen == [False, False]
    gc.disable()  # a caller's choice is kept
    try:
        assert milo_fast.dumps(forest) == blob
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_garbage_collector_is_paused_for_a_load_and_restored(forest, tmp_path, monkeypatch):
    import gc
    from milo_fast import document
    blob = milo_fast.dumps(forest)
    inside, during, seen = [False], [], []

    def note(phase, info):  # collections while a model is being built
        if inside[0]:
            during.append(phase)

    def watched(fn):
        def run(*a, **k):
            seen.append(gc.isenabled())
            inside[0] = True
            try:
                return fn(*a, **k)
            finally:
                inside[0] = False
        return run

    monkeypatch.setattr(document, "build_model", watched(document.build_model))
    monkeypatch.setattr(document, "decode_document_deferred", watched(document.decode_document_deferred))
    old = gc.get_threshold()
    gc.set_threshold(1, 1, 1)  # a collection at nearly every allocation, if the collector were on
    gc.callbacks.append(note)
    try:
        m = milo_fast.loads(blob)
        assert gc.isenabled()
        path = tmp_path / "m.json"
        path.write_bytes(blob)
        milo_fast.Import(str(path)).to_model()
        assert gc.isenabled()
        with pytest.raises(milo_fast.MiloError):
            milo_fast.loads(blob[:-100])
        assert gc.isenabled()
        assert seen and not any(seen) and during == []
        gc.disable()  # a caller's choice is kept
        milo_fast.loads(blob)
        assert not gc.isenabled()
        gc.enable()
        inside[0] = True
        gc.collect()
        assert during  # (the callback does see collections)
    finally:
        gc.callbacks.remove(note)
        gc.set_threshold(*old)
        gc.enable()
    assert np.array_equal(m.predict_proba(np.zeros((3, forest.n_features_in_))),
                          forest.predict_proba(np.zeros((3, forest.n_features_in_))))


@pytest.fixture(scope="module")
def big_forest():
    from sklearn.ensemble import RandomForestClassifier
    rng = np.random.default_rng(11)
    X = rng.standard_normal((2000, 8))
    return RandomForestClassifier(n_estimators=4, random_state=0).fit(X, rng.integers(0, 3, 2000)), X


@pytest.mark.compiled_codec
def test_a_text_save_writes_its_arrays_while_the_document_is_made(big_forest, monkeypatch):
    from milo_fast import codec, document
    model, X = big_forest
    made = []
    real = codec.text_encoder

    def recorded(**k):
        made.append(real(**k))
        return made[-1]

    monkeypatch.setattr(codec, "text_encoder", recorded)
    blob = milo_fast.dumps(model)
    assert len(made) == 1 and made[0].reused == 2 * len(model.estimators_)  # each tree's nodes and values
    assert blob == codec.encode(document.make_document(model))  # the document the walk alone writes
    assert np.array_equal(milo_fast.loads(blob).predict_proba(X), model.predict_proba(X))
    milo_fast.dumps(model, arrays="base64")
    milo_fast.dumps(model, indent=1)
    milo_fast.dumps(model, format="pymilo")
    assert len(made) == 1  # only compact text saves prepare their arrays


@pytest.mark.compiled_codec
def test_an_export_error_after_arrays_were_prepared(big_forest, monkeypatch):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from milo_fast import codec
    model, X = big_forest
    made, prepared = [], []
    real = codec.text_encoder

    class Recorded:  # the encoder, and how many arrays it had queued when it was closed
        def __init__(self):
            self.e = real()
            self.prepare = self.e.prepare
            made.append(self)

        def close(self):
            prepared.append(self.e.prepared)
            self.e.close()

    monkeypatch.setattr(codec, "text_encoder", Recorded)
    bad = Pipeline([("rf", model), ("f", FunctionTransformer(lambda x: x))])  # the forest's arrays come first
    for _ in range(3):
        with pytest.raises(milo_fast.ExportError, match=r"steps"):
            milo_fast.dumps(bad)
    assert len(made) == 3 and prepared == [2 * len(model.estimators_)] * 3  # queued, then closed at the error
    assert all(m.e.prepared == 0 and not m.e.prepare(X) for m in made)  # (closed: its jobs dropped)
    monkeypatch.setattr(codec, "text_encoder", real)
    assert np.array_equal(milo_fast.loads(milo_fast.dumps(model)).predict_proba(X), model.predict_proba(X))


@pytest.mark.compiled_codec
def test_text_saves_from_several_threads_write_the_same_document(big_forest):
    from concurrent.futures import ThreadPoolExecutor
    model, _ = big_forest
    want = milo_fast.dumps(model)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: milo_fast.dumps(model), range(16)))
    assert all(g == want for g in got)

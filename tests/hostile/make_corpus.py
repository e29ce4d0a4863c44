"""Write the hostile corpus: documents a loader must refuse, each with the error it must raise.

    python tests/hostile/make_corpus.py        # rewrites tests/hostile/cases/ and tests/hostile/cases.json

Every case starts from a real model fitted here (or a real signed / encrypted / compressed file) and changes one
thing, so the corpus follows the format as it evolves: regenerate and commit. ``cases.json`` lists, per case:

    name       the file's stem (tests/hostile/cases/<file>)
    category   what kind of attack or corruption it is
    file       the document (a .sig beside it for signature cases)
    entries    how it is loaded: "load" (milo_fast.load(path)), "loads" (milo_fast.loads(bytes)),
               "Import" (Import(file_adr=path).to_model()), "Import_json" (Import(json_dump=bytes).to_model())
    kwargs     keyword arguments of that call; "@public_key", "@other_public_key" and "@decrypt_key" stand for
               the keys listed at the top of cases.json
    error      the exact class of the error (a milo_fast.LoadError subclass, or LoadError itself); null for the
               controls (category "controls"): the unaltered documents the cases start from, which must load
    match      a fragment of the message
    path       the JSON path the message must name (null for file-level failures: signatures, encryption,
               compression, size; the message then names the file)
    why        what would happen if the loader accepted it

tests/test_hostile.py loads every case in a subprocess under a 2 GB address-space limit and checks the error and
that nothing happened besides (no file written, no process started, no planted module imported).
"""
from __future__ import annotations

import base64
import copy
import gzip
import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "python"))

import milo_fast  # noqa: E402
from milo_fast import codec, signing  # noqa: E402

CASES_DIR = HERE / "cases"
MANIFEST = HERE / "cases.json"
MARKER = "PWNED"           # a planted command would create this file in the working directory
SIGNING_SEED = bytes(range(32))            # test keys only: fixed so that the corpus is reproducible
OTHER_SEED = bytes(range(32, 64))
DECRYPT_KEY = bytes([0x42]) * 32

warnings.simplefilter("ignore")


# ------------------------------------------------------------------------------------------------ helpers

def doc_of(model, fmt="milo"):
    """The document of ``model`` as a JSON tree (text arrays: numbers in plain sight)."""
    return json.loads(milo_fast.dumps(model, arrays="text", format=fmt))


def envelope(a) -> dict:
    """The text envelope of a numpy array, as the codec writes it."""
    return json.loads(codec.encode(np.asarray(a), arrays="text"))


def array(env):
    """The numpy array of an array node (an envelope, or a milo:farray / milo:strided / milo:shared node)."""
    from milo_fast import transport
    return np.asarray(transport.from_tree(codec.decode(json.dumps(env))))


def at(doc, path: str):
    """The value at a simple JSON path: ``$.data.state.tree_`` or ``$.data.state.estimators_[1]``."""
    v = doc
    for part in _parts(path):
        v = v[part]
    return v


def put(doc, path: str, value):
    parts = _parts(path)
    parent = doc
    for part in parts[:-1]:
        parent = parent[part]
    parent[parts[-1]] = value


def delete(doc, path: str):
    parts = _parts(path)
    parent = doc
    for part in parts[:-1]:
        parent = parent[part]
    del parent[parts[-1]]


def _parts(path: str):
    """``$.a.b[3]["milo:graph"].c`` -> ["a", "b", 3, "milo:graph", "c"]."""
    import re
    assert path.startswith("$")
    out = []
    for m in re.finditer(r'\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\["([^"]*)"\]', path[1:]):
        name, index, quoted = m.groups()
        out.append(name if name is not None else int(index) if index is not None else quoted)
    return out


def edit_array(doc, path: str, fn):
    """Replace the array envelope at ``path`` by the envelope of ``fn(array)`` (inside its milo:shared wrapper,
    if it has one: every reference to it sees the change)."""
    node = at(doc, path)
    if isinstance(node, dict) and "milo:ref" in node:
        node = defined(doc, node["milo:ref"])
    if isinstance(node, dict) and "milo:shared" in node:
        node["milo:shared"] = envelope(fn(array(node["milo:shared"])))
    else:
        put(doc, path, envelope(fn(array(node))))


def defined(doc, n):
    """The node that carries ``"milo:id": n``."""
    stack = [doc]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if v.get("milo:id") == n:
                return v
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    raise KeyError(n)


def dumps(doc) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


# ------------------------------------------------------------------------------------------------ models

def fit_models():
    from sklearn import (cluster, ensemble, feature_extraction, isotonic, linear_model, neighbors, neural_network,
                         pipeline, preprocessing, svm, tree)
    rng = np.random.RandomState(0)
    X = np.round(rng.randn(40, 4), 3)
    y2 = (X[:, 0] + X[:, 1] > 0).astype(int)
    y3 = np.digitize(X[:, 0], [-0.4, 0.4])
    yr = np.round(X @ [1.0, -2.0, 0.5, 0.0], 3)
    Xc = X.copy()
    Xc[:, 0] = rng.randint(0, 4, 40)
    yc = ((Xc[:, 0] % 2 == 1) | (X[:, 1] > 0.8)).astype(int)
    Xb = np.round(rng.randn(120, 2), 3)
    m = {
        "linreg": linear_model.LinearRegression().fit(X, yr),
        "logreg": linear_model.LogisticRegression().fit(X, y3),
        "sgd": linear_model.SGDClassifier(average=True, max_iter=5, tol=None, random_state=0).fit(X, y2),
        "tree": tree.DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y3),
        "forest": ensemble.RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(X, y2),
        "gb": ensemble.GradientBoostingClassifier(n_estimators=2, max_depth=1, random_state=0).fit(X, y3),
        "hgb": ensemble.HistGradientBoostingClassifier(max_iter=2, max_depth=3, min_samples_leaf=2,
                                                       categorical_features=[0], random_state=0).fit(Xc, yc),
        "iforest": ensemble.IsolationForest(n_estimators=2, max_samples=16, max_features=2, random_state=0).fit(X),
        "knn_kd": neighbors.KNeighborsClassifier(n_neighbors=3, algorithm="kd_tree", leaf_size=4).fit(X, y2),
        "knn_ball": neighbors.NearestNeighbors(n_neighbors=2, algorithm="ball_tree", leaf_size=4, metric="seuclidean",
                                               metric_params={"V": X.var(axis=0)}).fit(X),
        "knn_brute": neighbors.KNeighborsRegressor(n_neighbors=2, algorithm="brute").fit(X, yr),
        "svc": svm.SVC(probability=True, random_state=0).fit(X, y3),
        "svc_sparse": svm.SVC().fit(sp.csr_matrix(X), y2),
        "svc_pre": svm.SVC(kernel="precomputed").fit(X @ X.T, y2),
        "kmeans": cluster.KMeans(n_clusters=3, n_init=1, random_state=0).fit(X),
        "minibatch": cluster.MiniBatchKMeans(n_clusters=3, n_init=1, random_state=0).fit(X),
        "bisecting": cluster.BisectingKMeans(n_clusters=3, random_state=0).fit(X),
        "mlp": neural_network.MLPRegressor(hidden_layer_sizes=(3,), max_iter=5, random_state=0).fit(X, yr),
        "isotonic": isotonic.IsotonicRegression().fit(X[:, 0], yr),
        "birch": cluster.Birch(n_clusters=2, threshold=0.2, branching_factor=3).fit(Xb),
        "hdbscan": cluster.HDBSCAN(min_cluster_size=4).fit(X),
        "hasher": feature_extraction.FeatureHasher(n_features=16),
        "functions": pipeline.make_pipeline(preprocessing.FunctionTransformer(np.log1p),
                                            linear_model.Ridge()).fit(np.abs(X), yr),
        "ftrans": preprocessing.FunctionTransformer(np.log1p).fit(np.abs(X)),
    }
    return m


# ------------------------------------------------------------------------------------------------ cases

BUILD_DIR = HERE / "cases.new"   # written here, moved over cases/ once every case is made


class Corpus:
    def __init__(self):
        self.cases = []
        if BUILD_DIR.exists():
            shutil.rmtree(BUILD_DIR)
        BUILD_DIR.mkdir()

    def add(self, name, category, data: bytes, error, match, path, why, *,
            entries=("load", "loads", "Import", "Import_json"),
            kwargs=None, ext=".json", sig: bytes | None = None):
        assert not any(c["name"] == name for c in self.cases), name
        fname = name + ext
        (BUILD_DIR / fname).write_bytes(data)
        if sig is not None:
            (BUILD_DIR / (fname + ".sig")).write_bytes(sig)
        self.cases.append({"name": name, "category": category, "file": f"cases/{fname}", "entries": list(entries),
                           "kwargs": kwargs or {}, "error": error, "match": match, "path": path, "why": why})

    def doc(self, name, category, doc, error, match, path, why, **kw):
        self.add(name, category, dumps(doc), error, match, path, why, **kw)

    def control(self, name, data: bytes, *, kwargs=None, ext=".json", sig: bytes | None = None,
                entries=("load", "loads", "Import", "Import_json")):
        """An unaltered document of a model the cases start from: it must load (so a case fails because of
        what it changed)."""
        self.add(f"control_{name}", "controls", data, None, "", None, "the unaltered document", kwargs=kwargs,
                 ext=ext, sig=sig, entries=entries)


def malformed(c: Corpus, M):
    base = milo_fast.dumps(M["linreg"], arrays="text")
    cat = "malformed JSON"
    c.add("json_truncated", cat, base[: len(base) // 2], "DecodeError", "unterminated", "$.data", "a half-written file")
    c.add("json_trailing_garbage", cat, base + b" }", "DecodeError", "trailing", "$", "two documents glued")
    c.add("json_invalid_utf8", cat, base.replace(b'"data"', b'"d\xffta"', 1), "DecodeError", "invalid UTF-8", "$",
          "bytes that are not text")
    c.add("json_bare_word", cat, base.replace(b"true", b"tru", 1) if b"true" in base else b'{"a": tru}',
          "DecodeError", "expected a value", "$.data.state", "an unknown token")
    c.add("json_unterminated_string", cat, b'{"milo_fast": {"format_version": 1, "x": "abc', "DecodeError",
          "unterminated string", "$.milo_fast.x", "a string that never ends")
    c.add("json_empty", cat, b"", "DecodeError", "end of the document", "$", "an empty file")
    deep = b'{"milo_fast":' + json.dumps(json.loads(base)["milo_fast"]).encode() + b',"data":' + \
        b"[" * 3000 + b"1" + b"]" * 3000 + b"}"
    c.add("json_deep_nesting", "deep nesting", deep, "DecodeError", "nesting deeper than 2048", "$.data[0][0]",
          "3000 nested lists: recursion in the parser and the builder (the C stack)")
    c.add("json_deep_nesting_limit", "deep nesting", milo_fast.dumps(M["functions"], arrays="text"), "DecodeError",
          "nesting deeper than 5", "$.data", "a legitimate document refused by a tighter max_depth",
          kwargs={"max_depth": 5})
    d = doc_of(M["linreg"])
    env = d["data"]["state"]["coef_"]
    env["pymiloed-ndarray-shape"] = [5]
    c.doc("array_shape_mismatch", "shape/length mismatch", d, "DecodeError", "has fewer than 5 items",
          "$.data.state.coef_", "a list shorter than its declared shape")
    d = doc_of(M["linreg"])
    d["data"]["state"]["coef_"]["pymiloed-ndarray-shape"] = [10 ** 12]
    c.doc("array_huge_declared_shape", "huge declared shapes", d, "DecodeError", "too short for the declared shape",
          "$.data.state.coef_",
          "a few bytes claiming 8 TB: allocating first would exhaust memory")
    d = doc_of(M["linreg"])
    d["data"]["state"]["coef_"] = {"milo-ndarray-b64": "AAAA", "milo-ndarray-dtype": "float64",
                                   "milo-ndarray-shape": [2 ** 40]}
    c.doc("array_huge_declared_shape_b64", "huge declared shapes", d, "DecodeError",
          "does not match the declared shape", "$.data.state.coef_",
          "base64 that cannot hold its declared 8 TB")
    d = doc_of(M["linreg"])
    d["data"]["state"]["coef_"] = {"milo-ndarray-b64": "", "milo-ndarray-dtype": "float64",
                                   "milo-ndarray-shape": [0, 2 ** 62, 2 ** 62]}
    c.doc("array_zero_size_overflowing_shape", "huge declared shapes", d, "DecodeError",
          "array shape too large", "$",
          "an empty array whose other dimensions overflow numpy's size (found by fuzzing: numpy's ValueError "
          "escaped the codec)")
    d = doc_of(M["linreg"])
    d["data"]["state"]["coef_"]["pymiloed-ndarray-list"][0] = "1.0"
    c.doc("array_string_in_float_array", "wrong types", d, "DecodeError", "expected a number", "$.data.state.coef_",
          "a string where a number must be")
    d = doc_of(M["tree"])
    nodes = d["data"]["state"]["tree_"]["state"]["nodes"]
    nodes["pymiloed-ndarray-list"][0][0] = 2 ** 64
    c.doc("array_int_out_of_range", "wrong types", d, "DecodeError", "out of range for int64",
          "$.data.state.tree_.state.nodes",
          "an int64 field given 2**64")


def envelope_fields(c: Corpus, M):
    cat = "wrong types in envelope fields"
    base = doc_of(M["linreg"])
    for field, value, error, match in [
        ("format_version", "1", "ValidationError", "format_version must be an int"),
        ("format_version", True, "ValidationError", "format_version must be an int"),
        ("format_version", 2, "LoadError", "format_version 2 is not supported"),
        ("milo_fast_version", 1, "ValidationError", "milo_fast_version must be a string"),
        ("python_version", None, "ValidationError", "python_version must be a string"),
        ("sklearn_version", ["1.9"], "ValidationError", "sklearn_version must be a string"),
        ("numpy_version", {"v": 2}, "ValidationError", "numpy_version must be a string"),
        ("scipy_version", 1.17, "ValidationError", "scipy_version must be a string"),
        ("model_type", 5, "ValidationError", "model_type must be a string"),
    ]:
        d = copy.deepcopy(base)
        d["milo_fast"][field] = value
        tag = type(value).__name__.lower() if field != "format_version" or value != 2 else "unknown"
        c.doc(f"header_{field}_{tag}", cat, d, error, match, f"$.milo_fast.{field}" if error != "LoadError" else None,
              "a reader that trusts header types misreads or crashes")
    d = copy.deepcopy(base)
    d["milo_fast"] = ["format_version", 1]
    c.doc("header_not_object", cat, d, "ValidationError", "must be an object", "$.milo_fast", "a header of another type")
    d = copy.deepcopy(base)
    d["extra"] = {"milo:function": "os.system"}
    c.doc("document_extra_key", cat, d, "ValidationError", "exactly the keys", None,
          "something beside the model that a careless reader might act on")
    d = copy.deepcopy(base)
    del d["data"]
    c.doc("document_no_data", cat, d, "ValidationError", "exactly the keys", None, "a header without a model")
    c.add("document_top_level_list", cat, b"[1, 2, 3]", "LoadError", "not a milo_fast document", None,
          "not an object at all")
    d = copy.deepcopy(base)
    d["milo_fast"]["model_type"] = "sklearn.tree._classes.DecisionTreeClassifier"
    c.doc("header_model_type_mismatch", cat, d, "ValidationError", "the header says", "$.data",
          "a header that lies about the model a service is about to use")


def planted(c: Corpus, M):
    cat = "planted types and functions"
    base = doc_of(M["ftrans"])
    touch = f"touch {MARKER}"
    plants = [
        ("os_system", {"milo:function": "os.system"}, {"command": touch}),
        ("builtins_eval", {"milo:function": "builtins.eval"}, {"source": f"open('{MARKER}', 'w')"}),
        ("builtins_exec", {"milo:function": "builtins.exec"}, {"source": f"open('{MARKER}', 'w')"}),
        ("dunder_import", {"milo:function": "builtins.__import__"}, {"name": "webbrowser"}),
        ("importlib_import_module", {"milo:function": "importlib.import_module"}, {"name": "antigravity"}),
        ("pickle_loads", {"milo:function": "pickle.loads"},
         {"data": {"milo:bytes": base64.b64encode(f"cos\nsystem\n(S'{touch}'\ntR.".encode()).decode()}}),
        ("numpy_load", {"milo:function": "numpy.load"}, {"allow_pickle": True}),
        ("numpy_fromfile", {"milo:function": "numpy.fromfile"}, {"file": "/etc/passwd"}),
        ("numpy_lib_npyio_load", {"milo:function": "numpy.lib.npyio.load"}, {}),
        ("numpy_loadtxt", {"milo:function": "numpy.loadtxt"}, {"fname": "/etc/passwd"}),
        ("webbrowser_open", {"milo:function": "webbrowser.open"}, {"url": "https://example.com"}),
        ("sklearn_attribute_traversal", {"milo:function": "sklearn.tree.os.system"}, {"command": touch}),
        ("numpy_attribute_traversal", {"milo:function": "numpy.add.__class__.__call__"}, {}),
        ("sklearn_name_that_does_not_exist", {"milo:function": "sklearn.metrics.not_a_metric"}, {}),
        ("posix_system", {"milo:function": "posix.system"}, {"command": touch}),
        ("operator_attrgetter", {"milo:function": "operator.attrgetter"}, {}),
        ("builtins_getattr", {"milo:function": "builtins.getattr"}, {}),
        ("runpy_run_path", {"milo:function": "runpy.run_path"}, {"path_name": "/tmp/x.py"}),
    ]
    for name, func, kw in plants:
        d = copy.deepcopy(base)
        d["data"]["state"]["func"] = func
        d["data"]["state"]["kw_args"] = kw
        c.doc(f"planted_{name}", cat, d, "UntrustedTypeError", func["milo:function"],
              '$.data.state.func["milo:function"]',
              "a loader that imports what a document names runs the attacker's code when the model is used")
    objs = [
        ("subprocess_popen", {"milo:object": "subprocess.Popen", "args": [["touch", MARKER]]}),
        ("smtplib_smtp", {"milo:object": "smtplib.SMTP", "args": ["localhost", 25]}),
        ("ctypes_cdll", {"milo:object": "ctypes.CDLL", "args": ["libc.so.6"]}),
        ("numpy_memmap", {"milo:object": "numpy.memmap", "args": [MARKER, "uint8", "w+", 0, [16]]}),
        ("sklearn_class_that_does_not_exist", {"milo:object": "sklearn.linear_model.NotAModel", "state": {}}),
        ("sklearn_module_traversal_class", {"milo:object": "sklearn.base.subprocess.Popen", "args": [["touch", MARKER]]}),
    ]
    for name, node in objs:
        d = copy.deepcopy(base)
        d["data"]["state"]["inverse_func"] = node
        c.doc(f"planted_{name}", cat, d, "UntrustedTypeError", node["milo:object"],
              '$.data.state.inverse_func["milo:object"]', "an object of an arbitrary class built from the document")
    d = copy.deepcopy(base)
    d["data"]["state"]["func"] = {"milo:object": "functools.partial",
                                  "state": {"func": {"milo:function": "os.system"}, "args": [touch], "keywords": {}}}
    c.doc("planted_in_partial", cat, d, "UntrustedTypeError", "os.system",
          '$.data.state.func.state.func["milo:function"]', "an untrusted function wrapped in an allowed partial")
    d = copy.deepcopy(base)
    d["data"]["state"]["kw_args"] = {"milo:defaultdict": [], "factory": {"milo:type": "subprocess.Popen"}}
    c.doc("planted_defaultdict_factory", cat, d, "UntrustedTypeError", "subprocess.Popen",
          '$.data.state.kw_args.factory["milo:type"]', "a class called whenever a missing key is read")
    d = copy.deepcopy(base)
    d["data"]["state"]["kw_args"] = {"milo:ndarray": "|O", "shape": [2],
                                     "items": [1, {"milo:function": "builtins.compile"}]}
    c.doc("planted_in_object_array", cat, d, "UntrustedTypeError", "builtins.compile",
          '$.data.state.kw_args.items[1]["milo:function"]', "a name hidden in an object array's items")
    d = copy.deepcopy(base)
    d["data"] = {"milo:graph": d["data"], "objects": [{"milo:object": "code.InteractiveConsole", "milo:id": 99,
                                                       "state": {}}]}
    c.doc("planted_in_graph_objects", cat, d, "UntrustedTypeError", "code.InteractiveConsole",
          '$.data.objects[0]["milo:object"]', "a name hidden in the out-of-line objects")
    d = copy.deepcopy(base)
    d["data"]["state"]["func"] = {"milo:function": "os.system"}
    d["data"]["state"]["inverse_func"] = {"milo:function": "builtins.eval"}
    d["data"]["state"]["kw_args"] = {"milo:type": "webbrowser.BackgroundBrowser"}
    c.doc("planted_three_at_once", cat, d, "UntrustedTypeError", "3 type(s) or function(s)",
          '$.data.state.kw_args["milo:type"]', "every offender must be listed, not only the first")
    d = copy.deepcopy(base)
    d["data"]["state"]["kw_args"] = {"milo:object": "builtins.type", "args": ["X", {"milo:tuple": []}, {}]}
    c.doc("allowed_type_called_as_constructor", "generic objects", d, "ValidationError", "cannot be rebuilt as an object",
          "$.data.state.kw_args", "type(name, bases, dict) would create a class from the document")
    d = copy.deepcopy(base)
    d["data"]["state"]["kw_args"] = {"milo:object": "builtins.bytes", "args": [10 ** 10]}
    c.doc("allowed_bytes_huge_argument", "generic objects", d, "ValidationError", "cannot be rebuilt as an object",
          "$.data.state.kw_args", "bytes(10**10): 10 GB from a dozen bytes of document")
    d = copy.deepcopy(base)
    d["data"]["state"]["kw_args"] = {"milo:object": "sklearn.preprocessing._data.StandardScaler", "args": [1, 2]}
    c.doc("constructor_arguments_for_estimator", "generic objects", d, "ValidationError", "no arguments",
          "$.data.state.kw_args.args", "arguments to a class that is created without any")


def references(c: Corpus, M):
    cat = "references"
    d = doc_of(M["ftrans"])
    d["data"]["state"]["kw_args"] = {"milo:ref": 7}
    c.doc("ref_undefined", cat, d, "ValidationError", "does not refer to a value defined before it",
          '$.data.state.kw_args["milo:ref"]', "a reference to nothing")
    d = doc_of(M["ftrans"])
    d["data"]["state"]["kw_args"] = {"a": {"milo:dict": [], "milo:id": 1}, "b": {"milo:dict": [], "milo:id": 1}}
    c.doc("id_defined_twice", cat, d, "ValidationError", "defined twice", "$.data.state.kw_args.b",
          "two values under one id: which one a reference means is ambiguous")
    d = doc_of(M["ftrans"])
    d["data"]["state"]["kw_args"] = {"milo:tuple": [], "milo:function": "numpy.log1p"}
    c.doc("two_marker_keys", cat, d, "ValidationError", "two marker keys", "$.data.state.kw_args",
          "a node that is two things at once")
    d = doc_of(M["ftrans"])
    d["data"]["state"]["kw_args"] = {"milo:exec": "print(1)"}
    c.doc("unknown_marker", cat, d, "ValidationError", "unknown marker", "$.data.state.kw_args",
          "a marker the reader does not know")


def tree_tables(c: Corpus, M):
    cat = "crafted tree tables"
    base = doc_of(M["tree"])
    P = "$.data.state.tree_.state"
    nodes_path = P + ".nodes"
    rows = at(base, nodes_path)["pymiloed-ndarray-list"]
    internal = [i for i, r in enumerate(rows) if r[0] != -1]
    i0, i1 = internal[0], internal[1]

    def mutate(name, fn, match, why, path=nodes_path, error="ValidationError"):
        d = copy.deepcopy(base)
        fn(at(d, nodes_path)["pymiloed-ndarray-list"], d)
        c.doc(f"tree_{name}", cat, d, error, match, path, why)

    mutate("cycle_child_points_to_root", lambda r, d: r[i1].__setitem__(0, 0), "not greater than its parent",
           "a walk from the root would never reach a leaf: predict loops forever")
    mutate("child_points_to_itself", lambda r, d: r[i1].__setitem__(1, i1), "not greater than its parent",
           "an infinite loop in apply / predict")
    mutate("shared_child", lambda r, d: r[i0].__setitem__(1, r[i1][0]), "two parents",
           "a DAG, not a tree: node counts and decision paths go wrong")
    mutate("child_out_of_range", lambda r, d: r[i1].__setitem__(1, 10 ** 6), "out of range",
           "reads a node a million entries past the table")
    mutate("child_negative", lambda r, d: r[i1].__setitem__(0, -7), "left child -7 is out of range",
           "a negative child index reads before the table")
    mutate("one_child_only", lambda r, d: r[i1].__setitem__(1, -1), "right child is -1 (leaf)",
           "a node that is half leaf, half split")
    mutate("feature_out_of_range", lambda r, d: r[i0].__setitem__(2, 4), "feature",
           "reads X[i, 4] of a 4-column input: past the row")
    mutate("feature_negative", lambda r, d: r[i0].__setitem__(2, -1), "feature", "reads X[i, -1]: before the row")
    d = copy.deepcopy(base)
    at(d, P)["max_depth"] = 0
    depth = M["tree"].tree_.max_depth
    c.doc("tree_max_depth_too_small", cat, d, "ValidationError", f"max_depth is 0 but the node table is {depth} levels",
          P + ".max_depth", "decision_path sizes its buffer by max_depth and writes one entry per level: a heap "
          "overflow (glibc aborts with free(): invalid pointer)")
    d = copy.deepcopy(base)
    at(d, P)["max_depth"] = 2 ** 30
    c.doc("tree_max_depth_huge", cat, d, "ValidationError", "max_depth is 1073741824", P + ".max_depth",
          "decision_path would allocate n_samples * 2**30 entries")
    d = copy.deepcopy(base)
    at(d, P)["node_count"] = at(d, P)["node_count"] + 2
    c.doc("tree_wrong_node_count", cat, d, "ValidationError", "node table of", nodes_path,
          "sklearn copies node_count rows from a shorter table")
    d = copy.deepcopy(base)
    edit_array(d, P + ".values", lambda v: v[:-1])
    c.doc("tree_wrong_value_rows", cat, d, "ValidationError", "float64 array of shape", P + ".values",
          "predict reads the value row of the last leaf past the end")
    d = copy.deepcopy(base)
    edit_array(d, P + ".values", lambda v: v[:, :, :2].copy())
    c.doc("tree_wrong_value_classes", cat, d, "ValidationError", "float64 array of shape", P + ".values",
          "value rows narrower than the tree's class count")
    d = copy.deepcopy(base)
    env = at(d, nodes_path)
    env["pymiloed-ndarray-dtype"]["names"][2] = "featur"
    c.doc("tree_node_dtype_renamed", cat, d, "ValidationError", "NODE_DTYPE", nodes_path,
          "a table whose columns are not sklearn's")
    d = copy.deepcopy(base)
    d["data"]["state"]["n_features_in_"] = 3
    c.doc("tree_width_vs_n_features_in", "inconsistent attributes", d, "ValidationError", "number of features",
          "$.data.state.n_features_in_", "the tree reads 4 columns of a 3-column input")
    d = copy.deepcopy(base)
    d["data"]["state"]["n_classes_"] = 5
    c.doc("tree_classes_vs_values", "inconsistent attributes", d, "ValidationError", "the tree's 3 classes",
          "$.data.state.n_classes_", "predict_proba and classes_ disagree with the tree")
    d = doc_of(M["forest"])
    est1 = at(d, "$.data.state.estimators_[1].state")
    est1["n_features_in_"] = 5          # a consistent tree over 5 features, one of its splits on column 4 ...
    est1["tree_"]["args"][0] = 5
    rows = est1["tree_"]["state"]["nodes"]["pymiloed-ndarray-list"]
    rows[0][2] = 4                      # ... in a forest of 4: the forest's X has no column 4
    c.doc("forest_tree_narrower_than_forest", "inconsistent attributes", d, "ValidationError",
          "a fitted decision tree over 4 features", "$.data.state.estimators_[1]",
          "the forest hands its own X to each tree with check_input=False")
    d = doc_of(M["gb"])
    edit_array_obj = at(d, "$.data.state.estimators_")
    edit_array_obj["shape"] = [edit_array_obj["shape"][0] * edit_array_obj["shape"][1] // 2, 2]
    c.doc("gradient_boosting_grid_too_narrow", "inconsistent attributes", d, "ValidationError",
          "n_trees_per_iteration_", "$.data.state.estimators_",
          "predict_stages adds tree k to column k of raw predictions sized by the number of classes")
    d = doc_of(M["gb"])
    edit_array(d, "$.data.state.init_.state.classes_", lambda a: a[:2].copy())
    c.doc("gradient_boosting_init_classes", "inconsistent attributes", d, "ValidationError",
          "an estimator with predict_proba over 3 classes", "$.data.state.init_",
          "the init estimator gives 2 columns of raw predictions, predict_stages writes 3")
    d = doc_of(M["iforest"])
    at(d, "$.data.state")["estimators_features_"][0] = envelope(np.array([0]))
    c.doc("isolation_forest_feature_subset", "inconsistent attributes", d, "ValidationError", "a tree over 1 features",
          "$.data.state.estimators_[0]", "apply(check_input=False) on X[:, features] with fewer columns than the tree reads")


def hist_gradient_boosting(c: Corpus, M):
    cat = "HistGradientBoosting predictors"
    base = doc_of(M["hgb"])
    P = "$.data.state._predictors[0][0]"
    nodes_path = P + ".state.nodes"
    pred = at(base, P)
    assert pred["milo:object"].endswith("TreePredictor"), pred
    rows = at(base, nodes_path)["pymiloed-ndarray-list"]
    names = at(base, nodes_path)["pymiloed-ndarray-dtype"]["names"]
    col = {n: i for i, n in enumerate(names)}
    splits = [i for i, r in enumerate(rows) if r[col["is_leaf"]] == 0]
    cat_split = [i for i in splits if rows[i][col["is_categorical"]] == 1]
    num_split = [i for i in splits if rows[i][col["is_categorical"]] == 0]
    assert cat_split and num_split, (cat_split, num_split)

    def mutate(name, fn, match, why, path="$.data.state._predictors[0][0]", error="ValidationError"):
        d = copy.deepcopy(base)
        fn(at(d, nodes_path)["pymiloed-ndarray-list"])
        c.doc(f"hgb_{name}", cat, d, error, match, path, why)

    s0 = splits[0]
    mutate("child_out_of_range", lambda r: r[s0].__setitem__(col["left"], 999), "out of range",
           "reads a node past the predictor's table")
    mutate("child_cycle", lambda r: r[splits[-1]].__setitem__(col["right"], 0), "is not greater than its parent",
           "a loop back to the root: predict never returns")
    mutate("feature_out_of_range", lambda r: r[s0].__setitem__(col["feature_idx"], 4), "feature_idx 4 >= n_features 4",
           "reads column 4 of a 4-column input")
    mutate("bitset_index_out_of_range", lambda r: r[cat_split[0]].__setitem__(col["bitset_idx"], 9), "bitset",
           "in_bitset_2d_memoryview reads row 9 of a 1-row bitset array")
    mutate("categorical_split_on_numeric_feature",
           lambda r: (r[num_split[0]].__setitem__(col["is_categorical"], 1),
                      r[num_split[0]].__setitem__(col["bitset_idx"], 0)),
           "categorical splits only on features the bin mapper marks categorical",
           "f_idx_map sends a non-categorical feature to row 0 of known_cat_bitsets, which may not exist",
           path=P + ".nodes")
    d = copy.deepcopy(base)
    bm = at(d, "$.data.state._bin_mapper.state")
    thr = bm["bin_thresholds_"]
    thr[0] = envelope(np.array([0.0, 1.0, 300.0]))
    c.doc("hgb_known_category_out_of_range", cat, d, "ValidationError", "categories that are integers in [0, 255]",
          "$.data.state._bin_mapper.state.bin_thresholds_[0]",
          "make_known_categories_bitsets sets bit 300 of a 256-bit set")
    d = copy.deepcopy(base)
    bm = at(d, "$.data.state._bin_mapper.state")
    bm["is_categorical_"] = envelope(np.array([1, 0, 0], dtype=np.uint8))
    c.doc("hgb_is_categorical_wrong_length", cat, d, "ValidationError", "uint8 array of 4 flags",
          "$.data.state._bin_mapper.state.is_categorical_", "f_idx_map is built one entry per flag")
    d = copy.deepcopy(base)
    at(d, "$.data.state")["_in_fit"] = True
    c.doc("hgb_planted_in_fit", cat, d, "ValidationError", "_in_fit", "$.data.state._in_fit",
          "_in_fit makes predict skip input validation and use the binned path")
    d = copy.deepcopy(base)
    ft = at(d, "$.data.state._preprocessor.state.transformers_")
    ft_node = ft["milo:shared"] if "milo:shared" in ft else ft
    assert "numerical" in json.dumps(ft_node)
    txt = json.dumps(d).replace('"milo:function": "sklearn.utils.validation.check_array"',
                                '"milo:function": "numpy.transpose"')
    assert txt != json.dumps(d)
    d = json.loads(txt)
    c.doc("hgb_preprocessor_changes_width", cat, d, "ValidationError", "FunctionTransformer applying check_array",
          "$.data.state._preprocessor.state.transformers_",
          "the predictors index the preprocessor's output, which another function could make narrower")
    d = copy.deepcopy(base)
    at(d, "$.data.state")["n_trees_per_iteration_"] = 2
    c.doc("hgb_trees_per_iteration", cat, d, "ValidationError", "shape (1, 2)", "$.data.state._baseline_prediction",
          "raw predictions of 2 columns for predictors of 1")


def neighbor_trees(c: Corpus, M):
    cat = "KD / ball trees"
    base = doc_of(M["knn_kd"])
    T = "$.data.state._tree.state"

    def mutate(name, fn, match, path, why, model="knn_kd"):
        d = copy.deepcopy(base if model == "knn_kd" else doc_of(M[model]))
        fn(d)
        c.doc(f"neighbors_{name}", cat, d, "ValidationError", match, path, why)

    mutate("idx_array_not_permutation", lambda d: edit_array(d, T + ".idx_array", lambda a: np.where(a == 1, 0, a)),
           "not a permutation", T + ".idx_array", "a row indexed twice, another never")
    mutate("idx_array_out_of_range", lambda d: edit_array(d, T + ".idx_array", lambda a: np.where(a == 1, 10 ** 6, a)),
           "not a permutation", T + ".idx_array", "reads data row 10**6 of 40")
    mutate("node_range_outside_data",
           lambda d: edit_array(d, T + ".node_data", lambda a: _set(a, -1, "idx_end", 10 ** 6)),
           "outside the data", T + ".node_data", "a leaf walks idx_array past its end")
    mutate("node_ranges_overlap",
           lambda d: edit_array(d, T + ".node_data", lambda a: _set(a, 1, "idx_end", a["idx_end"][1] + 3)),
           "not split between its two children", T + ".node_data",
           "rows visited twice: wrong neighbours, and a query_radius that trips its internal count guard")
    mutate("node_bounds_one_plane",
           lambda d: edit_array(d, T + ".node_bounds", lambda a: a[:1].copy()),
           "shape (2,", T + ".node_bounds", "KD queries read the upper bounds plane, which is not there")
    mutate("n_nodes_vs_levels", lambda d: at(d, T).__setitem__("n_levels", at(d, T)["n_levels"] + 1),
           "2**n_levels - 1", T + ".n_nodes", "the implicit layout assumes a complete binary tree")
    mutate("node_data_int32",
           lambda d: edit_array(d, T + ".node_data", lambda a: a.astype([("idx_start", "<i4"), ("idx_end", "<i4"),
                                                                         ("is_leaf", "<i4"), ("radius", "<f8")])),
           "NodeData", T + ".node_data", "a table read with the wrong field widths")
    mutate("internal_leaf_without_children",
           lambda d: edit_array(d, T + ".node_data", lambda a: _set(a, len(a) - 1, "is_leaf", 0)),
           "has no children", T + ".node_data", "children 2i+1, 2i+2 past the table")
    mutate("metric_vector_too_short",
           lambda d: edit_array(d, "$.data.state._tree.state.dist_metric.state.vec", lambda a: a[:2].copy()),
           "SEuclidean dist: size of V does not match", "$.data.state._tree.state.dist_metric",
           "the seuclidean distance reads V[j] for every column", model="knn_ball")
    mutate("fit_X_narrower_than_input",
           lambda d: edit_array(d, "$.data.state._fit_X", lambda a: np.ascontiguousarray(a[:, :2])),
           "n_features_in_ (4) columns", "$.data.state._fit_X",
           "brute-force kneighbors (compiled ArgKmin) reads each training row with the query's width",
           model="knn_brute")
    mutate("tree_over_other_data",
           lambda d: put(d, T + ".data", envelope(array(at(d, "$.data.state._fit_X")["milo:shared"])[::-1].copy())),
           "a tree over _fit_X itself", "$.data.state._tree",
           "the tree's indices are mapped to _y and _fit_X rows they do not belong to")
    mutate("n_samples_fit_wrong", lambda d: at(d, "$.data.state").__setitem__("n_samples_fit_", 400),
           "the 40 rows of _fit_X", "$.data.state.n_samples_fit_", "n_neighbors is checked against a wrong count")


def _set(a, i, field, value):
    a = a.copy()
    a[field][i] = value
    return a


def libsvm(c: Corpus, M):
    cat = "libsvm state"
    base = doc_of(M["svc"])
    S = "$.data.state"

    def mutate(name, fn, match, path, why, model=None):
        d = copy.deepcopy(base) if model is None else doc_of(M[model])
        fn(d)
        c.doc(f"svm_{name}", cat, d, "ValidationError", match, path, why)

    mutate("n_support_sum", lambda d: edit_array(d, S + "._n_support", lambda a: a + np.array([5, 0, 0], a.dtype)),
           "summing to the", S + "._n_support", "libsvm walks nSV[i] vectors per class past the support vectors")
    mutate("dual_coef_short", lambda d: edit_array(d, S + "._dual_coef_", lambda a: a[:, :3].copy()),
           "shape (2,", S + "._dual_coef_", "set_model reads (n_class - 1) * l coefficients")
    mutate("intercept_short", lambda d: edit_array(d, S + "._intercept_", lambda a: a[:1].copy()),
           "3 intercept(s)", S + "._intercept_", "set_model copies n_class*(n_class-1)/2 intercepts")
    mutate("probability_tables_short", lambda d: edit_array(d, S + "._probA", lambda a: a[:1].copy()),
           "0 or 3 values", S + "._probA", "predict_proba copies 3 probability pairs")
    mutate("support_vectors_narrow", lambda d: edit_array(d, S + ".support_vectors_", lambda a: np.ascontiguousarray(a[:, :2])),
           "n_features_in_ columns", S + ".support_vectors_", "the kernel reads each support vector with X's width")
    mutate("planted_impl", lambda d: at(d, S).__setitem__("_impl", "one_class"), "the libsvm type of a SVC",
           S + "._impl", "another libsvm machine over tables laid out for this one")
    mutate("precomputed_support_out_of_range",
           lambda d: edit_array(d, S + ".support_", lambda a: np.where(a == a.max(), 10 ** 6, a).astype(np.int32)),
           "indices of training samples", S + ".support_", "a precomputed kernel is read at column support_[i]",
           model="svc_pre")
    mutate("sparse_dual_coef_short",
           lambda d: _sparse_drop_last(at(d, S + "._dual_coef_")),
           "every entry stored", S + "._dual_coef_", "csr_set_model copies (n_class - 1) * l coefficients",
           model="svc_sparse")
    mutate("kernel_unknown", lambda d: at(d, S).__setitem__("kernel", "rbf; import os"), "kernel", S + ".kernel",
           "a kernel name libsvm does not have")


def _sparse_drop_last(node):
    st = node["state"]
    data = array(st["data"])
    indices = array(st["indices"])
    indptr = array(st["indptr"])
    indptr = indptr.copy()
    indptr[-1] -= 1
    st["data"] = envelope(data[:-1])
    st["indices"] = envelope(indices[:-1])
    st["indptr"] = envelope(indptr)


def estimators(c: Corpus, M):
    cat = "inconsistent attributes"
    d = doc_of(M["logreg"])
    edit_array(d, "$.data.state.coef_", lambda a: np.ascontiguousarray(a[:, :3]))
    c.doc("linear_coef_vs_n_features_in", cat, d, "ValidationError", "4 columns (n_features_in_)",
          "$.data.state.coef_", "decision_function multiplies a 4-column input by 3 coefficients")
    d = doc_of(M["logreg"])
    edit_array(d, "$.data.state.intercept_", lambda a: a[:2].copy())
    c.doc("linear_intercept_vs_coef", cat, d, "ValidationError", "3 intercept(s)", "$.data.state.intercept_",
          "an intercept per class, one missing")
    d = doc_of(M["logreg"])
    edit_array(d, "$.data.state.classes_", lambda a: a[:2].copy())
    c.doc("linear_classes_vs_coef", cat, d, "ValidationError", "1 row(s) for 2 classes", "$.data.state.coef_",
          "classes_ and the rows of coef_ disagree: predict maps scores to the wrong labels")
    d = doc_of(M["sgd"])
    edit_array(d, "$.data.state._standard_coef", lambda a: np.ascontiguousarray(a[..., :2]))
    c.doc("sgd_standard_coef_short", cat, d, "ValidationError", "an array like coef_", "$.data.state._standard_coef",
          "partial_fit hands _standard_coef and _average_coef to WeightVector, which updates the average over "
          "the length of the first")
    d = doc_of(M["kmeans"])
    edit_array(d, "$.data.state.cluster_centers_", lambda a: np.ascontiguousarray(a[:, :2]))
    c.doc("kmeans_centers_narrow", cat, d, "ValidationError", "n_features_in_ columns", "$.data.state.cluster_centers_",
          "_kmeans Cython reads each centre with the input's width")
    d = doc_of(M["kmeans"])
    at(d, "$.data.state")["_n_threads"] = 10 ** 6
    c.doc("kmeans_million_threads", cat, d, "ValidationError", "an int in [1, 1025)", "$.data.state._n_threads",
          "predict starts _n_threads OpenMP threads")
    d = doc_of(M["minibatch"])
    edit_array(d, "$.data.state._counts", lambda a: a[:1].copy())
    c.doc("minibatch_kmeans_counts_short", cat, d, "ValidationError", "one float64 count per centre",
          "$.data.state._counts", "partial_fit adds to weight_sums[label] for every centre")
    d = doc_of(M["bisecting"])
    txt = json.dumps(d)
    tree = at(d, "$.data.state._bisecting_tree")
    assert "left" in tree["state"] and tree["state"]["left"] is not None, tree["state"].keys()
    tree["state"]["left"]["state"]["center"] = envelope(np.zeros(2))
    c.doc("bisecting_kmeans_node_center", cat, d, "ValidationError", "node centres of n_features_in_ values",
          "$.data.state._bisecting_tree", "predict hands each node's pair of centres to the Cython labeller")
    del txt
    d = doc_of(M["mlp"])
    edit_array(d, "$.data.state.coefs_[1]", lambda a: np.ascontiguousarray(a[:2]))
    c.doc("mlp_layers_do_not_chain", cat, d, "ValidationError", "as many inputs as the previous layer's outputs",
          "$.data.state.coefs_[1]", "forward pass multiplies mismatched matrices")
    d = doc_of(M["mlp"])
    at(d, "$.data.state")["out_activation_"] = "os.system"
    c.doc("mlp_unknown_activation", cat, d, "ValidationError", "one of", "$.data.state.out_activation_",
          "a function looked up by a name from the document")
    d = doc_of(M["isotonic"])
    edit_array(d, "$.data.state.y_thresholds_", lambda a: a[:3].copy())
    c.doc("isotonic_thresholds_mismatch", cat, d, "ValidationError", "x and y arrays must be equal in length",
          "$.data.state",
          "interpolation between thresholds and values of different lengths")
    d = doc_of(M["hasher"])
    at(d, "$.data.state")["n_features"] = 0
    c.doc("hasher_zero_features", "hyper-parameters", d, "ValidationError", "'n_features' parameter of FeatureHasher",
          "$.data.state.n_features", "the compiled hasher takes the hash modulo n_features")
    d = doc_of(M["knn_kd"])
    at(d, "$.data.state")["n_jobs"] = 10 ** 6
    c.doc("knn_million_jobs", "hyper-parameters", d, "ValidationError", "null or an int up to 1024",
          "$.data.state.n_jobs", "kneighbors starts n_jobs threads (2,000 measured for n_jobs=2000)")
    d = doc_of(M["svc"])
    at(d, "$.data.state")["degree"] = -3
    c.doc("svc_negative_degree", "hyper-parameters", d, "ValidationError", "'degree' parameter of SVC",
          "$.data.state.degree", "a hyper-parameter fit would have refused, handed to libsvm as is")
    d = doc_of(M["hdbscan"])
    edit_array(d, "$.data.state._single_linkage_tree_", lambda a: _set(a, 0, "left_node", 10 ** 6))
    c.doc("hdbscan_linkage_out_of_range", cat, d, "ValidationError", "children are points or earlier clusters",
          "$.data.state._single_linkage_tree_", "dbscan_clustering writes a union-find entry 10**6 past its end")


def objects_named(doc, suffix):
    """Every milo:object node whose class name ends with ``suffix``, in document order."""
    out = []

    def walk(v):
        if isinstance(v, dict):
            if str(v.get("milo:object", "")).endswith(suffix):
                out.append(v)
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(doc)
    return out


def birch(c: Corpus, M):
    cat = "Birch CF tree"
    B = '$.data["milo:graph"].state'
    base = doc_of(M["birch"])
    assert "milo:graph" in base["data"], "Birch is written with its leaf chain out of line"
    dummy = at(base, B + ".dummy_leaf_")
    assert "milo:id" in dummy
    d = copy.deepcopy(base)
    last = [n for n in objects_named(d, "_CFNode") if n["state"].get("is_leaf") is True
            and n["state"].get("next_leaf_") is None]
    assert len(last) == 1
    last[0]["state"]["next_leaf_"] = {"milo:ref": dummy["milo:id"]}
    c.doc("birch_leaf_chain_cycle", cat, d, "ValidationError", "a chain of the tree's leaves", B + ".dummy_leaf_",
          "partial_fit walks the leaf chain until None: a cycle hangs it")
    d = copy.deepcopy(base)
    root = at(d, B + ".root_")
    root["milo:id"] = 10 ** 6
    inner = [n for n in objects_named(root, "_CFSubcluster") if isinstance(n["state"].get("child_"), dict)]
    inner[-1]["state"]["child_"] = {"milo:ref": 10 ** 6}
    c.doc("birch_cf_tree_cycle", cat, d, "ValidationError", "no node reached twice", B + ".root_",
          "insert_cf_subcluster descends into the child forever")
    d = copy.deepcopy(base)
    edit_array(d, B + ".subcluster_centers_", lambda a: np.ascontiguousarray(a[:, :1]))
    c.doc("birch_subcluster_centers_narrow", cat, d, "ValidationError", "2 columns (n_features_in_)",
          B + ".subcluster_centers_", "predict measures 2-column input against 1-column centres")


def sparse_matrices(c: Corpus, M):
    cat = "sparse matrices"
    S = "$.data.state.support_vectors_.state"
    for name, fn, match in [
        ("indptr_not_monotonic", lambda st: st.__setitem__("indptr", envelope(_swap(array(st["indptr"]), 1, 2))),
         "inconsistent sparse matrix"),
        ("index_out_of_range", lambda st: st.__setitem__("indices", envelope(_bump(array(st["indices"]), 0, 10 ** 6))),
         "inconsistent sparse matrix"),
        ("indptr_too_short", lambda st: st.__setitem__("indptr", envelope(array(st["indptr"])[:-3])),
         "inconsistent sparse matrix"),
        ("int8_indices", lambda st: st.__setitem__("indices", envelope(array(st["indices"]).astype(np.int8))),
         "int32 or int64 index array"),
    ]:
        d = doc_of(M["svc_sparse"])
        fn(at(d, S))
        c.doc(f"sparse_{name}", cat, d, "ValidationError", match, S,
              "scipy's and libsvm's compiled code index data through indptr and indices without checks")


def _swap(a, i, j):
    a = a.copy()
    a[i], a[j] = a[j], a[i]
    return a


def _bump(a, i, v):
    a = a.copy()
    a[i] = v
    return a


def limits(c: Corpus, M):
    cat = "bounded resources"
    d = doc_of(M["ftrans"])
    d["data"]["state"]["kw_args"] = {"milo:ndarray": "<U100000000", "shape": [40], "items": ["a"] * 40}
    c.doc("wide_string_dtype", cat, d, "LoadError", "max_alloc", "$.data.state.kw_args",
          "40 one-letter strings in a 400 MB-per-item dtype: 16 GB from 300 bytes")
    d = doc_of(M["ftrans"])
    d["data"]["state"]["kw_args"] = {"milo:strided": envelope(np.zeros(4)), "strides": [1 << 39], "offset": 0}
    c.doc("strided_huge_extent", cat, d, "ValidationError", "strides spanning at most 64 times the data",
          "$.data.state.kw_args", "four floats spread over 1.5 TB")
    d = doc_of(M["ftrans"])
    d["data"]["state"]["kw_args"] = {"milo:ndarray": "|O", "shape": [0, 2 ** 61, 2 ** 61], "items": []}
    c.doc("object_array_overflowing_shape", cat, d, "ValidationError", "a shape numpy can represent",
          "$.data.state.kw_args.shape",
          "an empty array whose other dimensions overflow numpy's size")
    big = milo_fast.dumps(M["forest"], arrays="text")
    c.add("max_size_exceeded", cat, big, "LoadError", "max_size=2000", None,
          "a document larger than the caller allows", kwargs={"max_size": 2000})
    c.add("max_elements_exceeded", cat, milo_fast.dumps(M["knn_brute"], arrays="text"), "LoadError",
          "max_elements=100", "$.data.state", "more array elements than the caller allows",
          kwargs={"max_elements": 100})
    c.add("max_alloc_exceeded", cat, big, "LoadError", "max_alloc=1000", "$.data.state",
          "more array bytes than the caller allows", kwargs={"max_alloc": 1000})
    bomb = gzip.compress(b'{"milo_fast": {}, "data": "' + b" " * (20 << 20) + b'"}', compresslevel=9, mtime=0)
    c.add("gzip_bomb", cat, bomb, "LoadError", "max_size", None,
          "20 MB of text in 20 KB of gzip: decompression stops at max_size", kwargs={"max_size": 1 << 20},
          ext=".json.gz")
    import zstandard
    z = zstandard.ZstdCompressor().compress(milo_fast.dumps(M["forest"], arrays="text"))
    c.add("zstd_truncated", cat, z[: len(z) // 2], "LoadError", "truncated zstd data", None, "a compressed file cut in half",
          ext=".json.zst")
    c.add("gzip_corrupt", cat, gzip.compress(b"x" * 1000, mtime=0)[:10] + b"\x00" * 20, "LoadError", "corrupt compressed data",
          None,
          "gzip magic followed by garbage", ext=".json.gz")


def signatures(c: Corpus, M, keys):
    cat = "signatures"
    data = milo_fast.dumps(M["linreg"], arrays="text")
    good = signing.sign_bytes(data, keys["private"])
    other = signing.sign_bytes(data, keys["other_private"])
    kw = {"public_key": "@public_key"}
    c.add("signature_missing", cat, data, "SignatureError", "no signature", None,
          "an unsigned file where a signed one is required", entries=("load", "Import"), kwargs=kw)
    altered = data.replace(b'"fit_intercept":true', b'"fit_intercept":false')
    assert altered != data
    c.add("signature_file_altered", cat, altered, "SignatureError", "altered", None,
          "a model changed after it was signed", entries=("load", "Import"), kwargs=kw, sig=good)
    c.add("signature_by_another_key", cat, data, "SignatureError", "signed by another key", None,
          "a valid signature by someone else", entries=("load", "Import"), kwargs=kw, sig=other)
    s = json.loads(good)
    raw = bytearray(base64.b64decode(s["signature"]))
    raw[5] ^= 1
    s["signature"] = base64.b64encode(bytes(raw)).decode()
    c.add("signature_forged", cat, data, "SignatureError", "is not valid for this file and key", None,
          "a .sig whose claims match but whose signature was forged", entries=("load", "Import"), kwargs=kw,
          sig=json.dumps(s).encode())
    c.add("signature_malformed", cat, data, "SignatureError", "malformed signature file", None,
          "a .sig that is not a signature file",
          entries=("load", "Import"), kwargs=kw, sig=b'{"milo_fast_signature": "1"}')


def encryption(c: Corpus, M):
    cat = "encryption"
    data = milo_fast.dumps(M["linreg"], arrays="text", encrypt_key=DECRYPT_KEY)
    kw = {"decrypt_key": "@decrypt_key"}
    t = bytearray(data)
    t[100] ^= 0x40
    c.add("encrypted_tampered", cat, bytes(t), "SignatureError", "altered", None,
          "one ciphertext bit flipped", kwargs=kw, ext=".enc")
    c.add("encrypted_truncated", cat, data[:-20], "SignatureError", "altered or truncated", None,
          "the end of the file cut off",
          kwargs=kw, ext=".enc")
    c.add("encrypted_wrong_key", cat, data, "SignatureError", "wrong key", None, "another key",
          kwargs={"decrypt_key": "@other_decrypt_key"}, ext=".enc")
    c.add("encrypted_without_key", cat, data, "SignatureError", "the file is encrypted: pass decrypt_key", None,
          "an encrypted file loaded as if it were plain", ext=".enc")
    bad = bytearray(data)
    bad[8] = 9
    c.add("encrypted_unknown_cipher", cat, bytes(bad), "DecodeError", "unknown cipher 9", None,
          "a header naming no known cipher",
          kwargs=kw, ext=".enc")
    plain = milo_fast.dumps(M["linreg"], arrays="text")
    c.add("encrypted_downgrade_to_plaintext", cat, plain, "SignatureError", "the file is not encrypted", None,
          "a plaintext file swapped in where an encrypted one is expected", kwargs=kw)


def pymilo(c: Corpus, M):
    cat = "PyMilo documents"
    base = doc_of(M["functions"], "pymilo")
    txt = json.dumps(base)
    assert '"function_name": "log1p"' in txt, txt[:500]

    def plant(name, module, func, match=None):
        t = txt.replace('"function_name": "log1p", "function_module": "numpy"',
                        f'"function_name": "{func}", "function_module": "{module}"')
        assert t != txt
        c.add(f"pymilo_planted_{name}", cat, t.encode(), "UntrustedTypeError", match or f"{module}.{func}",
              None, "PyMilo itself imports whatever module a file names",
              entries=("load", "Import", "Import_json"))
    plant("os_system", "os", "system")
    plant("builtins_eval", "builtins", "eval")
    plant("subprocess_popen", "subprocess", "Popen")
    plant("smtplib", "smtplib", "SMTP")
    plant("module_traversal", "sklearn.tree", "os.system")
    plant("dunder_import", "builtins", "__import__")
    d = copy.deepcopy(base)
    d["model_type"] = "Popen"
    c.doc("pymilo_unknown_model_type", cat, d, "UntrustedTypeError", "Popen at $.model_type", "$.model_type",
          "a model name outside PyMilo's tables")
    t = doc_of(M["tree"], "pymilo")
    st = t["data"]["tree_"]["pymilo-tree"]["internal_state"]
    rows = st["nodes"]["values"]
    inner = [i for i, r in enumerate(rows) if r[0] != -1]
    rows[inner[1]][0] = 0
    c.doc("pymilo_tree_cycle", cat, t, "ValidationError", "child indices must lie after their parent",
          "$.data.tree_.pymilo-tree.internal_state.nodes", "PyMilo hands the table to sklearn unchecked")
    t = doc_of(M["tree"], "pymilo")
    t["data"]["tree_"]["pymilo-tree"]["internal_state"]["max_depth"] = 0
    c.doc("pymilo_tree_max_depth", cat, t, "ValidationError", "max_depth is 0",
          "$.data.tree_.pymilo-tree.internal_state.max_depth", "decision_path heap overflow, through PyMilo's format")
    t = doc_of(M["tree"], "pymilo")
    names = t["data"]["tree_"]["pymilo-tree"]["internal_state"]["nodes"]["field-names"]
    t["data"]["tree_"]["pymilo-tree"]["internal_state"]["nodes"]["field-names"] = {
        "pymiloed-ndarray-list": names[:-1], "pymiloed-ndarray-dtype": "<U23",
        "pymiloed-ndarray-shape": [len(names) - 1], "pymiloed-data-structure": "numpy.ndarray"}
    c.doc("pymilo_tree_field_names_array", cat, t, "ValidationError", "node fields must be",
          "$.data.tree_.pymilo-tree.internal_state.nodes.field-names",
          "an array where a list of names must be (found by fuzzing: an elementwise comparison raised)")
    k = doc_of(M["knn_brute"], "pymilo")
    k["data"]["_fit_X"] = envelope(np.ascontiguousarray(array(k["data"]["_fit_X"])[:, :2]))
    c.doc("pymilo_knn_fit_X_narrow", cat, k, "ValidationError", "n_features_in_ (4) columns", "$.data._fit_X",
          "the same validators run on PyMilo documents")


def main() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    priv = Ed25519PrivateKey.from_private_bytes(SIGNING_SEED)
    other = Ed25519PrivateKey.from_private_bytes(OTHER_SEED)

    def pem(k):
        return k.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    keys = {"private": priv, "other_private": other}
    M = fit_models()
    c = Corpus()
    malformed(c, M)
    envelope_fields(c, M)
    planted(c, M)
    references(c, M)
    tree_tables(c, M)
    hist_gradient_boosting(c, M)
    neighbor_trees(c, M)
    libsvm(c, M)
    estimators(c, M)
    birch(c, M)
    sparse_matrices(c, M)
    limits(c, M)
    signatures(c, M, keys)
    encryption(c, M)
    pymilo(c, M)
    for name, model in M.items():
        c.control(name, milo_fast.dumps(model, arrays="text"))
    for name in ("functions", "tree", "knn_brute"):
        c.control(f"{name}_pymilo", milo_fast.dumps(M[name], format="pymilo"))
    signed = milo_fast.dumps(M["linreg"], arrays="text")
    c.control("signed", signed, kwargs={"public_key": "@public_key"}, sig=signing.sign_bytes(signed, priv),
              entries=("load", "Import"))
    c.control("encrypted", milo_fast.dumps(M["linreg"], arrays="text", encrypt_key=DECRYPT_KEY),
              kwargs={"decrypt_key": "@decrypt_key"}, ext=".enc")
    manifest = {"marker": MARKER,
                "keys": {"public_key": pem(priv), "other_public_key": pem(other), "decrypt_key": DECRYPT_KEY.hex(),
                         "other_decrypt_key": (bytes([0x43]) * 32).hex()},
                "cases": c.cases}
    if CASES_DIR.exists():
        shutil.rmtree(CASES_DIR)
    BUILD_DIR.rename(CASES_DIR)
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n")
    cats = {}
    for case in c.cases:
        cats[case["category"]] = cats.get(case["category"], 0) + 1
    print(f"{len(c.cases)} cases:", ", ".join(f"{k} {v}" for k, v in cats.items()))


if __name__ == "__main__":
    main()

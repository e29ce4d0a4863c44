"""Every estimator of scikit-learn round-trips bit-exactly, fitted and unfitted, in both array modes.

Parametrized over ``all_estimators()`` of the installed scikit-learn (experimental estimators enabled): an
estimator that a new scikit-learn adds is tested automatically, and fails until milo_fast carries it. Estimators
that truly cannot be carried are listed in XFAIL with the reason (strict: the list cannot silently go stale).
"""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

import milo_fast
from milo_fast import trust
from estimator_cases import (Case, all_estimator_classes, assert_same, case_for,  # noqa: E402
                             compare_outputs)

ESTIMATORS = all_estimator_classes()

# name -> reason. Strict xfails: if one starts passing, the test fails until the entry is removed.
XFAIL: dict[str, str] = {}

ARRAYS = ("text", "base64")


def _params():
    out = []
    for name, cls in ESTIMATORS:
        marks = [pytest.mark.xfail(reason=XFAIL[name], strict=True)] if name in XFAIL else []
        out.append(pytest.param(name, cls, id=name, marks=marks))
    return out


@functools.lru_cache(maxsize=None)
def fitted(name: str):
    cls = dict(ESTIMATORS)[name]
    case = case_for(name, cls)
    return case, case.fit(case.make())


def roundtrip(est, arrays):
    blob = milo_fast.dumps(est, arrays=arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error", milo_fast.VersionWarning)
        return milo_fast.loads(blob)


@pytest.mark.parametrize("arrays", ARRAYS)
@pytest.mark.parametrize("name, cls", _params())
def test_fitted_roundtrip(name, cls, arrays):
    case, est = fitted(name)
    loaded = roundtrip(est, arrays)
    assert type(loaded) is type(est)
    assert_same(est.get_params(deep=True), loaded.get_params(deep=True), "get_params()")
    assert_same(est, loaded)  # every fitted attribute, bit for bit, with the same sharing
    compared = compare_outputs(est, loaded, case)
    # the copy is a working model: outputs on data it has not seen are identical
    assert compared or not any(hasattr(est, m) for m in ("predict", "transform", "score_samples")), compared


@pytest.mark.compiled_codec
@pytest.mark.parametrize("name, cls", _params())
def test_fitted_roundtrip_deferred(name, cls, monkeypatch):
    """The same, with the model built while its arrays are still being converted (what loads does with documents
    of 1 MiB and more): every transporter finds its arrays in place (a placeholder read or kept anywhere would
    fail the comparison, or fill_all's check)."""
    from milo_fast import document
    case, est = fitted(name)
    blob = milo_fast.dumps(est, arrays="text")
    seen = []
    real = document.decode_document_deferred

    def spy(*a, **kw):
        tree, deferred, scan = real(*a, **kw)
        seen.append(deferred)
        return tree, deferred, scan

    monkeypatch.setattr(document, "DEFER_THREADS", 2)
    monkeypatch.setattr(document, "decode_document_deferred", spy)
    loaded = milo_fast.loads(blob)
    assert len(seen) == 1
    if seen[0] is None:  # nothing to defer: a document without numeric arrays
        assert not _holds_arrays(milo_fast.codec.decode(blob)), "a document with arrays was not deferred"
    else:
        assert seen[0].count > 0 and seen[0].filled == seen[0].count
    assert_same(est, loaded)
    compare_outputs(est, loaded, case)


def _holds_arrays(node) -> bool:
    stack = [node]
    while stack:
        x = stack.pop()
        if isinstance(x, (np.ndarray, np.generic)):
            return True
        stack.extend(x.values() if type(x) is dict else x if type(x) is list else ())
    return False


def _walk_json_ready(node, path, kinds, out):
    """Contract of every transporter: what it writes is JSON-ready for the codec, and every marker is known."""
    from milo_fast.transport import numpy_
    stack = [(node, path)]
    while stack:
        x, p = stack.pop()
        t = type(x)
        if t is dict:
            assert all(type(k) is str for k in x), p
            marks = [k for k in x if k.startswith("milo:") and k != "milo:id"]
            assert len(marks) <= 1 and all(m in kinds for m in marks), (p, marks)
            if not marks:
                assert not any(k.startswith(("milo", "pymiloed")) for k in x if k != "milo:id"), p
            out.update(marks)
            stack.extend((v, f"{p}.{k}") for k, v in x.items())
        elif t is list:
            stack.extend((v, f"{p}[{i}]") for i, v in enumerate(x))
        elif isinstance(x, (np.ndarray, np.generic)):
            assert type(x) is np.ndarray or isinstance(x, np.generic), p
            assert numpy_.codec_dtype(x.dtype), (p, x.dtype)
        else:
            assert x is None or t in (str, int, float, bool), (p, t)


@pytest.mark.parametrize("name, cls", _params())
def test_tree_contract(name, cls):
    """The transported tree of each fitted estimator is plain JSON-ready data with known markers only, and every
    name it holds is on the allow-list."""
    from milo_fast import transport
    from milo_fast.transport import registry
    _, est = fitted(name)
    tree = transport.to_tree(est)
    seen: set = set()
    _walk_json_ready(tree, "$", registry.tables().kinds, seen)
    assert "milo:object" in seen
    bad = [(n, p) for n, p in transport.names(tree) if not trust.is_trusted(n)]
    assert bad == []


@pytest.mark.parametrize("name, cls", _params())
def test_unfitted_roundtrip(name, cls):
    case = case_for(name, cls)
    est = case.make()
    loaded = roundtrip(est, "text")
    assert type(loaded) is type(est)
    assert_same(est.get_params(deep=True), loaded.get_params(deep=True), "get_params()")
    assert_same(est, loaded)


def test_every_estimator_is_on_the_allow_list():
    """A scikit-learn that gains an estimator fails here until the allow-list is reviewed and extended."""
    missing = sorted(f"{c.__module__}.{c.__qualname__}" for _, c in ESTIMATORS
                     if f"{c.__module__}.{c.__qualname__}" not in trust.SKLEARN_ESTIMATORS)
    assert missing == []


def test_xfail_entries_are_estimators():
    assert set(XFAIL) <= {n for n, _ in ESTIMATORS}


# ------------------------------------------------------------------------------------------ variants

from estimator_cases import D  # noqa: E402


def check(est, X_new, y_new=None, *, inverse=True):
    """Round-trip a fitted estimator in both array modes; everything identical. Returns the last copy."""
    case = Case(lambda: None, X_new=X_new, y_new=y_new, inverse=inverse)
    for arrays in ARRAYS:
        loaded = roundtrip(est, arrays)
        assert type(loaded) is type(est)
        assert_same(est, loaded)
        compare_outputs(est, loaded, case)
    return loaded


def fit(est, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kw)


@pytest.mark.parametrize("make", [
    lambda: __import__("sklearn.ensemble").ensemble.RandomForestClassifier(n_estimators=3, random_state=0),
    lambda: __import__("sklearn.tree").tree.DecisionTreeClassifier(random_state=0),
    lambda: __import__("sklearn.neighbors").neighbors.KNeighborsClassifier(3),
    lambda: __import__("sklearn.ensemble").ensemble.ExtraTreesClassifier(n_estimators=3, random_state=0),
], ids=["RandomForest", "DecisionTree", "KNeighbors", "ExtraTrees"])
def test_multioutput_string_targets(make):
    est = fit(make(), D["X"], D["ymc"])
    assert est.predict(D["X_new"]).dtype.kind in "UO"
    check(est, D["X_new"], D["ymc_new"])


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("make", [
    lambda: __import__("sklearn.svm").svm.SVC(probability=True, random_state=0),
    lambda: __import__("sklearn.linear_model").linear_model.LogisticRegression(),
    lambda: __import__("sklearn.neighbors").neighbors.KNeighborsClassifier(3),
    lambda: __import__("sklearn.ensemble").ensemble.RandomForestClassifier(n_estimators=3, random_state=0),
    lambda: __import__("sklearn.naive_bayes").naive_bayes.MultinomialNB(),
], ids=["SVC", "LogisticRegression", "KNeighbors", "RandomForest", "MultinomialNB"])
def test_sparse_input(make, fmt):
    import scipy.sparse as sp
    X = getattr(sp, f"{fmt}_matrix")(D["Xi"].astype(np.float64))
    X_new = getattr(sp, f"{fmt}_matrix")(D["Xi_new"].astype(np.float64))
    est = fit(make(), X, D["ys"])
    check(est, X_new, D["ys_new"])


def test_sparse_attributes_every_format():
    """Sparse matrices and arrays of every format inside a model (here: as a FunctionTransformer argument)."""
    import scipy.sparse as sp
    from sklearn.preprocessing import FunctionTransformer
    m = sp.random(6, 5, density=0.4, random_state=0, format="csr")
    mats = {f: m.asformat(f) for f in ("csr", "csc", "coo", "bsr", "dia", "lil", "dok")}
    mats.update({f + "_array": sp.csr_array(m).asformat(f) for f in ("csr", "csc", "coo", "dia")})
    mats["int64_indices"] = sp.csr_matrix((m.data, m.indices.astype(np.int64), m.indptr.astype(np.int64)),
                                          shape=m.shape)
    mats["int64_indices"].indices = m.indices.astype(np.int64)
    mats["int64_indices"].indptr = m.indptr.astype(np.int64)
    est = FunctionTransformer(kw_args={"mats": mats})
    loaded = roundtrip(est, "text")
    for k, a in mats.items():
        b = loaded.kw_args["mats"][k]
        assert type(b) is type(a), k
        assert (a != b).nnz == 0, k
        if hasattr(a, "indices"):
            assert b.indices.dtype == a.indices.dtype and b.indptr.dtype == a.indptr.dtype, k
    assert_same(est, roundtrip(est, "base64"))


@pytest.mark.parametrize("make", [
    lambda: __import__("sklearn.ensemble").ensemble.RandomForestClassifier(n_estimators=3, random_state=0),
    lambda: __import__("sklearn.linear_model").linear_model.LogisticRegression(),
    lambda: __import__("sklearn.ensemble").ensemble.GradientBoostingClassifier(n_estimators=3, random_state=0),
    lambda: __import__("sklearn.ensemble").ensemble.HistGradientBoostingClassifier(max_iter=3, random_state=0),
    lambda: __import__("sklearn.svm").svm.SVC(),
], ids=["RandomForest", "LogisticRegression", "GradientBoosting", "HistGradientBoosting", "SVC"])
def test_sample_weight(make):
    w = np.linspace(0.5, 2.0, len(D["ys"]))
    check(fit(make(), D["X"], D["ys"], sample_weight=w), D["X_new"], D["ys_new"])


@pytest.mark.parametrize("class_weight", ["balanced", {"bird": 1.0, "cat": 2.0, "dog": 0.5}],
                         ids=["balanced", "dict"])
@pytest.mark.parametrize("make", [
    lambda cw: __import__("sklearn.linear_model").linear_model.LogisticRegression(class_weight=cw),
    lambda cw: __import__("sklearn.ensemble").ensemble.RandomForestClassifier(3, class_weight=cw, random_state=0),
    lambda cw: __import__("sklearn.svm").svm.SVC(class_weight=cw),
], ids=["LogisticRegression", "RandomForest", "SVC"])
def test_class_weight(make, class_weight):
    check(fit(make(class_weight), D["X"], D["ys"]), D["X_new"], D["ys_new"])


def test_class_weight_int_keys():
    """Dicts with non-str keys are written as [key, value] pairs and come back with int keys."""
    from sklearn.linear_model import LogisticRegression
    est = fit(LogisticRegression(class_weight={0: 1.0, 1: 3.0, 2: 0.5}), D["X"], D["y3"])
    loaded = check(est, D["X_new"], D["y3_new"])
    assert loaded.class_weight == {0: 1.0, 1: 3.0, 2: 0.5}
    assert all(type(k) is int for k in loaded.class_weight)


@pytest.mark.parametrize("func, inverse, X", [
    (np.log1p, np.expm1, "Xp"), (np.sqrt, np.square, "Xp"), (np.abs, None, "X"),
    ("scipy.special.expit", "scipy.special.logit", "X"),
    ("sklearn.preprocessing.normalize", None, "X"),
], ids=["log1p", "sqrt", "abs", "expit", "normalize"])
def test_function_transformer(func, inverse, X):
    from sklearn.preprocessing import FunctionTransformer

    def resolve(f):
        if isinstance(f, str):
            mod, _, name = f.rpartition(".")
            return getattr(__import__(mod, fromlist=[name]), name)
        return f
    est = fit(FunctionTransformer(resolve(func), inverse_func=resolve(inverse), check_inverse=False), D[X])
    loaded = check(est, D[X + "_new"])
    assert loaded.func is est.func and loaded.inverse_func is est.inverse_func


def test_hist_gradient_boosting_categorical_early_stopping():
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    rng = np.random.RandomState(0)
    X = np.column_stack([rng.randint(0, 6, 400), rng.randn(400), rng.randn(400)])
    X[rng.rand(400) < 0.05, 1] = np.nan
    y = ((X[:, 0] % 2 == 0) ^ (np.nan_to_num(X[:, 1]) > 0)).astype(int)
    y[rng.rand(400) < 0.3] ^= 1  # noise: validation loss stops improving early
    X_new = np.column_stack([rng.randint(0, 7, 50), rng.randn(50), rng.randn(50)])  # 6: unseen category
    X_new[::7, 1] = np.nan
    clf = fit(HistGradientBoostingClassifier(categorical_features=[0], early_stopping=True,
                                             validation_fraction=0.2, n_iter_no_change=3, max_iter=60,
                                             random_state=0), X, y)
    assert clf.n_iter_ < 60 and clf.is_categorical_[0]
    check(clf, X_new, y[:50])
    reg = fit(HistGradientBoostingRegressor(categorical_features=[0], early_stopping=True, max_iter=40,
                                            n_iter_no_change=2, random_state=0), X, X[:, 2] + y)
    check(reg, X_new, X_new[:, 2])


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_mlp_training_continues_identically(solver, kind):
    """The optimizer state travels: partial_fit and warm_start continue exactly as the original would."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    cls, y = (MLPClassifier, D["ys"]) if kind == "classifier" else (MLPRegressor, D["yr"])
    est = fit(cls(hidden_layer_sizes=(7,), solver=solver, max_iter=20, random_state=0, momentum=0.8), D["X"], y)
    loaded = check(est, D["X_new"], D["ys_new"] if kind == "classifier" else D["yr_new"])
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.partial_fit(D["X"], y)
            loaded.partial_fit(D["X"], y)
    assert_same(est, loaded)
    assert np.array_equal(est.predict(D["X_new"]), loaded.predict(D["X_new"]))
    est.set_params(warm_start=True, max_iter=5)
    loaded.set_params(warm_start=True, max_iter=5)
    fit(est, D["X"], y)
    fit(loaded, D["X"], y)
    assert_same(est, loaded)


@pytest.mark.parametrize("make", [
    lambda: __import__("sklearn.ensemble").ensemble.RandomForestRegressor(n_estimators=3, warm_start=True,
                                                                        random_state=0),
    lambda: __import__("sklearn.ensemble").ensemble.GradientBoostingRegressor(n_estimators=3, warm_start=True,
                                                                            random_state=0),
    lambda: __import__("sklearn.ensemble").ensemble.HistGradientBoostingRegressor(
        max_iter=3, warm_start=True, early_stopping=False, random_state=0),
    lambda: __import__("sklearn.linear_model").linear_model.SGDRegressor(max_iter=5, warm_start=True,
                                                                       random_state=0),
    lambda: __import__("sklearn.ensemble").ensemble.BaggingRegressor(n_estimators=3, warm_start=True,
                                                                   random_state=0),
], ids=["RandomForest", "GradientBoosting", "HistGradientBoosting", "SGD", "Bagging"])
def test_warm_start_continues_identically(make):
    est = fit(make(), D["X"], D["yr"])
    loaded = check(est, D["X_new"], D["yr_new"])
    for e in (est, loaded):
        p = "max_iter" if "max_iter" in e.get_params() and "n_estimators" not in e.get_params() else "n_estimators"
        e.set_params(**{p: e.get_params()[p] + 3})
        fit(e, D["X"], D["yr"])
    assert_same(est, loaded)
    assert np.array_equal(est.predict(D["X_new"]), loaded.predict(D["X_new"]))


def test_sgd_partial_fit_continues_identically():
    from sklearn.linear_model import SGDClassifier
    est = SGDClassifier(random_state=0)
    est.partial_fit(D["X"], D["ys"], classes=np.unique(D["ys"]))
    loaded = check(est, D["X_new"], D["ys_new"])
    est.partial_fit(D["X_new"], D["ys_new"])
    loaded.partial_fit(D["X_new"], D["ys_new"])
    assert_same(est, loaded)


@pytest.mark.parametrize("cls_name", ["KDTree", "BallTree"])
@pytest.mark.parametrize("metric, kw", [("euclidean", {}), ("minkowski", {"p": 3}), ("manhattan", {}),
                                        ("chebyshev", {})], ids=["euclidean", "minkowski3", "manhattan", "chebyshev"])
def test_kd_ball_trees_standalone(cls_name, metric, kw):
    from sklearn import neighbors
    cls = getattr(neighbors, cls_name)
    X = D["X"]
    w = np.linspace(0.5, 1.5, len(X))
    tree = cls(X, leaf_size=4, metric=metric, sample_weight=w, **kw)
    tree.query(X[:3], k=2)  # n_calls etc. are part of the state
    for arrays in ARRAYS:
        t2 = roundtrip(tree, arrays)
        assert type(t2) is cls
        assert_same(tree, t2)
        Q = D["X_new"]
        for a, b in zip(tree.query(Q, k=4), t2.query(Q, k=4)):
            assert_same(a, b)
        assert_same(tree.query_radius(Q, r=1.5, return_distance=True, sort_results=True),
                    t2.query_radius(Q, r=1.5, return_distance=True, sort_results=True))
        if metric in ("euclidean", "minkowski"):
            assert_same(tree.kernel_density(Q, h=0.7), t2.kernel_density(Q, h=0.7))
        assert_same(tree.two_point_correlation(Q, r=[0.5, 1.0, 2.0]), t2.two_point_correlation(Q, r=[0.5, 1.0, 2.0]))
        assert_same(tree.get_arrays(), t2.get_arrays())


def test_ball_tree_haversine_and_mahalanobis_neighbors():
    from sklearn.neighbors import BallTree, KNeighborsClassifier
    lat_lon = np.column_stack([np.linspace(-1, 1, 40), np.linspace(-3, 3, 40) ** 2 % 3])
    t = BallTree(lat_lon, metric="haversine")
    t2 = roundtrip(t, "text")
    assert_same(t.query(lat_lon[:5], k=3), t2.query(lat_lon[:5], k=3))
    V = np.cov(D["X"].T)
    knn = fit(KNeighborsClassifier(3, algorithm="ball_tree", metric="mahalanobis",
                                   metric_params={"VI": np.linalg.inv(V)}), D["X"], D["ys"])
    check(knn, D["X_new"], D["ys_new"])


@pytest.mark.parametrize("kernel", [
    "RBF(1.0) + WhiteKernel(0.1)", "ConstantKernel(2.0) * Matern(1.0, nu=1.5)", "RationalQuadratic(1.0, 1.5)",
    "ExpSineSquared(3.0, 20.0) + WhiteKernel(1.0)", "DotProduct(1.0) ** 2 + WhiteKernel(1.0)", "PairwiseKernel(metric='laplacian')",
    "RBF(length_scale=[1.0, 2.0, 1.0, 1.0, 0.5])",
], ids=["rbf+white", "const*matern", "rq", "expsine", "dot**2", "pairwise", "anisotropic"])
def test_gaussian_process_kernels(kernel):
    from sklearn.gaussian_process import GaussianProcessClassifier, GaussianProcessRegressor
    from sklearn.gaussian_process import kernels as K
    k = eval(kernel, vars(K))  # noqa: S307 - the test's own literals
    fixed = "ExpSine" in kernel or "DotProduct" in kernel  # their optimum is numerically not positive definite
    reg = fit(GaussianProcessRegressor(k, alpha=1e-2, optimizer=None if fixed else "fmin_l_bfgs_b",
                                       random_state=0), D["X"], D["yr"])
    loaded = check(reg, D["X_new"], D["yr_new"])
    assert_same(reg.predict(D["X_new"], return_std=True), loaded.predict(D["X_new"], return_std=True))
    assert_same(reg.sample_y(D["X_new"], 2, random_state=1), loaded.sample_y(D["X_new"], 2, random_state=1))
    assert_same(reg.kernel_(D["X_new"]), loaded.kernel_(D["X_new"]))
    if "Pairwise" not in kernel:
        check(fit(GaussianProcessClassifier(k, optimizer=None if fixed else "fmin_l_bfgs_b", random_state=0),
                  D["X"], D["y2"]), D["X_new"], D["y2_new"])


def test_birch_deep_leaf_chain():
    """Birch's leaves form a linked list (prev_leaf_/next_leaf_): shared and cyclic references, and a chain far
    longer than any sensible nesting depth."""
    import json
    import sys
    from sklearn.cluster import Birch
    X = np.random.RandomState(0).rand(3000, 2)
    est = fit(Birch(threshold=0.02, branching_factor=4, n_clusters=5), X)
    n_leaves, leaf = 0, est.dummy_leaf_.next_leaf_
    while leaf is not None:
        n_leaves, leaf = n_leaves + 1, leaf.next_leaf_
    assert n_leaves > 200
    blob = milo_fast.dumps(est, arrays="text")
    json.loads(blob)  # shallow enough for Python's own json reader
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 50000))  # for assert_same, which recurses along the chain
    try:
        loaded = check(est, np.random.RandomState(1).rand(100, 2))
        assert loaded.dummy_leaf_.next_leaf_.prev_leaf_ is loaded.dummy_leaf_
        assert loaded.root_.subclusters_[0].child_ is not None
    finally:
        sys.setrecursionlimit(old)


@pytest.mark.parametrize("params", [dict(increasing="auto", out_of_bounds="nan"),
                                    dict(increasing=False, out_of_bounds="clip", y_min=-1.0, y_max=1.0)],
                         ids=["auto-nan", "decreasing-clip"])
def test_isotonic_regression(params):
    from sklearn.isotonic import IsotonicRegression
    est = fit(IsotonicRegression(**params), D["X1"], D["yr"], sample_weight=np.linspace(1, 2, 60))
    X_new = np.concatenate([D["X1_new"], [-10.0, 10.0]])
    loaded = check(est, X_new, None)
    assert loaded.f_ is not None and np.array_equal(loaded.f_(X_new), est.f_(X_new), equal_nan=True)


@pytest.mark.parametrize("make", [
    lambda t: t.CountVectorizer(stop_words="english", ngram_range=(1, 2), max_features=20),
    lambda t: t.CountVectorizer(analyzer="char_wb", ngram_range=(2, 3), binary=True),
    lambda t: t.TfidfVectorizer(token_pattern=r"(?u)\b\w\w+\b", min_df=2, norm="l1", dtype=np.float32),
    lambda t: t.TfidfVectorizer(vocabulary=["apple", "fig", "kiwi", "mango"], smooth_idf=False),
    lambda t: t.HashingVectorizer(n_features=64, alternate_sign=False, norm=None),
], ids=["count-stopwords", "count-char", "tfidf-float32", "tfidf-vocabulary", "hashing"])
def test_text_vectorizers(make):
    from sklearn.feature_extraction import text
    est = fit(make(text), D["text"])
    check(est, D["text_new"], inverse=False)


def test_text_vectorizer_in_pipeline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    est = fit(make_pipeline(TfidfVectorizer(), LogisticRegression()), D["text"], D["ys"])
    check(est, D["text_new"], D["ys_new"])


def test_randomized_search_with_scipy_distributions():
    """scipy.stats frozen distributions are rebuilt by calling the named distribution (never from code)."""
    from scipy import stats
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import RandomizedSearchCV
    dists = {"C": stats.loguniform(0.1, 10), "intercept_scaling": stats.uniform(loc=1, scale=2),
             "max_iter": stats.randint(50, 200)}
    est = fit(RandomizedSearchCV(LogisticRegression(), dists, n_iter=3, cv=2, random_state=0), D["X"], D["ys"])
    loaded = check(est, D["X_new"], D["ys_new"])
    for k, d in dists.items():
        d2 = loaded.param_distributions[k]
        assert type(d2) is type(d) and d2.dist.name == d.dist.name and d2.args == d.args and d2.kwds == d.kwds
        assert np.array_equal(d.rvs(5, random_state=1), d2.rvs(5, random_state=1))
    rng_dist = stats.norm(2.0, 3.0)
    rng_dist.random_state = np.random.RandomState(7)
    back = roundtrip(rng_dist, "text")
    assert np.array_equal(rng_dist.rvs(4), back.rvs(4))


def test_scipy_distribution_names_are_checked():
    from milo_fast import document
    node = {"milo:object": "scipy.stats._distn_infrastructure.rv_continuous_frozen",
            "state": {"dist": "os", "args": [], "kwds": {}, "random_state": None}}
    doc = __import__("json").dumps({"milo_fast": document.make_header(node["milo:object"]), "data": node})
    with pytest.raises(milo_fast.ValidationError, match="scipy.stats distribution"):
        milo_fast.loads(doc)


# ------------------------------------------------------------------------------ what cannot be written

class UserEstimator:
    """A class milo_fast does not know: its instances cannot be written (nor loaded) without trusted=."""

    def __init__(self, a=1):
        self.a = a

    def fit(self, X, y=None):
        self.mean_ = np.mean(X, axis=0)
        return self

    def get_params(self, deep=True):
        return {"a": self.a}

    def set_params(self, **kw):
        self.__dict__.update(kw)
        return self


def module_level_function(X):
    return X + 1


@pytest.mark.parametrize("model, where, what", [
    (lambda: __import__("sklearn.preprocessing").preprocessing.FunctionTransformer(lambda x: x + 1),
     r"\$\.data\.state\.func", "lambda"),
    (lambda: UserEstimator().fit(D["X"]), r"\$\.data", "test_estimators.UserEstimator"),
    (lambda: __import__("sklearn.pipeline").pipeline.make_pipeline(
        __import__("sklearn.preprocessing").preprocessing.StandardScaler(), UserEstimator()),
     r"\$\.data\.state\.steps\[1\]", "test_estimators.UserEstimator"),
    (lambda: __import__("sklearn.preprocessing").preprocessing.FunctionTransformer(module_level_function),
     r"\$\.data\.state\.func", "test_estimators.module_level_function"),
    (lambda: __import__("sklearn.preprocessing").preprocessing.FunctionTransformer(
        (lambda: (lambda X: X))()), r"\$\.data\.state\.func", "lambda"),
], ids=["lambda", "user-class", "user-class-in-pipeline", "user-function", "closure"])
def test_export_error_names_path_and_type_and_writes_nothing(tmp_path, model, where, what):
    path = tmp_path / "model.json"
    with pytest.raises(milo_fast.ExportError) as info:
        milo_fast.dump(model(), path)
    msg = str(info.value)
    assert what in msg and __import__("re").search(where, msg), msg
    assert not path.exists() and list(tmp_path.iterdir()) == []
    path.write_bytes(b"previous")
    with pytest.raises(milo_fast.ExportError):
        milo_fast.Export(model()).save(path)
    assert path.read_bytes() == b"previous" and len(list(tmp_path.iterdir())) == 1


def test_user_class_with_trusted_names_round_trips():
    """trusted= extends the allow-list by exact name, on both sides."""
    est = UserEstimator(a=3).fit(D["X"])
    name = f"{UserEstimator.__module__}.UserEstimator"
    blob = milo_fast.dumps(est, trusted=[name])
    with pytest.raises(milo_fast.UntrustedTypeError) as info:
        milo_fast.loads(blob)
    assert info.value.names == [(name, "$.data['milo:object']")] or name in str(info.value)
    loaded = milo_fast.loads(blob, trusted=[name])
    assert type(loaded) is UserEstimator and np.array_equal(loaded.mean_, est.mean_) and loaded.a == 3

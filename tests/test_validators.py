"""The validators of compiled-code state accept every legitimate model: configurations the estimator suite does
not fit (averaged SGD, sparse and precomputed SVMs, categorical and early-stopped HistGradientBoosting, KD/ball
trees with weighted or Mahalanobis metrics, infrequent one-hot categories, deep Birch trees ...) load in both
formats and give identical outputs, and the models that learn online keep learning after a load (partial_fit and
warm starts go through the compiled code the validators guard). Hostile variants are in tests/test_hostile.py."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import milo_fast

warnings.filterwarnings("ignore")

rng = np.random.RandomState(3)
X = np.round(rng.randn(80, 4), 3)
XN = np.round(rng.randn(15, 4), 3)
Y2 = (X[:, 0] + X[:, 1] > 0).astype(int)
Y3 = np.digitize(X[:, 0], [-0.4, 0.4])
YR = X @ [1.0, -2.0, 0.5, 0.0]
XC = X.copy()
XC[:, 1] = rng.randint(0, 5, len(X))
XNC = XN.copy()
XNC[:, 1] = rng.randint(0, 6, len(XN))  # one category unseen in training
YL = np.column_stack([Y2, (X[:, 2] > 0).astype(int)])


def configs():
    from sklearn import (cluster, ensemble, feature_extraction, isotonic, linear_model, neighbors, neural_network,
                         preprocessing, svm, tree)
    from sklearn.metrics.pairwise import linear_kernel
    Xs = sp.csr_matrix(np.where(np.abs(X) > 0.7, X, 0.0))
    text = ["a cat sat", "the dog ran", "a dog and a cat", "birds fly", "the cat"] * 4
    return {
        "sgd_average_binary": (linear_model.SGDClassifier(average=True, random_state=0), X, Y2),
        "sgd_average_multiclass": (linear_model.SGDClassifier(average=True, random_state=0), X, Y3),
        "sgd_regressor_average": (linear_model.SGDRegressor(average=5, random_state=0), X, YR),
        "sgd_one_class_average": (linear_model.SGDOneClassSVM(average=True, random_state=0), X, None),
        "perceptron": (linear_model.Perceptron(random_state=0), X, Y3),
        "passive_aggressive": (linear_model.PassiveAggressiveClassifier(average=True, random_state=0), X, Y2),
        "logreg_binary": (linear_model.LogisticRegression(), X, Y2),
        "ridge_classifier_multilabel": (linear_model.RidgeClassifier(), X, YL),
        "linear_multi_target": (linear_model.LinearRegression(), X, np.column_stack([YR, -YR])),
        "svc_binary_probability": (svm.SVC(probability=True, random_state=0), X, Y2),
        "svc_sparse_multiclass": (svm.SVC(), Xs, Y3),
        "svr_sparse": (svm.SVR(), Xs, YR),
        "svc_precomputed": (svm.SVC(kernel="precomputed"), X @ X.T, Y3),
        "svc_callable_kernel": (svm.SVC(kernel=linear_kernel), X, Y3),
        "nusvc_class_weight": (svm.NuSVC(class_weight="balanced"), X, Y3),
        "one_class_svm_poly": (svm.OneClassSVM(kernel="poly", degree=2), X, None),
        "tree_pruned": (tree.DecisionTreeClassifier(ccp_alpha=0.02, random_state=0), X, Y3),
        "tree_multi_output": (tree.DecisionTreeClassifier(max_depth=4, random_state=0), X, YL),
        "tree_with_nan": (tree.DecisionTreeRegressor(max_depth=5, random_state=0),
                          np.where(X > 1.2, np.nan, X), YR),
        "extra_trees_multi_output": (ensemble.ExtraTreesRegressor(n_estimators=3, random_state=0), X,
                                     np.column_stack([YR, -YR])),
        "gb_init_zero": (ensemble.GradientBoostingClassifier(n_estimators=3, init="zero", random_state=0), X, Y3),
        "gb_init_estimator": (ensemble.GradientBoostingClassifier(
            n_estimators=3, init=linear_model.LogisticRegression(), random_state=0), X, Y3),
        "gb_binary_subsample": (ensemble.GradientBoostingClassifier(n_estimators=3, subsample=0.7, random_state=0),
                                X, Y2),
        "gb_huber": (ensemble.GradientBoostingRegressor(n_estimators=3, loss="huber", random_state=0), X, YR),
        "hgb_categorical": (ensemble.HistGradientBoostingClassifier(max_iter=5, categorical_features=[1],
                                                                    random_state=0), XC, Y3),
        "hgb_early_stopping": (ensemble.HistGradientBoostingRegressor(max_iter=30, early_stopping=True,
                                                                      validation_fraction=0.3, n_iter_no_change=2,
                                                                      random_state=0), X, YR),
        "hgb_interactions": (ensemble.HistGradientBoostingRegressor(max_iter=5, interaction_cst=[[0, 1], [2, 3]],
                                                                    max_features=0.5, random_state=0), X, YR),
        "iforest_all_features": (ensemble.IsolationForest(n_estimators=3, random_state=0), X, None),
        "iforest_subsampled": (ensemble.IsolationForest(n_estimators=3, max_features=0.5, bootstrap=True,
                                                        random_state=0), X, None),
        "knn_kd_minkowski_p1": (neighbors.KNeighborsClassifier(algorithm="kd_tree", p=1, leaf_size=3), X, Y3),
        "knn_ball_mahalanobis": (neighbors.KNeighborsRegressor(
            algorithm="ball_tree", metric="mahalanobis", metric_params={"VI": np.linalg.inv(np.cov(X.T))}),
            X, YR),
        "knn_ball_weighted_minkowski": (neighbors.NearestNeighbors(
            algorithm="ball_tree", metric="minkowski", metric_params={"w": np.array([1.0, 2, 3, 4])}), X, None),
        "knn_brute_sparse": (neighbors.KNeighborsClassifier(algorithm="brute"), Xs, Y2),
        "knn_precomputed": (neighbors.KNeighborsClassifier(metric="precomputed"),
                            np.abs(X[:, :1] - X[:, :1].T), Y2),
        "radius_neighbors_outlier": (neighbors.RadiusNeighborsClassifier(radius=1.5, outlier_label="most_frequent"),
                                     X, Y3),
        "lof_novelty": (neighbors.LocalOutlierFactor(novelty=True, algorithm="kd_tree"), X, None),
        "kde_ball": (neighbors.KernelDensity(algorithm="ball_tree", kernel="epanechnikov"), X, None),
        "kmeans_elkan_float32": (cluster.KMeans(3, algorithm="elkan", n_init=1, random_state=0),
                                 X.astype(np.float32), None),
        "minibatch_kmeans": (cluster.MiniBatchKMeans(3, n_init=1, random_state=0), X, None),
        "bisecting_largest": (cluster.BisectingKMeans(4, bisecting_strategy="largest_cluster", random_state=0),
                              X, None),
        "birch_deep": (cluster.Birch(threshold=0.1, branching_factor=3, n_clusters=None), np.vstack([X] * 3), None),
        "hdbscan": (cluster.HDBSCAN(min_cluster_size=4), X, None),
        "mlp_lbfgs_multilabel": (neural_network.MLPClassifier(hidden_layer_sizes=(5, 3), solver="lbfgs",
                                                              max_iter=30, random_state=0), X, YL),
        "mlp_tanh_regressor": (neural_network.MLPRegressor(activation="tanh", max_iter=20, random_state=0), X, YR),
        "isotonic_auto": (isotonic.IsotonicRegression(increasing="auto", out_of_bounds="clip"), X[:, 0], YR),
        "one_hot_infrequent_drop": (preprocessing.OneHotEncoder(max_categories=3, drop="first",
                                                                handle_unknown="infrequent_if_exist"),
                                    XC[:, 1:2].astype(int), None),
        "one_hot_min_frequency": (preprocessing.OneHotEncoder(min_frequency=10, handle_unknown="ignore"),
                                  XC[:, 1:2].astype(int), None),
        "count_vectorizer": (feature_extraction.text.CountVectorizer(ngram_range=(1, 2)), text, None),
        "tfidf_vectorizer": (feature_extraction.text.TfidfVectorizer(), text, None),
        "dict_vectorizer": (feature_extraction.DictVectorizer(), [{"a": 1, "b": 2}, {"c": 3.0, "a": 2}], None),
    }


CONFIGS = configs()
OUTPUTS = ("predict", "predict_proba", "decision_function", "transform", "score_samples", "kneighbors",
           "decision_path", "apply")


def _new_data(name, X_fit):
    if name == "svc_precomputed":
        return XN @ X.T
    if name == "knn_precomputed":
        return np.abs(XN[:, :1] - X[:, :1].T)
    if name.startswith(("count_", "tfidf_")):
        return ["a cat ran", "the bird", "dog dog cat"]
    if name == "dict_vectorizer":
        return [{"a": 5, "z": 1}, {"b": 1}]
    if name.startswith("one_hot"):
        return XNC[:, 1:2].astype(int)
    if name == "isotonic_auto":
        return XN[:, 0]
    if name.startswith("hgb_categorical"):
        return XNC
    if sp.issparse(X_fit):
        return sp.csr_matrix(XN)
    return XN.astype(np.asarray(X_fit).dtype)


def _same(a, b):
    if sp.issparse(a):
        assert sp.issparse(b) and a.shape == b.shape and (a != b).nnz == 0
        return
    if isinstance(a, tuple):
        for x, y in zip(a, b):
            _same(x, y)
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


@pytest.mark.parametrize("arrays", ["text", "base64"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_legitimate_configuration_loads_and_agrees(name, arrays):
    est, Xf, y = CONFIGS[name]
    est.fit(Xf) if y is None else est.fit(Xf, y)
    loaded = milo_fast.loads(milo_fast.dumps(est, arrays=arrays))
    Xn = _new_data(name, Xf)
    compared = 0
    for method in OUTPUTS:
        if not hasattr(est, method):
            continue
        try:
            want = getattr(est, method)(Xn)
        except Exception as e:  # noqa: BLE001 - the original refuses this input: so must the copy
            with pytest.raises(type(e)):
                getattr(loaded, method)(Xn)
            continue
        _same(want, getattr(loaded, method)(Xn))
        compared += 1
    if name == "hdbscan":  # no output method on new data; this one runs the compiled labelling_at_cut
        _same(est.dbscan_clustering(0.8), loaded.dbscan_clustering(0.8))
        compared += 1
    assert compared >= 1


@pytest.mark.parametrize("name", ["tree_pruned", "svc_binary_probability",
                                  "knn_kd_minkowski_p1", "knn_ball_mahalanobis", "gb_init_zero", "gb_huber",
                                  "sgd_average_multiclass", "mlp_tanh_regressor",
                                  "kmeans_elkan_float32", "iforest_subsampled"])
def test_pymilo_format_goes_through_the_same_validators(name):
    est, Xf, y = CONFIGS[name]
    est.fit(Xf) if y is None else est.fit(Xf, y)
    loaded = milo_fast.loads(milo_fast.dumps(est, format="pymilo"))
    _same(est.predict(_new_data(name, Xf)), loaded.predict(_new_data(name, Xf)))


def _twin(est):
    """A loaded copy and, for comparison, a pickled copy (the reference behaviour)."""
    import pickle
    return milo_fast.loads(milo_fast.dumps(est, arrays="base64")), pickle.loads(pickle.dumps(est))


@pytest.mark.parametrize("name", ["sgd_average_binary", "sgd_average_multiclass", "sgd_regressor_average",
                                  "sgd_one_class_average", "passive_aggressive", "minibatch_kmeans", "birch_deep"])
def test_learning_continues_after_load(name):
    """partial_fit runs the compiled updates (WeightVector, _minibatch_update_dense, the CF tree insert) on the
    loaded state: the loaded model and a pickled copy learn identically."""
    est, Xf, y = CONFIGS[name]
    est.fit(Xf) if y is None else est.fit(Xf, y)
    loaded, pickled = _twin(est)
    batch, yb = XN, (None if y is None else y[: len(XN)])
    for m in (loaded, pickled):
        if hasattr(m, "random_state") and not isinstance(m.random_state, (int, type(None))):
            m.random_state = 0
        m.partial_fit(batch) if yb is None else m.partial_fit(batch, yb)
    for attr in ("coef_", "cluster_centers_", "subcluster_centers_"):
        if hasattr(pickled, attr):
            _same(getattr(pickled, attr), getattr(loaded, attr))


def test_hist_gradient_boosting_warm_start_after_load():
    from sklearn.ensemble import HistGradientBoostingClassifier
    est = HistGradientBoostingClassifier(max_iter=3, warm_start=True, categorical_features=[1],
                                         random_state=0).fit(XC, Y3)
    loaded, pickled = _twin(est)
    for m in (loaded, pickled):
        m.set_params(max_iter=6)
        m.fit(XC, Y3)
    _same(pickled.predict_proba(XNC), loaded.predict_proba(XNC))


def test_every_validated_class_exists_and_is_allowed():
    """The VALIDATORS tables name real, allowed classes (a misspelt name would silently check nothing)."""
    from milo_fast import trust
    from milo_fast.transport.registry import tables
    tb = tables()
    assert len(tb.validators) >= 40 and len(tb.generic_validators) >= 2
    for qn in tb.validators:
        assert trust.is_trusted(qn), qn
        cls = trust.resolve(qn, "$")
        assert isinstance(cls, type) and f"{cls.__module__}.{cls.__qualname__}" == qn, qn

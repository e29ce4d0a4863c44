"""PyMilo 1.x interoperability: files PyMilo 1.6 writes load bit-identically, files we write load in PyMilo 1.6,
and a PyMilo file cannot make milo_fast import anything off the allow-list.

The models cover every estimator PyMilo 1.6 supports (its top-level models, and the preprocessing and
feature-extraction modules it carries inside pipelines), plus variants (string targets, deep Birch trees,
early stopping, nested meta-estimators).  Every public output method is compared with np.array_equal on data
the model has not seen: same dtype, same shape, same bits.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

pymilo = pytest.importorskip("pymilo")

import sklearn  # noqa: E402
from sklearn import linear_model as lm, tree, ensemble as en, svm, neighbors as nb, naive_bayes as bayes  # noqa: E402
from sklearn import cluster, mixture, neural_network as nn, cross_decomposition as cd, dummy, pipeline  # noqa: E402
from sklearn import compose, preprocessing as pp, feature_extraction as fe  # noqa: E402
from sklearn.feature_extraction import text as fet, image as fei  # noqa: E402

from milo_fast import DecodeError, ExportError, UntrustedTypeError, ValidationError, codec, trust  # noqa: E402
from milo_fast.compat import (  # noqa: E402
    export_document, import_document, is_pymilo_document, supported_models, untrusted_names,
)
from milo_fast.compat import _pymilo_tables as T  # noqa: E402

warnings.filterwarnings("ignore")

rng = np.random.RandomState(0)
X = rng.rand(60, 4)
XT = rng.rand(25, 4)
YR = X @ np.array([1., 2, -1, .5]) + 0.1 * rng.rand(60)
YC = (X[:, 0] + X[:, 1] > 1).astype(int) + (X[:, 2] > .7)
YM = np.c_[YR, -YR + X[:, 3]]
YS = np.array(["a", "bb", "c"])[YC]
XP = X + 0.5  # positive for NB/Gamma/Poisson
XC = (X * 3).astype(int)  # categorical
TEXT = ["the cat sat", "a dog ran far", "the cat and the dog", "birds fly high", "a cat a dog", "far far away"] * 3
TEXTT = ["the bird sat", "a cat ran", "unknown words here"]
YT = np.arange(len(TEXT)) % 2
DICTS = [{"a": float(i % 3), "b": float(i % 5), "c": 1.0} for i in range(18)]


def R(m): return lambda: (m.fit(X, YR), XT)
def C(m): return lambda: (m.fit(X, YC), XT)
def U(m, Xf=X, Xt=XT): return lambda: (m.fit(Xf), Xt)


TOP = {
    # linear
    "DummyRegressor": R(dummy.DummyRegressor()),
    "DummyClassifier": C(dummy.DummyClassifier(strategy="prior")),
    "LinearRegression": R(lm.LinearRegression()),
    "Ridge": R(lm.Ridge()),
    "RidgeCV": R(lm.RidgeCV()),
    "RidgeClassifier": C(lm.RidgeClassifier()),
    "RidgeClassifierCV": C(lm.RidgeClassifierCV()),
    "Lasso": R(lm.Lasso(alpha=0.01)),
    "LassoCV": R(lm.LassoCV(cv=3)),
    "LassoLars": R(lm.LassoLars(alpha=0.01)),
    "LassoLarsCV": R(lm.LassoLarsCV(cv=3)),
    "LassoLarsIC": R(lm.LassoLarsIC()),
    "MultiTaskLasso": lambda: (lm.MultiTaskLasso(alpha=0.01).fit(X, YM), XT),
    "MultiTaskLassoCV": lambda: (lm.MultiTaskLassoCV(cv=3).fit(X, YM), XT),
    "ElasticNet": R(lm.ElasticNet(alpha=0.01)),
    "ElasticNetCV": R(lm.ElasticNetCV(cv=3)),
    "MultiTaskElasticNet": lambda: (lm.MultiTaskElasticNet(alpha=0.01).fit(X, YM), XT),
    "MultiTaskElasticNetCV": lambda: (lm.MultiTaskElasticNetCV(cv=3).fit(X, YM), XT),
    "OrthogonalMatchingPursuit": R(lm.OrthogonalMatchingPursuit()),
    "OrthogonalMatchingPursuitCV": R(lm.OrthogonalMatchingPursuitCV(cv=3)),
    "BayesianRidge": R(lm.BayesianRidge()),
    "ARDRegression": R(lm.ARDRegression()),
    "LogisticRegression": C(lm.LogisticRegression()),
    "LogisticRegressionCV": C(lm.LogisticRegressionCV(cv=3)),
    "TweedieRegressor": lambda: (lm.TweedieRegressor(power=1.5).fit(X, YR + 1), XT),
    "PoissonRegressor": lambda: (lm.PoissonRegressor().fit(X, YR + 1), XT),
    "GammaRegressor": lambda: (lm.GammaRegressor().fit(X, YR + 1), XT),
    "SGDRegressor": R(lm.SGDRegressor(random_state=0)),
    "SGDClassifier": C(lm.SGDClassifier(random_state=0)),
    "SGDOneClassSVM": U(lm.SGDOneClassSVM(random_state=0)),
    "Perceptron": C(lm.Perceptron(random_state=0)),
    "PassiveAggressiveRegressor": R(lm.PassiveAggressiveRegressor(random_state=0)),
    "PassiveAggressiveClassifier": C(lm.PassiveAggressiveClassifier(random_state=0)),
    "RANSACRegressor": R(lm.RANSACRegressor(random_state=0)),
    "TheilSenRegressor": R(lm.TheilSenRegressor(random_state=0, max_subpopulation=200)),
    "HuberRegressor": R(lm.HuberRegressor()),
    "QuantileRegressor": R(lm.QuantileRegressor(alpha=0.01)),
    # neural networks
    "MLPRegressor": R(nn.MLPRegressor(hidden_layer_sizes=(5,), max_iter=50, random_state=0)),
    "MLPClassifier": C(nn.MLPClassifier(hidden_layer_sizes=(5,), max_iter=50, random_state=0)),
    "BernoulliRBM": U(nn.BernoulliRBM(n_components=3, n_iter=3, random_state=0)),
    # trees
    "DecisionTreeRegressor": R(tree.DecisionTreeRegressor(max_depth=4, random_state=0)),
    "DecisionTreeClassifier": C(tree.DecisionTreeClassifier(max_depth=4, random_state=0)),
    "ExtraTreeRegressor": R(tree.ExtraTreeRegressor(max_depth=4, random_state=0)),
    "ExtraTreeClassifier": C(tree.ExtraTreeClassifier(max_depth=4, random_state=0)),
    # clustering
    "KMeans": U(cluster.KMeans(n_clusters=3, n_init=2, random_state=0)),
    "MiniBatchKMeans": U(cluster.MiniBatchKMeans(n_clusters=3, n_init=2, random_state=0)),
    "BisectingKMeans": U(cluster.BisectingKMeans(n_clusters=3, random_state=0)),
    "AffinityPropagation": U(cluster.AffinityPropagation(random_state=0)),
    "MeanShift": U(cluster.MeanShift()),
    "SpectralClustering": U(cluster.SpectralClustering(n_clusters=3, random_state=0)),
    "SpectralBiclustering": U(cluster.SpectralBiclustering(n_clusters=2, random_state=0)),
    "SpectralCoclustering": U(cluster.SpectralCoclustering(n_clusters=2, random_state=0)),
    "AgglomerativeClustering": U(cluster.AgglomerativeClustering(n_clusters=3)),
    "FeatureAgglomeration": U(cluster.FeatureAgglomeration(n_clusters=2)),
    "DBSCAN": U(cluster.DBSCAN(eps=0.3)),
    "HDBSCAN": U(cluster.HDBSCAN(min_cluster_size=5)),
    "OPTICS": U(cluster.OPTICS(min_samples=5)),
    "Birch": U(cluster.Birch(n_clusters=3, threshold=0.2)),
    "GaussianMixture": U(mixture.GaussianMixture(n_components=2, random_state=0)),
    "BayesianGaussianMixture": U(mixture.BayesianGaussianMixture(n_components=2, random_state=0)),
    # naive bayes
    "GaussianNB": C(bayes.GaussianNB()),
    "MultinomialNB": C(bayes.MultinomialNB()),
    "ComplementNB": C(bayes.ComplementNB()),
    "BernoulliNB": C(bayes.BernoulliNB(binarize=0.5)),
    "CategoricalNB": lambda: (bayes.CategoricalNB().fit(XC, YC), (XT * 3).astype(int)),
    # svm
    "LinearSVC": C(svm.LinearSVC(random_state=0)),
    "LinearSVR": R(svm.LinearSVR(random_state=0)),
    "NuSVC": C(svm.NuSVC(nu=0.1, probability=True, random_state=0)),
    "NuSVR": R(svm.NuSVR()),
    "OneClassSVM": U(svm.OneClassSVM()),
    "SVC": C(svm.SVC(probability=True, random_state=0)),
    "SVR": R(svm.SVR()),
    # neighbors
    "KNeighborsRegressor": R(nb.KNeighborsRegressor(n_neighbors=3, algorithm="kd_tree")),
    "KNeighborsClassifier": C(nb.KNeighborsClassifier(n_neighbors=3, algorithm="ball_tree")),
    "RadiusNeighborsRegressor": R(nb.RadiusNeighborsRegressor(radius=1.0)),
    "RadiusNeighborsClassifier": C(nb.RadiusNeighborsClassifier(radius=1.0)),
    "NearestNeighbors": U(nb.NearestNeighbors(n_neighbors=3)),
    "NearestCentroid": C(nb.NearestCentroid()),
    "LocalOutlierFactor": U(nb.LocalOutlierFactor(n_neighbors=5, novelty=True)),
    # ensembles
    "AdaBoostRegressor": R(en.AdaBoostRegressor(n_estimators=5, random_state=0)),
    "AdaBoostClassifier": C(en.AdaBoostClassifier(n_estimators=5, random_state=0)),
    "BaggingRegressor": R(en.BaggingRegressor(n_estimators=3, random_state=0)),
    "BaggingClassifier": C(en.BaggingClassifier(n_estimators=3, random_state=0)),
    "ExtraTreesClassifier": C(en.ExtraTreesClassifier(n_estimators=3, max_depth=4, random_state=0)),
    "ExtraTreesRegressor": R(en.ExtraTreesRegressor(n_estimators=3, max_depth=4, random_state=0)),
    "GradientBoostingRegressor": R(en.GradientBoostingRegressor(n_estimators=5, random_state=0)),
    "GradientBoostingClassifier": C(en.GradientBoostingClassifier(n_estimators=5, random_state=0)),
    "IsolationForest": U(en.IsolationForest(n_estimators=5, random_state=0)),
    "RandomForestClassifier": C(en.RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0)),
    "RandomForestRegressor": R(en.RandomForestRegressor(n_estimators=3, max_depth=4, random_state=0)),
    "RandomTreesEmbedding": U(en.RandomTreesEmbedding(n_estimators=3, max_depth=3, random_state=0)),
    "StackingRegressor": R(en.StackingRegressor([("lr", lm.LinearRegression()), ("dt", tree.DecisionTreeRegressor(max_depth=3, random_state=0))], cv=3)),
    "StackingClassifier": C(en.StackingClassifier([("lr", lm.LogisticRegression()), ("nb", bayes.GaussianNB())], cv=3)),
    "VotingRegressor": R(en.VotingRegressor([("lr", lm.LinearRegression()), ("dt", tree.DecisionTreeRegressor(max_depth=3, random_state=0))])),
    "VotingClassifier": C(en.VotingClassifier([("lr", lm.LogisticRegression()), ("nb", bayes.GaussianNB())], voting="soft")),
    "HistGradientBoostingRegressor": R(en.HistGradientBoostingRegressor(max_iter=5, random_state=0)),
    "HistGradientBoostingClassifier": C(en.HistGradientBoostingClassifier(max_iter=5, random_state=0)),
    "Pipeline": R(pipeline.Pipeline([("sc", pp.StandardScaler()), ("lr", lm.LinearRegression())])),
    # cross decomposition
    "PLSRegression": lambda: (cd.PLSRegression(n_components=2).fit(X, YM), XT),
    "PLSCanonical": lambda: (cd.PLSCanonical(n_components=2).fit(X, YM), XT),
    "CCA": lambda: (cd.CCA(n_components=2).fit(X, YM), XT),
    # compose
    "ColumnTransformer": U(compose.ColumnTransformer([("sc", pp.StandardScaler(), [0, 1]), ("mm", pp.MinMaxScaler(), [2])], remainder="passthrough")),
    "TransformedTargetRegressor": R(compose.TransformedTargetRegressor(regressor=lm.LinearRegression(), func=np.log1p, inverse_func=np.expm1)),
}


def P(*steps, Xf=X, y=None, Xt=XT):
    return lambda: (pipeline.Pipeline(list(steps)).fit(Xf, y), Xt)


def fitted_step(step, Xf, Xt, y=None):
    """A Pipeline holding one already-fitted step (for y-transformers that cannot be fitted inside a pipeline)."""
    def f():
        s = step.fit(Xf) if y is None else step.fit(Xf, y)
        return pipeline.Pipeline([("s", s)]), Xt
    return f


MODULES = {
    "StandardScaler": P(("s", pp.StandardScaler()), ("m", lm.LinearRegression()), y=YR),
    "MinMaxScaler": P(("s", pp.MinMaxScaler())),
    "OneHotEncoder": P(("s", pp.OneHotEncoder(handle_unknown="ignore", sparse_output=False)), Xf=XC, Xt=(XT * 3).astype(int)),
    "LabelBinarizer": fitted_step(pp.LabelBinarizer(), YC, np.array([0, 2, 1, 1])),
    "LabelEncoder": fitted_step(pp.LabelEncoder(), YS, np.array(["c", "a", "bb"])),
    "Binarizer": P(("s", pp.Binarizer(threshold=0.5))),
    "FunctionTransformer": P(("s", pp.FunctionTransformer(np.log1p, inverse_func=np.expm1))),
    "KernelCenterer": lambda: (pipeline.Pipeline([("s", pp.KernelCenterer())]).fit(X @ X.T), XT @ X.T),
    "MultiLabelBinarizer": fitted_step(pp.MultiLabelBinarizer(), [{1, 2}, {3}, {1, 3}], [{1}, {2, 3}]),
    "MaxAbsScaler": P(("s", pp.MaxAbsScaler())),
    "Normalizer": P(("s", pp.Normalizer())),
    "OrdinalEncoder": P(("s", pp.OrdinalEncoder()), Xf=XC, Xt=(XT * 3).astype(int) % 3),
    "PolynomialFeatures": P(("s", pp.PolynomialFeatures(2))),
    "RobustScaler": P(("s", pp.RobustScaler())),
    "QuantileTransformer": P(("s", pp.QuantileTransformer(n_quantiles=20))),
    "KBinsDiscretizer": P(("s", pp.KBinsDiscretizer(n_bins=3, encode="ordinal", quantile_method="averaged_inverted_cdf"))),
    "PowerTransformer": P(("s", pp.PowerTransformer())),
    "SplineTransformer": P(("s", pp.SplineTransformer(n_knots=4))),
    "TargetEncoder": lambda: (pipeline.Pipeline([("s", pp.TargetEncoder(random_state=0)), ("m", lm.LinearRegression())]).fit(XC, YR), (XT * 3).astype(int)),
    "DictVectorizer": fitted_step(fe.DictVectorizer(sparse=False), DICTS, [{"a": 2.0, "z": 1.0}]),
    "FeatureHasher": fitted_step(fe.FeatureHasher(n_features=8), DICTS, [{"a": 2.0, "z": 1.0}]),
    "PatchExtractor": fitted_step(fei.PatchExtractor(patch_size=(2, 2), max_patches=3, random_state=0), rng.rand(2, 5, 5), rng.rand(1, 5, 5)),
    "CountVectorizer": P(("v", fet.CountVectorizer()), ("m", bayes.MultinomialNB()), Xf=TEXT, y=YT, Xt=TEXTT),
    "HashingVectorizer": P(("v", fet.HashingVectorizer(n_features=16)), ("m", lm.LogisticRegression()), Xf=TEXT, y=YT, Xt=TEXTT),
    "TfidfTransformer": lambda: (pipeline.Pipeline([("c", fet.CountVectorizer()), ("t", fet.TfidfTransformer())]).fit(TEXT), TEXTT),
    "TfidfVectorizer": P(("v", fet.TfidfVectorizer()), ("m", lm.LogisticRegression()), Xf=TEXT, y=YT, Xt=TEXTT),
}


XCAT = np.c_[(X[:, 0] * 4).astype(int), X[:, 1:]]
XCATT = np.c_[(XT[:, 0] * 4).astype(int), XT[:, 1:]]
VARIANTS = {
    "LogisticRegression[str-target]": lambda: (lm.LogisticRegression().fit(X, YS), XT),
    "RandomForestClassifier[str-target]": lambda: (en.RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, YS), XT),
    "KNeighborsClassifier[str-target]": lambda: (nb.KNeighborsClassifier(n_neighbors=3).fit(X, YS), XT),
    "Birch[deep]": U(cluster.Birch(n_clusters=3, threshold=0.1, branching_factor=5)),
    "HistGradientBoostingClassifier[categorical]": lambda: (en.HistGradientBoostingClassifier(max_iter=5, categorical_features=[0], random_state=0).fit(XCAT, YC), XCATT),
    "HistGradientBoostingRegressor[early-stopping]": lambda: (en.HistGradientBoostingRegressor(max_iter=20, early_stopping=True, n_iter_no_change=2, validation_fraction=0.2, random_state=0).fit(X, YR), XT),
    "LocalOutlierFactor[brute]": U(nb.LocalOutlierFactor(n_neighbors=5, novelty=True, algorithm="brute")),
    "MLPClassifier[sgd]": C(nn.MLPClassifier(hidden_layer_sizes=(4,), solver="sgd", max_iter=30, random_state=0)),
    "MLPRegressor[lbfgs]": R(nn.MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=30, random_state=0)),
    "GradientBoostingRegressor[huber]": R(en.GradientBoostingRegressor(loss="huber", alpha=0.8, n_estimators=5, random_state=0)),
    "GradientBoostingClassifier[binary]": lambda: (en.GradientBoostingClassifier(n_estimators=5, random_state=0).fit(X, YC > 0), XT),
    "SGDClassifier[log_loss]": C(lm.SGDClassifier(loss="log_loss", random_state=0)),
    "Pipeline[scaler+tree]": C(pipeline.Pipeline([("sc", pp.StandardScaler()), ("dt", tree.DecisionTreeClassifier(max_depth=3, random_state=0))])),
    "ColumnTransformer[onehot]": lambda: (compose.ColumnTransformer([("oh", pp.OneHotEncoder(handle_unknown="ignore"), [0]), ("sc", pp.StandardScaler(), [1, 2])], remainder="drop").fit(XCAT), XCATT),
    "BisectingKMeans[elkan]": U(cluster.BisectingKMeans(n_clusters=4, algorithm="elkan", random_state=0)),
    "RANSACRegressor[ridge]": R(lm.RANSACRegressor(lm.Ridge(), min_samples=10, random_state=0)),
    "AdaBoostClassifier[logreg]": C(en.AdaBoostClassifier(lm.LogisticRegression(), n_estimators=3, random_state=0)),
    "BaggingClassifier[max_features]": C(en.BaggingClassifier(n_estimators=3, max_features=0.5, random_state=0)),
    "StackingClassifier[pipeline]": C(en.StackingClassifier([("p", pipeline.Pipeline([("sc", pp.StandardScaler()), ("lr", lm.LogisticRegression())])), ("nb", bayes.GaussianNB())], cv=3)),
    "TransformedTargetRegressor[transformer]": R(compose.TransformedTargetRegressor(regressor=lm.Ridge(), transformer=pp.StandardScaler())),
}


METHODS = ["predict", "predict_proba", "predict_log_proba", "decision_function", "transform", "inverse_transform",
           "score_samples", "apply", "decision_path", "kneighbors", "staged_predict", "staged_decision_function",
           "mahalanobis", "get_feature_names_out"]

# Names milo_fast rebuilds from PyMilo files besides the models themselves (one list: the tables').
IMPLIED = sorted({T.helper_name(k) for k in T.HELPERS} | set(T.BIT_GENERATORS.values())
                 | {"numpy.mean", "sklearn.cluster._kmeans._kmeans_single_lloyd",
                    "sklearn.cluster._kmeans._kmeans_single_elkan"})
# Until the allow-list (milo_fast.trust, written alongside) lists every one of them, the round-trip tests
# name the missing ones explicitly; test_allow_list_covers_pymilo_helpers fails meanwhile.
PENDING = [n for n in IMPLIED if not trust.is_trusted(n)]

CASES = {**TOP, **MODULES, **VARIANTS}
# What PyMilo 1.6 itself cannot do (its writer or reader fails), and what we refuse to write for it.
PYMILO_CANNOT_WRITE = {"HistGradientBoostingClassifier[categorical]", "MLPClassifier[sgd]", "RANSACRegressor[ridge]"}
WE_REFUSE = {
    "LocalOutlierFactor": "KD/Ball tree",  # PyMilo's reader rebuilds the tree for six neighbors models only
    "HistGradientBoostingClassifier[categorical]": "functools.partial",
    "MLPClassifier[sgd]": "solver='sgd'",
    "RANSACRegressor[ridge]": "RandomState",
}


def outputs(model, Xt):
    out = {}
    for m in METHODS:
        f = getattr(model, m, None)
        if f is None:
            continue
        try:
            if m == "inverse_transform":
                r = f(model.transform(Xt))
            elif m == "get_feature_names_out":
                r = f()
            else:
                r = f(Xt)
            if m.startswith("staged"):
                r = list(r)
        except Exception as e:  # the copy must fail the same way
            r = ("raised", type(e).__name__)
        out[m] = r
    return out


def same(a, b):
    if isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], str):
        return a == b
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if sp.issparse(a):
        return (sp.issparse(b) and a.format == b.format and a.dtype == b.dtype and a.shape == b.shape
                and (a != b).nnz == 0)
    a, b = np.asarray(a), np.asarray(b)
    return (a.dtype == b.dtype and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def assert_same_outputs(original, copy, Xt):
    assert type(copy) is type(original)
    want, got = outputs(original, Xt), outputs(copy, Xt)
    assert set(want) == set(got)
    bad = [k for k in want if not same(want[k], got[k])]
    assert not bad, f"outputs differ: {bad}"


@pytest.fixture(scope="module")
def fitted():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = CASES[name]()
        return cache[name]
    return get


# --------------------------------------------------------------------------------------------- coverage

def test_cases_cover_every_model_pymilo_supports():
    from pymilo.pymilo_param import (SKLEARN_FEATURE_EXTRACTION_TABLE, SKLEARN_PREPROCESSING_TABLE,
                                     SKLEARN_SUPPORTED_CATEGORIES)
    theirs = {n for t in SKLEARN_SUPPORTED_CATEGORIES.values() for n, c in t.items() if c != "NOT_SUPPORTED"}
    theirs |= set(SKLEARN_PREPROCESSING_TABLE) | set(SKLEARN_FEATURE_EXTRACTION_TABLE)
    assert set(supported_models()) == theirs  # our copy of PyMilo's tables has not drifted
    assert set(TOP) | set(MODULES) == theirs
    assert len(theirs) == 129


def test_allow_list_covers_pymilo_helpers():
    assert PENDING == [], f"milo_fast.trust does not yet allow: {PENDING}"


# --------------------------------------------------------------------------------------------- (a) read PyMilo files

@pytest.mark.parametrize("name", [n for n in CASES if n not in PYMILO_CANNOT_WRITE])
def test_reads_pymilo_file(name, fitted):
    model, Xt = fitted(name)
    text = pymilo.Export(model).to_json()
    doc = codec.decode(text)
    assert is_pymilo_document(doc)
    copy = import_document(doc, trusted=PENDING)
    assert_same_outputs(model, copy, Xt)


def test_reads_pymilo_file_parsed_by_json_module(fitted):
    """Without the codec every array arrives as an envelope dict: read those too."""
    model, Xt = fitted("GradientBoostingClassifier")
    copy = import_document(json.loads(pymilo.Export(model).to_json()), trusted=PENDING)
    assert_same_outputs(model, copy, Xt)


# --------------------------------------------------------------------------------------------- (b) write for PyMilo

@pytest.mark.parametrize("name", [n for n in CASES if n not in WE_REFUSE])
def test_pymilo_reads_our_file(name, fitted):
    model, Xt = fitted(name)
    text = codec.encode(export_document(model), arrays="text").decode()
    assert "milo-ndarray" not in text and "milo-float-bits" not in text  # only PyMilo's envelopes
    copy = pymilo.Import(json_dump=text).to_model()
    assert_same_outputs(model, copy, Xt)
    # and milo_fast reads its own PyMilo files back too
    assert_same_outputs(model, import_document(codec.decode(text), trusted=PENDING), Xt)


@pytest.mark.parametrize("name", sorted(WE_REFUSE))
def test_export_refuses_what_pymilo_cannot_carry(name, fitted):
    model, _ = fitted(name)
    with pytest.raises(ExportError, match=WE_REFUSE[name].replace("(", r"\(").replace(")", r"\)")):
        export_document(model)


def test_export_refuses_unsupported_models():
    from sklearn.decomposition import PCA
    with pytest.raises(ExportError, match="PCA"):
        export_document(PCA().fit(X))
    with pytest.raises(ExportError, match="StandardScaler"):
        export_document(pp.StandardScaler().fit(X))  # PyMilo carries it only inside a model
    with pytest.raises(ExportError, match="PCA"):
        export_document(pipeline.Pipeline([("p", __import__("sklearn.decomposition").decomposition.PCA()),
                                           ("m", lm.LinearRegression())]).fit(X, YR))
    with pytest.raises(ExportError, match="lambda"):
        export_document(compose.TransformedTargetRegressor(
            regressor=lm.LinearRegression(), func=lambda v: v, inverse_func=lambda v: v,
            check_inverse=False).fit(X, YR))


# --------------------------------------------------------------------------------------------- (c) hostile files

def _pymilo_doc(model):
    return json.loads(pymilo.Export(model).to_json())


def _fresh_modules(code):
    """Run ``code`` in a fresh interpreter (so no test has imported the planted modules) and return its output."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


PLANT = """
import json, sys, numpy as np, pymilo
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from milo_fast import UntrustedTypeError
from milo_fast.compat import import_document
X = np.arange(12.).reshape(4, 3)
doc = json.loads(pymilo.Export(Pipeline([("f", FunctionTransformer(np.log1p))]).fit(X)).to_json())
"""


@pytest.mark.parametrize("module,name", [("os", "system"), ("builtins", "eval"), ("webbrowser", "open"),
                                         ("smtplib", "SMTP"), ("subprocess", "Popen")])
def test_planted_function_is_refused_before_any_import(module, name):
    out = _fresh_modules(PLANT + f"""
import milo_fast.compat._pymilo_read, milo_fast.trust
before = set(sys.modules)
was_loaded = {module!r} in before
f = doc["data"]["steps"][0][1]["pymilo-preprocessing-data"]
f["func"] = {{"function_name": {name!r}, "function_module": {module!r}}}
try:
    import_document(doc)
except UntrustedTypeError as e:
    print("refused", e.names)
print("imported", sorted(set(sys.modules) - before))
print("planted module loaded by the test:", {module!r} in sys.modules and not was_loaded)
""")
    assert f"refused [('{module}.{name}', '$.data.steps[0][1].pymilo-preprocessing-data.func')]" in out
    assert "imported []" in out
    assert "planted module loaded by the test: False" in out


def test_planted_modules_were_not_loaded_beforehand():
    """The planted names above prove something only if their modules were not already loaded."""
    out = _fresh_modules(PLANT + "print([m for m in ('webbrowser', 'smtplib') if m in sys.modules])")
    assert out.strip() == "[]"


def test_every_offending_name_is_listed_and_nothing_is_built(monkeypatch):
    doc = _pymilo_doc(compose.TransformedTargetRegressor(
        regressor=lm.LinearRegression(), func=np.log1p, inverse_func=np.expm1).fit(X, YR + 2))
    doc["data"]["func"] = {"function_name": "system", "function_module": "os"}
    doc["data"]["inverse_func"] = {"function_name": "<lambda>", "function_module": "__main__"}
    doc["data"]["regressor"]["pymilo-inner-model-type"] = "Popen"
    assert sorted(untrusted_names(doc, trusted=PENDING)) == sorted([
        ("os.system", "$.data.func"), ("__main__.<lambda>", "$.data.inverse_func"),
        ("Popen", "$.data.regressor.pymilo-inner-model-type")])
    built = []
    real = trust.resolve
    monkeypatch.setattr(trust, "resolve", lambda *a, **k: built.append(a[0]) or real(*a, **k))
    with pytest.raises(UntrustedTypeError) as e:
        import_document(doc, trusted=PENDING)
    assert sorted(e.value.names) == sorted([("os.system", "$.data.func"), ("__main__.<lambda>", "$.data.inverse_func"),
                                            ("Popen", "$.data.regressor.pymilo-inner-model-type")])
    assert built == []
    assert isinstance(e.value, ValueError)


def test_model_type_off_the_list_is_refused():
    doc = _pymilo_doc(lm.LinearRegression().fit(X, YR))
    doc["model_type"] = "SMTP"
    with pytest.raises(UntrustedTypeError, match=r"SMTP at \$\.model_type"):
        import_document(doc)
    # even when the caller trusts the bare name, PyMilo's format has no such model
    with pytest.raises(ValidationError, match="not a model PyMilo"):
        import_document(doc, trusted=["SMTP"])
    # a model class PyMilo supports but in a place it cannot be (a regressor as a preprocessing module)
    doc = _pymilo_doc(pipeline.Pipeline([("s", pp.StandardScaler()), ("m", lm.LinearRegression())]).fit(X, YR))
    doc["data"]["steps"]["pymiloed-data"][0][1]["pymilo-preprocessing-type"] = "KMeans"
    with pytest.raises(UntrustedTypeError, match="KMeans"):
        import_document(doc)


def test_trusted_extends_by_exact_name_only():
    import textwrap
    doc = _pymilo_doc(pipeline.Pipeline([("f", pp.FunctionTransformer(np.log1p))]).fit(X))
    f = doc["data"]["steps"][0][1]["pymilo-preprocessing-data"]
    f["func"] = {"function_name": "dedent", "function_module": "textwrap"}
    assert not trust.is_trusted("textwrap.dedent")
    with pytest.raises(UntrustedTypeError, match="textwrap.dedent"):
        import_document(doc, trusted=["textwrap"])
    m = import_document(doc, trusted=["textwrap.dedent"] + PENDING)
    assert m.steps[0][1].func is textwrap.dedent


# --------------------------------------------------------------------------------------------- malformed files

def _tree_doc():
    return _pymilo_doc(tree.DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, YC))


def _nodes(doc):
    return doc["data"]["tree_"]["pymilo-tree"]["internal_state"]["nodes"]["values"]


@pytest.mark.parametrize("mutate,match", [
    (lambda d: _nodes(d)[0].__setitem__(0, 0), "after their parent"),          # a cycle to itself
    (lambda d: _nodes(d)[0].__setitem__(1, 10 ** 6), "inside the table"),      # child out of range
    (lambda d: _nodes(d)[0].__setitem__(2, 99), "feature indices"),            # feature out of range
    (lambda d: _nodes(d)[0].__setitem__(0, _nodes(d)[0][1]), "more than one parent"),
    (lambda d: _nodes(d)[0].__setitem__(0, "1"), "integers"),
    (lambda d: _nodes(d).pop(), "node_count"),
    (lambda d: d["data"]["tree_"]["pymilo-tree"].__setitem__("n_features", 9), "features but the model"),
    (lambda d: d["data"]["tree_"]["pymilo-tree"]["internal_state"]["values"].pop(), "shape"),
])
def test_crafted_tree_tables_are_rejected(mutate, match):
    doc = _tree_doc()
    mutate(doc)
    with pytest.raises((ValidationError, DecodeError), match=match) as e:
        import_document(doc, trusted=PENDING)
    assert "$.data.tree_" in str(e.value)


def test_crafted_hist_gradient_boosting_predictor_is_rejected():
    doc = _pymilo_doc(en.HistGradientBoostingRegressor(max_iter=3, random_state=0).fit(X, YR))
    nodes = doc["data"]["_predictors"][0][0]["pymiloed-data"]["nodes"]["pymiloed-ndarray-list"]
    nodes[0][2] = 7  # feature_idx beyond the model's 4 features
    with pytest.raises(ValidationError, match="feature the model does not have"):
        import_document(doc, trusted=PENDING)
    nodes[0][2] = 0
    nodes[0][5] = 0  # left child pointing at the root
    with pytest.raises(ValidationError, match=r"after their parent .*\$\.data\._predictors\[0\]\[0\]"):
        import_document(doc, trusted=PENDING)


@pytest.mark.parametrize("doc,err,match", [
    ([], ValidationError, "JSON object"),
    ({"data": {}}, ValidationError, "'data' and 'model_type'"),
    ({"data": [], "model_type": "LinearRegression"}, ValidationError, r"must be an object at \$\.data"),
    ({"data": {"coef_": {"pymiloed-ndarray-list": [1, 2], "pymiloed-ndarray-dtype": "<U1",
                         "pymiloed-ndarray-shape": [2], "pymiloed-data-structure": "numpy.ndarray"}},
      "model_type": "LinearRegression"}, DecodeError, r"expected a string at \$\.data\.coef_"),
    ({"data": {"coef_": {"pymiloed-ndarray-list": [1], "pymiloed-ndarray-dtype": "[('a', 'O')]",
                         "pymiloed-ndarray-shape": [1], "pymiloed-data-structure": "numpy.ndarray"}},
      "model_type": "LinearRegression"}, DecodeError, "unsupported structured dtype field"),
    ({"data": {"coef_": {"pymiloed-ndarray-list": [[1], [2, 3]], "pymiloed-ndarray-dtype": "object",
                         "pymiloed-ndarray-shape": [2, 1], "pymiloed-data-structure": "numpy.ndarray"}},
      "model_type": "LinearRegression"}, DecodeError, r"declared shape at \$\.data\.coef_"),
    ({"data": {"n": {"np-type": "numpy.int32", "value": 2 ** 40}}, "model_type": "LinearRegression"},
     ValidationError, "out of range"),
    ({"data": {"n": {"np-type": "numpy.complex128", "value": 1}}, "model_type": "LinearRegression"},
     ValidationError, "unknown np-type"),
    ({"data": {"s": {"pymilo-slice": True, "start": "a"}}, "model_type": "LinearRegression"},
     ValidationError, r"integers or null at \$\.data\.s\.start"),
    ({"data": {"r": {"pymilo-bypass": True, "pymilo-randomstate": ["MT19937", [1, 2], 0, 0, 0.0]}},
      "model_type": "SVC"}, ValidationError, "624"),
])
def test_malformed_documents_name_the_path(doc, err, match):
    with pytest.raises(err, match=match):
        import_document(doc, trusted=PENDING, source="model.json")


def test_errors_name_the_source_file():
    with pytest.raises(ValidationError, match="in model.json"):
        import_document({"data": [], "model_type": "LinearRegression"}, source="model.json")

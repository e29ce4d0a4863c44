"""How to build and fit every scikit-learn estimator for the round-trip tests, on small data that suits it.

``case_for(name, cls)`` returns a Case: ``make()`` gives an unfitted instance (with real inner estimators for
meta-estimators), ``fit(est)`` fits it on the case's training data, and ``X_new`` / ``y_new`` are data the model
has not seen, on which every output method is compared. Estimators without an entry here are built with their
defaults and fitted on data chosen from their tags, so an estimator that a new scikit-learn adds is still
exercised (and fails loudly if milo_fast cannot carry it).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from sklearn.experimental import enable_halving_search_cv, enable_iterative_imputer  # noqa: F401
from sklearn.utils import all_estimators

SEED = 0


def all_estimator_classes():
    """(name, class) of every estimator of the installed scikit-learn, experimental ones enabled."""
    return all_estimators()


# ----------------------------------------------------------------------------------------------- data

def _data():
    rng = np.random.RandomState(SEED)
    d: dict[str, Any] = {}
    n, n_new, p = 60, 25, 5
    X = rng.randn(n + n_new, p)
    w = rng.randn(p)
    logits = X @ w
    y3 = np.digitize(logits, np.quantile(logits, [1 / 3, 2 / 3]))          # 3 balanced classes
    y2 = (logits > np.median(logits)).astype(np.int64)
    yr = logits + 0.1 * rng.randn(n + n_new)
    d["X"], d["X_new"] = X[:n], X[n:]
    d["y3"], d["y3_new"] = y3[:n], y3[n:]
    names = np.array(["bird", "cat", "dog"])
    d["ys"], d["ys_new"] = names[y3[:n]], names[y3[n:]]
    d["y2"], d["y2_new"] = y2[:n], y2[n:]
    d["yr"], d["yr_new"] = yr[:n], yr[n:]
    Ym = np.column_stack([yr, X[:, 0] - X[:, 1] + 0.1 * rng.randn(n + n_new)])
    d["ym"], d["ym_new"] = Ym[:n], Ym[n:]
    Yl = np.column_stack([y2, (X[:, 1] > 0).astype(np.int64), (X[:, 2] + X[:, 3] > 0).astype(np.int64)])
    d["yl"], d["yl_new"] = Yl[:n], Yl[n:]
    Ymc = np.column_stack([names[y3], np.where(X[:, 1] > 0, "hi", "lo")])
    d["ymc"], d["ymc_new"] = Ymc[:n], Ymc[n:]
    Xp = np.abs(X) + 0.1                                                     # positive
    d["Xp"], d["Xp_new"] = Xp[:n], Xp[n:]
    Xi = rng.randint(0, 4, size=(n + n_new, p))                              # counts / categories
    d["Xi"], d["Xi_new"] = Xi[:n], Xi[n:]
    Xn = X.copy()
    Xn[rng.rand(*X.shape) < 0.1] = np.nan                                    # missing values
    Xn[0, :] = X[0, :]
    d["Xnan"], d["Xnan_new"] = Xn[:n], Xn[n:]
    cats = np.array(["red", "green", "blue", "grey"], dtype=object)
    Xc = np.column_stack([cats[Xi[:, 0]], cats[Xi[:, 1]], Xi[:, 2]]).astype(object)
    Xc_new = Xc[n:].copy()
    d["Xcat"], d["Xcat_new"] = Xc[:n], Xc_new
    d["yr_pos"], d["yr_pos_new"] = np.exp(yr[:n] / 4), np.exp(yr[n:] / 4)
    words = ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "honey", "kiwi", "lemon", "mango"]
    docs = [" ".join(rng.choice(words, size=rng.randint(3, 9))) for _ in range(n + n_new)]
    d["text"], d["text_new"] = docs[:n], docs[n:]
    d["dicts"] = [{"a": float(x[0]), "b": float(x[1]), "c=" + str(int(x[2] > 0)): 1.0} for x in X[:n]]
    d["dicts_new"] = [{"a": float(x[0]), "b": float(x[1]), "c=" + str(int(x[2] > 0)): 1.0, "z": 2.0}
                      for x in X[n:]]
    d["images"] = rng.rand(4, 8, 8)
    d["images_new"] = rng.rand(2, 8, 8)
    d["X1"], d["X1_new"] = X[:n, 0], np.sort(X[n:, 0])
    d["labels_multi"] = [tuple(sorted({"a", "b", "c", "d"} - {"abcd"[i % 4]})) if i % 3 else ("a",) for i in range(n)]
    d["labels_multi_new"] = [("b", "c"), ("a",), ("d",), ()]
    K = X[:n] @ X[:n].T
    d["K"], d["K_new"] = K, X[n:] @ X[:n].T
    return d


D = _data()


# ---------------------------------------------------------------------------------------------- cases

@dataclass
class Case:
    make: Callable[[], Any]
    X: Any = None                   # training input
    y: Any = None                   # training target (None: unsupervised)
    X_new: Any = None
    y_new: Any = None
    fit_kwargs: dict = field(default_factory=dict)
    inverse: bool = True            # compare inverse_transform(transform(X_new))
    y_only: bool = False            # label transformers: fit(y), transform(y)

    def fit(self, est):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.y_only:
                return est.fit(self.X)
            if self.y is None:
                return est.fit(self.X, **self.fit_kwargs)
            return est.fit(self.X, self.y, **self.fit_kwargs)


def clf(make, y="ys", X="X", **kw):
    return Case(make, D[X], D[y], D[X + "_new"], D[y + "_new"], **kw)


def reg(make, y="yr", X="X", **kw):
    return Case(make, D[X], D[y], D[X + "_new"], D[y + "_new"], **kw)


def unsup(make, X="X", **kw):
    return Case(make, D[X], None, D[X + "_new"], None, **kw)


def _cases() -> dict[str, Callable[[], Case]]:
    from sklearn import (calibration, compose, cluster, cross_decomposition, decomposition, ensemble,
                         feature_extraction, feature_selection, frozen, gaussian_process, impute, isotonic,
                         kernel_approximation, linear_model, manifold, model_selection, multiclass, multioutput,
                         naive_bayes, neighbors, neural_network, pipeline, preprocessing, semi_supervised, svm, tree)
    from sklearn.gaussian_process import kernels

    LR = lambda: linear_model.LogisticRegression(max_iter=200)  # noqa: E731
    DT = lambda: tree.DecisionTreeClassifier(max_depth=3, random_state=0)  # noqa: E731
    RG = lambda: linear_model.Ridge()  # noqa: E731
    grid = {"C": [0.1, 1.0]}
    c: dict[str, Callable[[], Case]] = {
        # ---- meta-estimators with real inner estimators
        "Pipeline": lambda: clf(lambda: pipeline.Pipeline([("scale", preprocessing.StandardScaler()),
                                                           ("pca", decomposition.PCA(3)), ("lr", LR())])),
        "FeatureUnion": lambda: unsup(lambda: pipeline.FeatureUnion(
            [("pca", decomposition.PCA(2)), ("scale", preprocessing.MinMaxScaler())]), inverse=False),
        "ColumnTransformer": lambda: unsup(lambda: compose.ColumnTransformer(
            [("scale", preprocessing.StandardScaler(), [0, 1]), ("keep", "passthrough", [2]),
             ("poly", preprocessing.PolynomialFeatures(2), slice(3, 4)), ("skip", "drop", [4])],
            remainder="drop"), inverse=False),
        "TransformedTargetRegressor": lambda: reg(lambda: compose.TransformedTargetRegressor(
            regressor=RG(), func=np.log1p, inverse_func=np.expm1), y="yr_pos"),
        "GridSearchCV": lambda: clf(lambda: model_selection.GridSearchCV(LR(), grid, cv=2)),
        "RandomizedSearchCV": lambda: clf(lambda: model_selection.RandomizedSearchCV(
            DT(), {"max_depth": [1, 2, 3], "min_samples_leaf": [1, 2, 5]}, n_iter=3, cv=2, random_state=0)),
        "HalvingGridSearchCV": lambda: clf(lambda: model_selection.HalvingGridSearchCV(
            DT(), {"max_depth": [1, 2, 3]}, cv=2, min_resources=20, random_state=0)),
        "HalvingRandomSearchCV": lambda: clf(lambda: model_selection.HalvingRandomSearchCV(
            DT(), {"max_depth": [1, 2, 3, 4]}, cv=2, min_resources=20, random_state=0)),
        "StackingClassifier": lambda: clf(lambda: ensemble.StackingClassifier(
            [("lr", LR()), ("dt", DT())], final_estimator=LR(), cv=2)),
        "StackingRegressor": lambda: reg(lambda: ensemble.StackingRegressor(
            [("ridge", RG()), ("dt", tree.DecisionTreeRegressor(max_depth=3, random_state=0))],
            final_estimator=RG(), cv=2)),
        "VotingClassifier": lambda: clf(lambda: ensemble.VotingClassifier(
            [("lr", LR()), ("dt", DT()), ("nb", naive_bayes.GaussianNB())], voting="soft")),
        "VotingRegressor": lambda: reg(lambda: ensemble.VotingRegressor(
            [("ridge", RG()), ("dt", tree.DecisionTreeRegressor(max_depth=3, random_state=0))])),
        "OneVsRestClassifier": lambda: clf(lambda: multiclass.OneVsRestClassifier(LR())),
        "OneVsOneClassifier": lambda: clf(lambda: multiclass.OneVsOneClassifier(svm.LinearSVC())),
        "OutputCodeClassifier": lambda: clf(lambda: multiclass.OutputCodeClassifier(LR(), random_state=0)),
        "MultiOutputClassifier": lambda: clf(lambda: multioutput.MultiOutputClassifier(LR()), y="ymc"),
        "MultiOutputRegressor": lambda: reg(lambda: multioutput.MultiOutputRegressor(RG()), y="ym"),
        "ClassifierChain": lambda: clf(lambda: multioutput.ClassifierChain(LR(), random_state=0), y="yl"),
        "RegressorChain": lambda: reg(lambda: multioutput.RegressorChain(RG()), y="ym"),
        "RFE": lambda: clf(lambda: feature_selection.RFE(LR(), n_features_to_select=2)),
        "RFECV": lambda: clf(lambda: feature_selection.RFECV(LR(), cv=2)),
        "SelectFromModel": lambda: clf(lambda: feature_selection.SelectFromModel(LR())),
        "SequentialFeatureSelector": lambda: clf(lambda: feature_selection.SequentialFeatureSelector(
            LR(), n_features_to_select=2, cv=2)),
        "CalibratedClassifierCV": lambda: clf(lambda: calibration.CalibratedClassifierCV(LR(), cv=2)),
        "FrozenEstimator": lambda: clf(lambda: frozen.FrozenEstimator(LR().fit(D["X"], D["ys"]))),
        "TunedThresholdClassifierCV": lambda: clf(lambda: model_selection.TunedThresholdClassifierCV(LR(), cv=2),
                                                  y="y2"),
        "FixedThresholdClassifier": lambda: clf(lambda: model_selection.FixedThresholdClassifier(
            LR(), threshold=0.3), y="y2"),
        "SelfTrainingClassifier": lambda: Case(lambda: semi_supervised.SelfTrainingClassifier(LR()), D["X"],
                                               np.where(np.arange(60) % 3 == 0, -1, D["y3"]), D["X_new"],
                                               D["y3_new"]),
        "AdaBoostClassifier": lambda: clf(lambda: ensemble.AdaBoostClassifier(n_estimators=5, random_state=0)),
        "AdaBoostRegressor": lambda: reg(lambda: ensemble.AdaBoostRegressor(n_estimators=5, random_state=0)),
        "BaggingClassifier": lambda: clf(lambda: ensemble.BaggingClassifier(n_estimators=4, random_state=0)),
        "BaggingRegressor": lambda: reg(lambda: ensemble.BaggingRegressor(n_estimators=4, random_state=0)),
        "RANSACRegressor": lambda: reg(lambda: linear_model.RANSACRegressor(random_state=0)),
        # ---- supervised with special needs
        "GaussianProcessClassifier": lambda: clf(lambda: gaussian_process.GaussianProcessClassifier(
            1.0 * kernels.RBF(1.0), random_state=0)),
        "GaussianProcessRegressor": lambda: reg(lambda: gaussian_process.GaussianProcessRegressor(
            kernels.ConstantKernel() * kernels.RBF() + kernels.WhiteKernel(), random_state=0)),
        "IsotonicRegression": lambda: reg(lambda: isotonic.IsotonicRegression(out_of_bounds="clip"), X="X1"),
        "MultiTaskElasticNet": lambda: reg(linear_model.MultiTaskElasticNet, y="ym"),
        "MultiTaskElasticNetCV": lambda: reg(lambda: linear_model.MultiTaskElasticNetCV(cv=2), y="ym"),
        "MultiTaskLasso": lambda: reg(linear_model.MultiTaskLasso, y="ym"),
        "MultiTaskLassoCV": lambda: reg(lambda: linear_model.MultiTaskLassoCV(cv=2), y="ym"),
        "CCA": lambda: reg(lambda: cross_decomposition.CCA(2), y="ym"),
        "PLSCanonical": lambda: reg(lambda: cross_decomposition.PLSCanonical(2), y="ym"),
        "PLSRegression": lambda: reg(lambda: cross_decomposition.PLSRegression(2), y="ym"),
        "PLSSVD": lambda: reg(lambda: cross_decomposition.PLSSVD(2), y="ym"),
        "GammaRegressor": lambda: reg(linear_model.GammaRegressor, y="yr_pos"),
        "PoissonRegressor": lambda: reg(linear_model.PoissonRegressor, y="yr_pos"),
        "TweedieRegressor": lambda: reg(lambda: linear_model.TweedieRegressor(power=1.5), y="yr_pos"),
        "MultinomialNB": lambda: clf(naive_bayes.MultinomialNB, X="Xi"),
        "ComplementNB": lambda: clf(naive_bayes.ComplementNB, X="Xi"),
        "CategoricalNB": lambda: clf(naive_bayes.CategoricalNB, X="Xi"),
        "BernoulliNB": lambda: clf(naive_bayes.BernoulliNB),
        "RadiusNeighborsClassifier": lambda: clf(lambda: neighbors.RadiusNeighborsClassifier(
            radius=6.0, outlier_label="most_frequent")),
        "RadiusNeighborsRegressor": lambda: reg(lambda: neighbors.RadiusNeighborsRegressor(radius=6.0)),
        "LogisticRegressionCV": lambda: clf(lambda: linear_model.LogisticRegressionCV(cv=2, max_iter=200)),
        "ElasticNetCV": lambda: reg(lambda: linear_model.ElasticNetCV(cv=2)),
        "LassoCV": lambda: reg(lambda: linear_model.LassoCV(cv=2)),
        "LarsCV": lambda: reg(lambda: linear_model.LarsCV(cv=2)),
        "LassoLarsCV": lambda: reg(lambda: linear_model.LassoLarsCV(cv=2)),
        "OrthogonalMatchingPursuitCV": lambda: reg(lambda: linear_model.OrthogonalMatchingPursuitCV(cv=2)),
        "TheilSenRegressor": lambda: reg(lambda: linear_model.TheilSenRegressor(random_state=0,
                                                                               max_subpopulation=200)),
        "MLPClassifier": lambda: clf(lambda: neural_network.MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0)),
        "MLPRegressor": lambda: reg(lambda: neural_network.MLPRegressor(hidden_layer_sizes=(8,), max_iter=30, random_state=0)),
        "HistGradientBoostingClassifier": lambda: clf(lambda: ensemble.HistGradientBoostingClassifier(
            max_iter=5, random_state=0)),
        "HistGradientBoostingRegressor": lambda: reg(lambda: ensemble.HistGradientBoostingRegressor(
            max_iter=5, random_state=0)),
        "GradientBoostingClassifier": lambda: clf(lambda: ensemble.GradientBoostingClassifier(
            n_estimators=5, random_state=0)),
        "GradientBoostingRegressor": lambda: reg(lambda: ensemble.GradientBoostingRegressor(
            n_estimators=5, random_state=0)),
        "RandomForestClassifier": lambda: clf(lambda: ensemble.RandomForestClassifier(n_estimators=4,
                                                                                      random_state=0)),
        "RandomForestRegressor": lambda: reg(lambda: ensemble.RandomForestRegressor(n_estimators=4,
                                                                                    random_state=0)),
        "ExtraTreesClassifier": lambda: clf(lambda: ensemble.ExtraTreesClassifier(n_estimators=4, random_state=0)),
        "ExtraTreesRegressor": lambda: reg(lambda: ensemble.ExtraTreesRegressor(n_estimators=4, random_state=0)),
        "IsolationForest": lambda: unsup(lambda: ensemble.IsolationForest(n_estimators=5, random_state=0)),
        "RandomTreesEmbedding": lambda: unsup(lambda: ensemble.RandomTreesEmbedding(n_estimators=4,
                                                                                   random_state=0)),
        "LabelPropagation": lambda: Case(semi_supervised.LabelPropagation, D["X"],
                                         np.where(np.arange(60) % 3 == 0, -1, D["y3"]), D["X_new"], D["y3_new"]),
        "LabelSpreading": lambda: Case(semi_supervised.LabelSpreading, D["X"],
                                       np.where(np.arange(60) % 3 == 0, -1, D["y3"]), D["X_new"], D["y3_new"]),
        # ---- transformers and unsupervised estimators
        "SparseCoder": lambda: unsup(lambda: decomposition.SparseCoder(
            dictionary=np.linalg.qr(np.random.RandomState(0).randn(5, 5))[0][:3])),
        "KernelPCA": lambda: unsup(lambda: decomposition.KernelPCA(3, kernel="rbf", fit_inverse_transform=True)),
        "LatentDirichletAllocation": lambda: unsup(lambda: decomposition.LatentDirichletAllocation(
            3, max_iter=5, random_state=0), X="Xi"),
        "NMF": lambda: unsup(lambda: decomposition.NMF(3, max_iter=50, random_state=0), X="Xp"),
        "MiniBatchNMF": lambda: unsup(lambda: decomposition.MiniBatchNMF(3, max_iter=5, random_state=0), X="Xp"),
        "DictionaryLearning": lambda: unsup(lambda: decomposition.DictionaryLearning(3, max_iter=5,
                                                                                    random_state=0)),
        "MiniBatchDictionaryLearning": lambda: unsup(lambda: decomposition.MiniBatchDictionaryLearning(
            3, max_iter=3, random_state=0)),
        "SparsePCA": lambda: unsup(lambda: decomposition.SparsePCA(3, max_iter=5, random_state=0)),
        "MiniBatchSparsePCA": lambda: unsup(lambda: decomposition.MiniBatchSparsePCA(3, max_iter=3,
                                                                                   random_state=0)),
        "FastICA": lambda: unsup(lambda: decomposition.FastICA(3, random_state=0, max_iter=50)),
        "FactorAnalysis": lambda: unsup(lambda: decomposition.FactorAnalysis(2, random_state=0)),
        "TruncatedSVD": lambda: unsup(lambda: decomposition.TruncatedSVD(2, random_state=0)),
        "PCA": lambda: unsup(lambda: decomposition.PCA(3)),
        "IncrementalPCA": lambda: unsup(lambda: decomposition.IncrementalPCA(3, batch_size=20)),
        "AdditiveChi2Sampler": lambda: unsup(kernel_approximation.AdditiveChi2Sampler, X="Xp"),
        "SkewedChi2Sampler": lambda: unsup(lambda: kernel_approximation.SkewedChi2Sampler(
            n_components=10, random_state=0), X="Xp"),
        "Nystroem": lambda: unsup(lambda: kernel_approximation.Nystroem(n_components=10, random_state=0)),
        "RBFSampler": lambda: unsup(lambda: kernel_approximation.RBFSampler(n_components=10, random_state=0)),
        "PolynomialCountSketch": lambda: unsup(lambda: kernel_approximation.PolynomialCountSketch(
            n_components=10, random_state=0)),
        "GaussianRandomProjection": lambda: unsup(lambda: __import__(
            "sklearn.random_projection").random_projection.GaussianRandomProjection(3, random_state=0)),
        "SparseRandomProjection": lambda: unsup(lambda: __import__(
            "sklearn.random_projection").random_projection.SparseRandomProjection(3, random_state=0)),
        "KernelCenterer": lambda: Case(preprocessing.KernelCenterer, D["K"], None, D["K_new"]),
        "QuantileTransformer": lambda: unsup(lambda: preprocessing.QuantileTransformer(n_quantiles=20)),
        "OneHotEncoder": lambda: unsup(lambda: preprocessing.OneHotEncoder(handle_unknown="ignore"), X="Xcat",
                                       inverse=False),
        "OrdinalEncoder": lambda: unsup(preprocessing.OrdinalEncoder, X="Xcat"),
        "TargetEncoder": lambda: clf(lambda: preprocessing.TargetEncoder(random_state=0), X="Xcat", y="y3"),
        "LabelEncoder": lambda: Case(preprocessing.LabelEncoder, D["ys"], None, D["ys_new"], y_only=True),
        "LabelBinarizer": lambda: Case(preprocessing.LabelBinarizer, D["ys"], None, D["ys_new"], y_only=True),
        "MultiLabelBinarizer": lambda: Case(preprocessing.MultiLabelBinarizer, D["labels_multi"], None,
                                            D["labels_multi_new"], y_only=True),
        "SimpleImputer": lambda: unsup(impute.SimpleImputer, X="Xnan"),
        "KNNImputer": lambda: unsup(impute.KNNImputer, X="Xnan"),
        "IterativeImputer": lambda: unsup(lambda: impute.IterativeImputer(max_iter=3, random_state=0), X="Xnan"),
        "MissingIndicator": lambda: unsup(impute.MissingIndicator, X="Xnan"),
        "DictVectorizer": lambda: Case(feature_extraction.DictVectorizer, D["dicts"], None, D["dicts_new"]),
        "FeatureHasher": lambda: Case(lambda: feature_extraction.FeatureHasher(16), D["dicts"], None,
                                      D["dicts_new"]),
        "CountVectorizer": lambda: Case(lambda: feature_extraction.text.CountVectorizer(ngram_range=(1, 2)),
                                        D["text"], None, D["text_new"], inverse=False),
        "TfidfVectorizer": lambda: Case(lambda: feature_extraction.text.TfidfVectorizer(sublinear_tf=True),
                                        D["text"], None, D["text_new"], inverse=False),
        "HashingVectorizer": lambda: Case(lambda: feature_extraction.text.HashingVectorizer(n_features=32),
                                          D["text"], None, D["text_new"]),
        "TfidfTransformer": lambda: unsup(feature_extraction.text.TfidfTransformer, X="Xi"),
        "PatchExtractor": lambda: Case(lambda: feature_extraction.image.PatchExtractor(
            patch_size=(3, 3), max_patches=4, random_state=0), D["images"], None, D["images_new"]),
        "GenericUnivariateSelect": lambda: clf(lambda: feature_selection.GenericUnivariateSelect(
            mode="k_best", param=2)),
        "SelectKBest": lambda: clf(lambda: feature_selection.SelectKBest(k=2)),
        "SelectPercentile": lambda: clf(lambda: feature_selection.SelectPercentile(
            feature_selection.mutual_info_classif, percentile=50)),
        "SelectFdr": lambda: clf(lambda: feature_selection.SelectFdr(alpha=0.5)),
        "SelectFpr": lambda: clf(lambda: feature_selection.SelectFpr(alpha=0.5)),
        "SelectFwe": lambda: clf(lambda: feature_selection.SelectFwe(alpha=0.5)),
        "SpectralBiclustering": lambda: unsup(lambda: cluster.SpectralBiclustering(3, random_state=0), X="Xp"),
        "SpectralCoclustering": lambda: unsup(lambda: cluster.SpectralCoclustering(3, random_state=0), X="Xp"),
        "SpectralClustering": lambda: unsup(lambda: cluster.SpectralClustering(3, random_state=0)),
        "KMeans": lambda: unsup(lambda: cluster.KMeans(3, n_init=2, random_state=0)),
        "MiniBatchKMeans": lambda: unsup(lambda: cluster.MiniBatchKMeans(3, n_init=2, random_state=0)),
        "BisectingKMeans": lambda: unsup(lambda: cluster.BisectingKMeans(3, random_state=0)),
        "Birch": lambda: unsup(lambda: cluster.Birch(threshold=0.3, branching_factor=5, n_clusters=3)),
        "MeanShift": lambda: unsup(lambda: cluster.MeanShift(bandwidth=2.0)),
        "AffinityPropagation": lambda: unsup(lambda: cluster.AffinityPropagation(random_state=0)),
        "TSNE": lambda: unsup(lambda: manifold.TSNE(2, perplexity=5, max_iter=250, random_state=0)),
        "MDS": lambda: unsup(lambda: manifold.MDS(2, n_init=1, max_iter=50, random_state=0)),
        "Isomap": lambda: unsup(lambda: manifold.Isomap(n_neighbors=8, n_components=2)),
        "LocallyLinearEmbedding": lambda: unsup(lambda: manifold.LocallyLinearEmbedding(
            n_neighbors=8, n_components=2, random_state=0)),
        "SpectralEmbedding": lambda: unsup(lambda: manifold.SpectralEmbedding(2, random_state=0)),
        "LocalOutlierFactor": lambda: unsup(lambda: neighbors.LocalOutlierFactor(n_neighbors=10, novelty=True)),
        "KernelDensity": lambda: unsup(lambda: neighbors.KernelDensity(bandwidth=0.5)),
        "BernoulliRBM": lambda: unsup(lambda: neural_network.BernoulliRBM(4, n_iter=3, random_state=0),
                                      X="Xp"),
        "NeighborhoodComponentsAnalysis": lambda: clf(lambda: neighbors.NeighborhoodComponentsAnalysis(
            2, max_iter=10, random_state=0)),
        "GraphicalLassoCV": lambda: unsup(lambda: __import__("sklearn.covariance").covariance.GraphicalLassoCV(
            cv=2, alphas=3)),
        "FunctionTransformer": lambda: unsup(lambda: preprocessing.FunctionTransformer(
            np.log1p, inverse_func=np.expm1), X="Xp"),
        "EllipticEnvelope": lambda: Case(lambda: __import__("sklearn.covariance").covariance.EllipticEnvelope(
            random_state=0), D["X"], None, D["X_new"], np.where(np.abs(D["X_new"]).max(axis=1) > 2, -1, 1)),
        "SGDOneClassSVM": lambda: unsup(lambda: linear_model.SGDOneClassSVM(random_state=0)),
        "OneClassSVM": lambda: unsup(svm.OneClassSVM),
        "PowerTransformer": lambda: unsup(preprocessing.PowerTransformer),
        "SplineTransformer": lambda: unsup(lambda: preprocessing.SplineTransformer(n_knots=4),
                                           inverse=False),
        "KBinsDiscretizer": lambda: unsup(lambda: preprocessing.KBinsDiscretizer(3, quantile_method="averaged_inverted_cdf")),
        "SGDClassifier": lambda: clf(lambda: linear_model.SGDClassifier(random_state=0)),
        "SGDRegressor": lambda: reg(lambda: linear_model.SGDRegressor(random_state=0)),
        "PassiveAggressiveClassifier": lambda: clf(lambda: linear_model.PassiveAggressiveClassifier(
            random_state=0)),
        "PassiveAggressiveRegressor": lambda: reg(lambda: linear_model.PassiveAggressiveRegressor(
            random_state=0)),
        "Perceptron": lambda: clf(lambda: linear_model.Perceptron(random_state=0)),
        "LinearSVC": lambda: clf(lambda: svm.LinearSVC(random_state=0)),
        "LinearSVR": lambda: reg(lambda: svm.LinearSVR(random_state=0)),
        "SVC": lambda: clf(lambda: svm.SVC(probability=True, random_state=0)),
        "NuSVC": lambda: clf(lambda: svm.NuSVC(nu=0.3)),
        "DecisionTreeClassifier": lambda: clf(lambda: tree.DecisionTreeClassifier(random_state=0)),
        "DecisionTreeRegressor": lambda: reg(lambda: tree.DecisionTreeRegressor(random_state=0)),
        "ExtraTreeClassifier": lambda: clf(lambda: tree.ExtraTreeClassifier(random_state=0)),
        "ExtraTreeRegressor": lambda: reg(lambda: tree.ExtraTreeRegressor(random_state=0)),
    }
    return c


_CASES = None


def case_for(name: str, cls) -> Case:
    """The Case for estimator ``name``: a specific one above, else one chosen from the estimator's tags."""
    global _CASES
    if _CASES is None:
        _CASES = _cases()
    if name in _CASES:
        return _CASES[name]()
    from sklearn.base import is_classifier, is_regressor
    est = cls()
    if is_classifier(est):
        return clf(cls)
    if is_regressor(est):
        return reg(cls)
    return unsup(cls)


# ------------------------------------------------------------------------------------------ comparing

import math  # noqa: E402
import struct  # noqa: E402
import types  # noqa: E402

import scipy.sparse as sp  # noqa: E402

OUTPUT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform",
                  "score_samples", "score", "apply", "decision_path", "kneighbors")


class Mismatch(AssertionError):
    pass


def _fail(path, msg):
    raise Mismatch(f"{path}: {msg}")


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def assert_same(a, b, path="$", memo=None):
    """Deep, exact comparison of two object graphs: same types, bit-identical numbers and arrays (dtype, shape,
    memory order), same sharing of sub-objects. Objects are compared through their pickle reduction (the
    ground truth for "same state"), independently of how milo_fast writes them."""
    if memo is None:
        memo = ({}, {})
    ta, tb = type(a), type(b)
    if ta is not tb:
        _fail(path, f"type {ta.__module__}.{ta.__qualname__} != {tb.__module__}.{tb.__qualname__}")
    if a is None or ta in (bool, int, str, bytes, range, slice):
        if a != b:
            _fail(path, f"{a!r} != {b!r}")
        return
    if ta is float:
        if _bits(a) != _bits(b):
            _fail(path, f"{a!r} != {b!r}")
        return
    if ta is complex:
        if _bits(a.real) != _bits(b.real) or _bits(a.imag) != _bits(b.imag):
            _fail(path, f"{a!r} != {b!r}")
        return
    if isinstance(a, (type, types.FunctionType, types.BuiltinFunctionType, np.ufunc)) or ta.__name__ in (
            "cython_function_or_method", "_ArrayFunctionDispatcher"):
        if a is not b:
            _fail(path, f"{a!r} is not {b!r}")
        return
    if isinstance(a, np.dtype):
        if a != b:
            _fail(path, f"dtype {a} != {b}")
        return
    if isinstance(a, np.generic):
        if a.dtype != b.dtype:
            _fail(path, f"scalar dtype {a.dtype} != {b.dtype}")
        if a.dtype.kind in "biufcmM" or a.dtype.fields:
            if np.asarray(a).tobytes() != np.asarray(b).tobytes():
                _fail(path, f"scalar {a!r} != {b!r}")
        elif a != b:
            _fail(path, f"scalar {a!r} != {b!r}")
        return
    if ta in (frozenset, set):
        if a != b:
            _fail(path, f"{a!r} != {b!r}")
        if ta is frozenset:
            return
    if ta is tuple:  # immutable: sharing does not matter (and () is a singleton)
        if len(a) != len(b):
            _fail(path, f"length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]", memo)
        return
    # identity: a value shared in the original is shared in the copy, and only then
    seen_a, seen_b = memo
    if id(a) in seen_a:
        if seen_a[id(a)][1] is not b:
            _fail(path, "a value shared in the original is not shared in the copy")
        return
    if id(b) in seen_b:
        _fail(path, "the copy shares a value that the original does not")
    seen_a[id(a)] = (a, b)
    seen_b[id(b)] = (b, a)
    if ta is set:
        return
    if isinstance(a, np.ma.MaskedArray):
        assert_same(np.asarray(a.data), np.asarray(b.data), path + ".data", memo)
        assert_same(np.ma.getmaskarray(a), np.ma.getmaskarray(b), path + ".mask", memo)
        return
    if ta is np.ndarray:
        if a.dtype != b.dtype or a.shape != b.shape:
            _fail(path, f"array {a.dtype}{a.shape} != {b.dtype}{b.shape}")
        if a.dtype.kind != "O" and a.size > 1 and any(
                n > 1 and sa != sb for n, sa, sb in zip(a.shape, a.strides, b.strides)):  # size-1 axes: no matter
            _fail(path, f"memory layout differs: strides {a.strides} != {b.strides}")
        if a.dtype.kind == "O":
            for i, (x, y) in enumerate(zip(a.flat, b.flat)):
                assert_same(x, y, f"{path}.flat[{i}]", memo)
        elif a.dtype.names:  # field by field: padding bytes between fields are not data
            for f in a.dtype.names:
                if np.ascontiguousarray(a[f]).tobytes() != np.ascontiguousarray(b[f]).tobytes():
                    _fail(path, f"field {f!r} differs")
        elif np.ascontiguousarray(a).tobytes() != np.ascontiguousarray(b).tobytes():
            _fail(path, "array contents differ")
        return
    if sp.issparse(a):
        if a.shape != b.shape or a.dtype != b.dtype or a.format != b.format:
            _fail(path, f"sparse {a.format}{a.shape}{a.dtype} != {b.format}{b.shape}{b.dtype}")
        for attr in ("data", "indices", "indptr", "offsets"):
            if hasattr(a, attr):
                assert_same(getattr(a, attr), getattr(b, attr), f"{path}.{attr}", memo)
        if a.format == "coo":
            assert_same(tuple(a.coords), tuple(b.coords), path + ".coords", memo)
        return
    if isinstance(a, dict) and ta in (dict, __import__("collections").OrderedDict):
        if list(a) != list(b):
            _fail(path, f"keys {list(a)} != {list(b)}")
        for k in a:
            assert_same(a[k], b[k], f"{path}[{k!r}]", memo)
        return
    if ta is list:
        if len(a) != len(b):
            _fail(path, f"length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]", memo)
        return
    if isinstance(a, np.random.RandomState):
        assert_same(a.get_state(legacy=False), b.get_state(legacy=False), path + ".get_state()", memo)
        return
    if isinstance(a, np.random.Generator):
        assert_same(a.bit_generator.state, b.bit_generator.state, path + ".bit_generator.state", memo)
        return
    if isinstance(a, np.random.BitGenerator):
        assert_same(a.state, b.state, path + ".state", memo)
        return
    ra, rb = a.__reduce_ex__(4), b.__reduce_ex__(4)
    if not isinstance(ra, tuple):
        _fail(path, f"cannot compare {ta}")
    assert_same(ra[0], rb[0], path + ".__reduce__[0]", memo)
    assert_same(tuple(ra[1]), tuple(rb[1]), path + ".__reduce__[1]", memo)
    for i, name in ((2, "state"), (3, "list"), (4, "items")):
        xa = ra[i] if len(ra) > i else None
        xb = rb[i] if len(rb) > i else None
        if i > 2:
            xa = None if xa is None else list(xa)
            xb = None if xb is None else list(xb)
        elif type(xa) is dict and type(xb) is dict:  # attribute order is not state
            xa, xb = dict(sorted(xa.items())), dict(sorted(xb.items()))
        assert_same(xa, xb, f"{path}.<{name}>", memo)


def _call(est, method, X, y, case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn = getattr(est, method)
        if method == "score":
            return fn(X, y) if y is not None else fn(X)
        return fn(X)


def compare_outputs(orig, loaded, case: Case) -> list[str]:
    """Call every public output method on new data; assert identical results. Returns the methods compared."""
    X, y = case.X_new, case.y_new
    compared = []
    for m in OUTPUT_METHODS:
        if not hasattr(orig, m):
            assert not hasattr(loaded, m), f"the copy has {m} but the original does not"
            continue
        assert hasattr(loaded, m), f"the original has {m} but the copy does not"
        try:
            out_a = _call(orig, m, X, y, case)
        except Exception as e:  # noqa: BLE001 - the copy must fail the same way
            try:
                _call(loaded, m, X, y, case)
            except Exception as e2:  # noqa: BLE001
                assert type(e2) is type(e), f"{m}: original raised {e!r}, copy raised {e2!r}"
                compared.append(f"{m}!")
                continue
            raise AssertionError(f"{m}: original raised {e!r}, the copy did not")
        out_b = _call(loaded, m, X, y, case)
        assert_same(out_a, out_b, f"{m}(X_new)")
        compared.append(m)
        if m == "transform" and case.inverse and hasattr(orig, "inverse_transform"):
            try:
                inv_a = _call(orig, "inverse_transform", out_a, None, case)
            except Exception as e:  # noqa: BLE001
                with __import__("pytest").raises(type(e)):
                    _call(loaded, "inverse_transform", out_a, None, case)
                continue
            assert_same(inv_a, _call(loaded, "inverse_transform", out_a, None, case), "inverse_transform(...)")
            compared.append("inverse_transform")
    return compared


# ------------------------------------------------------------------------------------------ crafted node tables

TREE_DEFECTS = ("feature_too_large", "negative_feature", "shared_child", "unreachable", "child_before_parent")


def break_node_table(nodes, n_features: int, defect: str) -> None:
    """Make one of TREE_DEFECTS in an sklearn node table, in place, at its last split: defects only the
    structural check of the table finds (types, shapes and dtypes stay right)."""
    split = int(np.flatnonzero(nodes["left_child"] >= 0)[-1])
    if defect == "feature_too_large":
        nodes["feature"][split] = n_features
    elif defect == "negative_feature":
        nodes["feature"][split] = -1
    elif defect == "shared_child":
        nodes["right_child"][split] = nodes["left_child"][split]
    elif defect == "unreachable":
        nodes["left_child"][split] = nodes["right_child"][split] = -1
    elif defect == "child_before_parent":
        nodes["left_child"][split] = split
    else:
        raise ValueError(f"unknown defect {defect!r}")

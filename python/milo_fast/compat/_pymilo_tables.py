"""What PyMilo 1.6 knows: its model tables, its numpy scalar tags, and the helper types its markers imply.

PyMilo names a model by its bare class name (``"LinearRegression"``) and sorts models into categories, each
served by one "chain" of transporters.  These tables repeat PyMilo 1.6's own lists (``pymilo_param.py``) as
names only; a name is turned into a class by importing the public scikit-learn package that exports it, a fixed
module chosen here, never one chosen by the document.
"""
from __future__ import annotations

import functools
import importlib

PYMILO_VERSION = "1.6"

# category -> (public module, class names).  Order matters: PyMilo looks a model up in COMPOSE, then ENSEMBLE,
# then the concrete chains in this order.
CATEGORIES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "COMPOSE": (("sklearn.compose", ("ColumnTransformer", "TransformedTargetRegressor")),),
    "ENSEMBLE": (
        ("sklearn.ensemble", (
            "AdaBoostRegressor", "AdaBoostClassifier", "BaggingRegressor", "BaggingClassifier",
            "ExtraTreesClassifier", "ExtraTreesRegressor", "GradientBoostingRegressor",
            "GradientBoostingClassifier", "IsolationForest", "RandomForestClassifier", "RandomForestRegressor",
            "RandomTreesEmbedding", "StackingRegressor", "StackingClassifier", "VotingRegressor",
            "VotingClassifier", "HistGradientBoostingRegressor", "HistGradientBoostingClassifier")),
        ("sklearn.pipeline", ("Pipeline",)),
    ),
    "LINEAR_MODEL": (
        ("sklearn.dummy", ("DummyRegressor", "DummyClassifier")),
        ("sklearn.linear_model", (
            "LinearRegression", "Ridge", "RidgeCV", "RidgeClassifier", "RidgeClassifierCV", "Lasso", "LassoCV",
            "LassoLars", "LassoLarsCV", "LassoLarsIC", "MultiTaskLasso", "MultiTaskLassoCV", "ElasticNet",
            "ElasticNetCV", "MultiTaskElasticNet", "MultiTaskElasticNetCV", "OrthogonalMatchingPursuit",
            "OrthogonalMatchingPursuitCV", "BayesianRidge", "ARDRegression", "LogisticRegression",
            "LogisticRegressionCV", "TweedieRegressor", "PoissonRegressor", "GammaRegressor", "SGDRegressor",
            "SGDClassifier", "SGDOneClassSVM", "Perceptron", "PassiveAggressiveRegressor",
            "PassiveAggressiveClassifier", "RANSACRegressor", "TheilSenRegressor", "HuberRegressor",
            "QuantileRegressor")),
    ),
    "NEURAL_NETWORK": (("sklearn.neural_network", ("MLPRegressor", "MLPClassifier", "BernoulliRBM")),),
    "DECISION_TREE": (("sklearn.tree", (
        "DecisionTreeRegressor", "DecisionTreeClassifier", "ExtraTreeRegressor", "ExtraTreeClassifier")),),
    "CLUSTERING": (
        ("sklearn.cluster", (
            "KMeans", "MiniBatchKMeans", "BisectingKMeans", "AffinityPropagation", "MeanShift",
            "SpectralClustering", "SpectralBiclustering", "SpectralCoclustering", "AgglomerativeClustering",
            "FeatureAgglomeration", "DBSCAN", "HDBSCAN", "OPTICS", "Birch")),
        ("sklearn.mixture", ("GaussianMixture", "BayesianGaussianMixture")),
    ),
    "NAIVE_BAYES": (("sklearn.naive_bayes", (
        "GaussianNB", "MultinomialNB", "ComplementNB", "BernoulliNB", "CategoricalNB")),),
    "SVM": (("sklearn.svm", ("LinearSVC", "LinearSVR", "NuSVC", "NuSVR", "OneClassSVM", "SVC", "SVR")),),
    "NEIGHBORS": (("sklearn.neighbors", (
        "KNeighborsRegressor", "KNeighborsClassifier", "RadiusNeighborsRegressor", "RadiusNeighborsClassifier",
        "NearestNeighbors", "NearestCentroid", "LocalOutlierFactor")),),
    "CROSS_DECOMPOSITION": (("sklearn.cross_decomposition", ("PLSRegression", "PLSCanonical", "CCA")),),
}

# Modules PyMilo carries only inside other models (pipeline steps, ColumnTransformer parts, _label_binarizer...).
PREPROCESSING: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sklearn.preprocessing", (
        "StandardScaler", "MinMaxScaler", "OneHotEncoder", "LabelBinarizer", "LabelEncoder", "Binarizer",
        "FunctionTransformer", "KernelCenterer", "MultiLabelBinarizer", "MaxAbsScaler", "Normalizer",
        "OrdinalEncoder", "PolynomialFeatures", "RobustScaler", "QuantileTransformer", "KBinsDiscretizer",
        "PowerTransformer", "SplineTransformer", "TargetEncoder")),
)
FEATURE_EXTRACTION: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sklearn.feature_extraction", ("DictVectorizer", "FeatureHasher")),
    ("sklearn.feature_extraction.image", ("PatchExtractor",)),
    ("sklearn.feature_extraction.text", (
        "CountVectorizer", "HashingVectorizer", "TfidfTransformer", "TfidfVectorizer")),
)

# PyMilo's numpy scalar tags ("np-type") -> the numpy type they stand for (qualified name).
NP_SCALAR_TYPES = {
    "numpy.intc": "numpy.int32",
    "numpy.int32": "numpy.int32",
    "numpy.int64": "numpy.int64",
    "numpy.float64": "numpy.float64",
    "numpy.uint8": "numpy.uint8",
    "numpy.uint64": "numpy.uint64",
}
# Tags that stand for a value rather than a type.
NP_VALUE_TAGS = ("numpy.infinity", "numpy.nan")

# Bit generators a numpy Generator may be rebuilt with (state["bit_generator"] -> qualified name).
BIT_GENERATORS = {
    "MT19937": "numpy.random._mt19937.MT19937",
    "PCG64": "numpy.random._pcg64.PCG64",
    "PCG64DXSM": "numpy.random._pcg64.PCG64DXSM",
    "Philox": "numpy.random._philox.Philox",
    "SFC64": "numpy.random._sfc64.SFC64",
}

# Helper types implied by PyMilo's markers: marker -> (module, attribute) of the class that gets built.
HELPERS = {
    "tree": ("sklearn.tree._tree", "Tree"),
    "tree_predictor": ("sklearn.ensemble._hist_gradient_boosting.predictor", "TreePredictor"),
    "bin_mapper": ("sklearn.ensemble._hist_gradient_boosting.binning", "_BinMapper"),
    "random_state": ("numpy.random", "RandomState"),
    "generator": ("numpy.random", "Generator"),
    "bunch": ("sklearn.utils", "Bunch"),
    "kd_tree": ("sklearn.neighbors", "KDTree"),
    "ball_tree": ("sklearn.neighbors", "BallTree"),
    "cf_node": ("sklearn.cluster._birch", "_CFNode"),
    "cf_subcluster": ("sklearn.cluster._birch", "_CFSubcluster"),
    "bisecting_tree": ("sklearn.cluster._bisect_k_means", "_BisectingTree"),
    "bspline": ("scipy.interpolate", "BSpline"),
    "csr_matrix": ("scipy.sparse", "csr_matrix"),
    "adam": ("sklearn.neural_network._stochastic_optimizers", "AdamOptimizer"),
    "sgd_optimizer": ("sklearn.neural_network._stochastic_optimizers", "SGDOptimizer"),
}


def qualname(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


@functools.lru_cache(maxsize=None)
def helper_class(key: str):
    module, attr = HELPERS[key]
    return getattr(importlib.import_module(module), attr)


@functools.lru_cache(maxsize=None)
def helper_name(key: str) -> str:
    return qualname(helper_class(key))


@functools.lru_cache(maxsize=None)
def _index() -> dict[str, tuple[str, str]]:
    """Bare class name -> (kind, public module); kind is a category, "PREPROCESSING" or "FEATURE_EXTRACTION"."""
    out: dict[str, tuple[str, str]] = {}
    groups = [(cat, g) for cat, gs in CATEGORIES.items() for g in gs]
    groups += [("PREPROCESSING", g) for g in PREPROCESSING] + [("FEATURE_EXTRACTION", g) for g in FEATURE_EXTRACTION]
    for kind, (module, names) in groups:
        for n in names:
            out.setdefault(n, (kind, module))
    return out


def kind_of_name(name) -> str | None:
    """PyMilo's kind for a bare class name (a category, "PREPROCESSING", "FEATURE_EXTRACTION"), or None."""
    entry = _index().get(name) if isinstance(name, str) else None
    return entry[0] if entry else None


@functools.lru_cache(maxsize=None)
def class_for(name: str):
    """The class PyMilo means by a bare name, imported from the fixed public module; None if unknown/absent."""
    entry = _index().get(name)
    if entry is None:
        return None
    return getattr(importlib.import_module(entry[1]), name, None)


def qualified_name_for(name: str) -> str | None:
    cls = class_for(name)
    return None if cls is None else qualname(cls)


def supported_names(kinds=None) -> list[str]:
    """Every class name PyMilo 1.6 supports (optionally only those of the given kinds), present or not."""
    return [n for n, (k, _) in _index().items() if kinds is None or k in kinds]


def kind_of(obj) -> str | None:
    """PyMilo's kind for an object, or None; the class must be exactly the one PyMilo means by that name."""
    name = type(obj).__name__
    kind = kind_of_name(name)
    if kind is None or type(obj) is not class_for(name):
        return None
    return kind


TOP_LEVEL = tuple(CATEGORIES)

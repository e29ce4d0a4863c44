"""The allow-list: which types and functions a document may name, checked before anything is imported.

    trust.is_trusted(qualified_name, trusted=()) -> bool
    trust.audit(names, trusted=())          # names: iterable of (qualified_name, json_path)
    trust.resolve(qualified_name, path, trusted=()) -> object

A qualified name is ``module.QualName`` as Python spells it (``f"{obj.__module__}.{obj.__qualname__}"``), e.g.
``sklearn.ensemble._forest.RandomForestClassifier`` or ``numpy.log1p``.

What is allowed (see docs/format.md, "Document"):
  * every estimator class of scikit-learn (``sklearn.utils.all_estimators()``, plus the experimental ones);
    the installed scikit-learn's list is consulted only when a name is not on the static list below,
  * the reviewed lists below: scikit-learn's internal helper classes and compiled (Cython) types that fitted
    estimators hold, Gaussian-process kernels, CV splitters, scorers, numpy / scipy / builtin value types,
  * a curated list of functions: every numpy ufunc, numpy reductions and math functions, scikit-learn metrics,
    score functions and kernels,
  * and names the caller passes in ``trusted`` — by exact name only; there is no "trust everything" switch.

Nothing here imports a module named in a document before the name is found on the list.
"""
from __future__ import annotations

import importlib
import threading
from typing import Iterable

from .errors import UntrustedTypeError

# --------------------------------------------------------------------------------------------- lists
# Estimators of scikit-learn 1.9 (``all_estimators()``) and the experimental ones (enable_* imports). A test
# checks this list against the installed scikit-learn, so it cannot silently drift.
SKLEARN_ESTIMATORS = frozenset("""
sklearn.calibration.CalibratedClassifierCV
sklearn.cluster._affinity_propagation.AffinityPropagation
sklearn.cluster._agglomerative.AgglomerativeClustering
sklearn.cluster._agglomerative.FeatureAgglomeration
sklearn.cluster._bicluster.SpectralBiclustering
sklearn.cluster._bicluster.SpectralCoclustering
sklearn.cluster._birch.Birch
sklearn.cluster._bisect_k_means.BisectingKMeans
sklearn.cluster._dbscan.DBSCAN
sklearn.cluster._hdbscan.hdbscan.HDBSCAN
sklearn.cluster._kmeans.KMeans
sklearn.cluster._kmeans.MiniBatchKMeans
sklearn.cluster._mean_shift.MeanShift
sklearn.cluster._optics.OPTICS
sklearn.cluster._spectral.SpectralClustering
sklearn.compose._column_transformer.ColumnTransformer
sklearn.compose._target.TransformedTargetRegressor
sklearn.covariance._elliptic_envelope.EllipticEnvelope
sklearn.covariance._empirical_covariance.EmpiricalCovariance
sklearn.covariance._graph_lasso.GraphicalLasso
sklearn.covariance._graph_lasso.GraphicalLassoCV
sklearn.covariance._robust_covariance.MinCovDet
sklearn.covariance._shrunk_covariance.LedoitWolf
sklearn.covariance._shrunk_covariance.OAS
sklearn.covariance._shrunk_covariance.ShrunkCovariance
sklearn.cross_decomposition._pls.CCA
sklearn.cross_decomposition._pls.PLSCanonical
sklearn.cross_decomposition._pls.PLSRegression
sklearn.cross_decomposition._pls.PLSSVD
sklearn.decomposition._dict_learning.DictionaryLearning
sklearn.decomposition._dict_learning.MiniBatchDictionaryLearning
sklearn.decomposition._dict_learning.SparseCoder
sklearn.decomposition._factor_analysis.FactorAnalysis
sklearn.decomposition._fastica.FastICA
sklearn.decomposition._incremental_pca.IncrementalPCA
sklearn.decomposition._kernel_pca.KernelPCA
sklearn.decomposition._lda.LatentDirichletAllocation
sklearn.decomposition._nmf.MiniBatchNMF
sklearn.decomposition._nmf.NMF
sklearn.decomposition._pca.PCA
sklearn.decomposition._sparse_pca.MiniBatchSparsePCA
sklearn.decomposition._sparse_pca.SparsePCA
sklearn.decomposition._truncated_svd.TruncatedSVD
sklearn.discriminant_analysis.LinearDiscriminantAnalysis
sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis
sklearn.dummy.DummyClassifier
sklearn.dummy.DummyRegressor
sklearn.ensemble._bagging.BaggingClassifier
sklearn.ensemble._bagging.BaggingRegressor
sklearn.ensemble._forest.ExtraTreesClassifier
sklearn.ensemble._forest.ExtraTreesRegressor
sklearn.ensemble._forest.RandomForestClassifier
sklearn.ensemble._forest.RandomForestRegressor
sklearn.ensemble._forest.RandomTreesEmbedding
sklearn.ensemble._gb.GradientBoostingClassifier
sklearn.ensemble._gb.GradientBoostingRegressor
sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier
sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor
sklearn.ensemble._iforest.IsolationForest
sklearn.ensemble._stacking.StackingClassifier
sklearn.ensemble._stacking.StackingRegressor
sklearn.ensemble._voting.VotingClassifier
sklearn.ensemble._voting.VotingRegressor
sklearn.ensemble._weight_boosting.AdaBoostClassifier
sklearn.ensemble._weight_boosting.AdaBoostRegressor
sklearn.feature_extraction._dict_vectorizer.DictVectorizer
sklearn.feature_extraction._hash.FeatureHasher
sklearn.feature_extraction.image.PatchExtractor
sklearn.feature_extraction.text.CountVectorizer
sklearn.feature_extraction.text.HashingVectorizer
sklearn.feature_extraction.text.TfidfTransformer
sklearn.feature_extraction.text.TfidfVectorizer
sklearn.feature_selection._from_model.SelectFromModel
sklearn.feature_selection._rfe.RFE
sklearn.feature_selection._rfe.RFECV
sklearn.feature_selection._sequential.SequentialFeatureSelector
sklearn.feature_selection._univariate_selection.GenericUnivariateSelect
sklearn.feature_selection._univariate_selection.SelectFdr
sklearn.feature_selection._univariate_selection.SelectFpr
sklearn.feature_selection._univariate_selection.SelectFwe
sklearn.feature_selection._univariate_selection.SelectKBest
sklearn.feature_selection._univariate_selection.SelectPercentile
sklearn.feature_selection._variance_threshold.VarianceThreshold
sklearn.frozen._frozen.FrozenEstimator
sklearn.gaussian_process._gpc.GaussianProcessClassifier
sklearn.gaussian_process._gpr.GaussianProcessRegressor
sklearn.impute._base.MissingIndicator
sklearn.impute._base.SimpleImputer
sklearn.impute._iterative.IterativeImputer
sklearn.impute._knn.KNNImputer
sklearn.isotonic.IsotonicRegression
sklearn.kernel_approximation.AdditiveChi2Sampler
sklearn.kernel_approximation.Nystroem
sklearn.kernel_approximation.PolynomialCountSketch
sklearn.kernel_approximation.RBFSampler
sklearn.kernel_approximation.SkewedChi2Sampler
sklearn.kernel_ridge.KernelRidge
sklearn.linear_model._base.LinearRegression
sklearn.linear_model._bayes.ARDRegression
sklearn.linear_model._bayes.BayesianRidge
sklearn.linear_model._coordinate_descent.ElasticNet
sklearn.linear_model._coordinate_descent.ElasticNetCV
sklearn.linear_model._coordinate_descent.Lasso
sklearn.linear_model._coordinate_descent.LassoCV
sklearn.linear_model._coordinate_descent.MultiTaskElasticNet
sklearn.linear_model._coordinate_descent.MultiTaskElasticNetCV
sklearn.linear_model._coordinate_descent.MultiTaskLasso
sklearn.linear_model._coordinate_descent.MultiTaskLassoCV
sklearn.linear_model._glm.glm.GammaRegressor
sklearn.linear_model._glm.glm.PoissonRegressor
sklearn.linear_model._glm.glm.TweedieRegressor
sklearn.linear_model._huber.HuberRegressor
sklearn.linear_model._least_angle.Lars
sklearn.linear_model._least_angle.LarsCV
sklearn.linear_model._least_angle.LassoLars
sklearn.linear_model._least_angle.LassoLarsCV
sklearn.linear_model._least_angle.LassoLarsIC
sklearn.linear_model._logistic.LogisticRegression
sklearn.linear_model._logistic.LogisticRegressionCV
sklearn.linear_model._omp.OrthogonalMatchingPursuit
sklearn.linear_model._omp.OrthogonalMatchingPursuitCV
sklearn.linear_model._passive_aggressive.PassiveAggressiveClassifier
sklearn.linear_model._passive_aggressive.PassiveAggressiveRegressor
sklearn.linear_model._perceptron.Perceptron
sklearn.linear_model._quantile.QuantileRegressor
sklearn.linear_model._ransac.RANSACRegressor
sklearn.linear_model._ridge.Ridge
sklearn.linear_model._ridge.RidgeCV
sklearn.linear_model._ridge.RidgeClassifier
sklearn.linear_model._ridge.RidgeClassifierCV
sklearn.linear_model._stochastic_gradient.SGDClassifier
sklearn.linear_model._stochastic_gradient.SGDOneClassSVM
sklearn.linear_model._stochastic_gradient.SGDRegressor
sklearn.linear_model._theil_sen.TheilSenRegressor
sklearn.manifold._classical_mds.ClassicalMDS
sklearn.manifold._isomap.Isomap
sklearn.manifold._locally_linear.LocallyLinearEmbedding
sklearn.manifold._mds.MDS
sklearn.manifold._spectral_embedding.SpectralEmbedding
sklearn.manifold._t_sne.TSNE
sklearn.mixture._bayesian_mixture.BayesianGaussianMixture
sklearn.mixture._gaussian_mixture.GaussianMixture
sklearn.model_selection._classification_threshold.FixedThresholdClassifier
sklearn.model_selection._classification_threshold.TunedThresholdClassifierCV
sklearn.model_selection._search.GridSearchCV
sklearn.model_selection._search.RandomizedSearchCV
sklearn.model_selection._search_successive_halving.HalvingGridSearchCV
sklearn.model_selection._search_successive_halving.HalvingRandomSearchCV
sklearn.multiclass.OneVsOneClassifier
sklearn.multiclass.OneVsRestClassifier
sklearn.multiclass.OutputCodeClassifier
sklearn.multioutput.ClassifierChain
sklearn.multioutput.MultiOutputClassifier
sklearn.multioutput.MultiOutputRegressor
sklearn.multioutput.RegressorChain
sklearn.naive_bayes.BernoulliNB
sklearn.naive_bayes.CategoricalNB
sklearn.naive_bayes.ComplementNB
sklearn.naive_bayes.GaussianNB
sklearn.naive_bayes.MultinomialNB
sklearn.neighbors._classification.KNeighborsClassifier
sklearn.neighbors._classification.RadiusNeighborsClassifier
sklearn.neighbors._graph.KNeighborsTransformer
sklearn.neighbors._graph.RadiusNeighborsTransformer
sklearn.neighbors._kde.KernelDensity
sklearn.neighbors._lof.LocalOutlierFactor
sklearn.neighbors._nca.NeighborhoodComponentsAnalysis
sklearn.neighbors._nearest_centroid.NearestCentroid
sklearn.neighbors._regression.KNeighborsRegressor
sklearn.neighbors._regression.RadiusNeighborsRegressor
sklearn.neighbors._unsupervised.NearestNeighbors
sklearn.neural_network._multilayer_perceptron.MLPClassifier
sklearn.neural_network._multilayer_perceptron.MLPRegressor
sklearn.neural_network._rbm.BernoulliRBM
sklearn.pipeline.FeatureUnion
sklearn.pipeline.Pipeline
sklearn.preprocessing._data.Binarizer
sklearn.preprocessing._data.KernelCenterer
sklearn.preprocessing._data.MaxAbsScaler
sklearn.preprocessing._data.MinMaxScaler
sklearn.preprocessing._data.Normalizer
sklearn.preprocessing._data.PowerTransformer
sklearn.preprocessing._data.QuantileTransformer
sklearn.preprocessing._data.RobustScaler
sklearn.preprocessing._data.StandardScaler
sklearn.preprocessing._discretization.KBinsDiscretizer
sklearn.preprocessing._encoders.OneHotEncoder
sklearn.preprocessing._encoders.OrdinalEncoder
sklearn.preprocessing._function_transformer.FunctionTransformer
sklearn.preprocessing._label.LabelBinarizer
sklearn.preprocessing._label.LabelEncoder
sklearn.preprocessing._label.MultiLabelBinarizer
sklearn.preprocessing._polynomial.PolynomialFeatures
sklearn.preprocessing._polynomial.SplineTransformer
sklearn.preprocessing._target_encoder.TargetEncoder
sklearn.random_projection.GaussianRandomProjection
sklearn.random_projection.SparseRandomProjection
sklearn.semi_supervised._label_propagation.LabelPropagation
sklearn.semi_supervised._label_propagation.LabelSpreading
sklearn.semi_supervised._self_training.SelfTrainingClassifier
sklearn.svm._classes.LinearSVC
sklearn.svm._classes.LinearSVR
sklearn.svm._classes.NuSVC
sklearn.svm._classes.NuSVR
sklearn.svm._classes.OneClassSVM
sklearn.svm._classes.SVC
sklearn.svm._classes.SVR
sklearn.tree._classes.DecisionTreeClassifier
sklearn.tree._classes.DecisionTreeRegressor
sklearn.tree._classes.ExtraTreeClassifier
sklearn.tree._classes.ExtraTreeRegressor
""".split())

# Classes a fitted estimator holds besides estimators: reviewed one by one. Each is either a plain Python class
# rebuilt from its __dict__ (no code of its own runs but __setstate__), or a compiled type with a dedicated
# transporter in milo_fast.transport that validates what it hands to the compiled code.
SKLEARN_HELPERS = frozenset("""
scipy.interpolate._bsplines.BSpline
sklearn._loss._loss.CyAbsoluteError
sklearn._loss._loss.CyExponentialLoss
sklearn._loss._loss.CyHalfBinomialLoss
sklearn._loss._loss.CyHalfGammaLoss
sklearn._loss._loss.CyHalfMultinomialLoss
sklearn._loss._loss.CyHalfPoissonLoss
sklearn._loss._loss.CyHalfSquaredError
sklearn._loss._loss.CyHalfTweedieLoss
sklearn._loss._loss.CyHalfTweedieLossIdentity
sklearn._loss._loss.CyHuberLoss
sklearn._loss._loss.CyPinballLoss
sklearn._loss.link.HalfLogitLink
sklearn._loss.link.IdentityLink
sklearn._loss.link.Interval
sklearn._loss.link.LogLink
sklearn._loss.link.LogitLink
sklearn._loss.link.MultinomialLogit
sklearn._loss.loss.AbsoluteError
sklearn._loss.loss.ExponentialLoss
sklearn._loss.loss.HalfBinomialLoss
sklearn._loss.loss.HalfBinomialLossArrayAPI
sklearn._loss.loss.HalfGammaLoss
sklearn._loss.loss.HalfMultinomialLoss
sklearn._loss.loss.HalfMultinomialLossArrayAPI
sklearn._loss.loss.HalfPoissonLoss
sklearn._loss.loss.HalfPoissonLossArrayAPI
sklearn._loss.loss.HalfSquaredError
sklearn._loss.loss.HalfTweedieLoss
sklearn._loss.loss.HalfTweedieLossIdentity
sklearn._loss.loss.HuberLoss
sklearn._loss.loss.PinballLoss
sklearn.calibration._CalibratedClassifier
sklearn.calibration._SigmoidCalibration
sklearn.cluster._birch._CFNode
sklearn.cluster._birch._CFSubcluster
sklearn.cluster._bisect_k_means._BisectingTree
sklearn.ensemble._hist_gradient_boosting.binning._BinMapper
sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor
sklearn.gaussian_process._gpc._BinaryGaussianProcessClassifierLaplace
sklearn.impute._iterative._ImputerTriplet
sklearn.linear_model._sgd_fast.EpsilonInsensitive
sklearn.linear_model._sgd_fast.Hinge
sklearn.linear_model._sgd_fast.ModifiedHuber
sklearn.linear_model._sgd_fast.SquaredEpsilonInsensitive
sklearn.linear_model._sgd_fast.SquaredHinge
sklearn.metrics._dist_metrics.BrayCurtisDistance32
sklearn.metrics._dist_metrics.BrayCurtisDistance64
sklearn.metrics._dist_metrics.CanberraDistance32
sklearn.metrics._dist_metrics.CanberraDistance64
sklearn.metrics._dist_metrics.ChebyshevDistance32
sklearn.metrics._dist_metrics.ChebyshevDistance64
sklearn.metrics._dist_metrics.DiceDistance32
sklearn.metrics._dist_metrics.DiceDistance64
sklearn.metrics._dist_metrics.EuclideanDistance32
sklearn.metrics._dist_metrics.EuclideanDistance64
sklearn.metrics._dist_metrics.HammingDistance32
sklearn.metrics._dist_metrics.HammingDistance64
sklearn.metrics._dist_metrics.HaversineDistance32
sklearn.metrics._dist_metrics.HaversineDistance64
sklearn.metrics._dist_metrics.JaccardDistance32
sklearn.metrics._dist_metrics.JaccardDistance64
sklearn.metrics._dist_metrics.KulsinskiDistance32
sklearn.metrics._dist_metrics.KulsinskiDistance64
sklearn.metrics._dist_metrics.MahalanobisDistance32
sklearn.metrics._dist_metrics.MahalanobisDistance64
sklearn.metrics._dist_metrics.ManhattanDistance32
sklearn.metrics._dist_metrics.ManhattanDistance64
sklearn.metrics._dist_metrics.MatchingDistance32
sklearn.metrics._dist_metrics.MatchingDistance64
sklearn.metrics._dist_metrics.MinkowskiDistance32
sklearn.metrics._dist_metrics.MinkowskiDistance64
sklearn.metrics._dist_metrics.PyFuncDistance32
sklearn.metrics._dist_metrics.PyFuncDistance64
sklearn.metrics._dist_metrics.RogersTanimotoDistance32
sklearn.metrics._dist_metrics.RogersTanimotoDistance64
sklearn.metrics._dist_metrics.RussellRaoDistance32
sklearn.metrics._dist_metrics.RussellRaoDistance64
sklearn.metrics._dist_metrics.SEuclideanDistance32
sklearn.metrics._dist_metrics.SEuclideanDistance64
sklearn.metrics._dist_metrics.SokalMichenerDistance32
sklearn.metrics._dist_metrics.SokalMichenerDistance64
sklearn.metrics._dist_metrics.SokalSneathDistance32
sklearn.metrics._dist_metrics.SokalSneathDistance64
sklearn.metrics._scorer._CurveScorer
sklearn.metrics._scorer._MultimetricScorer
sklearn.metrics._scorer._PassthroughScorer
sklearn.metrics._scorer._Scorer
sklearn.multiclass._ConstantPredictor
sklearn.neighbors._ball_tree.BallTree
sklearn.neighbors._ball_tree.BallTree32
sklearn.neighbors._ball_tree.BallTree64
sklearn.neighbors._kd_tree.KDTree
sklearn.neighbors._kd_tree.KDTree32
sklearn.neighbors._kd_tree.KDTree64
sklearn.neural_network._stochastic_optimizers.AdamOptimizer
sklearn.neural_network._stochastic_optimizers.SGDOptimizer
sklearn.tree._tree.Tree
sklearn.utils._bunch.Bunch
sklearn.utils._metadata_requests.MetadataRequest
sklearn.utils._metadata_requests.MetadataRouter
sklearn.utils._metadata_requests.MethodMapping
sklearn.utils._metadata_requests.MethodMetadataRequest
sklearn.utils._metadata_requests.MethodPair
sklearn.utils._metadata_requests.RouterMappingPair
""".split())

# Gaussian-process kernels (parameters and hyper-parameters only).
SKLEARN_KERNELS = frozenset("""
sklearn.gaussian_process.kernels.CompoundKernel
sklearn.gaussian_process.kernels.ConstantKernel
sklearn.gaussian_process.kernels.DotProduct
sklearn.gaussian_process.kernels.ExpSineSquared
sklearn.gaussian_process.kernels.Exponentiation
sklearn.gaussian_process.kernels.Hyperparameter
sklearn.gaussian_process.kernels.Matern
sklearn.gaussian_process.kernels.PairwiseKernel
sklearn.gaussian_process.kernels.Product
sklearn.gaussian_process.kernels.RBF
sklearn.gaussian_process.kernels.RationalQuadratic
sklearn.gaussian_process.kernels.Sum
sklearn.gaussian_process.kernels.WhiteKernel
""".split())

# Cross-validation splitters held as the ``cv`` parameter of *CV estimators and searches.
SKLEARN_SPLITTERS = frozenset("""
sklearn.model_selection._split.GroupKFold
sklearn.model_selection._split.GroupShuffleSplit
sklearn.model_selection._split.KFold
sklearn.model_selection._split.LeaveOneGroupOut
sklearn.model_selection._split.LeaveOneOut
sklearn.model_selection._split.LeavePGroupsOut
sklearn.model_selection._split.LeavePOut
sklearn.model_selection._split.PredefinedSplit
sklearn.model_selection._split.RepeatedKFold
sklearn.model_selection._split.RepeatedStratifiedKFold
sklearn.model_selection._split.ShuffleSplit
sklearn.model_selection._split.StratifiedGroupKFold
sklearn.model_selection._split.StratifiedKFold
sklearn.model_selection._split.StratifiedShuffleSplit
sklearn.model_selection._split.TimeSeriesSplit
sklearn.model_selection._split._CVIterableWrapper
""".split())

# Value types of numpy / scipy / the standard library that transporters construct.
VALUE_TYPES = frozenset("""
builtins.bool
builtins.bytearray
builtins.bytes
builtins.complex
builtins.dict
builtins.float
builtins.frozenset
builtins.int
builtins.list
builtins.object
builtins.range
builtins.set
builtins.slice
builtins.str
builtins.tuple
builtins.type
collections.Counter
collections.OrderedDict
collections.defaultdict
functools.partial
numpy.bool
numpy.bool_
numpy.complex128
numpy.complex64
numpy.datetime64
numpy.dtype
numpy.float16
numpy.float32
numpy.float64
numpy.floating
numpy.int16
numpy.int32
numpy.int64
numpy.int8
numpy.integer
numpy.longdouble
numpy.ndarray
numpy.number
numpy.object_
numpy.str_
numpy.timedelta64
numpy.uint16
numpy.uint32
numpy.uint64
numpy.uint8
numpy.ma.MaskedArray
numpy.random.mtrand.RandomState
numpy.random._generator.Generator
numpy.random._mt19937.MT19937
numpy.random._pcg64.PCG64
numpy.random._pcg64.PCG64DXSM
numpy.random._philox.Philox
numpy.random._sfc64.SFC64
scipy.stats._distn_infrastructure.rv_continuous_frozen
scipy.stats._distn_infrastructure.rv_discrete_frozen
scipy.sparse._bsr.bsr_array
scipy.sparse._bsr.bsr_matrix
scipy.sparse._coo.coo_array
scipy.sparse._coo.coo_matrix
scipy.sparse._csc.csc_array
scipy.sparse._csc.csc_matrix
scipy.sparse._csr.csr_array
scipy.sparse._csr.csr_matrix
scipy.sparse._dia.dia_array
scipy.sparse._dia.dia_matrix
scipy.sparse._dok.dok_array
scipy.sparse._dok.dok_matrix
scipy.sparse._lil.lil_array
scipy.sparse._lil.lil_matrix
""".split())

# Functions a document may name (FunctionTransformer funcs, score funcs, metrics, kernels, pooling functions ...).
# Every numpy ufunc is allowed as well (pure element-wise arithmetic; see _numpy_ufunc_names()).
FUNCTIONS = frozenset("""
math.ceil
math.cos
math.exp
math.expm1
math.fabs
math.floor
math.log
math.log1p
math.sin
math.sqrt
math.tanh
numpy.all
numpy.amax
numpy.amin
numpy.any
numpy.argmax
numpy.argmin
numpy.around
numpy.asarray
numpy.average
numpy.clip
numpy.cumprod
numpy.cumsum
numpy.diff
numpy.dot
numpy.max
numpy.mean
numpy.median
numpy.min
numpy.nanmax
numpy.nanmean
numpy.nanmedian
numpy.nanmin
numpy.nanpercentile
numpy.nanprod
numpy.nanquantile
numpy.nanstd
numpy.nansum
numpy.nanvar
numpy.percentile
numpy.prod
numpy.ptp
numpy.quantile
numpy.ravel
numpy.round
numpy.sign
numpy.sort
numpy.std
numpy.sum
numpy.transpose
numpy.unique
numpy.var
scipy.special._logsumexp.log_softmax
scipy.special._logsumexp.logsumexp
scipy.special._logsumexp.softmax
sklearn.cluster._kmeans._kmeans_single_elkan
sklearn.cluster._kmeans._kmeans_single_lloyd
sklearn.feature_selection._mutual_info.mutual_info_classif
sklearn.feature_selection._mutual_info.mutual_info_regression
sklearn.feature_selection._univariate_selection.chi2
sklearn.feature_selection._univariate_selection.f_classif
sklearn.feature_selection._univariate_selection.f_oneway
sklearn.feature_selection._univariate_selection.f_regression
sklearn.feature_selection._univariate_selection.r_regression
sklearn.metrics._classification.accuracy_score
sklearn.metrics._classification.balanced_accuracy_score
sklearn.metrics._classification.brier_score_loss
sklearn.metrics._classification.class_likelihood_ratios
sklearn.metrics._classification.cohen_kappa_score
sklearn.metrics._classification.confusion_matrix
sklearn.metrics._classification.d2_brier_score
sklearn.metrics._classification.d2_log_loss_score
sklearn.metrics._classification.f1_score
sklearn.metrics._classification.fbeta_score
sklearn.metrics._classification.hamming_loss
sklearn.metrics._classification.hinge_loss
sklearn.metrics._classification.jaccard_score
sklearn.metrics._classification.log_loss
sklearn.metrics._classification.matthews_corrcoef
sklearn.metrics._classification.multilabel_confusion_matrix
sklearn.metrics._classification.precision_recall_fscore_support
sklearn.metrics._classification.precision_score
sklearn.metrics._classification.recall_score
sklearn.metrics._classification.zero_one_loss
sklearn.metrics._ranking.auc
sklearn.metrics._ranking.average_precision_score
sklearn.metrics._ranking.confusion_matrix_at_thresholds
sklearn.metrics._ranking.coverage_error
sklearn.metrics._ranking.dcg_score
sklearn.metrics._ranking.det_curve
sklearn.metrics._ranking.label_ranking_average_precision_score
sklearn.metrics._ranking.label_ranking_loss
sklearn.metrics._ranking.metric_at_thresholds
sklearn.metrics._ranking.ndcg_score
sklearn.metrics._ranking.precision_recall_curve
sklearn.metrics._ranking.roc_auc_score
sklearn.metrics._ranking.roc_curve
sklearn.metrics._ranking.top_k_accuracy_score
sklearn.metrics._regression.d2_absolute_error_score
sklearn.metrics._regression.d2_pinball_score
sklearn.metrics._regression.d2_tweedie_score
sklearn.metrics._regression.explained_variance_score
sklearn.metrics._regression.max_error
sklearn.metrics._regression.mean_absolute_error
sklearn.metrics._regression.mean_absolute_percentage_error
sklearn.metrics._regression.mean_gamma_deviance
sklearn.metrics._regression.mean_pinball_loss
sklearn.metrics._regression.mean_poisson_deviance
sklearn.metrics._regression.mean_squared_error
sklearn.metrics._regression.mean_squared_log_error
sklearn.metrics._regression.mean_tweedie_deviance
sklearn.metrics._regression.median_absolute_error
sklearn.metrics._regression.r2_score
sklearn.metrics._regression.root_mean_squared_error
sklearn.metrics._regression.root_mean_squared_log_error
sklearn.metrics.cluster._bicluster.consensus_score
sklearn.preprocessing._data.add_dummy_feature
sklearn.preprocessing._data.binarize
sklearn.preprocessing._data.maxabs_scale
sklearn.preprocessing._data.minmax_scale
sklearn.preprocessing._data.normalize
sklearn.preprocessing._data.power_transform
sklearn.preprocessing._data.quantile_transform
sklearn.preprocessing._data.robust_scale
sklearn.preprocessing._data.scale
sklearn.utils.validation.check_array
sklearn.metrics.cluster._supervised.adjusted_mutual_info_score
sklearn.metrics.cluster._supervised.adjusted_rand_score
sklearn.metrics.cluster._supervised.completeness_score
sklearn.metrics.cluster._supervised.fowlkes_mallows_score
sklearn.metrics.cluster._supervised.homogeneity_completeness_v_measure
sklearn.metrics.cluster._supervised.homogeneity_score
sklearn.metrics.cluster._supervised.mutual_info_score
sklearn.metrics.cluster._supervised.normalized_mutual_info_score
sklearn.metrics.cluster._supervised.pair_confusion_matrix
sklearn.metrics.cluster._supervised.rand_score
sklearn.metrics.cluster._supervised.v_measure_score
sklearn.metrics.cluster._unsupervised.calinski_harabasz_score
sklearn.metrics.cluster._unsupervised.davies_bouldin_score
sklearn.metrics.cluster._unsupervised.silhouette_samples
sklearn.metrics.cluster._unsupervised.silhouette_score
sklearn.metrics.pairwise.additive_chi2_kernel
sklearn.metrics.pairwise.chi2_kernel
sklearn.metrics.pairwise.cosine_distances
sklearn.metrics.pairwise.cosine_similarity
sklearn.metrics.pairwise.euclidean_distances
sklearn.metrics.pairwise.haversine_distances
sklearn.metrics.pairwise.laplacian_kernel
sklearn.metrics.pairwise.linear_kernel
sklearn.metrics.pairwise.manhattan_distances
sklearn.metrics.pairwise.nan_euclidean_distances
sklearn.metrics.pairwise.paired_cosine_distances
sklearn.metrics.pairwise.paired_distances
sklearn.metrics.pairwise.paired_euclidean_distances
sklearn.metrics.pairwise.paired_manhattan_distances
sklearn.metrics.pairwise.pairwise_distances
sklearn.metrics.pairwise.pairwise_distances_argmin
sklearn.metrics.pairwise.pairwise_distances_argmin_min
sklearn.metrics.pairwise.pairwise_kernels
sklearn.metrics.pairwise.polynomial_kernel
sklearn.metrics.pairwise.rbf_kernel
sklearn.metrics.pairwise.sigmoid_kernel
""".split())

_NEVER = ("os.", "sys.", "subprocess.", "builtins.eval", "builtins.exec", "builtins.open", "builtins.compile",
          "builtins.__import__", "importlib.", "pickle.", "shutil.", "socket.", "ctypes.")

_lock = threading.Lock()
_installed_estimators: frozenset | None = None
_ufuncs: frozenset | None = None
_special_ufuncs: frozenset | None = None
_resolved: dict = {}  # qualified name -> object, for names already checked and imported


def _numpy_ufunc_names() -> frozenset:
    """``numpy.<name>`` of every ufunc in numpy's namespace (numpy is imported by milo_fast anyway)."""
    global _ufuncs
    if _ufuncs is None:
        import numpy as np
        _ufuncs = frozenset(f"numpy.{n}" for n in dir(np) if isinstance(getattr(np, n, None), np.ufunc))
    return _ufuncs


def _scipy_special_ufunc_names() -> frozenset:
    """``scipy.special.<name>`` of every ufunc scipy.special exports (expit, logit, erf, boxcox ...)."""
    global _special_ufuncs
    if _special_ufuncs is None:
        import numpy as np
        import scipy.special as sp
        _special_ufuncs = frozenset(f"scipy.special.{n}" for n in dir(sp) if isinstance(getattr(sp, n, None), np.ufunc))
    return _special_ufuncs


def _installed_estimator_names() -> frozenset:
    """Qualified names of every estimator of the installed scikit-learn (slow: imports all of sklearn)."""
    global _installed_estimators
    with _lock:
        if _installed_estimators is None:
            from sklearn.utils import all_estimators
            _installed_estimators = frozenset(f"{c.__module__}.{c.__qualname__}" for _, c in all_estimators())
    return _installed_estimators


def _allowed_statically(name: str) -> bool:
    return (name in SKLEARN_ESTIMATORS or name in SKLEARN_HELPERS or name in SKLEARN_KERNELS
            or name in SKLEARN_SPLITTERS or name in VALUE_TYPES or name in FUNCTIONS
            or name in _numpy_ufunc_names())


_allowed_seen: set = set()  # names the fixed lists above allow (whatever ``trusted`` says): looked up once


def is_trusted(qualified_name: str, trusted: Iterable[str] = ()) -> bool:
    """True if a document may name ``qualified_name`` (a type or function); never imports the name's module."""
    if type(qualified_name) is str and qualified_name in _allowed_seen:
        return True
    if not isinstance(qualified_name, str) or not qualified_name or "<" in qualified_name:
        return False
    if not isinstance(trusted, (set, frozenset)):
        trusted = frozenset(trusted)
    if qualified_name in trusted:
        return True
    if qualified_name.startswith(_NEVER):
        return False
    if _allowed_statically(qualified_name):
        ok = True
    elif qualified_name.startswith("scipy.special."):
        ok = qualified_name in _scipy_special_ufunc_names()
    elif qualified_name.startswith("sklearn."):
        ok = qualified_name in _installed_estimator_names()
    else:
        ok = False
    if ok:
        _allowed_seen.add(qualified_name)
    return ok


def audit(names: Iterable[tuple[str, str]], trusted: Iterable[str] = ()) -> None:
    """Check every ``(qualified_name, json_path)``; raise UntrustedTypeError listing EVERY offending one."""
    trusted = frozenset(trusted)
    bad = [(n, str(p)) for n, p in names if not is_trusted(n, trusted)]
    if bad:
        shown = "\n".join(f"  {n!s} at {p}" for n, p in bad[:50])
        more = f"\n  ... and {len(bad) - 50} more" if len(bad) > 50 else ""
        raise UntrustedTypeError(
            f"the document names {len(bad)} type(s) or function(s) outside the allow-list:\n{shown}{more}\n"
            "Nothing was imported or constructed. If you trust the source, pass the exact names in trusted=[...].",
            names=bad)


def resolve(qualified_name: str, path: str, trusted: Iterable[str] = ()) -> object:
    """Import and return the object called ``qualified_name``, only if it is allowed; else UntrustedTypeError."""
    if not is_trusted(qualified_name, frozenset(trusted)):
        raise UntrustedTypeError(f"{qualified_name!s} at {path} is not on the allow-list; nothing was imported",
                                 names=[(qualified_name, path)])
    obj = _resolved.get(qualified_name)
    if obj is not None:
        return obj
    parts = qualified_name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        modname = ".".join(parts[:i])
        try:
            obj = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name is not None and not modname.startswith(e.name):
                raise UntrustedTypeError(f"{qualified_name} at {path}: importing {modname} failed: {e}",
                                         names=[(qualified_name, path)]) from None
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            continue
        _resolved[qualified_name] = obj
        return obj
    raise UntrustedTypeError(f"{qualified_name} at {path} is allowed but cannot be found in the installed packages",
                             names=[(qualified_name, path)])


__all__ = ["is_trusted", "audit", "resolve"]

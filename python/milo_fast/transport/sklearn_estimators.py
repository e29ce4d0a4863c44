"""Checks on rebuilt scikit-learn estimators: what their compiled code (and their Python code) assumes about
their fitted state. No transporters: estimators are plain classes, written by the generic object transporter.

Every estimator (GENERIC_VALIDATORS):
  * its hyper-parameters satisfy scikit-learn's own ``_parameter_constraints`` (the checks ``fit`` runs; a
    loaded model never ran them): kernel names, degrees, ``n_features`` of hashers, solver names ...;
  * fitted shapes agree: ``coef_`` has ``n_features_in_`` columns, ``intercept_`` one entry per row of
    ``coef_``, a classifier's ``coef_`` one row per class (one for two classes), centres and components
    ``n_features_in_`` columns;
  * ``n_jobs`` is at most 1024 (each call of a model may start that many threads).

Per class (VALIDATORS): libsvm models (support vectors, dual coefficients, intercepts, probability tables,
class counts: all read by libsvm's C code without checks), k-means models (centres read by Cython with the
input's width, the OpenMP thread count, ``partial_fit``'s per-centre counts, the bisecting tree), SGD-type models
(``partial_fit``'s averaged weights), MLPs, isotonic regression, Birch's CF tree (cycles would hang or recurse),
HDBSCAN's single-linkage tree (indexes a union-find without checks), and the encoders whose ``transform`` builds
a sparse matrix from fitted indices (vocabularies, one-hot offsets): an index past the matrix's width would make
scipy's compiled routines write outside it.

Checks raise ValidationError naming the JSON path of the attribute (``$.data.state.support_``); see
docs/security.md, "Compiled code and the state it trusts".
"""
from __future__ import annotations

from itertools import repeat

import numpy as np

from ..errors import ValidationError
from ._core import expect, key_path, state_path

# ------------------------------------------------------------------------------------------------ helpers


def attr_path(path, name):
    return key_path(state_path(path), name)


def fitted_int(est, name, path, lo=0, hi=1 << 62):
    """``est.<name>`` as an int in [lo, hi), None if absent."""
    v = est.__dict__.get(name)
    if type(v) is int and lo <= v < hi:  # (the usual value, told at once)
        return v
    if v is None:
        return None
    if not ((type(v) is int or isinstance(v, np.integer)) and lo <= int(v) < hi):
        expect(False, attr_path(path, name), f"an int in [{lo}, {hi})")
    return int(v)


def fitted_array(est, name, path, *, ndim=None, kinds="fiub", dtype=None, contiguous=False, required=False):
    """``est.<name>`` checked to be a numpy array (None if absent and not required)."""
    v = est.__dict__.get(name)
    p = attr_path(path, name)
    if v is None:
        expect(not required, p, "an array")
        return None
    what = f"a{'' if ndim is None else f' {ndim}-d'} {dtype or 'numeric'} array"
    expect(isinstance(v, np.ndarray) and v.dtype.kind in kinds and (ndim is None or v.ndim == ndim)
           and (dtype is None or v.dtype == dtype) and (not contiguous or v.flags.c_contiguous), p, what)
    return v


def _is_estimator(cls) -> bool:
    from sklearn.base import BaseEstimator
    return issubclass(cls, BaseEstimator) and cls.__module__.startswith("sklearn.")


# ------------------------------------------------------------------------------- hyper-parameters (generic)

_param_names: dict = {}
# (class, name, type, value) -> True for a plain value that satisfied the parameter's constraints. scikit-learn
# checks each parameter on its own (validate_parameter_constraints), so a value known good is good again: the
# trees of a forest share all their parameters but random_state. The type is part of the key: True == 1 == 1.0
# are equal keys otherwise, and "boolean" or Interval(Integral) constraints tell them apart.
_param_ok: dict = {}
_SIMPLE = frozenset((str, int, float, bool, type(None)))
_PARAM_OK_MAX = 1 << 14
# Types whose instances every scikit-learn constraint decides by their type alone (instance-of and method checks:
# a RandomState has no instance attributes), remembered as (class, name, type) -> True: gradient boosting's trees
# share one RandomState as their random_state, which took about 10 us a tree through the constraints.
_BY_TYPE = frozenset((np.random.RandomState,))


# (class, values, their types) -> True for a whole set of plain parameter values that passed, one lookup for an
# estimator met again with the same parameters (a forest's trees differ only in random_state; a reloaded model
# has its parameters of last time). ``values`` holds _ABSENT where the document sets no value.
_param_sets: dict = {}


class _Absent:
    """The value of a parameter the document does not set, in _param_sets keys."""

    __slots__ = ()


_ABSENT = _Absent()
_KEYABLE = _SIMPLE | {_Absent}

_made: dict = {}  # (class, name) -> the parameter's constraint objects (None: "no_validation")


def _satisfies(cls, constraints, name, value) -> bool:
    """What validate_parameter_constraints decides for one parameter, with the constraint objects it makes
    (make_constraint) made once per class and parameter instead of once per call: a forest's trees each have
    their own random_state."""
    made = _made.get((cls, name), _made)
    if made is _made:
        from sklearn.utils._param_validation import make_constraint
        spec = constraints[name]
        made = None if spec == "no_validation" else tuple(make_constraint(c) for c in spec)
        _made[(cls, name)] = made
    if made is None:
        return True
    for c in made:
        if c.is_satisfied_by(value):
            return True
    return False


def check_parameters(est, path) -> None:
    """scikit-learn's parameter constraints, for the parameters the document sets (a model saved by another
    scikit-learn version may lack new ones)."""
    cls = type(est)
    constraints = getattr(cls, "_parameter_constraints", None)
    if not isinstance(constraints, dict) or not constraints:
        return
    names = _param_names.get(cls)
    if names is None:
        try:
            names = tuple(n for n in cls._get_param_names() if n in constraints)
        except Exception:  # pragma: no cover - estimators with unusual signatures
            names = ()
        _param_names[cls] = names
    d = est.__dict__
    values = tuple(map(d.get, names, repeat(_ABSENT)))
    types = tuple(map(type, values))
    whole = _KEYABLE.issuperset(types)  # (plain values hash and compare by value)
    if whole and (cls, values, types) in _param_sets:
        return
    todo = None
    simple, known = _SIMPLE, _param_ok
    for k in names:
        if k in d:
            v = d[k]
            tv = type(v)
            if tv in simple and (cls, k, tv, v) in known:
                continue
            if tv in _BY_TYPE and (cls, k, tv) in known:
                continue
            if todo is None:
                todo = {}
            todo[k] = v
    if todo is None:
        if whole:
            _remember_set(cls, values, types)
        return
    from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints
    try:
        if not all(_satisfies(cls, constraints, k, v) for k, v in todo.items()):
            # scikit-learn's own check, for its message (it raises on the first parameter that fails)
            validate_parameter_constraints(constraints, todo, caller_name=cls.__name__)
    except InvalidParameterError as e:
        params = [k for k in names if k in d]  # the message names the parameter; look in the same order as ever
        bad = next((k for k in params if f"'{k}'" in str(e)), None)
        raise ValidationError(f"invalid parameter at {attr_path(path, bad) if bad else key_path(path, 'state')}: "
                              f"{e}") from None
    if len(known) < _PARAM_OK_MAX:
        for k, v in todo.items():
            tv = type(v)
            if tv in simple and (tv is not str or len(v) <= 256):  # (long strings are not kept alive)
                known[(cls, k, tv, v)] = True
            elif tv in _BY_TYPE:
                known[(cls, k, tv)] = True
    if whole:
        _remember_set(cls, values, types)


def _remember_set(cls, values: tuple, types: tuple) -> None:
    """Keep a set of parameter values that passed (check_parameters), but not long strings."""
    if len(_param_sets) < _PARAM_OK_MAX and all(len(v) <= 256 for v in values if type(v) is str):
        _param_sets[(cls, values, types)] = True


# ----------------------------------------------------------------------------------- fitted shapes (generic)

_WIDTH_ATTRS = ("cluster_centers_", "centroids_", "subcluster_centers_", "components_", "_fit_X")
_WIDTH_SET = frozenset(_WIDTH_ATTRS)


MAX_JOBS = 1024


def check_fitted_shapes(est, path) -> None:
    d = est.__dict__
    n_jobs = d.get("n_jobs")  # joblib starts that many threads per call (scikit-learn accepts any int)
    if n_jobs is not None and not ((type(n_jobs) is int or isinstance(n_jobs, np.integer)) and n_jobs <= MAX_JOBS):
        expect(False, attr_path(path, "n_jobs"), f"null or an int up to {MAX_JOBS} (the threads a call may start)")
    n = fitted_int(est, "n_features_in_", path)
    coef = d.get("coef_")
    if isinstance(coef, np.ndarray):
        p = attr_path(path, "coef_")
        expect(coef.dtype.kind in "fiub" and 1 <= coef.ndim <= 2, p, "a 1-d or 2-d numeric array")
        if n is not None:
            expect(coef.shape[-1] == n, p, f"{n} columns (n_features_in_)")
        icpt = d.get("intercept_")
        if isinstance(icpt, np.ndarray) and icpt.ndim > 0:
            rows = coef.shape[0] if coef.ndim == 2 else 1
            expect(icpt.shape == (rows,), attr_path(path, "intercept_"), f"{rows} intercept(s), one per row of coef_")
        classes = d.get("classes_")
        if coef.ndim == 2 and isinstance(classes, np.ndarray) and classes.ndim == 1 and _single_label(est):
            from sklearn.base import is_classifier
            if is_classifier(est) and len(classes) >= 2:
                rows = 1 if len(classes) == 2 else len(classes)
                expect(coef.shape[0] == rows, p, f"{rows} row(s) for {len(classes)} classes")
    if n is not None and not _WIDTH_SET.isdisjoint(d):
        for name in _WIDTH_ATTRS:
            a = d.get(name)
            if isinstance(a, np.ndarray) and a.ndim == 2:
                expect(a.shape[1] == n, attr_path(path, name), f"{n} columns (n_features_in_)")


def _single_label(est) -> bool:
    lb = est.__dict__.get("_label_binarizer")
    return not str(getattr(lb, "y_type_", "")).startswith("multilabel")


GENERIC_VALIDATORS = [(_is_estimator, check_parameters), (_is_estimator, check_fitted_shapes)]


# ------------------------------------------------------------------------------------------------ libsvm

_LIBSVM = {"sklearn.svm._classes.SVC": 0, "sklearn.svm._classes.NuSVC": 1, "sklearn.svm._classes.OneClassSVM": 2,
           "sklearn.svm._classes.SVR": 3, "sklearn.svm._classes.NuSVR": 4}


def validate_libsvm(est, path) -> None:
    """What sklearn.svm._libsvm / _libsvm_sparse hand to libsvm's C code (set_model / csr_set_model copy
    ``n_class*(n_class-1)/2`` intercepts and probability pairs, ``n_class - 1`` rows of ``l`` coefficients, ``l``
    support vectors or support indices, with no checks)."""
    d = est.__dict__
    if "support_" not in d:
        return
    from sklearn.svm._base import LIBSVM_IMPL
    impl = getattr(est, "_impl", None)  # a class attribute; an instance attribute must not change it
    expect(impl in LIBSVM_IMPL, attr_path(path, "_impl"), f"one of {LIBSVM_IMPL}")
    svm_type = LIBSVM_IMPL.index(impl)
    expect(svm_type == _LIBSVM[f"{type(est).__module__}.{type(est).__qualname__}"], attr_path(path, "_impl"),
           f"the libsvm type of a {type(est).__name__}")
    support = fitted_array(est, "support_", path, ndim=1, dtype=np.int32, contiguous=True, required=True)
    n_sv = support.shape[0]
    n_support = fitted_array(est, "_n_support", path, ndim=1, dtype=np.int32, contiguous=True, required=True)
    n_class = n_support.shape[0]
    m = n_class * (n_class - 1) // 2
    ps = attr_path(path, "_n_support")
    if svm_type < 2:
        expect(n_class >= 2 and (n_support >= 0).all() and int(n_support.sum()) == n_sv, ps,
               f"one non-negative count per class, summing to the {n_sv} support vectors")
        classes = d.get("classes_")
        expect(isinstance(classes, np.ndarray) and classes.shape == (n_class,), attr_path(path, "classes_"),
               f"{n_class} classes")
    else:
        expect(n_class == 2 and int(n_support[0]) == n_sv, ps, f"two counts, the first {n_sv}")
    sparse = d.get("_sparse")
    expect(type(sparse) is bool, attr_path(path, "_sparse"), "true or false")
    kernel = d.get("kernel")
    precomputed = kernel == "precomputed" or callable(kernel)
    shape_fit = d.get("shape_fit_")
    expect(type(shape_fit) is tuple and 1 <= len(shape_fit) <= 2 and all(type(x) is int and x >= 0 for x in shape_fit),
           attr_path(path, "shape_fit_"), "a tuple of non-negative ints")
    n_features = fitted_int(est, "n_features_in_", path)
    sv_path = attr_path(path, "support_vectors_")
    sv = d.get("support_vectors_")
    if precomputed:
        expect((support < shape_fit[0]).all() and (support >= 0).all() if n_sv else True,
               attr_path(path, "support_"), f"indices of training samples in [0, {shape_fit[0]})")
    if sparse:
        import scipy.sparse as sp
        expect(sp.issparse(sv) and sv.format == "csr" and sv.dtype == np.float64 and sv.indices.dtype == np.int32
               and sv.indptr.dtype == np.int32 and sv.shape[0] == n_sv
               and (precomputed or n_features is None or sv.shape[1] == n_features), sv_path,
               f"a float64 CSR matrix of {n_sv} rows with int32 indices")
        dual = d.get("_dual_coef_")
        expect(sp.issparse(dual) and dual.shape == (n_class - 1, n_sv) and dual.data.dtype == np.float64
               and dual.data.shape == ((n_class - 1) * n_sv,) and dual.data.flags.c_contiguous,
               attr_path(path, "_dual_coef_"), f"a ({n_class - 1}, {n_sv}) sparse matrix with every entry stored")
    else:
        if precomputed:
            expect(isinstance(sv, np.ndarray) and sv.dtype == np.float64 and sv.ndim == 2 and sv.size == 0, sv_path,
                   "an empty float64 array (precomputed kernel)")
        else:
            expect(isinstance(sv, np.ndarray) and sv.dtype == np.float64 and sv.flags.c_contiguous
                   and sv.shape == (n_sv, n_features if n_features is not None else sv.shape[-1]), sv_path,
                   f"a C-contiguous float64 array of {n_sv} rows and n_features_in_ columns")
        dual = fitted_array(est, "_dual_coef_", path, ndim=2, dtype=np.float64, contiguous=True, required=True)
        expect(dual.shape == (n_class - 1, n_sv), attr_path(path, "_dual_coef_"), f"shape ({n_class - 1}, {n_sv})")
    icpt = fitted_array(est, "_intercept_", path, ndim=1, dtype=np.float64, contiguous=True, required=True)
    expect(icpt.shape == (max(m, 1),), attr_path(path, "_intercept_"), f"{max(m, 1)} intercept(s)")
    for name in ("_probA", "_probB"):
        a = fitted_array(est, name, path, ndim=1, dtype=np.float64, contiguous=True, required=True)
        expect(a.shape in ((0,), (m,)), attr_path(path, name), f"0 or {m} values")
    expect(d["_probA"].shape == d["_probB"].shape, attr_path(path, "_probB"), "as many values as _probA")
    cw = fitted_array(est, "class_weight_", path, ndim=1, dtype=np.float64, contiguous=True)
    if cw is not None and svm_type < 2:
        expect(cw.shape in ((0,), (n_class,)), attr_path(path, "class_weight_"), f"0 or {n_class} weights")
    gamma = d.get("_gamma")
    expect(isinstance(gamma, (float, int, np.floating, np.integer)) and not isinstance(gamma, bool),
           attr_path(path, "_gamma"), "a number")


# ------------------------------------------------------------------------------------------------ k-means

def _check_threads(est, path) -> None:
    fitted_int(est, "_n_threads", path, 1, 1025)


def _centers(est, path):
    n = fitted_int(est, "n_features_in_", path)
    c = fitted_array(est, "cluster_centers_", path, ndim=2, kinds="f", contiguous=True)
    if c is not None:
        expect(c.dtype in (np.float32, np.float64) and (n is None or c.shape[1] == n),
               attr_path(path, "cluster_centers_"), "a C-contiguous float32/float64 array of n_features_in_ columns")
    return c


def validate_kmeans(est, path) -> None:
    """_kmeans_* Cython reads centres with the width of the (validated) input; OpenMP starts _n_threads."""
    _check_threads(est, path)
    c = _centers(est, path)
    counts = est.__dict__.get("_counts")
    if counts is not None and c is not None:  # MiniBatchKMeans.partial_fit: weight_sums[label] per centre
        expect(isinstance(counts, np.ndarray) and counts.dtype == c.dtype and counts.shape == (c.shape[0],)
               and counts.flags.c_contiguous, attr_path(path, "_counts"), f"one {c.dtype} count per centre")


def validate_bisecting_kmeans(est, path) -> None:
    """predict walks _bisecting_tree (recursively) and hands each node's pair of centres to Cython."""
    _check_threads(est, path)
    c = _centers(est, path)
    root = est.__dict__.get("_bisecting_tree")
    if root is None:
        return
    from sklearn.cluster._bisect_k_means import _BisectingTree
    p = attr_path(path, "_bisecting_tree")
    n = c.shape[1] if c is not None else None
    seen: set = set()
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        expect(type(node) is _BisectingTree and id(node) not in seen and depth < 512, p,
               "a tree of _BisectingTree nodes (no node twice, at most 512 levels)")
        seen.add(id(node))
        center = node.__dict__.get("center")
        expect(isinstance(center, np.ndarray) and center.ndim == 1 and center.dtype.kind == "f"
               and (n is None or center.shape == (n,)) and (c is None or center.dtype == c.dtype), p,
               "node centres of n_features_in_ values of the centres' dtype")
        left, right = node.__dict__.get("left"), node.__dict__.get("right")
        expect((left is None) == (right is None), p, "nodes with two children or none")
        if left is None:
            label = node.__dict__.get("label")
            expect((type(label) is int or isinstance(label, np.integer)) and c is not None
                   and 0 <= int(label) < c.shape[0], p, "leaf labels that index cluster_centers_")
        else:
            stack.append((left, depth + 1))
            stack.append((right, depth + 1))


# ------------------------------------------------------------------------------------------------ SGD family

def validate_sgd(est, path) -> None:
    """partial_fit hands coef_ rows (or _standard_coef rows) and the matching _average_coef rows to the compiled
    WeightVector, which assumes they have the same length."""
    d = est.__dict__
    coef = d.get("coef_")
    if not isinstance(coef, np.ndarray):
        return
    icpt = d.get("intercept_", d.get("offset_"))
    # a binary classifier keeps them flat ((n_features,) beside coef_ (1, n_features)): compare sizes and widths
    for names, ref, what in ((("_standard_coef", "_average_coef"), coef, "coef_"),
                             (("_standard_intercept", "_average_intercept"), icpt, "intercept_")):
        present = [(n, d[n]) for n in names if d.get(n) is not None]
        for name, a in present:
            expect(isinstance(a, np.ndarray) and isinstance(ref, np.ndarray) and a.dtype == ref.dtype
                   and a.size == ref.size and a.shape[-1:] == ref.shape[-1:], attr_path(path, name),
                   f"an array like {what} {getattr(ref, 'shape', None)}")
        if len(present) == 2:
            expect(present[0][1].shape == present[1][1].shape, attr_path(path, names[1]), f"the shape of {names[0]}")
    classes = d.get("classes_")
    ecw = d.get("_expanded_class_weight")
    if ecw is not None and isinstance(classes, np.ndarray):
        expect(isinstance(ecw, np.ndarray) and ecw.shape == (len(classes),), attr_path(path, "_expanded_class_weight"),
               "one weight per class")


# ------------------------------------------------------------------------------------------------ MLP

def validate_mlp(est, path) -> None:
    d = est.__dict__
    coefs, icpts = d.get("coefs_"), d.get("intercepts_")
    if coefs is None:
        return
    pc, pi = attr_path(path, "coefs_"), attr_path(path, "intercepts_")
    expect(type(coefs) is list and coefs and all(isinstance(c, np.ndarray) and c.ndim == 2 and c.dtype.kind == "f"
                                                  for c in coefs), pc, "a list of 2-d float arrays")
    expect(type(icpts) is list and len(icpts) == len(coefs), pi, "one intercept array per layer")
    n = fitted_int(est, "n_features_in_", path)
    expect(n is None or coefs[0].shape[0] == n, pc, f"a first layer of {n} inputs")
    for i, (c, b) in enumerate(zip(coefs, icpts)):
        expect(isinstance(b, np.ndarray) and b.shape == (c.shape[1],) and b.dtype == c.dtype, key_path(pi, i),
               f"{c.shape[1]} values")
        if i:
            expect(coefs[i - 1].shape[1] == c.shape[0], key_path(pc, i), "as many inputs as the previous layer's outputs")
    expect(fitted_int(est, "n_layers_", path) == len(coefs) + 1, attr_path(path, "n_layers_"), f"{len(coefs) + 1}")
    from sklearn.neural_network._base import ACTIVATIONS
    for name in ("activation", "out_activation_"):
        expect(d.get(name) in ACTIVATIONS, attr_path(path, name), f"one of {sorted(ACTIVATIONS)}")
    n_out = fitted_int(est, "n_outputs_", path)
    expect(n_out is None or coefs[-1].shape[1] == n_out, pc, f"a last layer of {n_out} outputs")


# ------------------------------------------------------------------------------------------------ isotonic

def validate_isotonic(est, path) -> None:
    x = fitted_array(est, "X_thresholds_", path, ndim=1, kinds="f")
    y = fitted_array(est, "y_thresholds_", path, ndim=1, kinds="f")
    if x is not None or y is not None:
        expect(x is not None and y is not None and x.shape == y.shape and x.size >= 1,
               attr_path(path, "y_thresholds_"), "as many thresholds as X_thresholds_")


# ------------------------------------------------------------------------------------------------ Birch

_MAX_CF_DEPTH = 256


def validate_birch(est, path) -> None:
    """The CF tree: partial_fit walks it recursively and walks the leaf chain to its end (a cycle would hang)."""
    from sklearn.cluster._birch import _CFNode, _CFSubcluster
    d = est.__dict__
    n = fitted_int(est, "n_features_in_", path)
    root, dummy = d.get("root_"), d.get("dummy_leaf_")
    if root is None:
        return
    pr, pd_ = attr_path(path, "root_"), attr_path(path, "dummy_leaf_")
    expect(type(root) is _CFNode, pr, "a _CFNode")
    expect(type(dummy) is _CFNode, pd_, "a _CFNode")
    nodes: dict = {}
    leaves = []
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        expect(type(node) is _CFNode and id(node) not in nodes and depth < _MAX_CF_DEPTH, pr,
               f"a tree of _CFNode (no node reached twice, at most {_MAX_CF_DEPTH} levels)")
        nodes[id(node)] = node
        nd = node.__dict__
        subs = nd.get("subclusters_")
        bf = nd.get("branching_factor")
        expect(type(subs) is list and type(bf) is int and 0 < bf and len(subs) <= bf, pr,
               "at most branching_factor subclusters per node")
        expect(type(nd.get("is_leaf")) is bool and nd.get("n_features") == n, pr, "nodes of n_features_in_ features")
        ic = nd.get("init_centroids_")
        isq = nd.get("init_sq_norm_")
        expect(isinstance(ic, np.ndarray) and ic.ndim == 2 and ic.shape[0] == bf + 1 and (n is None or ic.shape[1] == n)
               and isinstance(isq, np.ndarray) and isq.shape == (bf + 1,), pr,
               "init_centroids_ (branching_factor + 1, n_features) and init_sq_norm_ (branching_factor + 1,)")
        cen, sq = nd.get("centroids_"), nd.get("squared_norm_")
        expect(isinstance(cen, np.ndarray) and cen.shape == (len(subs), ic.shape[1]) and isinstance(sq, np.ndarray)
               and sq.shape == (len(subs),), pr, "centroids_ and squared_norm_ of one row per subcluster")
        if nd["is_leaf"]:
            leaves.append(node)
        for s in subs:
            expect(type(s) is _CFSubcluster, pr, "subclusters of type _CFSubcluster")
            sd = s.__dict__
            for name in ("centroid_", "linear_sum_"):
                a = sd.get(name)
                expect(isinstance(a, np.ndarray) and a.shape == (ic.shape[1],), pr, f"subcluster {name} of n features")
            child = sd.get("child_")
            if child is not None:
                expect(not nd["is_leaf"], pr, "leaves without child nodes")
                stack.append((child, depth + 1))
    # the chain of leaves, from the dummy leaf: each leaf of the tree once, linked both ways, ending in None
    prev, leaf, count = dummy, dummy.__dict__.get("next_leaf_"), 0
    while leaf is not None:
        expect(type(leaf) is _CFNode and id(leaf) in nodes and leaf.__dict__.get("is_leaf") is True
               and leaf.__dict__.get("prev_leaf_") is prev and count < len(leaves), pd_,
               "a chain of the tree's leaves, linked both ways")
        prev, leaf, count = leaf, leaf.__dict__.get("next_leaf_"), count + 1
    expect(count == len(leaves), pd_, f"a chain through all {len(leaves)} leaves")
    centers = fitted_array(est, "subcluster_centers_", path, ndim=2, kinds="f")
    if centers is not None:
        k = centers.shape[0]
        for name in ("subcluster_labels_", "_subcluster_norms"):
            a = fitted_array(est, name, path, ndim=1)
            expect(a is None or a.shape == (k,), attr_path(path, name), f"{k} values, one per subcluster centre")


# ------------------------------------------------------------------------------------------------ HDBSCAN

def validate_hdbscan(est, path) -> None:
    """dbscan_clustering() runs _hdbscan._tree.labelling_at_cut over _single_linkage_tree_, indexing a union-find
    of 2n - 1 entries by each row's children without checks."""
    t = est.__dict__.get("_single_linkage_tree_")
    if t is None:
        return
    from sklearn.cluster._hdbscan._tree import HIERARCHY_dtype
    p = attr_path(path, "_single_linkage_tree_")
    expect(isinstance(t, np.ndarray) and t.dtype == HIERARCHY_dtype and t.ndim == 1 and t.flags.c_contiguous, p,
           "a 1-d array of HIERARCHY_dtype")
    n = t.shape[0] + 1
    if t.shape[0]:
        limit = n + np.arange(t.shape[0])  # row i merges points (< n) or clusters made by earlier rows
        for f in ("left_node", "right_node"):
            c = t[f]
            expect(bool(((c >= 0) & (c < limit)).all()), p, "rows whose children are points or earlier clusters")
    labels = fitted_array(est, "labels_", path, ndim=1)
    expect(labels is None or labels.shape == (n,), attr_path(path, "labels_"), f"{n} labels")


# ------------------------------------------------------------------------------------------------ encoders

def _check_vocabulary(vocab, path, name="vocabulary_") -> int:
    """A {feature: column} dict whose columns are exactly 0 .. n-1: transform builds a CSR matrix of n columns
    with these column indices, and an index past n would be an invalid matrix that scipy's compiled routines
    (toarray, products) index out of bounds."""
    p = attr_path(path, name)
    expect(type(vocab) is dict, p, "a dict of feature -> column index")
    n = len(vocab)
    cols = np.fromiter((v if type(v) is int or isinstance(v, np.integer) else -1 for v in vocab.values()),
                       dtype=np.int64, count=n)
    expect(n == 0 or bool((np.sort(cols) == np.arange(n)).all()), p, f"column indices 0 .. {n - 1}, each once")
    return n


def validate_count_vectorizer(est, path) -> None:
    vocab = est.__dict__.get("vocabulary_")
    if vocab is None:
        return
    n = _check_vocabulary(vocab, path)
    tfidf = est.__dict__.get("_tfidf")
    idf = getattr(tfidf, "__dict__", {}).get("idf_") if tfidf is not None else None
    if idf is not None:
        expect(isinstance(idf, np.ndarray) and idf.shape == (n,), attr_path(path, "_tfidf"), f"{n} idf weights")


def validate_dict_vectorizer(est, path) -> None:
    vocab = est.__dict__.get("vocabulary_")
    if vocab is None:
        return
    n = _check_vocabulary(vocab, path)
    names = est.__dict__.get("feature_names_")
    expect(type(names) is list and len(names) == n, attr_path(path, "feature_names_"), f"{n} feature names")


def validate_one_hot_encoder(est, path) -> None:
    """transform builds a CSR matrix whose column for (feature i, category c) is offset_i + c, offsets from
    _n_features_outs; the infrequent-category mappings and the dropped categories must keep c inside feature i's
    block, or the matrix is invalid and scipy's compiled routines write outside it."""
    d = est.__dict__
    cats = d.get("categories_")
    if cats is None:
        return
    pc = attr_path(path, "categories_")
    n = fitted_int(est, "n_features_in_", path)
    expect(type(cats) is list and all(isinstance(c, np.ndarray) and c.ndim == 1 for c in cats)
           and (n is None or len(cats) == n), pc, "one 1-d array of categories per feature")
    sizes = [len(c) for c in cats]
    grouped = list(sizes)
    if d.get("_infrequent_enabled"):
        infreq, maps = d.get("_infrequent_indices"), d.get("_default_to_infrequent_mappings")
        pi, pm = attr_path(path, "_infrequent_indices"), attr_path(path, "_default_to_infrequent_mappings")
        expect(type(infreq) is list and len(infreq) == len(cats), pi, "one entry per feature")
        expect(type(maps) is list and len(maps) == len(cats), pm, "one entry per feature")
        for i, (idx, m) in enumerate(zip(infreq, maps)):
            if idx is None:
                expect(m is None, key_path(pm, i), "null where no category is infrequent")
                continue
            expect(isinstance(idx, np.ndarray) and idx.ndim == 1 and idx.dtype.kind in "iu" and idx.size >= 1
                   and bool(((idx >= 0) & (idx < sizes[i])).all()), key_path(pi, i),
                   f"indices of categories of feature {i}")
            grouped[i] = sizes[i] - idx.size + 1
            expect(isinstance(m, np.ndarray) and m.shape == (sizes[i],) and m.dtype.kind in "iu"
                   and bool(((m >= 0) & (m < grouped[i])).all()), key_path(pm, i),
                   f"{sizes[i]} codes in [0, {grouped[i]})")
    drop = d.get("_drop_idx_after_grouping")
    outs = list(grouped)
    if drop is not None:
        pd_ = attr_path(path, "_drop_idx_after_grouping")
        expect(isinstance(drop, np.ndarray) and drop.shape == (len(cats),), pd_, "one entry per feature")
        for i, x in enumerate(drop):
            if x is not None:
                expect((type(x) is int or isinstance(x, np.integer)) and 0 <= int(x) < grouped[i], pd_,
                       "dropped categories inside each feature's categories")
                outs[i] -= 1
    expect(d.get("_n_features_outs") == outs, attr_path(path, "_n_features_outs"), f"{outs}")


VALIDATORS = {
    **{qn: validate_libsvm for qn in _LIBSVM},
    "sklearn.cluster._kmeans.KMeans": validate_kmeans,
    "sklearn.cluster._kmeans.MiniBatchKMeans": validate_kmeans,
    "sklearn.cluster._bisect_k_means.BisectingKMeans": validate_bisecting_kmeans,
    **{f"sklearn.linear_model.{m}": validate_sgd for m in (
        "_stochastic_gradient.SGDClassifier", "_stochastic_gradient.SGDRegressor", "_stochastic_gradient.SGDOneClassSVM",
        "_perceptron.Perceptron", "_passive_aggressive.PassiveAggressiveClassifier",
        "_passive_aggressive.PassiveAggressiveRegressor")},
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier": validate_mlp,
    "sklearn.neural_network._multilayer_perceptron.MLPRegressor": validate_mlp,
    "sklearn.isotonic.IsotonicRegression": validate_isotonic,
    "sklearn.cluster._birch.Birch": validate_birch,
    "sklearn.cluster._hdbscan.hdbscan.HDBSCAN": validate_hdbscan,
    "sklearn.feature_extraction.text.CountVectorizer": validate_count_vectorizer,
    "sklearn.feature_extraction.text.TfidfVectorizer": validate_count_vectorizer,
    "sklearn.feature_extraction._dict_vectorizer.DictVectorizer": validate_dict_vectorizer,
    "sklearn.preprocessing._encoders.OneHotEncoder": validate_one_hot_encoder,
}
TRANSPORTERS: list = []
HANDLERS: list = []

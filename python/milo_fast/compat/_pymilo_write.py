"""Writing PyMilo 1.6 documents that ``pymilo.Import(...).to_model()`` reads back into an equivalent model.

PyMilo's reader decodes a value according to where it sits: each model category ("chain") runs its own set of
transporters over the model's attributes, and its generic transporter decodes markers only at certain depths
(a tuple inside a list is decoded, a tuple inside a list inside a dict is not ...).  The writer therefore
encodes by context, and raises ExportError (naming the JSON path and the type) for anything PyMilo 1.6 cannot
carry.  Where PyMilo's own writer is weaker than its reader (pipelines of preprocessing steps only, deep Birch
trees), this writer produces what the reader understands.
"""
from __future__ import annotations

import sys

import numpy as np

from ..errors import ExportError
from . import _pymilo_tables as T

ENV_LIST, ENV_DTYPE, ENV_SHAPE, ENV_DS = ("pymiloed-ndarray-list", "pymiloed-ndarray-dtype",
                                          "pymiloed-ndarray-shape", "pymiloed-data-structure")
_SCALAR_TAGS = ((np.intc, "numpy.int32"), (np.int32, "numpy.int32"), (np.int64, "numpy.int64"),
                (np.uint64, "numpy.uint64"), (np.uint8, "numpy.uint8"))
_TYPE_TAGS = {np.intc: "numpy.intc", np.int32: "numpy.int32", np.int64: "numpy.int64", np.float64: "numpy.float64",
              np.uint8: "numpy.uint8", np.uint64: "numpy.uint64"}
_SGD_LOSS_MODELS = ("SGDClassifier", "SGDOneClassSVM", "Perceptron", "PassiveAggressiveClassifier")
_GLM_MODELS = ("TweedieRegressor", "PoissonRegressor", "GammaRegressor")
_NEIGHBORS_TREE_MODELS = ("KNeighborsRegressor", "KNeighborsClassifier", "RadiusNeighborsRegressor",
                          "RadiusNeighborsClassifier", "NearestNeighbors", "NearestCentroid")


def _tname(v) -> str:
    t = type(v)
    return f"{t.__module__}.{t.__qualname__}"


def _fail(msg, path, v=None):
    what = f" (a {_tname(v)})" if v is not None else ""
    raise ExportError(f"PyMilo 1.6 cannot represent {msg}{what} at {path}")


def _is_function(v):
    import types
    return isinstance(v, (np.ufunc, types.FunctionType, types.BuiltinFunctionType)) or \
        type(v).__name__ == "_ArrayFunctionDispatcher"


def _function(v, path):
    """PyMilo's {function_name, function_module}; only for functions importable by that name."""
    if isinstance(v, np.ufunc):
        module, name = "numpy", v.__name__
    else:
        module, name = getattr(v, "__module__", None), getattr(v, "__name__", None)
    mod = sys.modules.get(module) if isinstance(module, str) else None
    if mod is None or not isinstance(name, str) or getattr(mod, name, None) is not v:
        _fail(f"the function {module}.{getattr(v, '__qualname__', name)}, which cannot be imported by that name",
              path, v)
    return {"function_name": name, "function_module": module}


class _Writer:
    def __init__(self):
        self.cf_emitted: set[int] = set()

    # ------------------------------------------------------------------ models
    def model_dict(self, m, path):
        """serialize_possible_ml_model: any top-level kind of model, tagged with its category."""
        kind = T.kind_of(m)
        return {"pymilo-bypass": True,
                "pymilo-inner-model-data": self.model_data(m, kind, f"{path}.pymilo-inner-model-data"),
                "pymilo-inner-model-type": type(m).__name__,
                "pymilo-ml-category": kind}

    def module_dict(self, m, path):
        """A preprocessing or feature-extraction module, or any model (what PyMilo's ensembles and composes
        accept as an inner estimator)."""
        kind = T.kind_of(m)
        if kind == "PREPROCESSING":
            return self.pre_module(m, path)
        if kind == "FEATURE_EXTRACTION":
            return self.fe_module(m, path)
        if kind in T.TOP_LEVEL:
            return self.model_dict(m, path)
        _fail("this estimator", path, m)

    def model_data(self, m, kind, path):
        name = type(m).__name__
        out = {}
        for key, v in m.__dict__.items():
            if not isinstance(key, str):
                _fail("a non-string attribute name", path)
            out[key] = self.attr(v, key, m, name, kind, f"{path}.{key}")
        return out

    def attr(self, v, key, m, name, kind, p):
        if kind != "COMPOSE" and T.kind_of(v) == "PREPROCESSING":
            return self.pre_module(v, p)
        handler = getattr(self, f"attr_{kind.lower()}", None)
        if handler is not None:
            r = handler(v, key, m, name, p)
            if r is not NotImplemented:
                return r
        return self.g_attr(v, p)

    def attr_linear_model(self, v, key, m, name, p):
        if T.kind_of(v) == "LINEAR_MODEL":
            return {"pymilo-inner-model-data": self.model_data(v, "LINEAR_MODEL", f"{p}.pymilo-inner-model-data"),
                    "pymilo-inner-model-type": type(v).__name__, "pymilo-bypass": True}
        if name in _SGD_LOSS_MODELS and key in ("loss_function_", "_loss_function_"):
            if name != "SGDOneClassSVM" and m.loss in ("huber", "epsilon_insensitive",
                                                       "squared_epsilon_insensitive") and m.epsilon != 0.1:
                _fail("an epsilon-dependent SGD loss with a non-default epsilon", p, v)
            return {"pymilo-sgd-loss": m.loss}
        if name in _GLM_MODELS and _is_base_loss(v):
            if name == "TweedieRegressor":
                return {"power": self.g_attr(m.power, p), "link": self.g_attr(m.link, p),
                        "pymilo_glm_base_loss": True}
            return {"pymilo_glm_base_loss": True}
        return NotImplemented

    def attr_neural_network(self, v, key, m, name, p):
        if isinstance(v, np.random.RandomState):
            return self.random_state(v)
        from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer
        if isinstance(v, AdamOptimizer):
            params = [self.g_item(a, f"{p}.params") for a in list(m.coefs_) + list(m.intercepts_)]
            return {"pymilo-bypass": True, "pymilo-adamoptimizer": {
                "params": params, "type": "AdamOptimizer", "beta_1": float(v.beta_1), "beta_2": float(v.beta_2),
                "epsilon": float(v.epsilon)}}
        if isinstance(v, SGDOptimizer):
            # PyMilo 1.6 records a `decay` this scikit-learn's SGDOptimizer no longer has, and rebuilds it with
            # arguments it no longer takes: its reader cannot rebuild an MLP trained with solver="sgd".
            _fail("an MLP trained with solver='sgd' (its SGDOptimizer)", p, v)
        return NotImplemented

    def attr_decision_tree(self, v, key, m, name, p):
        from sklearn.tree._tree import Tree
        if isinstance(v, np.random.RandomState):
            return self.random_state(v)
        if isinstance(v, Tree):
            return self.tree(v)
        return NotImplemented

    def attr_svm(self, v, key, m, name, p):
        if isinstance(v, np.random.RandomState):
            return self.random_state(v)
        return NotImplemented

    def attr_clustering(self, v, key, m, name, p):
        from sklearn.cluster._birch import _CFNode
        from sklearn.cluster._bisect_k_means import _BisectingTree
        if _is_function(v):
            return _function(v, p)
        if isinstance(v, _CFNode):
            return self.cf_node(v, p, nested=False)
        if isinstance(v, np.random.RandomState):
            return self.random_state(v)
        if isinstance(v, _BisectingTree):
            return self.bisecting_tree(v, p)
        return NotImplemented

    def attr_neighbors(self, v, key, m, name, p):
        from sklearn.neighbors import BallTree, KDTree
        if isinstance(v, (KDTree, BallTree)):
            if name not in _NEIGHBORS_TREE_MODELS:
                _fail(f"the KD/Ball tree of a {name} (PyMilo rebuilds it only for {', '.join(_NEIGHBORS_TREE_MODELS)})",
                      p, v)
            return {"pymilo-bypass": True, "pymilo-tree-type": "KDTree" if isinstance(v, KDTree) else "BallTree"}
        return NotImplemented

    def attr_ensemble(self, v, key, m, name, p):
        from sklearn.ensemble._hist_gradient_boosting.binning import _BinMapper
        from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
        from sklearn.utils import Bunch
        k = T.kind_of(v)
        if k == "FEATURE_EXTRACTION":
            return self.fe_module(v, p)
        if isinstance(v, TreePredictor):
            return self.predictor(v, p)
        if isinstance(v, list) and _has_predictor(v):
            return self.predictor_lists(v, p)
        if isinstance(v, _BinMapper):
            data = {kk: self.g_attr(vv, f"{p}.pymilo-binmapper.__dict__.{kk}") for kk, vv in v.__dict__.items()}
            return {"pymilo-bypass": True, "pymilo-binmapper": {"__dict__": data}}
        if isinstance(v, np.random.Generator):
            # PyMilo writes Generator.__getstate__(), which numpy 2 returns as None; its reader then starts a
            # fresh default_rng(0).  The generator only drives feature subsampling during fit.
            return {"pymilo-bypass": True, "pymilo-generator": {"state": None}}
        if isinstance(v, np.random.RandomState):
            return self.random_state(v)
        if _is_base_loss(v) and name in ("GradientBoostingRegressor", "GradientBoostingClassifier"):
            return {"pymilo-ensemble-loss": {
                "loss-library": "sklearn._loss.loss.BaseLoss", "loss": m.loss,
                "constant_hessian": bool(v.constant_hessian), "n_classes": _plain(v.n_classes, p),
                "alpha": _plain(m.alpha, p), "model_type": name}}
        if _is_base_loss(v) and name in ("HistGradientBoostingRegressor", "HistGradientBoostingClassifier"):
            return {"pymilo-ensemble-loss": {
                "loss-library": "sklearn._loss.loss.BaseLoss", "loss": m.loss,
                "constant_hessian": bool(v.constant_hessian),
                "n_trees_per_iteration_": _plain(m.n_trees_per_iteration_, p), "model_type": name}}
        if isinstance(v, Bunch):
            return {"pymilo-bypass": True, "pymilo-bunch": {
                kk: (self.model_dict(vv, f"{p}.pymilo-bunch.{kk}") if T.kind_of(vv) in T.TOP_LEVEL
                     else self.raw(vv, f"{p}.pymilo-bunch.{kk}")) for kk, vv in v.items()}}
        if k in T.TOP_LEVEL:
            return self.model_dict(v, p)
        if isinstance(v, list):
            if any(isinstance(x, tuple) and any(T.kind_of(y) is not None for y in x) for x in v):
                return self.steps(v, p)
            if any(T.kind_of(x) in T.TOP_LEVEL for x in v):
                return [self.model_dict(x, f"{p}[{i}]") if T.kind_of(x) in T.TOP_LEVEL else self.g_item(x, f"{p}[{i}]")
                        for i, x in enumerate(v)]
            return NotImplemented
        if isinstance(v, dict) and any(T.kind_of(x) in T.TOP_LEVEL for x in v.values()):
            return {str(kk): (self.model_dict(vv, f"{p}.{kk}") if T.kind_of(vv) in T.TOP_LEVEL
                              else self.g_dictval(vv, f"{p}.{kk}")) for kk, vv in v.items()}
        if isinstance(v, np.ndarray) and v.dtype == object and v.size and all(
                T.kind_of(x) in T.TOP_LEVEL for x in v.reshape(-1)):
            return self.models_array(v, p)
        return NotImplemented

    def attr_compose(self, v, key, m, name, p):
        if _is_function(v):
            return _function(v, p)
        if T.kind_of(v) is not None:
            return self.module_dict(v, p)
        if isinstance(v, (list, tuple, dict)) and _holds_module(v):
            return self.compose_nested(v, p, top=True)
        return NotImplemented

    # ------------------------------------------------------------------ modules
    def pre_module(self, m, path):
        from scipy.interpolate import BSpline
        dp = f"{path}.pymilo-preprocessing-data"
        data = {}
        for key, v in m.__dict__.items():
            p = f"{dp}.{key}"
            if T.kind_of(v) == "PREPROCESSING":
                data[key] = self.pre_module(v, p)
            elif isinstance(v, BSpline):
                data[key] = self.bspline(v, p)
            elif isinstance(v, list) and v and isinstance(v[0], BSpline):
                data[key] = [self.bspline(b, f"{p}[{i}]") for i, b in enumerate(v)]
            elif _is_function(v):
                data[key] = _function(v, p)
            else:
                data[key] = self.g_attr(v, p)
        return {"pymilo-bypass": True, "pymilo-preprocessing-type": type(m).__name__,
                "pymilo-preprocessing-data": data}

    def bspline(self, b, path):
        data = {k: self.g_attr(v, f"{path}.pymilo-preprocessing-data.{k}") for k, v in b.__dict__.items()
                if k != "_asarray"}  # the constructor sets the array-namespace helper itself
        return {"pymilo-bypass": True, "pymilo-preprocessing-type": "BSpline", "pymilo-preprocessing-data": data}

    def fe_module(self, m, path):
        from scipy.sparse import csr_matrix
        dp = f"{path}.pymilo-feature_extraction-data"
        data = {}
        for key, v in m.__dict__.items():
            p = f"{dp}.{key}"
            if T.kind_of(v) == "FEATURE_EXTRACTION":
                data[key] = self.fe_module(v, p)
            elif isinstance(v, csr_matrix):
                data[key] = {"pymilo-bypass": True, "pymilo-csr_matrix": self.g_dict(v.__dict__, p)}
            elif isinstance(v, np.random.RandomState):
                data[key] = self.random_state(v)
            else:
                data[key] = self.g_attr(v, p)
        return {"pymilo-bypass": True, "pymilo-feature_extraction-type": type(m).__name__,
                "pymilo-feature_extraction-data": data}

    def steps(self, v, path):
        """A list of (name, estimator) pairs, in the wrapper PyMilo's ensemble reader turns back into tuples."""
        out = []
        for i, x in enumerate(v):
            p = f"{path}.pymiloed-data[{i}]"
            if not isinstance(x, tuple) or len(x) != 2:
                _fail("a list mixing (name, estimator) pairs with other values", p, x)
            nm, est = x
            out.append([self.raw(nm, f"{p}[0]"),
                        self.module_dict(est, f"{p}[1]") if T.kind_of(est) is not None else self.raw(est, f"{p}[1]")])
        return {ENV_DS: "list of (str, estimator) tuples", "pymiloed-data": out}

    def compose_nested(self, v, path, top=False):
        """ComposeTransporter: modules anywhere inside dicts/lists/tuples; PyMilo's reader recurses everywhere.
        The remaining structure follows the generic encoding of its position."""
        if T.kind_of(v) is not None:
            return self.module_dict(v, path)
        if isinstance(v, tuple):
            return {"pymilo-tuple": [self.compose_nested(x, f"{path}.pymilo-tuple[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, list):
            return [self.compose_nested(x, f"{path}[{i}]") for i, x in enumerate(v)]
        if isinstance(v, dict):
            return {self.key(k, path): self.compose_nested(x, f"{path}.{k}") for k, x in v.items()}
        return self.g_item(v, path)

    # ------------------------------------------------------------------ helpers
    def random_state(self, rs):
        name, keys, pos, has_gauss, cached = rs.get_state()
        return {"pymilo-bypass": True, "pymilo-randomstate": [name, keys.tolist(), int(pos), int(has_gauss),
                                                               float(cached)]}

    def tree(self, t):
        st = t.__getstate__()
        nodes = st["nodes"]
        return {"pymilo-bypass": True, "pymilo-tree": {
            "internal_state": {
                "max_depth": int(st["max_depth"]), "node_count": int(st["node_count"]),
                "nodes": {"types": [nodes.dtype.fields[n][0].name for n in nodes.dtype.names],
                          "field-names": list(nodes.dtype.names),
                          "values": nodes.tolist()},
                "values": st["values"].tolist()},
            "n_features": int(t.n_features), "n_classes": [int(c) for c in t.n_classes],
            "n_outputs": int(t.n_outputs)}}

    def predictor(self, pr, path):
        return {"pymilo-bypass": True, ENV_DS: "TreePredictor", "pymiloed-data": {
            "nodes": self.arr(pr.nodes, f"{path}.pymiloed-data.nodes"),
            "binned_left_cat_bitsets": self.arr(pr.binned_left_cat_bitsets, path),
            "raw_left_cat_bitsets": self.arr(pr.raw_left_cat_bitsets, path)}}

    def predictor_lists(self, v, path):
        from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
        out = []
        for i, x in enumerate(v):
            p = f"{path}[{i}]"
            if isinstance(x, TreePredictor):
                out.append(self.predictor(x, p))
            elif isinstance(x, list):
                out.append(self.predictor_lists(x, p))
            else:
                out.append(self.g_item(x, p))
        return out

    def models_array(self, a, path):
        """serialize_models_in_ndarray: rows as nested envelopes, no shape."""
        items = []
        for i, x in enumerate(a):
            p = f"{path}.{ENV_LIST}[{i}]"
            items.append(self.models_array(x, p) if isinstance(x, np.ndarray) else self.model_dict(x, p))
        return {ENV_LIST: items, ENV_DTYPE: str(a.dtype), ENV_DS: "numpy.ndarray"}

    def cf_node(self, node, path, nested=True):
        """A Birch _CFNode in full.  Links to other nodes are written as references; a reference holds the
        node in full the first time it is met (PyMilo's reader needs every node before it is referred to).
        PyMilo's reader takes the dtype of a nested node from ``init_centroids_`` before decoding any array in
        it, so nested nodes carry that array (and ``init_sq_norm_``) as plain nested lists."""
        from sklearn.cluster._birch import _CFNode, _CFSubcluster
        self.cf_emitted.add(id(node))
        out = {}
        for key, v in node.__dict__.items():
            p = f"{path}.{key}"
            if nested and key in ("init_centroids_", "init_sq_norm_") and isinstance(v, np.ndarray):
                if v.dtype != np.float64:
                    _fail(f"a Birch tree of dtype {v.dtype} below its root", p, v)
                out[key] = v.tolist()
            elif isinstance(v, _CFNode):
                out[key] = self.cf_ref(v, p)
            elif key == "subclusters_" and isinstance(v, list) and v and isinstance(v[0], _CFSubcluster):
                subs = []
                for i, s in enumerate(v):
                    sp = f"{p}.pymilo_subclusters_value[{i}]"
                    d = {}
                    for kk, vv in s.__dict__.items():
                        if isinstance(vv, _CFNode):  # a child: PyMilo's reader wants a reference holding it in full
                            d[kk] = {"pymilo_model_type": "_CFNode",
                                     "pymilo_cfnode_value": self.cf_node(vv, f"{sp}.{kk}.pymilo_cfnode_value"),
                                     "pymilo_cfnode_id": hex(id(vv))}
                        else:
                            d[kk] = self.g_attr(vv, f"{sp}.{kk}")
                    subs.append(d)
                out[key] = {"pymilo_model_type": "_CFSubcluster", "pymilo_subclusters_value": subs}
            else:
                out[key] = self.g_attr(v, p)
        out["pymilo_cfnode_id"] = hex(id(node))
        out["pymilo_model_type"] = "_CFNode"
        return out

    def cf_ref(self, v, path):
        if id(v) in self.cf_emitted:
            value = "PYMILO_CFNODE_RECURSION"
        else:
            value = self.cf_node(v, f"{path}.pymilo_cfnode_value")
        return {"pymilo_model_type": "_CFNode", "pymilo_cfnode_value": value, "pymilo_cfnode_id": hex(id(v))}

    def bisecting_tree(self, t, path):
        from sklearn.cluster._bisect_k_means import _BisectingTree
        out = {}
        for k, v in t.__dict__.items():
            out[k] = self.bisecting_tree(v, f"{path}.{k}") if isinstance(v, _BisectingTree) else \
                self.g_attr(v, f"{path}.{k}")
        out["pymilo_model_type"] = "_BisectingTree"
        return out

    # ------------------------------------------------------------------ generic values (GeneralDataStructure)
    def g_attr(self, v, p):
        """A value at a model attribute: PyMilo decodes markers here and one level into lists and dicts."""
        if v is None or isinstance(v, (bool, int, float, str)) and not isinstance(v, np.generic):
            return v
        if isinstance(v, np.generic):
            return self.scalar(v, p)
        if isinstance(v, np.ndarray):
            return self.arr(v, p)
        if isinstance(v, list):
            return [self.g_item(x, f"{p}[{i}]") for i, x in enumerate(v)]
        if isinstance(v, tuple):
            return {"pymilo-tuple": [self.g_item(x, f"{p}[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, (set, frozenset)):
            return {"pymilo-set": [self.g_item(x, f"{p}[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, slice):
            return self.slice(v, p)
        if isinstance(v, dict):
            return self.g_dict(v, p)
        if isinstance(v, type) and v in _TYPE_TAGS:
            return {"np-type": "numpy.dtype", "value": _TYPE_TAGS[v]}
        _fail("this value", p, v)

    def g_item(self, x, p):
        """An item of a list or tuple: markers for arrays, numpy scalars, tuples and slices are decoded."""
        if x is None or isinstance(x, (bool, int, float, str)) and not isinstance(x, np.generic):
            return x
        if isinstance(x, np.generic):
            return self.scalar(x, p)
        if isinstance(x, np.ndarray):
            return self.arr(x, p)
        if isinstance(x, tuple):
            return {"pymilo-tuple": [self.g_item(y, f"{p}[{i}]") for i, y in enumerate(x)]}
        if isinstance(x, slice):
            return self.slice(x, p)
        return self.raw(x, p)

    def g_dict(self, d, p):
        """A dict: PyMilo decodes markers in its values, recursively through dicts, one level into lists."""
        out = {}
        for k, v in d.items():
            vp = f"{p}.{k}"
            if isinstance(k, (np.int32, np.int64)):
                out[str(int(k))] = {"np-type": "numpy.int32" if isinstance(k, np.int32) else "numpy.int64",
                                    "key-value": self.g_dictval(v, vp)}
            else:
                out[self.key(k, p)] = self.g_dictval(v, vp)
        return out

    def g_dictval(self, v, p):
        if isinstance(v, dict):
            return self.g_dict(v, p)
        if isinstance(v, list):
            return [self.arr(x, f"{p}[{i}]") if isinstance(x, np.ndarray) else
                    self.scalar(x, f"{p}[{i}]") if isinstance(x, np.generic) else self.raw(x, f"{p}[{i}]")
                    for i, x in enumerate(v)]
        return self.g_attr(v, p)

    def key(self, k, p):
        if isinstance(k, str):
            return k
        if isinstance(k, bool) or k is None:
            return {True: "true", False: "false", None: "null"}[k]
        if isinstance(k, (int, np.integer)):
            return str(int(k))
        if isinstance(k, (float, np.floating)):
            return repr(float(k))
        _fail("a dictionary key", p, k)

    def scalar(self, v, p):
        if isinstance(v, np.float64):
            if v == np.inf:
                return {"np-type": "numpy.infinity", "value": "infinite"}
            return {"value": float(v), "np-type": "numpy.float64"}
        for t, tag in _SCALAR_TAGS:
            if isinstance(v, t):
                return {"value": int(v), "np-type": tag}
        # PyMilo has no tag for these: written as the Python number they equal (numpy promotes a Python
        # scalar the same way for the array dtypes models compute with).
        if isinstance(v, (np.floating, np.integer, np.bool_)):
            return v.item()
        _fail("this numpy scalar", p, v)

    def slice(self, s, p):
        for b in (s.start, s.stop, s.step):
            if b is not None and not isinstance(b, (int, np.integer)):
                _fail("a slice with non-integer bounds", p, s)
        f = (lambda b: None if b is None else int(b))
        return {"pymilo-slice": True, "start": f(s.start), "stop": f(s.stop), "step": f(s.step)}

    def arr(self, a, p):
        dt = a.dtype
        if dt.names is None and dt.kind in "biuf" and dt.subdtype is None:
            if a.ndim == 0:
                _fail("a 0-dimensional array", p, a)
            if a.size == 0:  # written here, so that no codec setting can pick another envelope for it
                return {ENV_LIST: a.tolist(), ENV_DTYPE: str(dt), ENV_SHAPE: list(a.shape), ENV_DS: "numpy.ndarray"}
            return a  # milo_fast's codec writes it in PyMilo's envelope (text mode)
        if dt.names is not None:
            spec = str(dt)
            if not spec.startswith("[") or any(dt.fields[n][0].kind not in "biuf" or dt.fields[n][0].subdtype
                                               for n in dt.names):
                _fail(f"a structured array of dtype {spec}", p, a)
            return {ENV_LIST: [list(r) for r in a.reshape(-1).tolist()] if a.ndim == 1 else
                    _rows(a.tolist()), ENV_DTYPE: spec, ENV_SHAPE: list(a.shape), ENV_DS: "numpy.ndarray"}
        if dt.kind == "U":
            if a.ndim == 0:
                _fail("a 0-dimensional array", p, a)
            return {ENV_LIST: a.tolist(), ENV_DTYPE: str(dt), ENV_SHAPE: list(a.shape), ENV_DS: "numpy.ndarray"}
        if dt.kind == "O":
            if a.ndim == 0:
                _fail("a 0-dimensional array", p, a)
            if a.ndim == 1:
                items = []
                for i, x in enumerate(a):
                    ip = f"{p}.{ENV_LIST}[{i}]"
                    items.append(self.arr(x, ip) if isinstance(x, np.ndarray) else self.raw(x, ip))
            else:
                items = self.raw(a.tolist(), f"{p}.{ENV_LIST}")
            return {ENV_LIST: items, ENV_DTYPE: "object", ENV_SHAPE: list(a.shape), ENV_DS: "numpy.ndarray"}
        _fail(f"an array of dtype {dt}", p, a)

    def raw(self, x, p):
        """Plain JSON, decoded by PyMilo as is (numpy scalars become the Python numbers they equal)."""
        if x is None or isinstance(x, (bool, int, float, str)) and not isinstance(x, np.generic):
            return x
        if isinstance(x, (np.floating, np.integer, np.bool_)):
            return x.item()
        if isinstance(x, (list, tuple)):
            return [self.raw(y, f"{p}[{i}]") for i, y in enumerate(x)]
        if isinstance(x, dict):
            return {self.key(k, p): self.raw(v, f"{p}.{k}") for k, v in x.items()}
        _fail("this value in this position", p, x)


def _rows(x):
    return [_rows(y) for y in x] if isinstance(x, list) else list(x)


def _is_base_loss(v):
    try:
        from sklearn._loss.loss import BaseLoss
    except ImportError:  # pragma: no cover
        return False
    return isinstance(v, BaseLoss)


def _has_predictor(v):
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    return any(isinstance(x, TreePredictor) or (isinstance(x, list) and _has_predictor(x)) for x in v)


def _holds_module(v):
    if T.kind_of(v) is not None:
        return True
    if isinstance(v, dict):
        return any(_holds_module(x) for x in v.values())
    if isinstance(v, (list, tuple)):
        return any(_holds_module(x) for x in v)
    return False


def _plain(v, p):
    return _Writer().raw(v, p)


def write(model) -> dict:
    import sklearn

    kind = T.kind_of(model)
    if kind is None or kind not in T.TOP_LEVEL:
        name = type(model).__name__
        if kind in ("PREPROCESSING", "FEATURE_EXTRACTION"):
            raise ExportError(f"PyMilo 1.6 carries a {name} only inside a model (e.g. a Pipeline), not on its own")
        raise ExportError(f"PyMilo 1.6 does not support {_tname(model)}")
    w = _Writer()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20000))
    try:
        data = w.model_data(model, kind, "$.data")
    finally:
        sys.setrecursionlimit(limit)
    return {"data": data, "sklearn_version": sklearn.__version__, "pymilo_version": T.PYMILO_VERSION,
            "model_type": type(model).__name__}

"""Reading PyMilo 1.x documents: parse into a tree of nodes, audit every name, then build.

Phase 1 (``_Parser``) walks the JSON-ready document and turns every PyMilo marker into a node.  It imports
nothing and calls nothing a document names; it records each type or function the document names (or implies
through a marker) with its JSON path.  Phase 2 is ``trust.audit`` over those names.  Phase 3 builds the nodes,
fetching every class and function through ``trust.resolve``.

Unlike PyMilo, nothing is ever imported by the name a document gives: bare model names are looked up in
PyMilo's own tables (``_pymilo_tables``), and ``module.function`` pairs are only resolved after the audit.
"""
from __future__ import annotations

import ast
import math
import re

import numpy as np

from .. import _dtypes
from ..errors import DecodeError, MiloError, ValidationError
from . import _pymilo_tables as T
from . import _pymilo_validate as V

ENV_LIST, ENV_DTYPE, ENV_SHAPE, ENV_DS = ("pymiloed-ndarray-list", "pymiloed-ndarray-dtype",
                                          "pymiloed-ndarray-shape", "pymiloed-data-structure")
MAX_DEPTH = 2000
_UNICODE_RE = re.compile(r"^[<>|=]?U([0-9]{1,6})$")
_SIMPLE_FORMATS = {"<f8", "<f4", "<i8", "<i4", "<i2", "<u8", "<u4", "<u2", "u1", "|u1", "i1", "|i1", "|b1",
                   "?", "b1", ">f8", ">f4", ">i8", ">i4", ">u8", ">u4", "=f8", "=i8", "=u4", "=f4", "=i4"}


class _Fail:
    """Raises errors that name the JSON path (and the file, when known)."""

    def __init__(self, source):
        self.source = source

    def where(self, path):
        return f"at {path}" + (f" in {self.source}" if self.source else "")

    def __call__(self, msg, path, cls=ValidationError):
        if cls is DecodeError:
            raise DecodeError(f"{msg} {self.where(path)}", path=path)
        raise cls(f"{msg} {self.where(path)}")


# ------------------------------------------------------------------------------------------------ nodes

class Node:
    path = "$"

    def build(self, ctx):  # pragma: no cover - abstract
        raise NotImplementedError


class Lit(Node):
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def build(self, ctx):
        return self.value


class ListN(Node):
    def __init__(self, items):
        self.items = items

    def build(self, ctx):
        return [n.build(ctx) for n in self.items]


class TupleN(ListN):
    def build(self, ctx):
        return tuple(n.build(ctx) for n in self.items)


class SetN(ListN):
    def build(self, ctx):
        out = set()
        for n in self.items:
            v = n.build(ctx)
            try:
                out.add(v)
            except TypeError:
                ctx.fail("a set member must be hashable", n.path)
        return out


class DictN(Node):
    def __init__(self, pairs, path):
        self.pairs = pairs  # [(key: str | Node, value: Node)]
        self.path = path

    def build(self, ctx):
        out = {}
        for k, v in self.pairs:
            out[k.build(ctx) if isinstance(k, Node) else k] = v.build(ctx)
        return out


class SliceN(Node):
    def __init__(self, start, stop, step):
        self.args = (start, stop, step)

    def build(self, ctx):
        return slice(*self.args)


class ScalarN(Node):
    """A numpy scalar PyMilo tagged with "np-type" (the type was audited)."""

    def __init__(self, qual, value, path):
        self.qual, self.value, self.path = qual, value, path

    def build(self, ctx):
        return ctx.resolve(self.qual, self.path)(self.value)


class TypeRefN(Node):
    """A numpy scalar type used as a value (e.g. a ``dtype=np.float64`` parameter)."""

    def __init__(self, qual, path):
        self.qual, self.path = qual, path

    def build(self, ctx):
        return ctx.resolve(self.qual, self.path)


class FuncN(Node):
    def __init__(self, qual, path):
        self.qual, self.path = qual, path

    def build(self, ctx):
        return ctx.resolve(self.qual, self.path)


class ArrayN(Node):
    """A non-numeric ndarray envelope: object, unicode or structured dtype (numeric ones arrive decoded)."""

    def __init__(self, kind, dtype, shape, items, path):
        self.kind, self.dtype, self.shape, self.items, self.path = kind, dtype, shape, items, path

    def build(self, ctx):
        if self.kind == "values":  # unicode, structured, or numeric: items already converted at parse time
            return self.items
        if self.shape is None:  # PyMilo's array of models (no shape): stack equal-shaped rows like numpy would
            built = [n.build(ctx) for n in self.items]
            if built and all(isinstance(b, np.ndarray) for b in built) and len({b.shape for b in built}) == 1:
                out = np.empty((len(built),) + built[0].shape, dtype=object)
                for i, b in enumerate(built):
                    out[i] = b
                return out
            out = np.empty(len(built), dtype=object)
            for i, b in enumerate(built):
                out[i] = b
            return out
        out = np.empty(self.shape, dtype=object)
        flat = out.reshape(-1)
        for i, n in enumerate(self.items):
            v = n.build(ctx)
            if isinstance(v, list) and len(self.shape) == 1:
                v = tuple(v)  # as PyMilo does: a 1-d object array's list elements were tuples
            flat[i] = v
        return out


class EstimatorN(Node):
    """Any object PyMilo rebuilds from its ``__dict__``: models, preprocessing modules, helpers."""

    def __init__(self, qual, name, kind, attrs, path, drop=(), data_path=None):
        self.qual, self.name, self.kind, self.attrs, self.path = qual, name, kind, attrs, path
        self.drop, self.data_path = drop, data_path or path

    def build(self, ctx):
        cls = ctx.resolve(self.qual, self.path)
        if not isinstance(cls, type):
            ctx.fail(f"{self.qual} is not a class", self.path)
        obj = cls.__new__(cls)
        d = obj.__dict__
        later = []
        for k, n in self.attrs:
            if k in self.drop:
                continue
            if isinstance(n, DeferredN):
                later.append((k, n))
            else:
                d[k] = n.build(ctx)
        for k, n in later:
            d[k] = n.build_for(obj, ctx)
        try:
            V.check_estimator(obj, self.data_path, ctx.fail)
        except MiloError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:  # attributes of the wrong kind
            ctx.fail(f"inconsistent {self.name} ({type(e).__name__}: {e})", self.data_path)
        ctx.validate(obj, self.qual, self.data_path)
        return obj


class DeferredN(Node):
    """A member PyMilo stores as a recipe that needs the estimator holding it (loss functions, optimizers,
    KD/Ball trees): built last, from the estimator's other, already rebuilt attributes."""

    def __init__(self, what, content, path, qual=None):
        self.what, self.content, self.path, self.qual = what, content, path, qual

    def build(self, ctx):
        ctx.fail("this PyMilo member is only valid as an attribute of a model", self.path)

    def build_for(self, est, ctx):
        f = ctx.fail
        c, p, d = self.content, self.path, est.__dict__
        try:
            if self.what == "neighbors_tree":
                cls = ctx.resolve(self.qual, p)
                if "_fit_X" not in d or "leaf_size" not in d or "effective_metric_" not in d:
                    f("a KD/Ball tree needs _fit_X, leaf_size and effective_metric_ in its model", p)
                params = d.get("effective_metric_params_") or {}
                if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
                    f("effective_metric_params_ must be a dict with str keys", p)
                return cls(d["_fit_X"], d["leaf_size"], metric=d["effective_metric_"], **params)
            if self.what == "sgd_loss":
                return est._get_loss_function(c)
            if self.what == "glm_loss":
                return est._get_loss()
            if self.what == "ensemble_loss":
                sample_weight = None if c else True
                return est._get_loss(sample_weight)
            if self.what == "adam":
                cls = ctx.resolve(self.qual, p)
                params = list(d.get("coefs_", [])) + list(d.get("intercepts_", []))
                return cls(params, learning_rate_init=d.get("learning_rate_init", 0.001), **c)
            if self.what == "sgd_optimizer":
                cls = ctx.resolve(self.qual, p)
                params = list(d.get("coefs_", [])) + list(d.get("intercepts_", []))
                return cls(params, learning_rate_init=c["learning_rate"], momentum=c["momentum"],
                           nesterov=c["nesterov"], lr_schedule=d.get("learning_rate", "constant"),
                           power_t=d.get("power_t", 0.5))
        except MiloError:
            raise
        except Exception as e:  # sklearn / numpy rejected the rebuilt parts
            f(f"cannot rebuild this member ({type(e).__name__}: {e})", p)
        f(f"unknown recipe {self.what}", p)  # pragma: no cover


class TreeN(Node):
    def __init__(self, spec, path):
        self.spec, self.path = spec, path

    def build(self, ctx):
        cls = ctx.resolve(T.helper_name("tree"), self.path)
        return V.build_tree(cls, self.spec, self.path, ctx.fail)


class PredictorN(Node):
    def __init__(self, nodes, binned, raw, path):
        self.nodes, self.binned, self.raw, self.path = nodes, binned, raw, path

    def build(self, ctx):
        cls = ctx.resolve(T.helper_name("tree_predictor"), self.path)
        return V.build_predictor(cls, self.nodes, self.binned.build(ctx), self.raw.build(ctx), self.path, ctx.fail)


class RandomStateN(Node):
    def __init__(self, state, path):
        self.state, self.path = state, path

    def build(self, ctx):
        cls = ctx.resolve(T.helper_name("random_state"), self.path)
        rs = cls(0)
        try:
            rs.set_state(self.state)
        except (ValueError, TypeError) as e:
            ctx.fail(f"invalid RandomState state ({e})", self.path)
        return rs


class GeneratorN(Node):
    def __init__(self, bitgen_qual, state, path):
        self.bitgen_qual, self.state, self.path = bitgen_qual, state, path

    def build(self, ctx):
        gen = ctx.resolve(T.helper_name("generator"), self.path)
        bg = ctx.resolve(self.bitgen_qual, self.path)
        b = bg(0)
        if self.state is not None:
            try:
                b.state = self.state.build(ctx)
            except (ValueError, TypeError, KeyError) as e:
                ctx.fail(f"invalid bit generator state ({e})", self.path)
        return gen(b)


class BunchN(Node):
    def __init__(self, inner, path):
        self.inner, self.path = inner, path

    def build(self, ctx):
        cls = ctx.resolve(T.helper_name("bunch"), self.path)
        return cls(**self.inner.build(ctx))


class CsrN(Node):
    def __init__(self, inner, path):
        self.inner, self.path = inner, path

    def build(self, ctx):
        cls = ctx.resolve(T.helper_name("csr_matrix"), self.path)
        d = self.inner.build(ctx)
        try:
            shape = tuple(d["_shape"])
            m = cls((d["data"], d["indices"], d["indptr"]), shape=shape)
            m.check_format(full_check=True)
        except Exception as e:
            ctx.fail(f"invalid sparse matrix ({type(e).__name__}: {e})", self.path)
        return m


class BSplineN(Node):
    def __init__(self, inner, path):
        self.inner, self.path = inner, path

    def build(self, ctx):
        cls = ctx.resolve(T.helper_name("bspline"), self.path)
        d = self.inner.build(ctx)
        t, c, k = d.get("t", d.get("_t")), d.get("c", d.get("_c")), d.get("k", d.get("_k"))
        try:
            return cls(t, c, k, extrapolate=d.get("extrapolate", True), axis=d.get("axis", 0))
        except Exception as e:
            ctx.fail(f"invalid B-spline ({type(e).__name__}: {e})", self.path)


class CFNodeN(Node):
    """A Birch ``_CFNode`` written in full (``attrs``) or only referred to by id (``attrs`` None)."""

    def __init__(self, node_id, attrs, path):
        self.node_id, self.attrs, self.path = node_id, attrs, path

    def build(self, ctx):
        obj = ctx.cf_node(self.node_id, self.path)
        if self.attrs is not None and self.node_id not in ctx.cf_filled:
            ctx.cf_filled.add(self.node_id)
            d = obj.__dict__
            for k, n in self.attrs:
                d[k] = n.build(ctx)
            for k in ("init_centroids_", "init_sq_norm_"):  # plain lists in nested nodes (see the writer)
                if isinstance(d.get(k), list):
                    leaves = []
                    V.collect_numbers(d[k], leaves, f"{self.path}.{k}", ctx.fail)
                    arr = np.array(d[k], dtype=np.float64) if leaves or not d[k] else None
                    d[k] = arr
        return obj


class CFSubclustersN(Node):
    def __init__(self, items, path):
        self.items, self.path = items, path  # [(attrs, path)]

    def build(self, ctx):
        cls = ctx.resolve(T.helper_name("cf_subcluster"), self.path)
        out = []
        for attrs, _p in self.items:
            s = cls.__new__(cls)
            for k, n in attrs:
                s.__dict__[k] = n.build(ctx)
            out.append(s)
        return out


# ------------------------------------------------------------------------------------------------ build context

class _Ctx:
    def __init__(self, trust, trusted, fail):
        self.trust, self.trusted, self.fail = trust, trusted, fail
        self._resolved = {}
        self.cf_nodes, self.cf_filled, self.cf_paths = {}, set(), {}
        self.checks = []
        from ..transport import registry
        self.tables = registry.tables()

    def validate(self, obj, qual, data_path):
        """Queue milo_fast's validators of ``qual`` for ``obj`` (run by ``run_checks`` once all is built); the
        model's attributes are directly under ``data_path``."""
        checks = self.tables.validators_for(qual, type(obj))
        if checks:
            from ..transport._core import AttrRoot
            self.checks.append((checks, obj, qual, AttrRoot(data_path)))

    def run_checks(self):
        from ..transport._core import run_checks
        try:
            run_checks(self.checks)
        except ValidationError as e:
            if self.fail.source:
                raise ValidationError(f"{e} in {self.fail.source}") from None
            raise

    def resolve(self, qual, path):
        obj = self._resolved.get(qual)
        if obj is None:
            obj = self._resolved[qual] = self.trust.resolve(qual, path, self.trusted)
        return obj

    def cf_node(self, node_id, path):
        obj = self.cf_nodes.get(node_id)
        if obj is None:
            cls = self.resolve(T.helper_name("cf_node"), path)
            obj = self.cf_nodes[node_id] = cls.__new__(cls)
            self.cf_paths[node_id] = path
        return obj

    def finish(self):
        missing = [i for i in self.cf_nodes if i not in self.cf_filled]
        if missing:
            self.fail(f"Birch node {missing[0]!r} is referred to but never written", self.cf_paths[missing[0]])


# ------------------------------------------------------------------------------------------------ parser

def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class _Parser:
    def __init__(self, fail, budget):
        self.fail = fail
        self.budget = budget
        self.names: list[tuple[str, str]] = []

    def name(self, qual, path):
        self.names.append((qual, path))
        return qual

    def helper(self, key, path):
        return self.name(T.helper_name(key), path)

    # ---- generic values
    def parse(self, v, path, depth=0):
        if depth > MAX_DEPTH:
            self.fail(f"the document nests deeper than {MAX_DEPTH} levels", path)
        if v is None or isinstance(v, (bool, int, float, str)):
            return Lit(v)
        if isinstance(v, (np.ndarray, np.generic)):
            return Lit(v)
        if isinstance(v, list):
            return ListN([self.parse(x, f"{path}[{i}]", depth + 1) for i, x in enumerate(v)])
        if isinstance(v, tuple):
            return TupleN([self.parse(x, f"{path}[{i}]", depth + 1) for i, x in enumerate(v)])
        if isinstance(v, dict):
            n = self.parse_dict(v, path, depth)
            if n.path == "$":
                n.path = path
            return n
        self.fail(f"unexpected value of type {type(v).__name__}", path)

    def need(self, d, key, path, check=None, what=None):
        if not isinstance(d, dict) or key not in d:
            self.fail(f"missing key {key!r}", path)
        v = d[key]
        if check is not None and not check(v):
            self.fail(f"{key!r} must be {what}", f"{path}.{key}")
        return v

    def parse_dict(self, v, path, depth):
        d1 = depth + 1
        if ENV_DS in v:
            ds = v[ENV_DS]
            if ds == "numpy.ndarray" and ENV_LIST in v:
                return self.parse_array(v, path, d1)
            if ds == "TreePredictor":
                return self.parse_predictor(v, path, d1)
            if ds == "list of (str, estimator) tuples":
                items = self.need(v, "pymiloed-data", path, lambda x: isinstance(x, list), "a list")
                out = []
                for i, it in enumerate(items):
                    p = f"{path}.pymiloed-data[{i}]"
                    if not isinstance(it, list) or len(it) != 2:
                        self.fail("a step must be a [name, estimator] pair", p)
                    out.append(TupleN([self.parse(it[0], f"{p}[0]", d1), self.parse(it[1], f"{p}[1]", d1)]))
                return ListN(out)
            self.fail(f"unknown {ENV_DS} {ds!r}", f"{path}.{ENV_DS}")
        if "pymilo-tuple" in v:
            items = self.need(v, "pymilo-tuple", path, lambda x: isinstance(x, list), "a list")
            return TupleN([self.parse(x, f"{path}.pymilo-tuple[{i}]", d1) for i, x in enumerate(items)])
        if "pymilo-set" in v:
            items = self.need(v, "pymilo-set", path, lambda x: isinstance(x, list), "a list")
            return SetN([self.parse(x, f"{path}.pymilo-set[{i}]", d1) for i, x in enumerate(items)])
        if "pymilo-slice" in v:
            args = []
            for k in ("start", "stop", "step"):
                a = v.get(k)
                if a is not None and not _is_int(a):
                    self.fail("slice bounds must be integers or null", f"{path}.{k}")
                args.append(a)
            return SliceN(*args)
        if "np-type" in v:
            if "key-value" in v:
                self.fail("an np-type key tag outside a dictionary key", path)
            return self.parse_np(v, path)
        if "function_name" in v or "function_module" in v:
            name = self.need(v, "function_name", path, lambda x: isinstance(x, str), "a string")
            module = self.need(v, "function_module", path, lambda x: isinstance(x, str), "a string")
            return FuncN(self.name(f"{module}.{name}", path), path)
        if "pymilo-inner-model-type" in v:
            return self.parse_model(v.get("pymilo-inner-model-type"), v.get("pymilo-inner-model-data"), path,
                                    "pymilo-inner-model-type", "pymilo-inner-model-data", d1, T.TOP_LEVEL)
        if "pymilo-preprocessing-type" in v:
            name = v["pymilo-preprocessing-type"]
            if name == "BSpline":
                self.helper("bspline", f"{path}.pymilo-preprocessing-type")
                inner = self.need(v, "pymilo-preprocessing-data", path, lambda x: isinstance(x, dict), "an object")
                # Only the spline's parameters are read; the constructor sets the rest (PyMilo also writes the
                # array-namespace helper function it holds, which is neither needed nor imported).
                keep = {k: x for k, x in inner.items() if k in ("t", "c", "k", "_t", "_c", "_k", "extrapolate", "axis")}
                return BSplineN(self.parse_plain_dict(keep, f"{path}.pymilo-preprocessing-data", d1), path)
            return self.parse_model(name, v.get("pymilo-preprocessing-data"), path, "pymilo-preprocessing-type",
                                    "pymilo-preprocessing-data", d1, ("PREPROCESSING",))
        if "pymilo-feature_extraction-type" in v:
            return self.parse_model(v["pymilo-feature_extraction-type"], v.get("pymilo-feature_extraction-data"),
                                    path, "pymilo-feature_extraction-type", "pymilo-feature_extraction-data", d1,
                                    ("FEATURE_EXTRACTION",))
        if "pymilo-tree" in v:
            self.helper("tree", f"{path}.pymilo-tree")
            return TreeN(V.parse_tree_spec(v["pymilo-tree"], f"{path}.pymilo-tree", self.fail), path)
        if "pymilo-binmapper" in v:
            inner = self.need(v, "pymilo-binmapper", path, lambda x: isinstance(x, dict), "an object")
            attrs = self.need(inner, "__dict__", f"{path}.pymilo-binmapper", lambda x: isinstance(x, dict),
                              "an object")
            p = f"{path}.pymilo-binmapper.__dict__"
            return EstimatorN(self.helper("bin_mapper", path), "_BinMapper", "helper",
                              self.parse_attrs(attrs, p, d1), path)
        if "pymilo-randomstate" in v:
            return self.parse_random_state(v["pymilo-randomstate"], f"{path}.pymilo-randomstate")
        if "pymilo-generator" in v:
            self.helper("generator", path)
            g = self.need(v, "pymilo-generator", path, lambda x: isinstance(x, dict), "an object")
            state = g.get("state")
            p = f"{path}.pymilo-generator.state"
            if state is None:
                return GeneratorN(self.name(T.BIT_GENERATORS["PCG64"], p), None, path)
            bg = self.need(state, "bit_generator", p, lambda x: isinstance(x, str) and x in T.BIT_GENERATORS,
                           "a numpy bit generator name")
            return GeneratorN(self.name(T.BIT_GENERATORS[bg], f"{p}.bit_generator"),
                              self.parse_plain_dict(state, p, d1), path)
        if "pymilo-bunch" in v:
            self.helper("bunch", path)
            inner = self.need(v, "pymilo-bunch", path, lambda x: isinstance(x, dict), "an object")
            return BunchN(self.parse_plain_dict(inner, f"{path}.pymilo-bunch", d1), path)
        if "pymilo-csr_matrix" in v:
            self.helper("csr_matrix", path)
            inner = self.need(v, "pymilo-csr_matrix", path, lambda x: isinstance(x, dict), "an object")
            return CsrN(self.parse_plain_dict(inner, f"{path}.pymilo-csr_matrix", d1), path)
        if "pymilo-tree-type" in v:
            kind = v["pymilo-tree-type"]
            if not isinstance(kind, str) or kind not in ("KDTree", "BallTree"):
                self.fail("pymilo-tree-type must be 'KDTree' or 'BallTree'", f"{path}.pymilo-tree-type")
            qual = self.helper("kd_tree" if kind == "KDTree" else "ball_tree", f"{path}.pymilo-tree-type")
            return DeferredN("neighbors_tree", None, path, qual)
        if "pymilo-sgd-loss" in v:
            loss = self.need(v, "pymilo-sgd-loss", path, lambda x: isinstance(x, str), "a string")
            return DeferredN("sgd_loss", loss, path)
        if "pymilo-ensemble-loss" in v:
            e = self.need(v, "pymilo-ensemble-loss", path, lambda x: isinstance(x, dict), "an object")
            p = f"{path}.pymilo-ensemble-loss"
            key = "hessians_are_constant" if "hessians_are_constant" in e else "constant_hessian"
            const = self.need(e, key, p, lambda x: isinstance(x, bool), "true or false")
            return DeferredN("ensemble_loss", const, path)
        if "pymilo_glm_base_loss" in v:
            return DeferredN("glm_loss", None, path)
        if "pymilo-adamoptimizer" in v:
            o = self.need(v, "pymilo-adamoptimizer", path, lambda x: isinstance(x, dict), "an object")
            p = f"{path}.pymilo-adamoptimizer"
            kw = {k: self.need(o, k, p, _is_num, "a number") for k in ("beta_1", "beta_2", "epsilon")}
            return DeferredN("adam", kw, path, self.helper("adam", path))
        if "pymilo-sgdoptimizer" in v:
            o = self.need(v, "pymilo-sgdoptimizer", path, lambda x: isinstance(x, dict), "an object")
            p = f"{path}.pymilo-sgdoptimizer"
            kw = {"learning_rate": self.need(o, "learning_rate", p, _is_num, "a number"),
                  "momentum": self.need(o, "momentum", p, _is_num, "a number"),
                  "nesterov": self.need(o, "nesterov", p, lambda x: isinstance(x, bool), "true or false")}
            return DeferredN("sgd_optimizer", kw, path, self.helper("sgd_optimizer", path))
        if "pymilo_model_type" in v:
            return self.parse_pymilo_model_type(v, path, d1)
        return self.parse_plain_dict(v, path, depth)

    def parse_plain_dict(self, v, path, depth):
        pairs = []
        for k, x in v.items():
            p = f"{path}.{k}"
            if isinstance(x, dict) and "np-type" in x and "key-value" in x:  # an integer key PyMilo tagged
                tag = x["np-type"]
                if not isinstance(tag, str) or tag not in T.NP_SCALAR_TYPES or tag == "numpy.float64":
                    self.fail(f"unsupported key type {tag!r}", f"{p}.np-type")
                try:
                    ival = int(k)
                except ValueError:
                    self.fail(f"key {k!r} is not an integer", p)
                qual = self.name(T.NP_SCALAR_TYPES[tag], f"{p}.np-type")
                V.check_int_range(ival, qual, p, self.fail)
                pairs.append((ScalarN(qual, ival, p), self.parse(x["key-value"], f"{p}.key-value", depth + 1)))
            else:
                pairs.append((k, self.parse(x, p, depth + 1)))
        return DictN(pairs, path)

    def parse_attrs(self, v, path, depth):
        if not isinstance(v, dict):
            self.fail("a model's data must be an object", path)
        return [(k, self.parse(x, f"{path}.{k}", depth + 1)) for k, x in v.items()]

    def parse_np(self, v, path):
        tag = v["np-type"]
        p = f"{path}.np-type"
        if not isinstance(tag, str):
            self.fail("np-type must be a string", p)
        if tag == "numpy.infinity":
            return ScalarN(self.name("numpy.float64", p), math.inf, path)
        if tag == "numpy.nan":
            return Lit(math.nan)
        if tag == "numpy.dtype":
            val = self.need(v, "value", path, lambda x: isinstance(x, str) and x in T.NP_SCALAR_TYPES,
                            "a numpy scalar type name")
            return TypeRefN(self.name(T.NP_SCALAR_TYPES[val], f"{path}.value"), path)
        if tag not in T.NP_SCALAR_TYPES:
            self.fail(f"unknown np-type {tag!r}", p)
        qual = self.name(T.NP_SCALAR_TYPES[tag], p)
        if "value" not in v:  # PyMilo drops NaN values of numpy floats (they are not JSON to Python's json)
            if qual != "numpy.float64":
                self.fail("missing key 'value'", path)
            return ScalarN(qual, math.nan, path)
        val = v["value"]
        if qual == "numpy.float64":
            if not _is_num(val):
                self.fail("a numpy.float64 value must be a number", f"{path}.value")
        else:
            if not _is_int(val):
                self.fail(f"a {qual} value must be an integer", f"{path}.value")
            V.check_int_range(val, qual, f"{path}.value", self.fail)
        return ScalarN(qual, val, path)

    def parse_model(self, name, data, path, tkey, dkey, depth, kinds):
        tpath = f"{path}.{tkey}"
        if not isinstance(name, str):
            self.fail(f"{tkey!r} must be a string", tpath)
        kind = T.kind_of_name(name)
        qual = T.qualified_name_for(name) if kind in kinds else None
        if qual is None:
            # Not a model PyMilo can carry here: let the audit report it (it is untrusted unless the caller
            # trusted this exact name), then refuse it anyway, since PyMilo's format has no such model.
            self.names.append((name, tpath))
            return _UnknownModelN(name, tpath)
        self.name(qual, tpath)
        if not isinstance(data, dict):
            self.fail(f"{dkey!r} must be an object", f"{path}.{dkey}")
        return EstimatorN(qual, name, kind, self.parse_attrs(data, f"{path}.{dkey}", depth), path,
                          data_path=f"{path}.{dkey}")

    def parse_array(self, v, path, depth):
        items = v[ENV_LIST]
        dt = v.get(ENV_DTYPE)
        shape = v.get(ENV_SHAPE)
        pd, ps, pl = f"{path}.{ENV_DTYPE}", f"{path}.{ENV_SHAPE}", f"{path}.{ENV_LIST}"
        if not isinstance(dt, str):
            self.fail("an array dtype must be a string", pd, DecodeError)
        if shape is not None:
            if (not isinstance(shape, list) or not all(_is_int(s) and 0 <= s <= 2 ** 40 for s in shape)
                    or len(shape) > 32):
                self.fail("an array shape must be a list of non-negative integers", ps, DecodeError)
            if math.prod(s for s in shape if s) >= 1 << 56:
                self.fail("an array shape too large to represent", ps, DecodeError)
            shape = tuple(shape)
        if dt == "object":
            if shape is None:  # PyMilo's ndarray of models: a flat list whose items may be nested arrays
                if not isinstance(items, list):
                    self.fail("array items must be a list", pl, DecodeError)
                return ArrayN("object", None, None,
                              [self.parse(x, f"{pl}[{i}]", depth + 1) for i, x in enumerate(items)], path)
            leaves = V.flatten_to_shape(items, shape, pl, self.fail)
            self.budget.charge(len(leaves), 8 * len(leaves), pl)
            return ArrayN("object", None, shape, [self.parse(x, p, depth + 1) for x, p in leaves], path)
        if shape is None:  # PyMilo leaves the shape out of arrays that went through its "arrays of models" path
            shape = V.infer_shape(items, pl, self.fail)
        m = _UNICODE_RE.match(dt)
        if m:
            leaves = V.flatten_to_shape(items, shape, pl, self.fail)
            for x, p in leaves:
                if not isinstance(x, str):
                    self.fail("expected a string", p, DecodeError)
            width = max(int(m.group(1)), 1)
            self.budget.charge(len(leaves), 4 * width * len(leaves), pl)  # a short string can claim a wide dtype
            arr = np.array([x for x, _ in leaves], dtype=np.dtype(f"<U{width}"))
            if any(len(x) > int(m.group(1)) for x, _ in leaves):
                self.fail(f"a string is longer than the dtype {dt} allows", pl, DecodeError)
            return ArrayN("values", None, shape, arr.reshape(shape), path)
        if dt.startswith("["):
            dtype = self.structured_dtype(dt, pd)
            n = math.prod(shape)
            self.budget.charge(n, n * dtype.itemsize, pl)
            return ArrayN("values", None, shape, V.structured_array(items, shape, dtype, pl, self.fail), path)
        try:
            simple = _dtypes.spec_to_dtype(dt)
        except ValueError:
            simple = None
        if simple is None:
            self.fail(f"unsupported array dtype {dt!r}", pd, DecodeError)
        leaves = V.flatten_to_shape(items, shape, pl, self.fail)
        self.budget.charge(len(leaves), len(leaves) * simple.itemsize, pl)
        return ArrayN("values", None, shape, V.numeric_column([x for x, _ in leaves], simple, pl,
                                                              self.fail).reshape(shape), path)

    def structured_dtype(self, text, path):
        if len(text) > 20000:
            self.fail("structured dtype text is too long", path, DecodeError)
        try:
            spec = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            self.fail("malformed structured dtype", path, DecodeError)
        if not isinstance(spec, list) or not spec:
            self.fail("a structured dtype must be a non-empty list of (name, format) pairs", path, DecodeError)
        fields = []
        for f in spec:
            if (not isinstance(f, tuple) or len(f) != 2 or not isinstance(f[0], str) or not f[0]
                    or f[1] not in _SIMPLE_FORMATS):
                self.fail(f"unsupported structured dtype field {f!r}", path, DecodeError)
            fields.append(f)
        try:
            return np.dtype(fields)
        except (TypeError, ValueError) as e:
            self.fail(f"invalid structured dtype ({e})", path, DecodeError)

    def parse_predictor(self, v, path, depth):
        self.helper("tree_predictor", path)
        d = self.need(v, "pymiloed-data", path, lambda x: isinstance(x, dict), "an object")
        p = f"{path}.pymiloed-data"
        nodes = self.need(d, "nodes", p, lambda x: isinstance(x, (dict, np.ndarray)), "an array")
        if isinstance(nodes, dict):
            an = self.parse(nodes, f"{p}.nodes", depth)
            if not isinstance(an, ArrayN) or an.kind != "values" or an.items.dtype.names is None:
                self.fail("TreePredictor nodes must be a structured array", f"{p}.nodes")
            nodes = an.items
        binned = self.parse(self.need(d, "binned_left_cat_bitsets", p), f"{p}.binned_left_cat_bitsets", depth)
        raw = self.parse(self.need(d, "raw_left_cat_bitsets", p), f"{p}.raw_left_cat_bitsets", depth)
        return PredictorN(nodes, binned, raw, path)

    def parse_random_state(self, s, path):
        self.helper("random_state", path)
        if not isinstance(s, list) or len(s) != 5:
            self.fail("a RandomState state must be [name, keys, pos, has_gauss, cached_gaussian]", path)
        name, keys, pos, has_gauss, cached = s
        if name != "MT19937":
            self.fail("only MT19937 RandomState states are supported", f"{path}[0]")
        if isinstance(keys, np.ndarray):
            keys = keys.tolist()
        if not isinstance(keys, list) or len(keys) != 624:
            self.fail("RandomState keys must be a list of 624 integers", f"{path}[1]")
        karr = V.numeric_column(keys, np.dtype(np.uint32), f"{path}[1]", self.fail)
        if not _is_int(pos) or not 0 <= pos <= 624:
            self.fail("RandomState pos must be an integer in [0, 624]", f"{path}[2]")
        if not _is_int(has_gauss) or has_gauss not in (0, 1):
            self.fail("RandomState has_gauss must be 0 or 1", f"{path}[3]")
        if not _is_num(cached):
            self.fail("RandomState cached_gaussian must be a number", f"{path}[4]")
        return RandomStateN(("MT19937", karr, pos, has_gauss, float(cached)), path)

    def parse_pymilo_model_type(self, v, path, depth):
        t = v["pymilo_model_type"]
        if t == "_CFNode":
            if "pymilo_cfnode_value" in v:  # a reference: the node in full, or a marker for one seen before
                nid = self.need(v, "pymilo_cfnode_id", path, lambda x: isinstance(x, str), "a string")
                val = v["pymilo_cfnode_value"]
                p = f"{path}.pymilo_cfnode_value"
                if val == "PYMILO_CFNODE_RECURSION":
                    self.helper("cf_node", path)
                    return CFNodeN(nid, None, path)
                if not isinstance(val, dict) or val.get("pymilo_model_type") != "_CFNode":
                    self.fail("expected a Birch node", p)
                n = self.parse_pymilo_model_type(val, p, depth)
                if n.node_id != nid:
                    self.fail("the node's id differs from the reference's", p)
                return n
            nid = self.need(v, "pymilo_cfnode_id", path, lambda x: isinstance(x, str), "a string")
            self.helper("cf_node", path)
            attrs = [(k, self.parse(x, f"{path}.{k}", depth + 1)) for k, x in v.items()
                     if k not in ("pymilo_cfnode_id", "pymilo_model_type")]
            return CFNodeN(nid, attrs, path)
        if t == "_CFSubcluster":
            items = self.need(v, "pymilo_subclusters_value", path, lambda x: isinstance(x, list), "a list")
            self.helper("cf_subcluster", path)
            out = []
            for i, s in enumerate(items):
                p = f"{path}.pymilo_subclusters_value[{i}]"
                out.append((self.parse_attrs(s, p, depth), p))
            return CFSubclustersN(out, path)
        if t == "_BisectingTree":
            attrs = self.parse_attrs(v, path, depth)
            return EstimatorN(self.helper("bisecting_tree", path), "_BisectingTree", "helper", attrs, path,
                              drop=("pymilo_model_type",))
        self.fail(f"unknown pymilo_model_type {t!r}", f"{path}.pymilo_model_type")


class _UnknownModelN(Node):
    def __init__(self, name, path):
        self.name, self.path = name, path

    def build(self, ctx):
        ctx.fail(f"{self.name!r} is not a model PyMilo 1.6 supports here", self.path)


# ------------------------------------------------------------------------------------------------ entry point

def parse(doc, *, path, source, budget=None):
    """Phase 1 only: (node tree, [(qualified name, JSON path)]); nothing the document names is imported.
    Arrays built here from JSON lists are charged to ``budget`` (default limits) before they are allocated."""
    fail = _Fail(source)
    if not isinstance(doc, dict):
        fail("a PyMilo document must be a JSON object", path)
    if budget is None:
        from ..limits import Budget
        budget = Budget()
    parser = _Parser(fail, budget)
    model_type = doc.get("model_type")
    if "data" not in doc or "model_type" not in doc:
        fail("a PyMilo document needs the keys 'data' and 'model_type'", path)
    try:
        tree = parser.parse_model(model_type, doc["data"], path, "model_type", "data", 0,
                                  T.TOP_LEVEL + ("PREPROCESSING", "FEATURE_EXTRACTION"))
    except MiloError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as e:
        # a value of a kind the parser did not anticipate (each marker checks what it expects; this is the backstop)
        fail(f"malformed PyMilo document ({type(e).__name__}: {e})", path, DecodeError)
    return tree, parser.names


def read(doc, *, trust, trusted, path, source, budget=None):
    fail = _Fail(source)
    tree, names = parse(doc, path=path, source=source, budget=budget)
    trusted = frozenset(trusted)
    trust.audit(names, trusted)
    ctx = _Ctx(trust, trusted, fail)
    try:
        model = tree.build(ctx)
        ctx.finish()
        ctx.run_checks()
    except RecursionError:
        fail("the document nests too deeply to be built", path)
    except MiloError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as e:
        # a value of a kind no builder anticipated (each builder checks what it expects; this is the backstop)
        fail(f"malformed PyMilo document ({type(e).__name__}: {e})", path)
    return model

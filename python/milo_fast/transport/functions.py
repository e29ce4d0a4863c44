"""Functions, by qualified name only: ``{"milo:function": "numpy.log1p"}``.

A function is never written as code. On export it must be reachable by its name (a module-level function, a
numpy ufunc, a compiled function) — a lambda, a function defined inside another, or a bound method raises
ExportError — and it must be on the allow-list (trust.FUNCTIONS, every numpy ufunc, or ``trusted=``). On import
the name is resolved through trust.resolve, after the audit.

``functools.partial`` objects are written as ``{"milo:object": "functools.partial", "state": {"func": ...,
"args": [...], "keywords": {...}}}``: the wrapped function goes through the same rules.
"""
from __future__ import annotations

import functools
import sys
import types

import numpy as np

from ..errors import ExportError
from ._core import ObjectHandler, Transporter, expect, key_path, lookup_by_name, qualified_name

_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, np.ufunc)
_UFUNC_MODULES = ("numpy", "scipy.special")
_FUNCTION_TYPE_NAMES = frozenset({"cython_function_or_method", "fused_cython_function", "_ArrayFunctionDispatcher"})


def function_name(obj, path: str) -> str:
    """The qualified name a function is written under; ExportError if it has none that finds it again."""
    if isinstance(obj, np.ufunc):  # ufuncs have no __module__: look in the namespaces that export them
        for modname in _UFUNC_MODULES:
            mod = sys.modules.get(modname)
            if mod is not None and getattr(mod, obj.__name__, None) is obj:
                return f"{modname}.{obj.__name__}"
        raise ExportError(f"the ufunc {obj.__name__} at {path} is found neither in numpy nor in scipy.special")
    owner = getattr(obj, "__self__", None)
    if isinstance(obj, types.MethodType) or (owner is not None and not isinstance(owner, types.ModuleType)):
        raise ExportError(f"a bound method ({getattr(obj, '__qualname__', obj)!s}) at {path} cannot be written: "
                          "milo_fast writes functions by name only")
    qn = qualified_name(obj)
    if "<lambda>" in qn:
        raise ExportError(f"a lambda at {path} cannot be written: milo_fast writes functions by name only; "
                          "use a module-level function (or a numpy function)")
    if "<locals>" in qn:
        raise ExportError(f"the locally defined function {qn} at {path} cannot be written: milo_fast writes "
                          "functions by name only; define it at module level")
    if lookup_by_name(qn) is not obj:
        raise ExportError(f"the function {qn} at {path} cannot be found again by its name")
    return qn


class FunctionT(Transporter):
    kind = "milo:function"
    fallback = True

    def match(self, obj):
        return isinstance(obj, _FUNCTION_TYPES) or type(obj).__name__ in _FUNCTION_TYPE_NAMES

    def encode(self, obj, enc, path):
        qn = function_name(obj, path)
        if not enc.is_trusted(qn):
            raise ExportError(f"the function {qn} at {path} is not on milo_fast's allow-list; a file naming it "
                              f"would not load (pass trusted=[{qn!r}] to both dump and load if you trust it)")
        return {self.kind: qn}

    def names(self, node, path):
        return [(node[self.kind], key_path(path, self.kind))]

    def decode(self, node, dec, path):
        p = key_path(path, self.kind)
        obj = dec.resolve(node[self.kind], p)
        expect(callable(obj) and not isinstance(obj, type), p, f"{node[self.kind]} to be a function")
        return obj


class PartialHandler(ObjectHandler):
    classes = ("functools.partial",)

    def encode(self, obj, enc, path, node):
        if obj.__reduce__()[2][3]:  # its __dict__, read without creating an empty one
            raise ExportError(f"a functools.partial with attributes at {path} cannot be written")
        p = key_path(path, "state")
        node["state"] = {"func": enc.encode(obj.func, key_path(p, "func")),
                         "args": [enc.encode(a, key_path(key_path(p, "args"), i)) for i, a in enumerate(obj.args)],
                         "keywords": enc.encode(dict(obj.keywords), key_path(p, "keywords"))}

    def construct(self, cls, node, dec, path):
        st = node.get("state")
        p = key_path(path, "state")
        expect(type(st) is dict and set(st) == {"func", "args", "keywords"}, p, "{func, args, keywords}")
        func = dec.decode(st["func"], key_path(p, "func"))
        args = dec.decode(st["args"], key_path(p, "args"))
        kw = dec.decode(st["keywords"], key_path(p, "keywords"))
        expect(callable(func), key_path(p, "func"), "a function")
        expect(type(args) is list, key_path(p, "args"), "a list")
        expect(type(kw) is dict and all(type(k) is str for k in kw), key_path(p, "keywords"), "a dict")
        return functools.partial(func, *args, **kw)


TRANSPORTERS = [FunctionT()]
HANDLERS = [PartialHandler()]

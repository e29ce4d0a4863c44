"""Objects of allowed classes: ``{"milo:object": "module.QualName", "args": [...], "state": ..., ...}``.

The last link of the chain. For a class with a dedicated handler (compiled types, sparse matrices, random
generators: see the other families) the handler writes and rebuilds the node. Every other class is written
the way pickle's reduce protocol describes it, but declaratively: only classes that keep the default
``__reduce_ex__`` (plain Python classes: estimators, kernels, loss wrappers, Bunch ...) qualify, and only their
state is written — never a callable:

    {"milo:object": qn, "args": [...] (__getnewargs__, if any), "state": <__getstate__()>,
     "list": [...] (list subclasses), "items": [[k, v], ...] (dict subclasses)}

Import: ``cls.__new__(cls, *args)``, registered for references, then ``__setstate__(state)`` if the class defines
it, else ``__dict__.update(state)`` (and slots), exactly as pickle does — for allowed classes only.
"""
from __future__ import annotations

import copyreg
from types import FunctionType

from ..errors import ExportError, ValidationError
from ._core import ID, ObjectHandler, Transporter, expect, key_path, qualified_name

_name_cache: dict = {}


def class_name(cls) -> str:
    qn = _name_cache.get(cls)
    if qn is None:
        qn = _name_cache[cls] = qualified_name(cls)
    return qn


def default_reduce(cls) -> bool:
    """True for classes that pickle through the default reduce protocol (no custom __reduce__/__reduce_ex__)."""
    return (getattr(cls, "__reduce_ex__", None) is object.__reduce_ex__
            and getattr(cls, "__reduce__", None) is object.__reduce__)


DEFER_DEPTH = 24  # objects nested deeper than this are written out of line when they can be (GraphT)


def deferrable(cls) -> bool:
    """Classes whose instances can be created empty and filled later: default reduce, no __setstate__,
    not a container subclass. Their state is a plain attribute dict, so filling order cannot matter."""
    return (default_reduce(cls) and getattr(cls, "__setstate__", None) is None
            and not issubclass(cls, (list, dict, tuple, set, frozenset)) and cls.__new__ is object.__new__)


def set_state(obj, state, path: str) -> None:
    """pickle's BUILD: ``__setstate__`` if defined, else update ``__dict__`` (and slots)."""
    setstate = getattr(obj, "__setstate__", None)
    if setstate is not None:
        setstate(state)
        return
    slotstate = None
    if type(state) is tuple and len(state) == 2:
        state, slotstate = state
    if state:
        expect(type(state) is dict and all(type(k) is str for k in state), path, "a dict of attributes")
        obj.__dict__.update(state)
    if slotstate:
        expect(type(slotstate) is dict and all(type(k) is str for k in slotstate), path, "a dict of slots")
        for k, v in slotstate.items():
            setattr(obj, k, v)


class ObjectT(Transporter):
    kind = "milo:object"
    aux = frozenset({"args", "state", "list", "items"})
    memo = True
    fallback = True

    def match(self, obj):
        return True

    def encode(self, obj, enc, path):
        cls = type(obj)
        qn = class_name(cls)
        if "<" in qn:
            raise ExportError(f"an instance of the locally defined class {qn} at {path} cannot be written")
        if not enc.is_trusted(qn):
            raise ExportError(f"an instance of {qn} at {path} cannot be written: the class is not on milo_fast's "
                              f"allow-list (a user-defined or unsupported class); pass trusted=[{qn!r}] to both "
                              "dump and load if you trust it")
        node = {self.kind: qn}
        handler = enc.tables.handlers.get(qn)
        if handler is not None:
            handler.encode(obj, enc, path, node)
            return node
        if enc.object_depth >= DEFER_DEPTH and deferrable(cls):
            del enc._memo[id(obj)]  # it is memoized again, as a deferred entry
            return enc.defer(obj)
        enc.object_depth += 1
        try:
            return self._encode_generic(obj, cls, qn, enc, path, node)
        finally:
            enc.object_depth -= 1

    def _encode_generic(self, obj, cls, qn, enc, path, node):
        if not default_reduce(cls):
            raise ExportError(f"an instance of {qn} at {path} cannot be written: it is a compiled or custom-pickled "
                              "type and milo_fast has no transporter for it")
        try:
            rv = obj.__reduce_ex__(4)
        except Exception as e:
            raise ExportError(f"an instance of {qn} at {path} cannot be written: {e}") from None
        if not (isinstance(rv, tuple) and rv[0] is copyreg.__newobj__ and rv[1] and rv[1][0] is cls):
            raise ExportError(f"an instance of {qn} at {path} does not reduce to its class and state")
        args = rv[1][1:]
        if args:
            p = key_path(path, "args")
            node["args"] = [enc.encode(a, key_path(p, i)) for i, a in enumerate(args)]
        state = rv[2] if len(rv) > 2 else None
        if state is not None:
            node["state"] = enc.encode(state, key_path(path, "state"))
        if len(rv) > 3 and rv[3] is not None:
            p = key_path(path, "list")
            node["list"] = [enc.encode(v, key_path(p, i)) for i, v in enumerate(rv[3])]
        if len(rv) > 4 and rv[4] is not None:
            p = key_path(path, "items")
            node["items"] = [[enc.encode(k, key_path(key_path(p, i), 0)), enc.encode(v, key_path(key_path(p, i), 1))]
                             for i, (k, v) in enumerate(rv[4])]
        return node

    def names(self, node, path):
        return [(node[self.kind], key_path(path, self.kind))]

    def _plan(self, qn, dec, path):
        """``(cls, handler, refused, checks, setstate, decode_state)`` for the class a node names, after every check
        that depends on the name alone: its handler (or None) and the node keys the handler refuses; for a class
        rebuilt generically, the validators of its instances, its ``__setstate__`` (None: pickle's default BUILD) and
        its family's shortcut for decoding its state (None: the Decoder's walk). Kept in ``dec.plans`` for the rest of
        this load (a forest names the same two classes a hundred times)."""
        cls = dec.resolve(qn, key_path(path, self.kind))
        expect(isinstance(cls, type), key_path(path, self.kind), f"{qn} to be a class")
        handler = dec.tables.handlers.get(qn)
        if handler is None:
            if not default_reduce(cls):
                raise ValidationError(f"{qn} at {path} is a compiled or custom-pickled type that milo_fast has no "
                                      "transporter for; it cannot be rebuilt safely")
            if issubclass(cls, type) or (cls.__module__ == "builtins" and cls is not object):
                # built-in values have their own markers; `type(name, bases, dict)` would make a class, and
                # `bytes(10**10)` allocate, from a few bytes of document
                raise ValidationError(f"{qn} at {path} cannot be rebuilt as an object (built-in values have their "
                                      "own markers)")
        # with a handler: the keys of a generic node that the handler's nodes must not have
        refused = frozenset(self.aux - handler.aux) if handler is not None else frozenset()
        checks = dec.tables.validators_for(qn, cls) if handler is None else ()
        setstate = getattr(cls, "__setstate__", None) if handler is None else None
        if type(setstate) is not FunctionType or cls.__new__ is not object.__new__:
            setstate = None  # (none, not a plain method, or objects that may come with attributes: set_state finds it)
        decode_state = dec.tables.state_decoders.get(qn) if handler is None else None
        plan = dec.plans[qn] = (cls, handler, refused, checks, setstate, decode_state)  # (resolve accepted qn: a str)
        return plan

    def decode(self, node, dec, path):
        qn = node[self.kind]
        plan = dec.plans.get(qn) if type(qn) is str else None
        cls, handler, refused, checks, setstate, decode_state = plan if plan is not None else self._plan(qn, dec, path)
        if handler is not None:
            if refused and not refused.isdisjoint(node):
                for k in node:
                    if k in refused:
                        raise ValidationError(f"unexpected key {k!r} in a {qn} node at {path}")
            return handler.construct(cls, node, dec, path)
        args = ()
        if "args" in node:
            p = key_path(path, "args")
            expect(type(node["args"]) is list, p, "a list")
            expect(not node["args"] or hasattr(cls, "__getnewargs__") or hasattr(cls, "__getnewargs_ex__"), p,
                   f"no arguments: {qn} is created without any")
            args = tuple(dec.decode(a, key_path(p, i)) for i, a in enumerate(node["args"]))
        try:
            obj = cls.__new__(cls, *args)
        except Exception as e:
            raise ValidationError(f"cannot create {qn} at {path}: {e}") from None
        if ID in node:
            dec.register(node, obj, path)
        if "state" in node:
            p = key_path(path, "state")
            state = decode_state(node["state"], dec, p) if decode_state is not None else None
            if state is None:  # (a shortcut returns a dict or None: not its usual state)
                state = dec.decode(node["state"], p)
            if state is not None:
                try:
                    if setstate is not None:  # obj is a bare instance of cls (object.__new__)
                        setstate(obj, state)
                    else:
                        set_state(obj, state, p)
                except ValidationError:
                    raise
                except Exception as e:
                    raise ValidationError(f"cannot set the state of {qn} at {p}: {e}") from None
        if "list" in node:
            p = key_path(path, "list")
            expect(type(node["list"]) is list and isinstance(obj, list), p, "list items for a list subclass")
            obj.extend(dec.decode(v, key_path(p, i)) for i, v in enumerate(node["list"]))
        if "items" in node:
            p = key_path(path, "items")
            expect(type(node["items"]) is list and isinstance(obj, dict), p, "dict items for a dict subclass")
            for i, kv in enumerate(node["items"]):
                expect(type(kv) is list and len(kv) == 2, key_path(p, i), "a [key, value] pair")
                k = dec.decode(kv[0], key_path(key_path(p, i), 0))
                try:
                    hash(k)
                except TypeError:
                    raise ValidationError(f"unhashable key at {p}[{i}][0]") from None
                obj[k] = dec.decode(kv[1], key_path(key_path(p, i), 1))
        if type(obj) is cls:  # (the plan's checks are those of cls)
            if checks:
                dec.queue_checks(checks, obj, qn, path)
        else:
            dec.validate(obj, qn, path)
        return obj


class BunchHandler(ObjectHandler):
    """sklearn.utils.Bunch (named_estimators_ ...): a dict subclass whose __setstate__ ignores its __dict__.

    Written like any dict subclass (items, and __dict__ as state) but rebuilt with ``Bunch()`` and the __dict__
    restored, so that its bookkeeping of deprecated keys survives (pickle loses it).
    """

    classes = ("sklearn.utils._bunch.Bunch",)
    aux = frozenset({"state", "items"})

    def encode(self, obj, enc, path, node):
        if obj.__dict__:
            node["state"] = enc.encode(dict(obj.__dict__), key_path(path, "state"))
        p = key_path(path, "items")
        node["items"] = [[enc.encode(k, key_path(key_path(p, i), 0)), enc.encode(v, key_path(key_path(p, i), 1))]
                         for i, (k, v) in enumerate(dict.items(obj))]

    def construct(self, cls, node, dec, path):
        obj = cls()
        obj.__dict__.clear()
        if ID in node:
            dec.register(node, obj, path)
        if "state" in node:
            p = key_path(path, "state")
            st = dec.decode(node["state"], p)
            expect(type(st) is dict and all(type(k) is str for k in st), p, "a dict of attributes")
            obj.__dict__.update(st)
        p = key_path(path, "items")
        items = node.get("items")
        expect(type(items) is list, p, "a list of [key, value] pairs")
        for i, kv in enumerate(items):
            expect(type(kv) is list and len(kv) == 2, key_path(p, i), "a [key, value] pair")
            k = dec.decode(kv[0], key_path(key_path(p, i), 0))
            try:
                hash(k)
            except TypeError:
                raise ValidationError(f"unhashable key at {p}[{i}][0]") from None
            dict.__setitem__(obj, k, dec.decode(kv[1], key_path(key_path(p, i), 1)))
        return obj


class GraphT(Transporter):
    """The root of a tree whose deeply nested objects were written out of line:

        {"milo:graph": <root node>, "objects": [{"milo:object": qn, "milo:id": n, "state": {...}}, ...]}

    References ``{"milo:ref": n}`` anywhere in the tree may point to these entries. Import: every entry is
    created empty first (``cls.__new__(cls)``; only classes that ``deferrable`` accepts), then the root is built,
    then each entry's state is decoded and set. This keeps documents shallow whatever the length of a chain.
    """

    kind = "milo:graph"
    aux = frozenset({"objects"})

    def decode(self, node, dec, path):
        entries = node.get("objects")
        pe = key_path(path, "objects")
        expect(type(entries) is list and entries, pe, "a non-empty list of objects")
        shells = []
        for i, e in enumerate(entries):
            p = key_path(pe, i)
            expect(type(e) is dict and "milo:object" in e and "milo:id" in e
                   and set(e) <= {"milo:object", "milo:id", "state"}, p, "an object with an id and a state")
            qn = e["milo:object"]
            cls = dec.resolve(qn, key_path(p, "milo:object"))
            expect(isinstance(cls, type) and dec.tables.handlers.get(qn) is None and deferrable(cls), p,
                   f"{qn} to be a class that can be written out of line")
            obj = cls.__new__(cls)
            dec.register(e, obj, p)
            shells.append(obj)
        root = dec.decode(node[self.kind], key_path(path, self.kind))
        for i, (e, obj) in enumerate(zip(entries, shells)):
            if "state" in e:
                p = key_path(key_path(pe, i), "state")
                state = dec.decode(e["state"], p)
                if state is not None:
                    set_state(obj, state, p)
            dec.validate(obj, e["milo:object"], key_path(pe, i))
        return root


def encode_deferred(enc, root_node, root: str):
    """Write the objects deferred while encoding ``root_node`` (and those they defer in turn)."""
    if not enc.deferred:
        return root_node
    obj_t = enc.tables.kinds[ObjectT.kind]
    entries = []
    pe = key_path(root, "objects")
    i = 0
    while i < len(enc.deferred):
        entry = enc.deferred[i]
        p = key_path(pe, i)
        node = {ObjectT.kind: class_name(type(entry.obj))}
        enc.attach_deferred(entry, node, p)
        enc.object_depth = 1
        obj_t._encode_generic(entry.obj, type(entry.obj), node[ObjectT.kind], enc, p, node)
        enc.object_depth = 0
        entries.append(node)
        i += 1
    return {GraphT.kind: root_node, "objects": entries}


TRANSPORTERS = [ObjectT(), GraphT()]
HANDLERS: list = [BunchHandler()]

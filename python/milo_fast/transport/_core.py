"""The machinery of the transporter chain: Encoder (values -> JSON-ready tree), Decoder (tree -> values) and the
audit walker that lists every name a tree mentions.

A *JSON-ready tree* is what ``milo_fast.codec`` writes: dicts with str keys, lists, str, int, float, bool, None,
numpy arrays and numpy scalars of numeric dtypes. Every other value is written as a *marker node*: a dict with
exactly one *kind key* from the ``milo:`` family (``{"milo:tuple": [...]}``, ``{"milo:object": "sklearn...",
"state": {...}}``), optionally beside the kind's auxiliary keys and ``"milo:id"``. Plain dicts whose keys could be
mistaken for markers (any key starting with ``milo`` or ``pymiloed``) or that have non-str keys are escaped as
``{"milo:dict": [[key, value], ...]}``. See docs/format.md, "Document".

Identity: a value that is reached twice (shared sub-estimators, Birch's linked leaves, cycles) is written once;
later occurrences are ``{"milo:ref": n}`` and the first occurrence carries ``"milo:id": n``. Dict-shaped nodes get
the id added in place; a shared list or array is wrapped as ``{"milo:shared": <node>, "milo:id": n}`` (found
in a first pass, written in a second one: rare).
"""
from __future__ import annotations

import json
import os
import sys
import threading
from contextlib import contextmanager
from functools import cached_property
from typing import Any, Iterable

from .. import trust
from ..errors import ExportError, MiloError, ValidationError

MARK = "milo:"
ID = "milo:id"
REF = "milo:ref"
SHARED = "milo:shared"
RESERVED_PREFIXES = ("milo", "pymiloed")  # plain-dict keys starting so are escaped (codec envelopes use them)

# The compiled core (milo_fast._core) for the transporters' compiled checks and helpers, or None: not built, or
# MILO_FAST_PURE=1 (development: the same rules in Python).
COMPILED = None
if os.environ.get("MILO_FAST_PURE") != "1":
    try:
        from .. import _core as COMPILED  # type: ignore[no-redef]
    except ImportError:  # pragma: no cover
        COMPILED = None

if COMPILED is not None:  # the (key, value) pairs of a dict whose values are dicts or lists (Decoder.decode)
    _container_items = COMPILED.container_items
else:
    def _container_items(d: dict) -> list:
        return [(k, v) for k, v in d.items() if type(v) is dict or type(v) is list]

_IDENT_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _key_text(key) -> str:
    if type(key) is int:
        return f"[{key}]"
    if type(key) is str and key and not key[0].isdigit() and _IDENT_OK.issuperset(key):
        return f".{key}"
    text = json.dumps(key, ensure_ascii=False) if isinstance(key, str) else repr(key)
    return f"[{text}]"


class Path:
    """A JSON path built lazily: ``key_path`` only links a parent and a key; the text (``$.a.b[3]["milo:tuple"]``)
    is made when an error message needs it. Renders through str() / f-strings; compares by its text."""

    __slots__ = ("parent", "key")

    def __init__(self, parent, key):
        self.parent, self.key = parent, key

    def __str__(self) -> str:
        parts = []
        p = self
        while type(p) is Path:
            parts.append(_key_text(p.key))
            p = p.parent
        parts.append(str(p))
        return "".join(reversed(parts))

    __repr__ = __str__

    def __format__(self, spec) -> str:
        return format(str(self), spec)

    def __eq__(self, other) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


class AttrRoot(str):
    """The path of an object whose attributes sit directly under it (PyMilo documents: ``$.data.coef_``), where
    milo_fast documents have a ``state`` level (``$.data.state.coef_``). See ``state_path``."""


def state_path(path):
    """Where an object's attributes are: ``<path>.state``, or the path itself for an AttrRoot."""
    return path if type(path) is AttrRoot else Path(path, "state")


def key_path(path, key) -> Path:
    """JSON path of ``key`` (a str or an int index) under ``path``: ``$.a.b``, ``$.a[3]``, ``$["milo:tuple"]``."""
    return Path(path, key)


def qualified_name(obj) -> str:
    """``module.QualName`` of a class or function."""
    return f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"


def lookup_by_name(qn: str):
    """The object a qualified name designates among *already imported* modules (export side only), or None."""
    parts = qn.split(".")
    for i in range(len(parts) - 1, 0, -1):
        mod = sys.modules.get(".".join(parts[:i]))
        if mod is None:
            continue
        obj = mod
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            continue
        return obj
    return None


_recursion_lock = threading.Lock()
_recursion_users = 0
_recursion_saved: int | None = None


@contextmanager
def deep_recursion(limit: int = 20000):
    """Let deeply nested models through Python's recursion limit while any export or load runs (shared by
    threads: the limit is restored when the last one leaves)."""
    global _recursion_users, _recursion_saved
    with _recursion_lock:
        if _recursion_users == 0:
            old = sys.getrecursionlimit()
            _recursion_saved = old if old < limit else None
            if old < limit:
                sys.setrecursionlimit(limit)
        _recursion_users += 1
    try:
        yield
    finally:
        with _recursion_lock:
            _recursion_users -= 1
            if _recursion_users == 0 and _recursion_saved is not None:
                sys.setrecursionlimit(_recursion_saved)
                _recursion_saved = None


class Transporter:
    """One kind of value. Subclasses set ``kind`` (the marker key they read), ``types`` (exact Python types they
    write) and/or ``match`` (predicate for the fallback chain), and implement ``encode``/``decode``."""

    kind: str | None = None
    aux: frozenset = frozenset()
    types: tuple = ()
    memo: bool = False          # identity matters: shared references and cycles are preserved
    fallback: bool = False      # consulted, in chain order, for values whose type is not in any ``types``

    def match(self, obj) -> bool:
        return False

    def encode(self, obj, enc: "Encoder", path: str):
        raise NotImplementedError

    def decode(self, node: dict, dec: "Decoder", path: str):
        raise NotImplementedError

    def names(self, node: dict, path: str) -> Iterable[tuple[str, str]]:
        """(qualified_name, json_path) of each type or function this node names (for the audit)."""
        return ()

    @cached_property
    def node_keys(self) -> frozenset:
        """The keys a node of this kind may have (the kind, ``aux``, "milo:id" if ``memo``), when none of them but
        the kind is a marker key; else empty, and classify_general decides."""
        keys = frozenset(self.aux) | {self.kind} | ({ID} if self.memo else frozenset())
        plain = all(k == self.kind or k == ID or not (type(k) is str and k[:5] == MARK) for k in keys)
        return keys if plain else frozenset()


class ObjectHandler:
    """How one family of classes is written inside a ``milo:object`` node, chosen by the class's qualified name
    (the same table on export and import). ``classes``: the qualified names it handles."""

    classes: tuple = ()
    aux: frozenset = frozenset({"args", "state"})

    def encode(self, obj, enc: "Encoder", path: str, node: dict) -> None:
        raise NotImplementedError

    def construct(self, cls, node: dict, dec: "Decoder", path: str):
        raise NotImplementedError


class _Entry:
    __slots__ = ("obj", "node", "ref", "path")

    def __init__(self, obj, path):
        self.obj, self.node, self.ref, self.path = obj, None, None, path


class Encoder:
    """Turns a value into a JSON-ready tree. One instance per export (holds the identity memo)."""

    def __init__(self, tables, trusted: frozenset = frozenset(), wrap_paths: frozenset = frozenset(), prefetch=None):
        self.tables = tables
        self.trusted = trusted
        self._wrap = wrap_paths
        # prefetch(array): called with each C-contiguous numeric array put in the tree as it is, so that the codec
        # can start writing its text while the walk goes on (codec.text_encoder's prepare), or None
        self.prefetch = prefetch
        self._memo: dict[int, _Entry] = {}
        self._next_id = 0
        self.needs_wrap: set[str] = set()
        self.object_depth = 0           # objects being written around the current value
        self.deferred: list = []        # objects written out of line (see objects.GraphT)

    def defer(self, obj) -> dict:
        """Write ``obj`` out of line (at the top level) and return a reference to it: long chains of objects
        (Birch's linked leaves) would otherwise nest the document as deep as the chain is long."""
        entry = _Entry(obj, None)
        self._memo[id(obj)] = entry
        ref = self._ref(entry)
        self.deferred.append(entry)
        return ref

    def encode(self, obj, path: str = "$"):
        t = type(obj)
        if t is str or t is int or t is float or t is bool or obj is None:
            return obj
        tr = self.tables.by_type.get(t)
        if tr is None:
            tr = self.tables.fallback_for(obj, t)
            if tr is None:
                raise ExportError(f"cannot represent a {qualified_name(t)} at {path}")
        if not tr.memo:
            return tr.encode(obj, self, path)
        entry = self._memo.get(id(obj))
        if entry is not None:
            return self._ref(entry)
        entry = self._memo[id(obj)] = _Entry(obj, path)  # keeps obj alive: ids are never reused mid-export
        node = tr.encode(obj, self, path)
        if self._wrap and type(node) is not dict and str(path) in self._wrap:
            node = {SHARED: node}
        entry.node = node
        if entry.ref is not None:  # referenced from inside itself (a cycle)
            self._attach(entry)
        return node

    def _ref(self, entry: _Entry) -> dict:
        if entry.ref is None:
            entry.ref = self._next_id
            self._next_id += 1
            if entry.node is not None:
                self._attach(entry)
        return {REF: entry.ref}

    def attach_deferred(self, entry: _Entry, node: dict, path: str) -> None:
        entry.node, entry.path = node, path
        node[ID] = entry.ref

    def _attach(self, entry: _Entry) -> None:
        if type(entry.node) is dict:
            entry.node[ID] = entry.ref
        else:  # a shared list or array: written as {"milo:shared": ...} in another pass
            self.needs_wrap.add(str(entry.path))

    def is_trusted(self, qn: str) -> bool:
        return trust.is_trusted(qn, self.trusted)


def classify(node: dict, kinds: dict, path: str):
    """The transporter of a dict node, or None for a plain dict. Raises ValidationError on unknown markers."""
    try:  # most dicts (an estimator's attributes) have no key containing "milo:": tell them at C speed
        if MARK not in "\0".join(node):
            return None
    except TypeError:  # a key that is not a str: the loop below reports it as before
        pass
    # the usual marker node: its kind key first, then only keys the kind allows (one set operation)
    tr = kinds.get(next(iter(node)))
    if tr is not None and tr.node_keys and tr.node_keys.issuperset(node):
        return tr
    return classify_general(node, kinds, path)


def classify_general(node: dict, kinds: dict, path: str):
    """classify for any dict node: finds its one marker key and checks its other keys (the errors' source)."""
    kind = None
    for k in node:
        if k[:5] == MARK and k != ID:
            if kind is not None:
                raise ValidationError(f"a node has two marker keys {kind!r} and {k!r} at {path}")
            kind = k
    if kind is None:
        return None
    tr = kinds.get(kind)
    if tr is None:
        raise ValidationError(f"unknown marker {kind!r} at {path}")
    if len(node) > 1:
        for k in node:
            if k != kind and k not in tr.aux and not (k == ID and tr.memo):
                raise ValidationError(f"unexpected key {k!r} in a {kind!r} node at {path}")
    return tr


def collect_names(tree, tables, root: str = "$", budget=None) -> list:
    """Every (qualified_name, json_path) the tree names, found without importing or constructing anything.

    A name is the value of a naming kind key (``milo:object``, ``milo:type``, ``milo:function``: the kinds whose
    transporter defines ``names``) wherever it appears in a dict — whether or not the rest of the node is well
    formed, so nothing the decoder could resolve escapes the audit. Paths are lazy Path objects.

    ``budget`` (a milo_fast.limits.Budget whose arrays are not counted yet): the same walk charges it with the
    document's numpy arrays and scalars (LoadError when they exceed a limit)."""
    if budget is not None and budget.arrays_charged:
        budget = None
    return walk_document(tree, tables.naming_kinds, root, budget)


def _pending_type():
    """The placeholder of an array still being converted (codec's decode_deferred), or None without the core."""
    try:
        from .. import _core as core
    except ImportError:  # pragma: no cover - pure-Python development mode without a build
        return None
    return getattr(core, "PendingArray", None)


def walk_document(tree, name_kinds, root="$", budget=None) -> list:
    """One walk of a decoded (JSON-ready) tree: the (value, path) of every dict key in ``name_kinds`` and, with
    ``budget``, the charge of every numpy array and scalar met (LoadError at the first that exceeds a limit,
    naming its path), after which ``budget.arrays_charged`` is set. The audit (collect_names) and
    Budget.charge_arrays (PyMilo documents) are this walk with and without names."""
    out: list = []
    count = budget is not None
    if count:
        import numpy as np
        nd, gen = np.ndarray, np.generic
    if type(tree) is not dict and type(tree) is not list:  # a bare value at the root names nothing
        if count:
            if isinstance(tree, (nd, gen)):
                budget.charge(tree.size, tree.nbytes, root)
            budget.arrays_charged = True
        return out
    plain = frozenset((str, int, float, bool, type(None)))
    pending = _pending_type()
    elements = nbytes = 0
    if count:
        limit_e, limit_b = budget.max_elements - budget.elements, budget.max_alloc - budget.nbytes
    stack = [(tree, root)]
    pop, push = stack.pop, stack.append
    while stack:
        node, path = pop()
        if type(node) is dict:
            for nk in name_kinds:
                if nk in node:
                    out.append((node[nk], Path(path, nk)))
            items = node.items()
        else:
            items = enumerate(node)
        for k, v in items:
            tv = type(v)
            if tv is dict or tv is list:
                push((v, Path(path, k)))
            elif count and tv not in plain and (tv is nd or tv is pending or isinstance(v, gen)):
                elements += v.size
                nbytes += v.nbytes
                if elements > limit_e or nbytes > limit_b:
                    budget.charge(elements, nbytes, Path(path, k))
    if count:
        budget.charge(elements, nbytes, root)
        budget.arrays_charged = True
    return out


class Decoder:
    """Builds values from a JSON-ready tree that has passed the audit. One instance per load.

    ``budget`` (milo_fast.limits.Budget) is charged before anything is allocated that the document's text does
    not carry itself. Objects rebuilt generically are queued with their validators (``validate``); ``finish``
    runs them once every object exists and is filled, so checks that look across objects (a forest and its trees,
    a model and its KD tree, objects written out of line) see complete values."""

    def __init__(self, tables, trusted: frozenset = frozenset(), budget=None):
        self.tables = tables
        self.trusted = trusted
        if budget is None:
            from ..limits import Budget
            budget = Budget()
        self.budget = budget
        self._objs: dict[int, Any] = {}
        self._checks: list = []
        self.plans: dict = {}  # qualified name -> what its checks decided (objects.ObjectT): this load only
        self.consume = False  # from_tree(consume=True): the document is used once (see from_tree)
        # from_tree(deferred=): id(container) -> n, where arrays [0, n) hold the container's own arrays (those
        # not inside a node of another transporter), and the call that puts arrays [0, n) in place
        self.need: dict | None = None
        self.fill = None
        # from_tree(deferred=): id(table) -> (table, depth, largest split feature) for sklearn node tables whose
        # structure a worker thread checked with n_features open (sklearn_trees.TreeHandler takes them out)
        self.tree_notes: dict | None = None

    def validate(self, obj, qn: str, path) -> None:
        """Queue the validators of class ``qn`` (and the generic ones) for ``obj``, to run in ``finish``."""
        checks = self.tables.validators_for(qn, type(obj))
        if checks:
            self.queue_checks(checks, obj, qn, path)

    def queue_checks(self, checks: tuple, obj, qn: str, path) -> None:
        """Queue ``checks`` (what ``validate`` would find for ``obj``'s class) for ``obj``, to run in ``finish``."""
        self._checks.append((checks, obj, qn, path))

    def finish(self) -> None:
        """Run the queued validators, inner objects first. Anything but a MiloError a check trips over (a value of
        an unexpected type deep in an attribute) is reported as a ValidationError at the object's path."""
        run_checks(self._checks)
        self._checks = []

    def decode(self, node, path: str = "$"):
        t = type(node)
        if self.need is not None and (t is dict or t is list):  # its arrays in place before anything reads them
            n = self.need.get(id(node))
            if n is not None:
                self.fill(n)
        if t is dict:
            tr = classify(node, self.tables.kinds, path)
            if tr is None:
                out = node.copy()  # scalars and arrays are final; containers are replaced below, in place
                if ID in node:
                    del out[ID]
                    self.register(node, out, path)
                dec = self.decode
                for k, v in _container_items(node):
                    out[k] = dec(v, Path(path, k))
                return out
            try:
                obj = tr.decode(node, self, path)
            except MiloError:
                raise
            except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as e:
                # a value of the wrong kind deep in a node that a transporter did not anticipate
                raise ValidationError(f"malformed {tr.kind!r} node at {path}: {type(e).__name__}: {e}") from None
            if ID in node:
                n = node[ID]
                if type(n) is not int or self._objs.get(n, self) is not obj:  # not registered early by tr
                    self.register(node, obj, path)
            return obj
        if t is list:
            dec = self.decode
            return [dec(v, Path(path, i)) if type(v) is dict or type(v) is list else v for i, v in enumerate(node)]
        return node

    def register(self, node: dict, obj, path: str) -> None:
        """Record ``obj`` under the node's ``milo:id`` (call before decoding children, for cycles)."""
        if ID not in node:
            return
        n = node[ID]
        if type(n) is not int or n < 0:
            raise ValidationError(f"'milo:id' must be a non-negative int at {path}")
        if n in self._objs:
            raise ValidationError(f"'milo:id' {n} defined twice (again at {path})")
        self._objs[n] = obj

    def ref(self, n, path: str):
        if type(n) is not int or n not in self._objs:
            raise ValidationError(f"'milo:ref' {n!r} at {path} does not refer to a value defined before it")
        return self._objs[n]

    def resolve(self, qn, path: str):
        if not isinstance(qn, str):
            raise ValidationError(f"expected a qualified name (str) at {path}")
        return trust.resolve(qn, path, self.trusted)


def run_checks(queue) -> None:
    """Run ``[(checks, obj, qn, path), ...]`` in order (see Decoder.finish)."""
    for checks, obj, qn, path in queue:
        for check in checks:
            try:
                check(obj, path)
            except MiloError:
                raise
            except RecursionError:
                raise ValidationError(f"{qn} at {path} nests too deeply to be checked") from None
            except Exception as e:  # a value of the wrong kind where a check expected an array, a list ...
                raise ValidationError(f"inconsistent {qn} at {path}: {type(e).__name__}: {e}") from None


def expect(cond: bool, path: str, what: str) -> None:
    if not cond:
        raise ValidationError(f"expected {what} at {path}")

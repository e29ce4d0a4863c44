"""The transporter chain: Python values (fitted estimators and everything they hold) <-> JSON-ready trees.

    tree = transport.to_tree(model, trusted=())        # ExportError if something cannot be written safely
    names = transport.names(tree)                      # [(qualified_name, json_path)] without importing anything
    model = transport.from_tree(tree, trusted=())      # audits every name first, then constructs

The families (one module each) are listed in ``registry.FAMILIES``; ``_core`` holds the machinery.
"""
from __future__ import annotations

from typing import Iterable

from .. import trust
from ..errors import LoadError
from ._core import Decoder, Encoder, collect_names, deep_recursion
from .objects import encode_deferred
from .registry import FAMILIES, tables

_MAX_PASSES = 8


def to_tree(obj, *, trusted: Iterable[str] = (), root: str = "$", prefetch=None):
    """Encode ``obj`` as a JSON-ready tree (numpy arrays left as arrays for the codec). ``prefetch``: see
    Encoder.prefetch."""
    tb = tables()
    trusted = frozenset(trusted)
    wrap: frozenset = frozenset()
    with deep_recursion():
        for _ in range(_MAX_PASSES):
            enc = Encoder(tb, trusted, wrap, prefetch)
            tree = enc.encode(obj, root)  # export paths are logical: without the graph's extra level
            tree = encode_deferred(enc, tree, root)
            if not enc.needs_wrap:
                return tree
            wrap = wrap | enc.needs_wrap  # shared lists / arrays found: write them wrapped, in another pass
    raise RuntimeError("shared values could not be laid out")  # pragma: no cover


def names(tree, *, root: str = "$") -> list[tuple[str, str]]:
    """Every (qualified_name, json_path) a tree names, without importing or constructing anything."""
    return [(n, str(p)) for n, p in collect_names(tree, tables(), root)]


def audit(tree, *, trusted: Iterable[str] = (), root: str = "$", budget=None) -> None:
    """Check every name in ``tree`` against the allow-list; UntrustedTypeError lists every offender. With a
    ``budget`` whose arrays are not counted yet, the same walk counts them."""
    trust.audit(collect_names(tree, tables(), root, budget), frozenset(trusted))


def naming_kinds() -> tuple:
    """The dict keys whose values name a type or function: what the audit collects."""
    return tables().naming_kinds


_STR_ONLY = frozenset({str})


def _scan_passes(scan, trusted: frozenset, budget, root: str) -> bool:
    """The audit, from what the codec's build of the whole document collected (see from_tree's ``scan``) instead
    of a walk of the tree: True, with the arrays charged, when every name is trusted and the arrays fit the
    budget. False sends the caller to the walk, which finds the offenders and their paths (the scan, of the whole
    document, holds at least what the walk of the model finds)."""
    names, elements, nbytes = scan
    if not budget.arrays_charged:
        if budget.elements + elements > budget.max_elements or budget.nbytes + nbytes > budget.max_alloc:
            return False
    if not _STR_ONLY.issuperset(map(type, names)) or not all(trust.is_trusted(n, trusted) for n in set(names)):
        return False
    if not budget.arrays_charged:
        budget.charge(elements, nbytes, root)
        budget.arrays_charged = True
    return True


def from_tree(tree, *, trusted: Iterable[str] = (), root: str = "$", budget=None, consume: bool = False,
              deferred=None, scan=None):
    """Audit every name in ``tree`` against the allow-list (UntrustedTypeError lists all offenders), then build,
    then run the validators of every rebuilt object. ``budget``: a milo_fast.limits.Budget (default limits).
    ``consume``: ``tree`` is the caller's own and used once; transporters may drop the arrays they have copied
    (a tree's node table) from it as they go, so that their memory is reused by what is built next.
    ``deferred``: ``tree`` came from codec's decode_deferred and its arrays are still being converted; each
    node's arrays are put in place before the node is decoded, and every one before the validators run.
    ``scan``: ``tree`` is part of a document just built by the codec's decode_deferred, with what that build
    collected, ``(names, elements, nbytes)``: the value of every naming key met in any dict of the document and
    the total size of its arrays. When every name is trusted and the arrays fit the budget, the audit takes that
    instead of walking the tree; otherwise it walks, as without a scan."""
    trusted = frozenset(trusted)
    tb = tables()
    if budget is None:
        from ..limits import Budget
        budget = Budget()
    if not (scan is not None and _scan_passes(scan, trusted, budget, root)):
        trust.audit(collect_names(tree, tb, root, budget), trusted)
    dec = Decoder(tb, trusted, budget)
    dec.consume = consume
    if deferred is not None:
        dec.need, dec.fill, dec.tree_notes = deferred.need, deferred.fill, deferred.tree_notes
    with deep_recursion():
        try:
            obj = dec.decode(tree, root)
            if deferred is not None:
                deferred.fill_all()
            dec.finish()
        except RecursionError:
            raise LoadError(f"the document at {root} nests too deeply to be built") from None
    return obj


__all__ = ["to_tree", "names", "audit", "from_tree", "FAMILIES", "deep_recursion"]

"""THE list of transporter families, in chain order. Used by the package and by the tests alike.

Each family module exports ``TRANSPORTERS`` (value kinds: exact types written, marker keys read, fallback
predicates), ``HANDLERS`` (how the classes it knows are written inside ``milo:object`` nodes) and optionally
``VALIDATORS`` (qualified name -> check(obj, path), run on generically rebuilt objects once the whole document is
built, e.g. that a forest's trees match its input width), ``STATE_DECODERS`` (qualified name ->
decode(state_node, decoder, path), a shortcut for the usual state of a class rebuilt generically: the decoded state,
or None to let the Decoder walk it; one family per class) and ``GENERIC_VALIDATORS`` (``(applies(cls), check)``
pairs, run on every rebuilt object whose class they apply to, e.g. scikit-learn's parameter constraints). Several
families may check the same class; a family lists a class once. Adding a supported type touches one family
module; adding a family touches this list.
"""
from __future__ import annotations

import threading

from . import (builtins, functions, numpy_, objects, random, scipy_, sklearn_estimators, sklearn_losses,
               sklearn_neighbors, sklearn_trees)

# Chain order matters only for fallbacks (values whose exact type no transporter lists): the generic object
# transporter (objects) must come last.
FAMILIES = (builtins, numpy_, scipy_, random, functions, sklearn_trees, sklearn_neighbors, sklearn_losses,
            sklearn_estimators, objects)


class Tables:
    """The families' transporters indexed for the Encoder and Decoder."""

    def __init__(self, families=FAMILIES):
        self.families = tuple(families)
        self.by_type: dict = {}
        self.kinds: dict = {}
        self.handlers: dict = {}
        self.validators: dict = {}      # qualified name -> tuple of checks
        self.generic_validators: list = []
        self.state_decoders: dict = {}  # qualified name -> decode(state_node, dec, path) -> state, or None
        self._fallbacks = []
        self._lock = threading.Lock()
        for fam in self.families:
            for tr in fam.TRANSPORTERS:
                for t in tr.types:
                    if t in self.by_type:
                        raise RuntimeError(f"{t} has two transporters ({fam.__name__})")
                    self.by_type[t] = tr
                if tr.kind is not None:
                    if tr.kind in self.kinds:
                        raise RuntimeError(f"marker {tr.kind} is read by two transporters ({fam.__name__})")
                    self.kinds[tr.kind] = tr
                if tr.fallback:
                    self._fallbacks.append(tr)
            for qn, check in getattr(fam, "VALIDATORS", {}).items():
                self.validators[qn] = self.validators.get(qn, ()) + (check,)
            self.generic_validators.extend(getattr(fam, "GENERIC_VALIDATORS", ()))
            for qn, decode in getattr(fam, "STATE_DECODERS", {}).items():
                if qn in self.state_decoders:
                    raise RuntimeError(f"{qn} has two state decoders ({fam.__name__})")
                self.state_decoders[qn] = decode
            for h in fam.HANDLERS:
                for qn in h.classes:
                    if qn in self.handlers:
                        raise RuntimeError(f"{qn} has two handlers ({fam.__name__})")
                    self.handlers[qn] = h
        self._fallback_cache: dict = {}
        self._checks_cache: dict = {}
        from ._core import Transporter
        # kinds whose nodes name a type or function: what the audit collects
        self.naming_kinds = tuple(k for k, tr in self.kinds.items() if type(tr).names is not Transporter.names)

    def validators_for(self, qn: str, cls) -> tuple:
        """The checks an object of class ``cls`` (qualified name ``qn``) must pass: its own, then the generic ones
        that apply to its class (cached per class)."""
        key = (qn, cls)
        checks = self._checks_cache.get(key)
        if checks is None:
            checks = self.validators.get(qn, ()) + tuple(c for applies, c in self.generic_validators if applies(cls))
            self._checks_cache[key] = checks
        return checks

    def fallback_for(self, obj, t):
        """The first fallback transporter that accepts a value of type ``t`` (cached per type)."""
        tr = self._fallback_cache.get(t)
        if tr is None:
            for cand in self._fallbacks:
                if cand.match(obj):
                    tr = cand
                    break
            else:
                return None
            self._fallback_cache[t] = tr
        return tr


_tables: Tables | None = None


def tables() -> Tables:
    global _tables
    if _tables is None:
        _tables = Tables()
    return _tables

"""PyMilo 1.x documents: read always (safely), write on request.

    model = import_document(doc, trusted=(), path="$", source=None)
    doc = export_document(model)

``doc`` is the JSON-ready form: a dict as milo_fast's codec decodes it (numeric ndarray envelopes already numpy
arrays) or encodes it (numeric arrays left as numpy arrays are written in PyMilo's envelope in text mode).
See docs/pymilo.md for what PyMilo's format is and what is supported in each direction.
"""
from __future__ import annotations

import warnings
from typing import Iterable

from . import _pymilo_tables

PYMILO_KEYS = ("data", "model_type", "pymilo_version")


def is_pymilo_document(doc) -> bool:
    """True if ``doc`` looks like a PyMilo document (its top-level keys), without reading it."""
    return isinstance(doc, dict) and all(k in doc for k in PYMILO_KEYS)


def _trust():
    from .. import trust
    return trust


def import_document(doc: dict, *, trusted: Iterable[str] = (), path: str = "$", source: str | None = None,
                    budget=None):
    """Rebuild the scikit-learn model of a PyMilo 1.x document.

    Every type and function the document names (or implies through a PyMilo marker) is audited against the
    allow-list (``milo_fast.trust``, extended by the exact names in ``trusted``) before anything is imported or
    built; node tables handed to compiled code are validated, and every rebuilt estimator passes the same
    validators as in milo_fast documents (``milo_fast.transport`` VALIDATORS).  Raises UntrustedTypeError,
    DecodeError or ValidationError (all ValueErrors) naming the JSON path and ``source``; LoadError when
    ``budget`` (milo_fast.limits.Budget, default limits) would be exceeded.
    """
    from . import _pymilo_read

    if isinstance(doc, dict):
        sk = doc.get("sklearn_version")
        if isinstance(sk, str):
            import sklearn
            if sk != sklearn.__version__:
                warnings.warn(f"this PyMilo document was written with scikit-learn {sk}; the installed "
                              f"version is {sklearn.__version__}", UserWarning, stacklevel=2)
    return _pymilo_read.read(doc, trust=_trust(), trusted=trusted, path=path, source=source, budget=budget)


def untrusted_names(doc: dict, *, trusted: Iterable[str] = (), path: str = "$",
                    source: str | None = None) -> list[tuple[str, str]]:
    """Every (qualified name, JSON path) the document names that the allow-list (plus ``trusted``) refuses,
    found without importing or building anything.  Raises DecodeError / ValidationError on malformed input."""
    from . import _pymilo_read

    trust = _trust()
    trusted = frozenset(trusted)
    _, names = _pymilo_read.parse(doc, path=path, source=source)
    return [(n, p) for n, p in names if not trust.is_trusted(n, trusted)]


def export_document(model) -> dict:
    """The PyMilo 1.6 document of ``model`` (JSON-ready; numeric numpy arrays may be left in place).

    Raises milo_fast.ExportError, naming the type and where it sits, for anything PyMilo 1.6 cannot represent.
    """
    from . import _pymilo_write

    return _pymilo_write.write(model)


def supported_models() -> list[str]:
    """The class names PyMilo 1.6 supports (top-level models, then modules it carries inside models)."""
    return _pymilo_tables.supported_names()


__all__ = ["import_document", "export_document", "untrusted_names", "is_pymilo_document", "supported_models"]

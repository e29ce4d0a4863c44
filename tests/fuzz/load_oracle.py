"""The differential oracle of deferred decoding, shared by fuzz_load.py (MILO_FUZZ_DEFER=1) and
tests/test_fuzz_load_smoke.py: how ``milo_fast.loads`` ends on ``data`` with a given decode_deferred thread count
(1: the document decoded whole first; 2: the model built while its arrays are still being converted)."""
from __future__ import annotations


def loads_outcome(data: bytes, defer_threads: int, limits: dict) -> tuple[str, str]:
    """(type name of the model, "") or (error class name, message) for ``milo_fast.loads(data, **limits)``."""
    import milo_fast
    from milo_fast import LoadError, document
    old, document.DEFER_THREADS = document.DEFER_THREADS, defer_threads
    try:
        return type(milo_fast.loads(data, **limits)).__name__, ""
    except LoadError as e:
        return type(e).__name__, str(e)
    finally:
        document.DEFER_THREADS = old

"""Test configuration: make the package importable from the source tree, keep BLAS/OpenMP to one thread (the
machine is shared and single-threaded runs are reproducible), and share fitted estimators across tests."""
from __future__ import annotations

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "python")
if importlib.util.find_spec("milo_fast") is None and SRC not in sys.path:  # not installed: the source tree
    sys.path.insert(0, SRC)
    # ... for subprocesses the tests start too
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

try:
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
except ImportError:  # pragma: no cover
    pass


def pytest_collection_modifyitems(config, items):
    if os.environ.get("MILO_FAST_PURE") != "1":
        return
    import pytest
    skip = pytest.mark.skip(reason="MILO_FAST_PURE=1: the pure-Python codec has no deferred decoding")
    for item in items:
        if item.get_closest_marker("compiled_codec"):
            item.add_marker(skip)

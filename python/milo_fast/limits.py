"""Resource limits of a load: document size, nesting depth, array elements and total allocation.

    budget = limits.Budget(max_elements=..., max_alloc=...)
    budget.charge_arrays(tree, "$")          # the arrays the codec decoded
    budget.charge(n_elements, n_bytes, path)  # before a transporter allocates what the text does not carry

Every limit has a default (below) and a keyword of the same name on ``load``, ``loads``, ``Import`` and
``get_untrusted_types``. A limit that is exceeded raises ``LoadError`` naming the limit, the keyword that
raises it and, for arrays, the JSON path. See docs/security.md, "Bounded resources".
"""
from __future__ import annotations

from .errors import LoadError

DEFAULT_MAX_SIZE = 4 << 30        # bytes of (decompressed) document text
DEFAULT_MAX_DEPTH = 2048          # JSON nesting; milo_fast documents stay below ~100, PyMilo's Birch trees nest deeper
MAX_DEPTH_CEILING = 8192          # the parser and the builder recurse: deeper would risk the C stack
DEFAULT_MAX_ELEMENTS = 1 << 31    # array elements in the whole document
DEFAULT_MAX_ALLOC = 8 << 30       # bytes of arrays and buffers built by a load


def check_limit_args(max_size, max_depth, max_elements, max_alloc) -> None:
    """ValueError for limits that are not positive ints (or a depth above the ceiling)."""
    for name, v in (("max_size", max_size), ("max_depth", max_depth), ("max_elements", max_elements),
                    ("max_alloc", max_alloc)):
        if type(v) is not int or v < 1:
            raise ValueError(f"{name} must be a positive int, not {v!r}")
    if max_depth > MAX_DEPTH_CEILING:
        raise ValueError(f"max_depth must be at most {MAX_DEPTH_CEILING} (deeper documents could overflow the "
                         f"C stack), not {max_depth}")


class Budget:
    """What a load may still allocate. One per load; transporters charge it *before* they allocate."""

    __slots__ = ("max_elements", "max_alloc", "elements", "nbytes", "arrays_charged")

    def __init__(self, max_elements: int = DEFAULT_MAX_ELEMENTS, max_alloc: int = DEFAULT_MAX_ALLOC):
        self.max_elements, self.max_alloc = max_elements, max_alloc
        self.elements = 0
        self.nbytes = 0
        self.arrays_charged = False  # set once the document's own arrays are counted (by whichever walk did it)

    def copy(self) -> "Budget":
        b = Budget(self.max_elements, self.max_alloc)
        b.elements, b.nbytes, b.arrays_charged = self.elements, self.nbytes, self.arrays_charged
        return b

    def charge(self, n_elements: int, n_bytes: int, path) -> None:
        self.elements += int(n_elements)
        self.nbytes += int(n_bytes)
        if self.elements > self.max_elements:
            raise LoadError(f"the document holds more than max_elements={self.max_elements} array elements "
                            f"(at {path}); pass a larger max_elements= if you expect that")
        if self.nbytes > self.max_alloc:
            raise LoadError(f"loading the document would allocate more than max_alloc={self.max_alloc} bytes "
                            f"(at {path}); pass a larger max_alloc= if you expect that")

    def charge_arrays(self, tree, root: str = "$") -> None:
        """Charge every numpy array and scalar in a decoded (JSON-ready) tree (LoadError at the first that exceeds
        a limit, naming its path)."""
        from .transport._core import walk_document  # here: transport imports this module
        walk_document(tree, (), root, self)


__all__ = ["Budget", "check_limit_args", "DEFAULT_MAX_SIZE", "DEFAULT_MAX_DEPTH", "DEFAULT_MAX_ELEMENTS",
           "DEFAULT_MAX_ALLOC", "MAX_DEPTH_CEILING"]

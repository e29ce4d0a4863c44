"""The JSON codec: a tree of Python values and numpy arrays <-> JSON bytes.

    data = codec.encode(obj, arrays="text", indent=None, strict=False)
    obj = codec.decode(data)

Numeric arrays are written and parsed by the compiled core (``milo_fast._core``) straight from and into
numpy buffers, with the GIL released. See docs/format.md for the array envelopes.
"""
from __future__ import annotations

import os
from typing import Any, Literal

from .errors import DecodeError, EncodeError

if os.environ.get("MILO_FAST_PURE") == "1":  # development only: the pure-Python reference codec
    from . import _pycodec as _impl
else:
    from . import _core as _impl  # type: ignore[no-redef]

ArraysMode = Literal["text", "base64"]


def text_encoder(*, strict: bool = False):
    """An encoder for a compact text document (arrays="text", indent=None) that can take the document's arrays
    before the document is made: ``prepare(array)`` starts writing an array's text on a worker thread at once, and
    ``encode(doc, encoder=...)`` uses that text where the document holds that very array (so a prepared array must
    not change before the encode: its text may be written already). ``close()`` drops what was prepared when no
    document will be encoded. None without the compiled core. Used for one document (milo_fast.dumps makes one for
    each compact text save)."""
    cls = getattr(_impl, "Encoder", None)
    return cls(False, -1, bool(strict)) if cls is not None else None


def encode(obj: Any, *, arrays: ArraysMode = "text", indent: int | None = None, strict: bool = False,
           encoder=None) -> bytes:
    """Encode ``obj`` as UTF-8 JSON bytes.

    arrays: "text" writes numeric arrays as (nested) JSON lists in the PyMilo envelope; "base64" writes their
    raw little-endian bytes in milo_fast's compact envelope.
    indent: None for the most compact output, or a number of spaces.
    strict: False writes non-finite floats as the tokens NaN / Infinity / -Infinity (as Python's json and
    PyMilo do); True writes them so that the output is strict RFC 8259 JSON (see docs/format.md).
    encoder: a text_encoder() made with the same settings (its prepared arrays' text is used), or None.
    """
    if arrays not in ("text", "base64"):
        raise ValueError(f"arrays must be 'text' or 'base64', not {arrays!r}")
    if indent is not None and (not isinstance(indent, int) or isinstance(indent, bool) or indent < 0 or indent > 16):
        raise ValueError(f"indent must be None or an int in [0, 16], not {indent!r}")
    args = (obj, arrays == "base64", -1 if indent is None else int(indent), bool(strict))
    return _impl.encode(*args) if encoder is None else _impl.encode(*args, encoder)


def decode(data: bytes | bytearray | memoryview | str, *, max_depth: int = 512, threads: int = 0) -> Any:
    """Decode JSON text (bytes-like or str) into Python values, numpy arrays for array envelopes.

    Raises DecodeError (a ValueError) with the byte offset and JSON path on malformed input.
    threads: 0 picks automatically (several threads only for documents of 1 MiB and more), else 1 to 64.
    """
    if not isinstance(max_depth, int) or not 1 <= max_depth <= 8192:
        raise ValueError(f"max_depth must be an int in [1, 8192] (deeper would risk the C stack), not {max_depth!r}")
    if not isinstance(threads, int) or isinstance(threads, bool) or not 0 <= threads <= 64:
        raise ValueError(f"threads must be an int in [0, 64] (0: automatic), not {threads!r}")
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    elif isinstance(data, memoryview) and not data.c_contiguous:
        data = data.tobytes()  # the bytes it shows, not the memory under it
    elif not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode() takes bytes, bytearray, memoryview or str, not {type(data).__name__}")
    return _impl.decode(data, int(max_depth), int(threads))


__all__ = ["encode", "decode", "DecodeError", "EncodeError"]

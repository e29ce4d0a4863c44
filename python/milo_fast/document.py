"""The envelope around a transported model: header, compression, and telling milo_fast from PyMilo documents.

    {"milo_fast": {"format_version": 1, "milo_fast_version": "0.1.0", "python_version": "3.11.9",
                   "sklearn_version": "1.9.1", "numpy_version": "2.4.0", "scipy_version": "1.17.1",
                   "model_type": "sklearn.ensemble._forest.RandomForestClassifier"},
     "data": <the model's transported tree>}

A document is UTF-8 JSON written by milo_fast.codec, optionally compressed whole with zstd or gzip (recognised
on load by their magic bytes). A PyMilo 1.x document has no "milo_fast" key and PyMilo's own top-level keys
("data", "sklearn_version", "pymilo_version", "model_type"); milo_fast.compat.pymilo reads and writes those.
See docs/format.md, "Document".
"""
from __future__ import annotations

import gzip
import importlib
import io
import os
import platform
import warnings
import zlib
from typing import Any, Iterable

from . import __version__, codec, transport, trust
from .errors import DecodeError, LoadError, MiloError, ValidationError
from .limits import (DEFAULT_MAX_ALLOC, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ELEMENTS, DEFAULT_MAX_SIZE,  # noqa: F401
                     Budget)

FORMAT_VERSION = 1
HEADER = "milo_fast"
DATA = "data"
PYMILO_KEYS = ("data", "sklearn_version", "pymilo_version", "model_type")
HEADER_FIELDS = ("format_version", "milo_fast_version", "python_version", "sklearn_version", "numpy_version",
                 "scipy_version", "model_type")

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"


class VersionWarning(UserWarning):
    """The document was written with another version of scikit-learn than the one loading it."""


def _versions() -> dict:
    import numpy
    import scipy
    import sklearn
    return {"python_version": platform.python_version(), "sklearn_version": sklearn.__version__,
            "numpy_version": numpy.__version__, "scipy_version": scipy.__version__}


def make_header(model_type: str) -> dict:
    return {"format_version": FORMAT_VERSION, "milo_fast_version": __version__, **_versions(),
            "model_type": model_type}


def model_type_of(model) -> str:
    cls = type(model)
    return f"{cls.__module__}.{cls.__qualname__}"


def make_document(model, *, trusted: Iterable[str] = (), prefetch=None) -> dict:
    """The document of ``model`` as a JSON-ready tree (ExportError if the model cannot be written safely).
    ``prefetch``: the ``prepare`` of a codec.text_encoder() that will write the document, or None."""
    data = transport.to_tree(model, trusted=trusted, root=f"$.{DATA}", prefetch=prefetch)
    return {HEADER: make_header(model_type_of(model)), DATA: data}


# ------------------------------------------------------------------------------------------- bytes

def compress_bytes(text: bytes, compress: str | None) -> bytes:
    if compress is None:
        return text
    if compress == "zstd":
        import zstandard
        return zstandard.ZstdCompressor(level=3).compress(text)
    if compress == "gzip":
        return gzip.compress(text, compresslevel=6, mtime=0)
    raise ValueError(f"compress must be None, 'zstd' or 'gzip', not {compress!r}")


def decompress_bytes(blob: bytes, *, max_size: int = DEFAULT_MAX_SIZE, source: str = "<bytes>") -> bytes:
    """The document text of ``blob``, decompressed if it starts with zstd or gzip magic, at most max_size bytes."""
    mv = bytes(blob[:4])
    try:
        if mv.startswith(ZSTD_MAGIC):
            import zstandard
            declared = zstandard.frame_content_size(bytes(blob[:18]))  # -1 when the frame does not say
            if declared > max_size:
                raise LoadError(f"{source}: the document declares {declared} bytes, more than max_size={max_size}")
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob), read_across_frames=True)
            chunks, total = [], 0
            while True:
                chunk = reader.read(1 << 22)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_size:
                    break
                chunks.append(chunk)
            if total > max_size:
                raise LoadError(f"{source}: the decompressed document exceeds max_size={max_size} bytes")
            if declared >= 0 and total != declared:
                raise LoadError(f"{source}: truncated zstd data ({total} of {declared} bytes)")
            out = b"".join(chunks)
        elif mv.startswith(GZIP_MAGIC):
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = d.decompress(bytes(blob), max_size + 1)
            if not d.eof and len(out) <= max_size:
                raise LoadError(f"{source}: truncated gzip data")
        else:
            if len(blob) > max_size:
                raise LoadError(f"{source}: the document is {len(blob)} bytes, more than max_size={max_size}")
            return blob
    except LoadError:
        raise
    except Exception as e:  # zstandard.ZstdError, zlib.error
        raise LoadError(f"{source}: corrupt compressed data: {e}") from None
    if len(out) > max_size:
        raise LoadError(f"{source}: the decompressed document exceeds max_size={max_size} bytes")
    return out


def encode_document(doc: dict, *, arrays: str = "text", indent: int | None = None,
                    compress: str | None = None, encoder=None) -> bytes:
    """``encoder``: the codec.text_encoder() given to make_document's ``prefetch``, or None."""
    if compress not in (None, "zstd", "gzip"):
        raise ValueError(f"compress must be None, 'zstd' or 'gzip', not {compress!r}")
    with transport.deep_recursion():
        text = codec.encode(doc, arrays=arrays, indent=indent, encoder=encoder)
    return compress_bytes(text, compress)


def decode_document(blob, *, max_size: int = DEFAULT_MAX_SIZE, max_depth: int = DEFAULT_MAX_DEPTH,
                    source: str = "<bytes>") -> Any:
    if isinstance(blob, str):
        blob = blob.encode("utf-8", "surrogatepass")
    text = decompress_bytes(blob, max_size=max_size, source=source)
    try:
        with transport.deep_recursion():
            return codec.decode(text, max_depth=max_depth)
    except Exception as e:
        raise_load_error(e, source)


def _defer_threads() -> int:
    """decode_deferred's thread count: 0 defers documents of 1 MiB and more (several threads, started once the
    arrays hold about a millisecond of work: json_reader.hpp's decode_threads); MILO_FAST_DEFER_THREADS=2
    (development and tests) takes the deferred path on every document, its workers started at once."""
    v = os.environ.get("MILO_FAST_DEFER_THREADS", "")
    return int(v) if v.isdigit() and int(v) <= 64 else 0


DEFER_THREADS = _defer_threads()


def decode_document_deferred(blob, *, max_size: int = DEFAULT_MAX_SIZE, max_depth: int = DEFAULT_MAX_DEPTH,
                             source: str = "<bytes>") -> tuple[Any, Any, Any]:
    """decode_document for a load that builds the model at once: ``(tree, deferred, scan)``. When ``deferred`` is
    not None, the arrays are still being converted on worker threads and the tree holds a placeholder for each;
    transport.from_tree(..., deferred=) puts each in place before anything reads it (see Decoder.decode).
    ``scan``: what the codec's build of the tree collected for the audit (transport.from_tree's ``scan``), or None
    (the pure-Python codec)."""
    if isinstance(blob, str):
        blob = blob.encode("utf-8", "surrogatepass")
    text = decompress_bytes(blob, max_size=max_size, source=source)
    impl = codec._impl
    if type(text) is not bytes or not hasattr(impl, "decode_deferred"):  # (mutable buffers: decoded at once)
        return decode_document(text, max_size=max_size, max_depth=max_depth, source=source), None, None
    try:
        with transport.deep_recursion():
            return impl.decode_deferred(text, int(max_depth), DEFER_THREADS, transport.naming_kinds())
    except Exception as e:
        raise_load_error(e, source)


def raise_load_error(e: Exception, source: str):
    """Re-raise an exception met while decoding ``source``: a MiloError with the source in its message, numpy
    refusing an array the codec asked for (a zero-size shape whose other dimensions overflow) as DecodeError."""
    if isinstance(e, MiloError):
        if source != "<bytes>" and not str(e).startswith(f"{source}: "):
            raise type(e)(f"{source}: {e}", **_err_kwargs(e)) from None
        raise e
    if isinstance(e, (ValueError, TypeError, OverflowError)):
        where = f"{source}: " if source != "<bytes>" else ""
        said = str(e)
        if len(said) > _MAX_QUOTED:  # (pybind11's argument errors quote the arguments: the whole document)
            said = f"{said[:_MAX_QUOTED]} ... ({len(said) - _MAX_QUOTED} more characters)"
        raise DecodeError(f"{where}an array numpy cannot represent ({type(e).__name__}: {said}) at $", path="$") from None
    raise e


_MAX_QUOTED = 400  # characters of another library's message quoted in a DecodeError


def _err_kwargs(e) -> dict:
    kw = {}
    for k in ("offset", "path", "names"):
        if hasattr(e, k):
            kw[k] = getattr(e, k)
    return kw


# -------------------------------------------------------------------------------------- documents

def kind_of(obj, *, source: str = "<bytes>") -> str:
    """'milo' or 'pymilo'; LoadError for anything else."""
    if type(obj) is dict:
        if HEADER in obj:
            return "milo"
        if all(k in obj for k in PYMILO_KEYS):
            return "pymilo"
    where = f"{source}: " if source != "<bytes>" else ""
    raise LoadError(f"{where}not a milo_fast document (no 'milo_fast' header) nor a PyMilo document")


def check_header(doc: dict, *, source: str = "<bytes>") -> dict:
    """Validate the envelope; warn when scikit-learn's version differs. Returns the header."""
    hdr = doc.get(HEADER)
    if type(hdr) is not dict:
        raise ValidationError(f"{source}: $.{HEADER} must be an object")
    fv = hdr.get("format_version")
    if type(fv) is not int:
        raise ValidationError(f"{source}: $.{HEADER}.format_version must be an int")
    if fv != FORMAT_VERSION:
        raise LoadError(f"{source}: format_version {fv} is not supported by milo_fast {__version__} "
                        f"(it reads format_version {FORMAT_VERSION}); upgrade milo_fast")
    for k in HEADER_FIELDS[1:]:
        if type(hdr.get(k)) is not str:
            raise ValidationError(f"{source}: $.{HEADER}.{k} must be a string")
    extra = set(doc) - {HEADER, DATA}
    if extra or DATA not in doc:
        raise ValidationError(f"{source}: a document has exactly the keys {HEADER!r} and {DATA!r}")
    import sklearn
    if hdr["sklearn_version"] != sklearn.__version__:
        warnings.warn(f"{source}: the model was saved with scikit-learn {hdr['sklearn_version']} and is loaded "
                      f"with scikit-learn {sklearn.__version__}; its behaviour may differ", VersionWarning,
                      stacklevel=3)
    return hdr


def audit_document(doc: dict, *, trusted: Iterable[str] = (), source: str = "<bytes>",
                   budget: Budget | None = None) -> None:
    """Phase 1 of a load: every name in the document against the allow-list (nothing imported before); with a
    ``budget``, the document's arrays are counted against its limits in the same walk."""
    try:
        transport.audit(doc[DATA], trusted=trusted, root=f"$.{DATA}", budget=budget)
    except MiloError as e:
        if source != "<bytes>":
            raise type(e)(f"{source}: {e}", **_err_kwargs(e)) from None
        raise


def build_model(doc: dict, *, trusted: Iterable[str] = (), source: str = "<bytes>", budget: Budget | None = None,
                consume: bool = False, deferred=None, scan=None):
    """Phase 2 of a load: audit (again: cheap), then construct and validate. Checks the model has the header's
    type. ``budget``: what construction may still allocate (default limits). ``consume``: ``doc`` is not used
    again (transport.from_tree). ``deferred``, ``scan``: from decode_document_deferred."""
    try:
        model = transport.from_tree(doc[DATA], trusted=trusted, root=f"$.{DATA}", budget=budget, consume=consume,
                                    deferred=deferred, scan=scan)
    except MiloError as e:
        if source != "<bytes>" and not str(e).startswith(f"{source}: "):
            raise type(e)(f"{source}: {e}", **_err_kwargs(e)) from None
        raise
    expected = doc[HEADER]["model_type"]
    if model_type_of(model) != expected:
        raise ValidationError(f"{source}: the header says {expected} but $.{DATA} holds a {model_type_of(model)}")
    return model


def untrusted_names(doc: dict, *, trusted: Iterable[str] = ()) -> list[tuple[str, str]]:
    trusted = frozenset(trusted)
    return [(n, str(p)) for n, p in transport.names(doc[DATA], root=f"$.{DATA}") if not trust.is_trusted(n, trusted)]


# ---------------------------------------------------------------------------------- PyMilo (compat)

def compat_module():
    """milo_fast.compat.pymilo, imported on first use; a clear MiloError if this build lacks it."""
    try:
        return importlib.import_module("milo_fast.compat.pymilo")
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("milo_fast.compat"):
            raise MiloError("PyMilo format support (milo_fast.compat.pymilo) is not available in this build of "
                            "milo_fast") from None
        raise

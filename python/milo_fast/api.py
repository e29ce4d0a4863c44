"""The public API: PyMilo 1.6's Export / Import (a drop-in), and json/pickle-style dump / dumps / load / loads.

    from milo_fast import Export, Import
    Export(model).save("model.json")               # .to_json() -> str, .data, .version, .type
    model = Import("model.json").to_model()        # Import(file_adr=None, json_dump=None, url=None)

    import milo_fast
    milo_fast.dump(model, "model.json", arrays="text", compress=None, indent=None, format="milo")
    blob = milo_fast.dumps(model, arrays="base64")
    model = milo_fast.load("model.json", trusted=())
    model = milo_fast.loads(blob, trusted=())
    milo_fast.dump(model, "m.enc", encrypt_key=key); milo_fast.load("m.enc", public_key=pub, decrypt_key=key)

Loading is two-phase: the document is parsed into a tree, every type and function it names is checked against the
allow-list (milo_fast.trust) — UntrustedTypeError lists them all — and only then is anything imported or built.
Saving writes a temporary file beside the destination, flushes and fsyncs it, then renames it over the
destination: an interrupted save leaves the previous file intact, and a failed export writes nothing.
"""
from __future__ import annotations

import gc
import os
import re
import stat
import tempfile
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Iterable, Literal

from . import codec, document, trust
from .errors import DeferredArrayEscaped, LoadError, MiloError, UntrustedTypeError
from .limits import (DEFAULT_MAX_ALLOC, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ELEMENTS, DEFAULT_MAX_SIZE, Budget,
                     check_limit_args)

ArraysMode = Literal["text", "base64"]
Compression = Literal[None, "zstd", "gzip"]
Format = Literal["milo", "pymilo"]

URL_TIMEOUT = 60.0


# --------------------------------------------------------------------------------------------- files

def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, fsync, then rename.

    durable=False skips the two fsyncs (the file and its directory): the rename still makes the write atomic
    for other processes, but a power cut soon after may leave the old file or an empty one. (pickle.dump does
    no fsync; on the development VM fsyncing 20 MB costs about 50 ms.)"""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as e:  # name the file asked for, not the temporary one
        why = f"no directory {directory}" if isinstance(e, FileNotFoundError) else f"{e.strerror or e} in {directory}"
        raise _save_error(e, path, why) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):  # (a full disk, a directory where the file goes ...): the file asked for
            raise _save_error(e, path, e.strerror or str(e)) from None
        raise
    if not durable:
        return
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _save_error(e: OSError, path: str, why: str) -> OSError:
    """``e``, met saving ``path``, as the caller sees it: the same errno (so the same built-in subclass, which
    OSError picks by errno), the file asked for as its ``filename`` (not the temporary file beside it), and
    ``why`` in its message."""
    if e.errno is None:  # (no errno to report: OSError's filename form would print "[Errno None]")
        return OSError(f"cannot save {path}: {why}")
    return OSError(e.errno, f"cannot save ({why})", path)


def _read_limited(f, max_size: int, name: str):
    """The content of ``f`` (LoadError beyond max_size bytes), reserving no more memory than the file holds:
    ``read(n)`` allocates n bytes up front, which for the default limit would be 4 GiB for every small file."""
    try:
        st = os.fstat(f.fileno())
        remaining = st.st_size - f.tell() if stat.S_ISREG(st.st_mode) else -1
    except (AttributeError, OSError, ValueError):
        remaining = -1
    if remaining > max_size:
        raise LoadError(f"{name}: larger than max_size={max_size} bytes")
    chunks, total = [], 0
    if remaining >= 0:  # a regular file: its size, +1 to notice that it grew meanwhile
        first = f.read(remaining + 1)
        if len(first) <= remaining:
            return first
        chunks, total = [first], len(first)
    while total <= max_size:
        chunk = f.read(min(1 << 24, max_size + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > max_size:
        raise LoadError(f"{name}: larger than max_size={max_size} bytes")
    return chunks[0][:0].join(chunks) if chunks else b""


def _read_source(file, max_size: int) -> tuple[bytes, str]:
    if hasattr(file, "read"):
        name = getattr(file, "name", "<file>")
        data = _read_limited(file, max_size, str(name))
    else:
        name = os.fspath(file)
        with open(name, "rb") as f:
            data = _read_limited(f, max_size, str(name))
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > max_size:
        raise LoadError(f"{name}: larger than max_size={max_size} bytes")
    return data, str(name)


def download(url: str, *, timeout: float = URL_TIMEOUT, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
    """GET ``url`` (http or https only), with a timeout and a size limit."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise LoadError(f"only http and https URLs can be loaded, not {scheme or 'a bare path'!r}: {url}")
    req = urllib.request.Request(url, headers={"User-Agent": "milo_fast", "Accept-Encoding": "identity"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (scheme checked above)
            length = resp.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_size:
                raise LoadError(f"{url}: {length} bytes, more than max_size={max_size}")
            chunks, total = [], 0
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_size:
                    raise LoadError(f"{url}: more than max_size={max_size} bytes")
                chunks.append(chunk)
    except OSError as e:  # URLError, timeouts, connection errors
        raise LoadError(f"cannot download {url}: {e}") from None
    return b"".join(chunks)


# ------------------------------------------------------------------------------------- dump / load

def _check_arrays(arrays):
    if arrays not in ("text", "base64"):
        raise ValueError(f"arrays must be 'text' or 'base64', not {arrays!r}")


def dumps(model, *, arrays: ArraysMode = "text", compress: Compression = None, indent: int | None = None,
          format: Format = "milo", trusted: Iterable[str] = (), encrypt_key=None) -> bytes:
    """The document of ``model`` as bytes (UTF-8 JSON, or compressed; encrypted with ``encrypt_key``: a 32-byte
    key or a passphrase, see milo_fast.crypto)."""
    data = _dumps_plain(model, arrays=arrays, compress=compress, indent=indent, format=format, trusted=trusted)
    if encrypt_key is not None:
        from . import crypto
        data = crypto.encrypt_bytes(data, encrypt_key)
    return data


def _dumps_plain(model, *, arrays, compress, indent, format, trusted) -> bytes:
    _check_arrays(arrays)
    if compress not in (None, "zstd", "gzip"):
        raise ValueError(f"compress must be None, 'zstd' or 'gzip', not {compress!r}")
    if format == "milo":
        # compact text: the arrays' text is written on a worker while the document is being made
        enc = codec.text_encoder() if arrays == "text" and indent is None else None
        try:
            with _GcPaused():  # (the document's containers, like a load's, are never garbage in a cycle)
                doc = document.make_document(model, trusted=trusted,
                                             prefetch=enc.prepare if enc is not None else None)
        except BaseException:
            if enc is not None:  # (its worker would go on with the arrays while the traceback keeps it)
                enc.close()
            raise
        return document.encode_document(doc, arrays=arrays, indent=indent, compress=compress, encoder=enc)
    if format == "pymilo":
        out = document.compat_module().export_document(model)
        if isinstance(out, str):
            out = out.encode("utf-8")
        elif not isinstance(out, (bytes, bytearray)):
            out = codec.encode(out, arrays="text", indent=indent)
        return document.compress_bytes(bytes(out), compress)
    raise ValueError(f"format must be 'milo' or 'pymilo', not {format!r}")


def dump(model, file, *, arrays: ArraysMode = "text", compress: Compression = None, indent: int | None = None,
         format: Format = "milo", trusted: Iterable[str] = (), encrypt_key=None, durable: bool = True) -> None:
    """Write the document of ``model`` to ``file`` (a path, written atomically, or a binary file object).

    The whole document is built before the file is touched: when export fails, nothing is written. A path is
    written through a temporary file, fsynced (``durable=False`` skips that: see write_atomic) and renamed.
    """
    if not isinstance(durable, bool):
        raise TypeError(f"durable must be True or False, not {durable!r}")
    data = dumps(model, arrays=arrays, compress=compress, indent=indent, format=format, trusted=trusted,
                 encrypt_key=encrypt_key)
    if hasattr(file, "write"):
        file.write(data)
    else:
        write_atomic(file, data, durable=durable)


def _charge(budget: Budget, obj, source: str) -> None:
    """Count the arrays the codec decoded (LoadError if they exceed a limit). milo_fast documents are counted
    in the audit's walk instead; this is for PyMilo documents."""
    try:
        budget.charge_arrays(obj, "$")
    except LoadError as e:
        raise LoadError(f"{source}: {e}") from None


def _load_tree(obj, *, trusted, source, budget, deferred=None, scan=None):
    """The model in a decoded document. ``deferred``, ``scan``: see document.decode_document_deferred; a malformed
    array is reported before any other problem, as when the whole document is decoded first."""
    try:
        kind = document.kind_of(obj, source=source)
        if kind == "pymilo":
            if deferred is not None:
                deferred.fill_all()
            _charge(budget, obj, source)
            try:
                return document.compat_module().import_document(obj, trusted=tuple(trusted), source=source,
                                                                budget=budget)
            except UntrustedTypeError as e:  # the audit's message does not name the file
                if source != "<bytes>" and source not in str(e):
                    raise UntrustedTypeError(f"{source}: {e}", names=e.names) from None
                raise
        document.check_header(obj, source=source)
        return document.build_model(obj, trusted=trusted, source=source, budget=budget, consume=True,
                                    deferred=deferred, scan=scan)
    except BaseException as e:
        err = deferred.error() if deferred is not None else None
        if err is not None and err is not e:
            document.raise_load_error(err, source)
        if err is not None:  # raised by a fill outside build_model: give it the source
            document.raise_load_error(e, source)
        raise


class _GcPaused:
    """The cyclic garbage collector off for a load or a document's making, and back as it was after (on errors
    too). A load makes thousands of containers (the document's tree, then the model), a save the document's tree,
    none of them garbage in a cycle, and the collections their allocations trigger would only traverse them (a
    100-tree forest's load triggered one, 0.25 ms of its 15-20 ms; its make_document three, 0.10-0.14 ms of its
    1.7)."""

    def __enter__(self):
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self.was:
            gc.enable()


def _load_bytes(data, *, trusted, source, max_size, max_depth, max_elements, max_alloc):
    """The model in document bytes: decoded deferred (arrays converted while the model is built), or whole when
    the deferred build finds a placeholder it cannot account for (see DeferredArrayEscaped); the garbage
    collector paused throughout."""
    with _GcPaused():
        obj, deferred, scan = document.decode_document_deferred(data, max_size=max_size, max_depth=max_depth,
                                                                source=source)
        try:
            return _load_tree(obj, trusted=trusted, source=source, budget=Budget(max_elements, max_alloc),
                              deferred=deferred, scan=scan)
        except DeferredArrayEscaped:
            pass
        del obj, deferred, scan
        obj = document.decode_document(data, max_size=max_size, max_depth=max_depth, source=source)
        return _load_tree(obj, trusted=trusted, source=source, budget=Budget(max_elements, max_alloc))


def _unwrap(data, *, source: str, public_key=None, signature_path=None, decrypt_key=None):
    """The document bytes of what was read from ``source``: signature checked on the bytes as read (before
    anything is decrypted or parsed), then decrypted if the file is encrypted."""
    if public_key is not None:
        from . import signing
        signing.verify_loaded(data, source, public_key, signature_path=signature_path)
    if decrypt_key is not None or (isinstance(data, (bytes, bytearray, memoryview)) and bytes(data[:8]) == b"MILOENC1"):
        from . import crypto
        data = crypto.decrypt_loaded(data, decrypt_key, source=source)
    return data


_LIMITS_DOC = """
    Limits (docs/security.md, "Bounded resources"); exceeding one raises LoadError naming it:
    max_size: bytes of document text (after decompression), default 4 GiB.
    max_depth: JSON nesting, default 2048, at most 8192.
    max_elements: array elements in the whole document, default 2**31.
    max_alloc: bytes of arrays and buffers the load builds, default 8 GiB.
"""


def loads(data, *, trusted: Iterable[str] = (), max_size: int = DEFAULT_MAX_SIZE,
          max_depth: int = DEFAULT_MAX_DEPTH, max_elements: int = DEFAULT_MAX_ELEMENTS,
          max_alloc: int = DEFAULT_MAX_ALLOC, decrypt_key=None):
    """The model in ``data`` (bytes or str: a milo_fast or PyMilo document, possibly compressed or encrypted)."""
    check_limit_args(max_size, max_depth, max_elements, max_alloc)
    data = _unwrap(data, source="<bytes>", decrypt_key=decrypt_key)
    return _load_bytes(data, trusted=trusted, source="<bytes>", max_size=max_size, max_depth=max_depth,
                       max_elements=max_elements, max_alloc=max_alloc)


def load(file, *, trusted: Iterable[str] = (), max_size: int = DEFAULT_MAX_SIZE,
         max_depth: int = DEFAULT_MAX_DEPTH, max_elements: int = DEFAULT_MAX_ELEMENTS,
         max_alloc: int = DEFAULT_MAX_ALLOC, public_key=None, signature_path=None, decrypt_key=None):
    """The model in ``file`` (a path or a binary file object).

    public_key: refuse the file (SignatureError) unless its detached signature (``<file>.sig``, or
    ``signature_path``) verifies with this key; checked on the bytes read, before anything else.
    decrypt_key: the key or passphrase of a file written with ``dump(..., encrypt_key=...)``.
    """
    check_limit_args(max_size, max_depth, max_elements, max_alloc)
    data, name = _read_source(file, max_size)
    data = _unwrap(data, source=name, public_key=public_key, signature_path=signature_path,
                   decrypt_key=decrypt_key)
    return _load_bytes(data, trusted=trusted, source=name, max_size=max_size, max_depth=max_depth,
                       max_elements=max_elements, max_alloc=max_alloc)


loads.__doc__ += _LIMITS_DOC
load.__doc__ += _LIMITS_DOC


def get_untrusted_types(source, *, trusted: Iterable[str] = (), max_size: int = DEFAULT_MAX_SIZE,
                        max_depth: int = DEFAULT_MAX_DEPTH) -> list[str]:
    """The names in a document (path, bytes or str) that are not on the allow-list, without loading it.

    Returns the distinct qualified names, sorted; pass the ones you trust to ``load(..., trusted=...)``.
    """
    check_limit_args(max_size, max_depth, DEFAULT_MAX_ELEMENTS, DEFAULT_MAX_ALLOC)
    if isinstance(source, (bytes, bytearray, memoryview)) or (isinstance(source, str) and source.lstrip()[:1] in "{["
                                                              and not os.path.exists(source)):
        obj = document.decode_document(source, max_size=max_size, max_depth=max_depth)
    else:
        data, name = _read_source(source, max_size)
        obj = document.decode_document(data, max_size=max_size, max_depth=max_depth, source=name)
    if document.kind_of(obj) == "pymilo":
        compat = document.compat_module()
        names = compat.untrusted_names(obj, trusted=tuple(trusted), source=str(source)[:200])
        return sorted({n for n, _ in names})
    return sorted({n for n, _ in document.untrusted_names(obj, trusted=trusted)})


# ------------------------------------------------------------------------------ PyMilo's Export / Import

class Export:
    """PyMilo-compatible exporter. ``Export(model)`` transports the model at once (ExportError if it cannot be
    written safely); ``.save(path)`` writes it, ``.to_json()`` returns the document text.

    Attributes: ``data`` (the transported tree; numpy arrays are the model's own, not copies), ``version``
    (scikit-learn's version), ``type`` (the class name, as PyMilo), ``model_type`` (module.QualName).
    """

    def __init__(self, model, *, trusted: Iterable[str] = ()):
        self._doc = document.make_document(model, trusted=trusted)
        hdr = self._doc[document.HEADER]
        self.data = self._doc[document.DATA]
        self.version = hdr["sklearn_version"]
        self.model_type = hdr["model_type"]
        self.type = type(model).__name__

    def to_bytes(self, *, arrays: ArraysMode = "text", indent: int | None = None,
                 compress: Compression = None) -> bytes:
        _check_arrays(arrays)
        return document.encode_document(self._doc, arrays=arrays, indent=indent, compress=compress)

    def to_json(self, *, arrays: ArraysMode = "text", indent: int | None = None) -> str:
        """The document as a str."""
        return self.to_bytes(arrays=arrays, indent=indent).decode("utf-8")

    def save(self, file_adr, *, arrays: ArraysMode = "text", indent: int | None = None,
             compress: Compression = None) -> None:
        """Write the document to ``file_adr`` atomically."""
        write_atomic(file_adr, self.to_bytes(arrays=arrays, indent=indent, compress=compress))

    @staticmethod
    def batch_export(models, file_addr, run_parallel: bool = False) -> int:
        """Write each model to ``file_addr/model_{index}.json``; returns how many were written (as PyMilo)."""
        if not os.path.exists(file_addr):
            os.mkdir(file_addr)

        def export_model(model, index):
            try:
                Export(model).save(os.path.join(file_addr, f"model_{index}.json"))
                return 1
            except Exception:  # PyMilo counts failures instead of raising
                return 0

        if run_parallel:
            with ThreadPoolExecutor() as ex:
                futures = [ex.submit(export_model, m, i) for i, m in enumerate(models)]
                return sum(f.result() for f in as_completed(futures))
        return sum(export_model(m, i) for i, m in enumerate(models))


_BATCH_NAME = re.compile(r"_(\d+)\.json$")


class Import:
    """PyMilo-compatible importer: ``Import(file_adr=None, json_dump=None, url=None).to_model()``.

    The document is parsed and audited against the allow-list here (UntrustedTypeError lists every offending
    name); ``to_model()`` builds a new model each call. ``trusted=[...]`` extends the allow-list by exact name.
    Attributes as PyMilo: ``data``, ``version`` (scikit-learn's version at save time), ``type`` (class name);
    plus ``model_type`` (module.QualName) and ``header``.
    """

    def __init__(self, file_adr=None, json_dump=None, url=None, *, trusted: Iterable[str] = (),
                 max_size: int = DEFAULT_MAX_SIZE, max_depth: int = DEFAULT_MAX_DEPTH,
                 max_elements: int = DEFAULT_MAX_ELEMENTS, max_alloc: int = DEFAULT_MAX_ALLOC,
                 timeout: float = URL_TIMEOUT, public_key=None, signature_path=None, decrypt_key=None):
        check_limit_args(max_size, max_depth, max_elements, max_alloc)
        self._trusted = tuple(trusted)
        if url is not None:
            raw, source = download(url, timeout=timeout, max_size=max_size), url
        elif json_dump is not None and isinstance(json_dump, (str, bytes, bytearray, memoryview)):
            raw, source = json_dump, "<json_dump>"
        elif file_adr is not None:
            raw, source = _read_source(file_adr, max_size)
        else:
            raise MiloError("Import needs one of file_adr, json_dump or url")
        if public_key is not None and (url is not None or source == "<json_dump>") and signature_path is None:
            raise MiloError("checking the signature of a json_dump or a url needs signature_path=")
        raw = _unwrap(raw if not isinstance(raw, str) else raw.encode("utf-8", "surrogatepass"), source=source,
                      public_key=public_key, signature_path=signature_path, decrypt_key=decrypt_key)
        self._source = source
        self._doc = doc = document.decode_document(raw, max_size=max_size, max_depth=max_depth,
                                                   source=source if source != "<json_dump>" else "<bytes>")
        self._kind = document.kind_of(doc, source=source)
        self._budget = Budget(max_elements, max_alloc)
        if self._kind == "pymilo":
            _charge(self._budget, doc, source)
            bad = document.compat_module().untrusted_names(doc, trusted=self._trusted, source=source)
            if bad:  # audited here, as milo_fast documents are: nothing named is imported before this
                try:
                    trust.audit(bad, self._trusted)
                except UntrustedTypeError as e:
                    raise UntrustedTypeError(f"{source}: {e}", names=e.names) from None
            self.header = None
            self.data = doc["data"]
            self.version = doc["sklearn_version"]
            self.type = doc["model_type"]
            self.model_type = doc["model_type"]
            return
        self.header = document.check_header(doc, source=source)
        document.audit_document(doc, trusted=self._trusted, source=source, budget=self._budget)
        self.data = doc[document.DATA]
        self.version = self.header["sklearn_version"]
        self.model_type = self.header["model_type"]
        self.type = self.model_type.rsplit(".", 1)[-1]

    def to_model(self):
        """A new model built from the document."""
        with _GcPaused():
            if self._kind == "pymilo":
                return document.compat_module().import_document(self._doc, trusted=self._trusted,
                                                                source=self._source, budget=self._budget.copy())
            return document.build_model(self._doc, trusted=self._trusted, source=self._source,
                                        budget=self._budget.copy())

    @staticmethod
    def batch_import(file_addr, run_parallel: bool = False):
        """Import every ``*_<n>.json`` in ``file_addr`` in numeric order: returns ``(count, models)`` as PyMilo."""
        if not os.path.exists(file_addr):
            raise FileNotFoundError(f"{file_addr} is not an existing directory")
        files = [f for f in os.listdir(file_addr) if f.endswith(".json")]
        numbered = sorted((f for f in files if _BATCH_NAME.search(f)),
                          key=lambda f: int(_BATCH_NAME.search(f).group(1)))
        files = numbered + sorted(f for f in files if not _BATCH_NAME.search(f))
        models = [None] * len(files)
        if run_parallel:
            def import_model(path, index):
                try:
                    return index, Import(path).to_model()
                except Exception:  # PyMilo returns None for files it cannot import in parallel mode
                    return index, None

            with ThreadPoolExecutor() as ex:
                futures = [ex.submit(import_model, os.path.join(file_addr, f), i) for i, f in enumerate(files)]
                for fut in as_completed(futures):
                    i, m = fut.result()
                    models[i] = m
        else:
            for i, f in enumerate(files):
                models[i] = Import(os.path.join(file_addr, f)).to_model()
        return sum(m is not None for m in models), models


__all__ = ["Export", "Import", "dump", "dumps", "load", "loads", "get_untrusted_types", "write_atomic", "download"]

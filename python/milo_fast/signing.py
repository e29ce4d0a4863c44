"""Ed25519 signatures over saved files: who wrote this file, and is it the file they wrote?

    private_pem, public_pem = milo_fast.generate_signing_key()
    milo_fast.sign("model.json", private_pem)            # writes model.json.sig beside it
    milo_fast.verify("model.json", public_pem)           # None, or SignatureError saying what failed

What is signed is the exact bytes of the file as written (compressed or encrypted bytes when the file is
compressed or encrypted), never a re-serialisation: a byte-for-byte copy verifies anywhere, any change does not.
The signature lives in a detached JSON file, ``<file>.sig``:

    {"milo_fast_signature": 1, "algorithm": "Ed25519", "public_key_sha256": "<64 hex>",
     "file_size": <bytes>, "file_sha256": "<64 hex>", "signature": "<base64 of 64 bytes>"}

and ``signature`` is Ed25519 (RFC 8032, pure) over the 63-byte message

    b"milo_fast signature v1\\0" + file_size as 8 bytes big-endian + SHA-256(file bytes)

The other fields are not trusted: verification recomputes size and hash from the file and checks the signature
against them; the stored copies only make the error precise (altered file vs. another signer vs. forged
signature). docs/security.md, "Authenticity and confidentiality", is the specification.

Keys: a ``cryptography`` Ed25519 key object, PEM (PKCS#8 / SubjectPublicKeyInfo) or OpenSSH bytes or text, 32 raw
bytes, or a path (``str`` not starting with ``-----BEGIN`` / ``ssh-ed25519``, or ``os.PathLike``) to a file holding
one of these. Anything else, and every failure, raises ``SignatureError`` (a ``MiloError`` and ``ValueError``)
whose ``reason`` attribute is one of ``"key"``, ``"missing"``, ``"malformed"``, ``"wrong_key"``, ``"altered"``,
``"invalid"``.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from .errors import SignatureError

SIGNATURE_VERSION = 1
ALGORITHM = "Ed25519"
DOMAIN = b"milo_fast signature v1\x00"
SIGNATURE_SUFFIX = ".sig"
FIELDS = ("milo_fast_signature", "algorithm", "public_key_sha256", "file_size", "file_sha256", "signature")
MAX_SIGNATURE_FILE = 64 << 10       # a signature file is ~300 bytes; never read more than this
MAX_KEY_FILE = 64 << 10
MAX_FILE_SIZE = (1 << 63) - 1
_CHUNK = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")

REASONS = ("key", "missing", "malformed", "wrong_key", "altered", "invalid")


def _error(message: str, reason: str) -> SignatureError:
    err = SignatureError(message)
    err.reason = reason
    return err


# ------------------------------------------------------------------------------------------- keys

def generate_signing_key(*, password: bytes | str | None = None) -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as ``(private_key_pem, public_key_pem)``.

    The private key is PKCS#8 PEM, encrypted with ``password`` when one is given; the public key is
    SubjectPublicKeyInfo PEM. Keep the first secret, publish the second.
    """
    key = ed25519.Ed25519PrivateKey.generate()
    if password is None:
        encryption = serialization.NoEncryption()
    else:
        if isinstance(password, str):
            password = password.encode("utf-8")
        if not isinstance(password, (bytes, bytearray)) or not password:
            raise _error("password must be a non-empty str or bytes", "key")
        encryption = serialization.BestAvailableEncryption(bytes(password))
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return private_pem, public_pem


def _describe(key) -> str:
    return type(key).__name__


def _key_bytes(key, what: str) -> tuple[bytes, str] | None:
    """(bytes, where they came from) for bytes, PEM text and paths; None for any other type."""
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key), f"the {what} bytes"
    if isinstance(key, str):
        stripped = key.lstrip()
        if stripped.startswith(("-----BEGIN", "ssh-ed25519 ")):
            return key.encode("ascii", "replace"), f"the {what} text"
        key = os.fspath(key)
    elif isinstance(key, os.PathLike):
        key = os.fspath(key)
        if isinstance(key, bytes):
            key = os.fsdecode(key)
    else:
        return None
    try:
        with open(key, "rb") as f:
            data = f.read(MAX_KEY_FILE + 1)
    except OSError as e:
        raise _error(f"cannot read the {what} file {key}: {e.strerror or e}", "key") from None
    if len(data) > MAX_KEY_FILE:
        raise _error(f"{key}: larger than {MAX_KEY_FILE} bytes, not a {what} file", "key")
    return data, key


def load_private_key(key, *, password: bytes | str | None = None) -> ed25519.Ed25519PrivateKey:
    """The Ed25519 private key in ``key``: a key object, PEM/OpenSSH bytes or text, 32 raw bytes, or a path."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        raise _error("a public key cannot sign: pass the private key", "key")
    got = _key_bytes(key, "private key")
    if got is None:
        raise _error(f"cannot use a {_describe(key)} as an Ed25519 private key: expected an Ed25519PrivateKey, "
                     "PEM or OpenSSH bytes or text, 32 raw bytes, or a path to a key file", "key")
    data, where = got
    if isinstance(password, str):
        password = password.encode("utf-8")
    if len(data) == 32:
        return ed25519.Ed25519PrivateKey.from_private_bytes(data)
    text = data.lstrip()
    try:
        if text.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----"):
            loaded = serialization.load_ssh_private_key(text, password=password)
        elif text.startswith(b"-----BEGIN"):
            if b"PRIVATE KEY-----" not in text.split(b"\n", 1)[0]:
                raise _error(f"{where} hold a public key or certificate, not a private key", "key")
            loaded = serialization.load_pem_private_key(text, password=password)
        elif text.startswith(b"ssh-"):
            raise _error(f"{where} hold an OpenSSH public key, not a private key", "key")
        else:
            raise _error(f"{where} are neither a PEM or OpenSSH private key nor 32 raw bytes "
                         f"({len(data)} bytes)", "key")
    except SignatureError:
        raise
    except TypeError as e:  # password missing, or given for an unencrypted key
        raise _error(f"cannot load the private key from {where}: {e}", "key") from None
    except (ValueError, UnsupportedAlgorithm) as e:
        raise _error(f"cannot load the private key from {where}: {e}", "key") from None
    if not isinstance(loaded, ed25519.Ed25519PrivateKey):
        raise _error(f"{where} hold a {_describe(loaded)}; milo_fast signs with Ed25519 keys only", "key")
    return loaded


def load_public_key(key) -> ed25519.Ed25519PublicKey:
    """The Ed25519 public key in ``key``: a key object, PEM/OpenSSH bytes or text, 32 raw bytes, or a path.

    A private key is refused: whoever verifies should hold only the public key.
    """
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raise _error("expected a public key, got a private key: pass private_key.public_key() "
                     "(a verifier should never hold the private key)", "key")
    got = _key_bytes(key, "public key")
    if got is None:
        raise _error(f"cannot use a {_describe(key)} as an Ed25519 public key: expected an Ed25519PublicKey, "
                     "PEM or OpenSSH bytes or text, 32 raw bytes, or a path to a key file", "key")
    data, where = got
    if len(data) == 32:
        return ed25519.Ed25519PublicKey.from_public_bytes(data)
    text = data.strip()
    try:
        if text.startswith(b"ssh-"):
            loaded = serialization.load_ssh_public_key(text)
        elif text.startswith(b"-----BEGIN") and b"PRIVATE KEY-----" in text.split(b"\n", 1)[0]:
            raise _error(f"{where} hold a private key: pass the public key (a verifier should never hold "
                         "the private key)", "key")
        elif text.startswith(b"-----BEGIN"):
            loaded = serialization.load_pem_public_key(text)
        else:
            raise _error(f"{where} are neither a PEM or OpenSSH public key nor 32 raw bytes "
                         f"({len(data)} bytes)", "key")
    except SignatureError:
        raise
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise _error(f"cannot load the public key from {where}: {e}", "key") from None
    if not isinstance(loaded, ed25519.Ed25519PublicKey):
        raise _error(f"{where} hold a {_describe(loaded)}; milo_fast verifies Ed25519 keys only", "key")
    return loaded


def _raw_public(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_fingerprint(key) -> str:
    """SHA-256 of the 32 raw bytes of an Ed25519 public key (or of a private key's public half), in hex."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        key = key.public_key()
    return hashlib.sha256(_raw_public(load_public_key(key))).hexdigest()


# ------------------------------------------------------------------------------------ the message

def signed_message(file_size: int, file_sha256: bytes) -> bytes:
    """The exact bytes that Ed25519 signs: domain, size (u64 big-endian), SHA-256 of the file."""
    return DOMAIN + file_size.to_bytes(8, "big") + file_sha256


def _digest_bytes(data) -> tuple[int, bytes]:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _error(f"what is signed is bytes (the file as written), not a {_describe(data)}", "malformed")
    view = memoryview(data).cast("B")
    return view.nbytes, hashlib.sha256(view).digest()


def _digest_file(path: str) -> tuple[int, bytes]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            h.update(chunk)
    return size, h.digest()


def _signature_document(size: int, digest: bytes, private_key: ed25519.Ed25519PrivateKey) -> bytes:
    signature = private_key.sign(signed_message(size, digest))
    doc = {
        "milo_fast_signature": SIGNATURE_VERSION,
        "algorithm": ALGORITHM,
        "public_key_sha256": hashlib.sha256(_raw_public(private_key.public_key())).hexdigest(),
        "file_size": size,
        "file_sha256": digest.hex(),
        "signature": base64.b64encode(signature).decode("ascii"),
    }
    return (json.dumps(doc, indent=1) + "\n").encode("ascii")


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def _reject_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def parse_signature(blob, *, source: str = "<signature>") -> dict:
    """The fields of a signature document, checked; ``signature`` and ``file_sha256`` decoded to bytes.

    SignatureError (reason "malformed") names what is wrong.
    """
    def bad(detail):
        return _error(f"{source}: malformed signature file: {detail}", "malformed")

    if isinstance(blob, str):
        blob = blob.encode("utf-8")
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise _error(f"a signature is the bytes of a .sig file, not a {_describe(blob)}", "malformed")
    blob = bytes(blob)
    if len(blob) > MAX_SIGNATURE_FILE:
        raise bad(f"{len(blob)} bytes, more than {MAX_SIGNATURE_FILE}")
    try:
        doc = json.loads(blob.decode("utf-8"), object_pairs_hook=_reject_duplicates,
                         parse_constant=_no_constants)
    except UnicodeDecodeError as e:
        raise bad(f"not UTF-8 (byte {e.start})") from None
    except (ValueError, RecursionError) as e:
        raise bad(f"not JSON ({e})") from None
    if not isinstance(doc, dict):
        raise bad(f"expected a JSON object, got {type(doc).__name__}")
    if "milo_fast_signature" not in doc:
        raise bad("no \"milo_fast_signature\" field: not a milo_fast signature")
    version = doc["milo_fast_signature"]
    if type(version) is not int:
        raise bad(f"\"milo_fast_signature\" must be the integer {SIGNATURE_VERSION}, not {version!r}")
    if version != SIGNATURE_VERSION:
        raise bad(f"signature format version {version}; this milo_fast reads version {SIGNATURE_VERSION}")
    missing = [f for f in FIELDS if f not in doc]
    extra = sorted(k for k in doc if k not in FIELDS)
    if missing:
        raise bad(f"missing field(s) {', '.join(missing)}")
    if extra:
        raise bad(f"unknown field(s) {', '.join(extra)}")
    if doc["algorithm"] != ALGORITHM:
        raise bad(f"algorithm {doc['algorithm']!r}; milo_fast signatures are {ALGORITHM!r}")
    for name in ("public_key_sha256", "file_sha256"):
        value = doc[name]
        if not isinstance(value, str) or not _HEX64.match(value):
            raise bad(f"\"{name}\" must be 64 lowercase hex digits, not {value!r:.80}")
    size = doc["file_size"]
    if type(size) is not int or not 0 <= size <= MAX_FILE_SIZE:
        raise bad(f"\"file_size\" must be an integer from 0 to 2^63-1, not {size!r:.80}")
    text = doc["signature"]
    if not isinstance(text, str):
        raise bad(f"\"signature\" must be a base64 string, not {_describe(text)}")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise bad("\"signature\" is not valid base64") from None
    if len(raw) != 64 or base64.b64encode(raw).decode("ascii") != text:
        raise bad(f"\"signature\" must be the canonical base64 of 64 bytes (decodes to {len(raw)} bytes)")
    return {**doc, "signature": raw, "file_sha256": bytes.fromhex(doc["file_sha256"])}


def _check(size: int, digest: bytes, sig: dict, public_key, *, source: str, sig_source: str) -> None:
    key = load_public_key(public_key)
    expected = hashlib.sha256(_raw_public(key)).hexdigest()
    if sig["public_key_sha256"] != expected:
        raise _error(f"{source}: signed by another key (public key sha256 {sig['public_key_sha256']}), "
                     f"not by the given key ({expected})", "wrong_key")
    if size != sig["file_size"]:
        raise _error(f"{source}: the file was altered after it was signed: {size} bytes, "
                     f"{sig['file_size']} when signed", "altered")
    if digest != sig["file_sha256"]:
        raise _error(f"{source}: the file was altered after it was signed: its SHA-256 is {digest.hex()}, "
                     f"{sig['file_sha256'].hex()} when signed", "altered")
    try:
        key.verify(sig["signature"], signed_message(size, digest))
    except InvalidSignature:
        raise _error(f"{source}: the signature in {sig_source} is not valid for this file and key "
                     "(the signature file was altered or forged)", "invalid") from None


# ------------------------------------------------------------------------------------------ bytes

def sign_bytes(data, private_key, *, password: bytes | str | None = None) -> bytes:
    """The signature document (the bytes of a ``.sig`` file) for ``data``, signed with ``private_key``."""
    key = load_private_key(private_key, password=password)
    size, digest = _digest_bytes(data)
    return _signature_document(size, digest, key)


def verify_bytes(data, signature_blob, public_key, *, source: str = "<bytes>",
                 signature_source: str = "<signature>") -> None:
    """Check that ``signature_blob`` (a ``.sig`` document) signs exactly ``data`` with ``public_key``.

    Returns None; raises SignatureError (reason "malformed", "wrong_key", "altered", "invalid" or "key").
    """
    load_public_key(public_key)  # a bad key is reported before a bad signature
    sig = parse_signature(signature_blob, source=signature_source)
    size, digest = _digest_bytes(data)
    _check(size, digest, sig, public_key, source=source, sig_source=signature_source)


# ------------------------------------------------------------------------------------------ files

def signature_path_for(path) -> str:
    """Where the detached signature of ``path`` lives: ``<path>.sig``."""
    return os.fspath(path) + SIGNATURE_SUFFIX


def read_signature(path, *, signature_path=None) -> bytes:
    """The bytes of the signature file of ``path`` (``signature_path`` or ``<path>.sig``), at most 64 KiB.

    SignatureError (reason "missing") when there is none. For ``load(file_object, public_key=...)`` pass
    ``signature_path``: a file object has no path to put ``.sig`` after.
    """
    if signature_path is None:
        if not isinstance(path, (str, os.PathLike)) or str(path).startswith("<"):
            raise _error(f"{path}: no path to find a signature beside; pass signature_path=", "missing")
        signature_path = signature_path_for(path)
    signature_path = os.fspath(signature_path)
    try:
        with open(signature_path, "rb") as f:
            blob = f.read(MAX_SIGNATURE_FILE + 1)
    except FileNotFoundError:
        raise _error(f"{path}: no signature file {signature_path} (the file is unsigned, or its signature was "
                     "not copied with it)", "missing") from None
    except OSError as e:
        raise _error(f"{path}: cannot read the signature file {signature_path}: {e.strerror or e}",
                     "missing") from None
    return blob


def sign(path, private_key, *, signature_path=None, password: bytes | str | None = None) -> str:
    """Sign the file at ``path`` as it is on disk; write the signature (atomically) to ``signature_path`` or
    ``<path>.sig``, and return that path."""
    key = load_private_key(private_key, password=password)
    path = os.fspath(path)
    try:
        size, digest = _digest_file(path)
    except OSError as e:
        raise _error(f"cannot sign {path}: {e.strerror or e}", "missing") from None
    out = os.fspath(signature_path) if signature_path is not None else signature_path_for(path)
    from .api import write_atomic  # here, not at the top: api imports this module
    write_atomic(out, _signature_document(size, digest, key))
    return out


def verify(path, public_key, *, signature_path=None) -> None:
    """Check the file at ``path`` against its signature (``signature_path`` or ``<path>.sig``) and key.

    Returns None; raises SignatureError naming the file and what failed (``reason``: "missing", "malformed",
    "wrong_key", "altered", "invalid" or "key"). The file is read once, in chunks: any size is fine.
    """
    load_public_key(public_key)
    path = os.fspath(path)
    sig_source = os.fspath(signature_path) if signature_path is not None else signature_path_for(path)
    sig = parse_signature(read_signature(path, signature_path=signature_path), source=sig_source)
    try:
        size, digest = _digest_file(path)
    except OSError as e:
        raise _error(f"cannot read {path}: {e.strerror or e}", "missing") from None
    _check(size, digest, sig, public_key, source=path, sig_source=sig_source)


def verify_loaded(data, source, public_key, *, signature_path=None) -> None:
    """For ``load(file, public_key=...)``: check the bytes already read from ``source`` (a path, or a name
    with ``signature_path``) against its signature. Reading once and checking those bytes leaves no window
    for the file to change between the check and the load."""
    blob = read_signature(source, signature_path=signature_path)
    sig_source = os.fspath(signature_path) if signature_path is not None else signature_path_for(source)
    verify_bytes(data, blob, public_key, source=os.fspath(source), signature_source=sig_source)


__all__ = [
    "generate_signing_key", "load_private_key", "load_public_key", "public_key_fingerprint", "sign", "sign_bytes",
    "verify", "verify_bytes", "verify_loaded", "read_signature", "parse_signature", "signature_path_for",
    "signed_message",
]

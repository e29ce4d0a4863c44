"""Encryption at rest: AES-256-GCM around the bytes of a saved file, with a raw key or a passphrase.

    key = milo_fast.generate_encryption_key()             # 32 random bytes; or use a passphrase str
    blob = milo_fast.encrypt_bytes(data, key)
    data = milo_fast.decrypt_bytes(blob, key)            # SignatureError if altered, truncated or wrong key
    milo_fast.is_encrypted(blob)                         # True: starts with b"MILOENC1"

Container (docs/security.md, "Encrypted files", is the specification): a 76-byte header

    offset size  field
         0    8  magic b"MILOENC1"
         8    1  cipher: 1 = AES-256-GCM
         9    1  key derivation: 1 = HKDF-SHA256 from a 32-byte key, 2 = scrypt from a passphrase
        10    1  scrypt log2(N)   (0 for HKDF)
        11    1  scrypt r         (0 for HKDF)
        12    1  scrypt p         (0 for HKDF)
        13    1  log2(segment size) = 20
        14    2  reserved, zero
        16   16  salt (random)
        32   12  base nonce (random)
        44   32  key check

then the plaintext cut in segments of 2^20 bytes (the last one shorter, possibly empty), each sealed with
AES-256-GCM under nonce = base nonce XOR the segment index (12 bytes big-endian) and associated data =
the 76-byte header + one byte, 1 for the last segment and 0 otherwise; each sealed segment is its ciphertext
followed by its 16-byte tag. Key derivation gives 64 bytes: the AES key, then the key check. A fresh salt makes
a fresh AES key per file, so a raw key may encrypt any number of files; the key check tells a wrong key from an
altered file (and commits the file to one key); the last-segment byte and the per-segment nonces make
truncation, reordering and appending detectable.

Errors: a malformed header (bad magic, unknown cipher, out-of-range parameters, header cut short) raises
DecodeError with the byte offset; a wrong key, an altered or truncated body, or a key of the wrong kind raises
SignatureError (a MiloError and ValueError) with ``reason`` "wrong_key", "altered", "truncated" or "key".
"""
from __future__ import annotations

import hmac
import os
import struct
import unicodedata

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from .errors import DecodeError, EncodeError, SignatureError

MAGIC = b"MILOENC1"
CIPHER_AES_256_GCM = 1
KDF_HKDF_SHA256 = 1
KDF_SCRYPT = 2
SEGMENT_LOG2 = 20
SEGMENT_SIZE = 1 << SEGMENT_LOG2
HEADER_SIZE = 76
TAG_SIZE = 16
KEY_SIZE = 32
SALT_SIZE = 16
NONCE_SIZE = 12
CHECK_SIZE = 32
HKDF_INFO = b"milo_fast encryption v1"
MAX_SEGMENTS = 1 << 32

# scrypt: what encrypt_bytes writes by default (OWASP's minimum: N=2^17, r=8, p=1; 128 MiB, ~0.5-1 s), and the
# bounds a header must respect before any work is done (a hostile file cannot ask for more than 256 MiB).
SCRYPT_LOG2_N = 17
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_LOG2_N_RANGE = (14, 20)
SCRYPT_R_RANGE = (1, 32)
SCRYPT_P_RANGE = (1, 4)
SCRYPT_MAX_MEMORY = 256 << 20       # 128 * r * N bytes

_FIXED = struct.Struct(">8sBBBBBBH")   # magic, cipher, kdf, log2 N, r, p, log2 segment, reserved


def _error(message: str, reason: str) -> SignatureError:
    err = SignatureError(message)
    err.reason = reason
    return err


def generate_encryption_key() -> bytes:
    """32 random bytes (from the operating system) for ``encrypt_bytes`` / ``dump(..., encrypt_key=...)``."""
    return os.urandom(KEY_SIZE)


def is_encrypted(blob) -> bool:
    """Whether ``blob`` is a milo_fast encrypted container (starts with b"MILOENC1")."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        return False
    return bytes(memoryview(blob)[:len(MAGIC)]) == MAGIC


def _key(key) -> tuple[int, bytes]:
    """(kdf id, secret bytes) for a 32-byte key or a passphrase str."""
    if isinstance(key, (bytes, bytearray, memoryview)):
        key = bytes(key)
        if len(key) != KEY_SIZE:
            raise _error(f"an encryption key is {KEY_SIZE} raw bytes (see generate_encryption_key()) or a "
                         f"passphrase str, not {len(key)} bytes", "key")
        return KDF_HKDF_SHA256, key
    if isinstance(key, str):
        if not key:
            raise _error("the passphrase is empty", "key")
        return KDF_SCRYPT, unicodedata.normalize("NFC", key).encode("utf-8")
    raise _error(f"cannot use a {type(key).__name__} as an encryption key: expected {KEY_SIZE} raw bytes or a "
                 "passphrase str", "key")


def _derive(kdf: int, secret: bytes, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    """(AES key, key check) from the secret and the header's salt and parameters."""
    length = KEY_SIZE + CHECK_SIZE
    if kdf == KDF_HKDF_SHA256:
        material = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=HKDF_INFO).derive(secret)
    else:
        material = Scrypt(salt=salt, length=length, n=1 << log2_n, r=r, p=p).derive(secret)
    return material[:KEY_SIZE], material[KEY_SIZE:]


def _nonce(base: bytes, index: int) -> bytes:
    return (int.from_bytes(base, "big") ^ index).to_bytes(NONCE_SIZE, "big")


def _segments(n: int) -> int:
    """How many segments a plaintext of n bytes makes (at least one)."""
    return max(1, -(-n // SEGMENT_SIZE))


def encrypt_bytes(data, key, *, scrypt_log2_n: int = SCRYPT_LOG2_N) -> bytes:
    """``data`` encrypted and authenticated with ``key`` (32 raw bytes, or a passphrase str run through scrypt
    with N = 2**scrypt_log2_n, r=8, p=1 and a random salt). See the module docstring for the layout."""
    kdf, secret = _key(key)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise EncodeError(f"what is encrypted is bytes, not a {type(data).__name__}")
    if kdf == KDF_SCRYPT:
        if type(scrypt_log2_n) is not int or not SCRYPT_LOG2_N_RANGE[0] <= scrypt_log2_n <= 18:
            raise ValueError(f"scrypt_log2_n must be an integer from {SCRYPT_LOG2_N_RANGE[0]} to 18, "
                             f"not {scrypt_log2_n!r}")
        log2_n, r, p = scrypt_log2_n, SCRYPT_R, SCRYPT_P
    else:
        log2_n = r = p = 0
    view = memoryview(data).cast("B")
    count = _segments(view.nbytes)
    if count > MAX_SEGMENTS:
        raise _error(f"{view.nbytes} bytes is too much to encrypt in one container", "key")
    salt, base = os.urandom(SALT_SIZE), os.urandom(NONCE_SIZE)
    aes_key, check = _derive(kdf, secret, salt, log2_n, r, p)
    header = _FIXED.pack(MAGIC, CIPHER_AES_256_GCM, kdf, log2_n, r, p, SEGMENT_LOG2, 0) + salt + base + check
    assert len(header) == HEADER_SIZE
    aead = AESGCM(aes_key)
    out = bytearray(header)
    for i in range(count):
        chunk = view[i * SEGMENT_SIZE:(i + 1) * SEGMENT_SIZE]
        last = b"\x01" if i == count - 1 else b"\x00"
        out += aead.encrypt(_nonce(base, i), chunk, header + last)
    return bytes(out)


def parse_header(blob, *, source: str = "<bytes>") -> dict:
    """The header fields of an encrypted container, checked (DecodeError with the byte offset if malformed)."""
    view = memoryview(blob).cast("B")
    if bytes(view[:len(MAGIC)]) != MAGIC:
        raise DecodeError(f"{source}: not a milo_fast encrypted file (it does not start with b'MILOENC1')",
                          offset=0)
    if view.nbytes < HEADER_SIZE:
        raise DecodeError(f"{source}: encrypted file cut short: {view.nbytes} bytes, the header alone is "
                          f"{HEADER_SIZE}", offset=view.nbytes)
    header = bytes(view[:HEADER_SIZE])
    _, cipher, kdf, log2_n, r, p, seg, reserved = _FIXED.unpack_from(header)
    if cipher != CIPHER_AES_256_GCM:
        raise DecodeError(f"{source}: unknown cipher {cipher} (1 = AES-256-GCM)", offset=8)
    if kdf == KDF_HKDF_SHA256:
        if (log2_n, r, p) != (0, 0, 0):
            raise DecodeError(f"{source}: scrypt parameters ({log2_n}, {r}, {p}) with a raw-key file; "
                              "they must be zero", offset=10)
    elif kdf == KDF_SCRYPT:
        for offset, name, value, (lo, hi) in ((10, "log2(N)", log2_n, SCRYPT_LOG2_N_RANGE),
                                              (11, "r", r, SCRYPT_R_RANGE), (12, "p", p, SCRYPT_P_RANGE)):
            if not lo <= value <= hi:
                raise DecodeError(f"{source}: scrypt {name} = {value}, outside {lo}..{hi}", offset=offset)
        if 128 * r * (1 << log2_n) > SCRYPT_MAX_MEMORY:
            raise DecodeError(f"{source}: scrypt N=2^{log2_n}, r={r} needs more than "
                              f"{SCRYPT_MAX_MEMORY >> 20} MiB", offset=10)
    else:
        raise DecodeError(f"{source}: unknown key derivation {kdf} (1 = HKDF-SHA256, 2 = scrypt)", offset=9)
    if seg != SEGMENT_LOG2:
        raise DecodeError(f"{source}: segment size 2^{seg}; version 1 uses 2^{SEGMENT_LOG2}", offset=13)
    if reserved != 0:
        raise DecodeError(f"{source}: reserved header bytes 14-15 are not zero", offset=14)
    return {"header": header, "cipher": cipher, "kdf": kdf, "log2_n": log2_n, "r": r, "p": p,
            "salt": header[16:32], "nonce": header[32:44], "key_check": header[44:76]}


def decrypt_bytes(blob, key, *, source: str = "<bytes>") -> bytes:
    """The plaintext of an encrypted container; SignatureError if the key is wrong or anything was altered,
    truncated or appended, DecodeError if the header is malformed. Nothing is returned unless every segment
    authenticates."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise DecodeError(f"{source}: an encrypted file is bytes, not a {type(blob).__name__}", offset=0)
    kdf, secret = _key(key)
    h = parse_header(blob, source=source)
    if kdf != h["kdf"]:
        wanted = "a passphrase (str)" if h["kdf"] == KDF_SCRYPT else f"a {KEY_SIZE}-byte key"
        given = "a passphrase" if kdf == KDF_SCRYPT else f"a {KEY_SIZE}-byte key"
        raise _error(f"{source}: encrypted with {wanted}, but {given} was given", "wrong_key")
    aes_key, check = _derive(kdf, secret, h["salt"], h["log2_n"], h["r"], h["p"])
    if not hmac.compare_digest(check, h["key_check"]):
        raise _error(f"{source}: wrong {'passphrase' if kdf == KDF_SCRYPT else 'key'} (or the file's header was "
                     "altered)", "wrong_key")
    view = memoryview(blob).cast("B")[HEADER_SIZE:]
    n = view.nbytes
    if n < TAG_SIZE:
        raise _error(f"{source}: the encrypted file was truncated ({HEADER_SIZE + n} bytes)", "truncated")
    sealed = SEGMENT_SIZE + TAG_SIZE
    count = max(1, -(-n // sealed))
    if n - (count - 1) * sealed < TAG_SIZE:
        raise _error(f"{source}: the encrypted file was truncated ({HEADER_SIZE + n} bytes)", "truncated")
    aead = AESGCM(aes_key)
    header, out = h["header"], []
    for i in range(count):
        last = b"\x01" if i == count - 1 else b"\x00"
        try:
            out.append(aead.decrypt(_nonce(h["nonce"], i), view[i * sealed:(i + 1) * sealed], header + last))
        except InvalidTag:
            raise _error(f"{source}: the encrypted file was altered or truncated (segment {i} of {count} "
                         f"does not authenticate, at byte {HEADER_SIZE + i * sealed})", "altered") from None
    return b"".join(out)


def decrypt_loaded(data, decrypt_key, *, source: str = "<bytes>") -> bytes:
    """For ``load``/``loads``: ``data`` decrypted when a key is given. An encrypted file without a key, or a key
    with a file that is not encrypted (someone may have swapped in a plaintext file), raises SignatureError."""
    if decrypt_key is None:
        if is_encrypted(data):
            raise _error(f"{source}: the file is encrypted: pass decrypt_key=", "key")
        return data
    if not is_encrypted(data):
        raise _error(f"{source}: decrypt_key was given but the file is not encrypted; refusing to load it as "
                     "plaintext", "altered")
    return decrypt_bytes(data, decrypt_key, source=source)


__all__ = [
    "generate_encryption_key", "encrypt_bytes", "decrypt_bytes", "decrypt_loaded", "is_encrypted",
    "parse_header", "MAGIC", "HEADER_SIZE",
]

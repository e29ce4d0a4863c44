"""Encryption at rest (milo_fast.crypto): round trips on saved models, tamper detection at every byte of a
container, truncation, reordering and extension of segments, wrong keys and passphrases, nonce and salt
uniqueness, malformed headers, and an independent implementation of docs/security.md's layout."""
from __future__ import annotations

import hashlib
import inspect
import struct
import time
import unicodedata

import numpy as np
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

import milo_fast
from milo_fast import crypto, signing
from milo_fast.errors import DecodeError, EncodeError, LoadError, MiloError, SignatureError

FAST = 14           # scrypt log2(N) for tests that derive many keys; the default (17) is tested once
SEG = crypto.SEGMENT_SIZE
SEALED = SEG + crypto.TAG_SIZE
H = crypto.HEADER_SIZE


@pytest.fixture(scope="module")
def model():
    from sklearn.linear_model import LogisticRegression
    rng = np.random.RandomState(1)
    X = rng.randn(80, 5)
    y = (X[:, 2] > 0.1).astype(int)
    return LogisticRegression().fit(X, y), X


@pytest.fixture(scope="module")
def model_bytes(model):
    if hasattr(milo_fast, "dumps"):
        return milo_fast.dumps(model[0])
    return milo_fast.codec.encode({"coef": model[0].coef_})


@pytest.fixture(scope="module")
def key():
    return crypto.generate_encryption_key()


def _reason(excinfo):
    return getattr(excinfo.value, "reason", None)


# ------------------------------------------------------------------------------------------ round trips

def test_round_trip_of_a_saved_model(model, model_bytes, key):
    blob = crypto.encrypt_bytes(model_bytes, key)
    assert crypto.is_encrypted(blob) and not crypto.is_encrypted(model_bytes)
    assert len(blob) == H + len(model_bytes) + crypto.TAG_SIZE
    assert model_bytes not in blob and model_bytes[:32] not in blob
    plain = crypto.decrypt_bytes(blob, key)
    assert plain == model_bytes
    if hasattr(milo_fast, "loads"):
        loaded = milo_fast.loads(plain)
        np.testing.assert_array_equal(loaded.predict_proba(model[1]), model[0].predict_proba(model[1]))


def test_round_trip_with_a_passphrase_at_the_default_cost(model_bytes):
    blob = crypto.encrypt_bytes(model_bytes, "correct horse battery staple")
    h = crypto.parse_header(blob)
    assert (h["kdf"], h["log2_n"], h["r"], h["p"]) == (crypto.KDF_SCRYPT, 17, 8, 1)
    assert crypto.decrypt_bytes(blob, "correct horse battery staple") == model_bytes


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, SEG - 1, SEG, SEG + 1, 2 * SEG, 2 * SEG + 5])
def test_round_trip_sizes_around_segment_boundaries(key, size):
    data = np.random.RandomState(size % 7919).bytes(size)
    blob = crypto.encrypt_bytes(data, key)
    segments = max(1, -(-size // SEG))
    assert len(blob) == H + size + crypto.TAG_SIZE * segments
    assert crypto.decrypt_bytes(blob, key) == data
    assert crypto.decrypt_bytes(bytearray(blob), bytearray(key)) == data
    assert crypto.decrypt_bytes(memoryview(blob), memoryview(key)) == data


def test_compressed_documents_round_trip(model, key):
    if not hasattr(milo_fast, "dumps"):
        pytest.skip("milo_fast.dumps not available")
    for compress in ("gzip", "zstd"):
        data = milo_fast.dumps(model[0], compress=compress)
        assert crypto.decrypt_bytes(crypto.encrypt_bytes(data, key), key) == data


def test_passphrases_are_nfc_normalised():
    composed, decomposed = "caf\u00e9 m\u00fcller", unicodedata.normalize("NFD", "caf\u00e9 m\u00fcller")
    assert composed != decomposed
    blob = crypto.encrypt_bytes(b"secret", composed, scrypt_log2_n=FAST)
    assert crypto.decrypt_bytes(blob, decomposed) == b"secret"


def test_is_encrypted():
    assert crypto.is_encrypted(b"MILOENC1")
    assert crypto.is_encrypted(bytearray(b"MILOENC1rest"))
    for blob in (b"", b"MILOENC", b"MILOENC2....", b'{"milo_fast": {}}', b"\x1f\x8b\x08", b"\x28\xb5\x2f\xfd",
                 "MILOENC1 as text", None, 12):
        assert not crypto.is_encrypted(blob), blob


# ------------------------------------------------------------------------------------------ tampering

def _region(i: int) -> str:
    if i < 8:
        return "magic"
    if i < 16:
        return "params"
    if i < 32:
        return "salt"
    if i < 44:
        return "nonce"
    if i < 76:
        return "check"
    return "body"


# what flipping a byte of each region must raise, by key derivation
EXPECTED = {
    "magic": (DecodeError, None), "params": (DecodeError, None), "salt": (SignatureError, "wrong_key"),
    "nonce": (SignatureError, "altered"), "check": (SignatureError, "wrong_key"), "body": (SignatureError, "altered"),
}


def test_every_byte_and_bit_flip_of_a_raw_key_container_is_refused(key):
    data = b"The quick brown fox jumps over the lazy dog: 0123456789"
    blob = crypto.encrypt_bytes(data, key)
    assert len(blob) == H + len(data) + 16
    for i in range(len(blob)):
        for mask in (0x01, 0x02, 0x10, 0x80, 0xFF):
            bad = bytearray(blob)
            bad[i] ^= mask
            kind, reason = EXPECTED[_region(i)]
            with pytest.raises((SignatureError, DecodeError)) as e:
                crypto.decrypt_bytes(bytes(bad), key)
            assert type(e.value) is kind, (i, mask, e.value)
            if reason:
                assert _reason(e) == reason, (i, mask, e.value)
            if kind is DecodeError:
                assert e.value.offset is not None and e.value.offset <= i


def test_every_byte_flip_of_a_passphrase_container_is_refused():
    data = b"model bytes"
    blob = crypto.encrypt_bytes(data, "pass phrase", scrypt_log2_n=FAST)
    for i in range(len(blob)):
        bad = bytearray(blob)
        bad[i] ^= 0x01
        with pytest.raises((SignatureError, DecodeError)) as e:
            crypto.decrypt_bytes(bytes(bad), "pass phrase")
        kind, reason = EXPECTED[_region(i)]
        if i in (10, 11, 12) and type(e.value) is SignatureError:
            # N, r or p changed to another value within bounds: a different key comes out
            assert _reason(e) == "wrong_key"
            continue
        assert type(e.value) is kind, (i, e.value)
        if reason:
            assert _reason(e) == reason, (i, e.value)


def test_every_truncation_is_refused(key):
    data = b"x" * 40
    blob = crypto.encrypt_bytes(data, key)
    for n in range(len(blob)):
        with pytest.raises((SignatureError, DecodeError)) as e:
            crypto.decrypt_bytes(blob[:n], key)
        if n < H:
            assert type(e.value) is DecodeError, n
        else:
            assert type(e.value) is SignatureError and _reason(e) in ("truncated", "altered"), n


def test_appended_bytes_are_refused(key):
    blob = crypto.encrypt_bytes(b"y" * 100, key)
    for extra in (b"\x00", b"\x00" * 15, b"\x00" * 16, b"\x00" * 17, blob[H:]):
        with pytest.raises(SignatureError):
            crypto.decrypt_bytes(blob + extra, key)


def test_segments_cannot_be_dropped_reordered_duplicated_or_spliced(key):
    data = np.random.RandomState(3).bytes(2 * SEG + 1000)
    blob = crypto.encrypt_bytes(data, key)
    header, body = blob[:H], blob[H:]
    s0, s1, s2 = body[:SEALED], body[SEALED:2 * SEALED], body[2 * SEALED:]
    assert len(s2) == 1000 + 16
    attempts = {
        "drop last": header + s0 + s1,           # ends on a boundary: segment 1 was not sealed as the last
        "drop first": header + s1 + s2,
        "drop middle": header + s0 + s2,
        "swap": header + s1 + s0 + s2,
        "duplicate": header + s0 + s0 + s1 + s2,
        "append a copy of the last": header + s0 + s1 + s2 + s2,
    }
    other = crypto.encrypt_bytes(data, key)        # same key and data, another salt and nonce
    attempts["splice from another file"] = header + other[H:H + SEALED] + s1 + s2
    attempts["header of another file"] = other[:H] + body
    for name, bad in attempts.items():
        with pytest.raises(SignatureError) as e:
            crypto.decrypt_bytes(bad, key)
        assert _reason(e) in ("altered", "truncated", "wrong_key"), name
    # a plaintext of exactly two segments makes two sealed segments (no empty third one), and dropping the
    # second leaves a first segment that was not sealed as the last
    exact = crypto.encrypt_bytes(data[:2 * SEG], key)
    assert len(exact) == H + 2 * SEALED
    with pytest.raises(SignatureError):
        crypto.decrypt_bytes(exact[:H + SEALED], key)


def test_nothing_is_returned_when_a_late_segment_is_altered(key):
    data = np.random.RandomState(4).bytes(3 * SEG)
    blob = bytearray(crypto.encrypt_bytes(data, key))
    blob[-1] ^= 0x01
    with pytest.raises(SignatureError) as e:
        crypto.decrypt_bytes(bytes(blob), key)
    assert "segment 2 of 3" in str(e.value)


# ------------------------------------------------------------------------------------------ keys

def test_wrong_key_and_wrong_passphrase(model_bytes, key):
    blob = crypto.encrypt_bytes(model_bytes, key)
    with pytest.raises(SignatureError) as e:
        crypto.decrypt_bytes(blob, crypto.generate_encryption_key(), source="model.json")
    assert _reason(e) == "wrong_key" and "model.json" in str(e.value) and "wrong key" in str(e.value)
    pblob = crypto.encrypt_bytes(model_bytes, "right", scrypt_log2_n=FAST)
    for wrong in ("wrong", "Right", "right ", "righ"):
        with pytest.raises(SignatureError) as e:
            crypto.decrypt_bytes(pblob, wrong)
        assert _reason(e) == "wrong_key" and "wrong passphrase" in str(e.value)


def test_key_of_the_other_kind(model_bytes, key):
    blob = crypto.encrypt_bytes(model_bytes, key)
    with pytest.raises(SignatureError, match="32-byte key") as e:
        crypto.decrypt_bytes(blob, "a passphrase")
    assert _reason(e) == "wrong_key"
    pblob = crypto.encrypt_bytes(model_bytes, "a passphrase", scrypt_log2_n=FAST)
    with pytest.raises(SignatureError, match="passphrase") as e:
        crypto.decrypt_bytes(pblob, key)
    assert _reason(e) == "wrong_key"


@pytest.mark.parametrize("bad", [None, 1, 1.0, [1] * 32, b"", b"k" * 16, b"k" * 31, b"k" * 33, b"k" * 64, ""],
                         ids=lambda v: f"{type(v).__name__}{len(v) if hasattr(v, '__len__') else ''}")
def test_keys_of_the_wrong_type_or_size(model_bytes, key, bad):
    with pytest.raises(SignatureError) as e:
        crypto.encrypt_bytes(model_bytes, bad)
    assert _reason(e) == "key" and isinstance(e.value, MiloError) and isinstance(e.value, ValueError)
    blob = crypto.encrypt_bytes(model_bytes, key)
    with pytest.raises(SignatureError) as e:
        crypto.decrypt_bytes(blob, bad)
    assert _reason(e) == "key"


def test_data_of_the_wrong_type(key):
    with pytest.raises(EncodeError):
        crypto.encrypt_bytes("text", key)
    with pytest.raises(DecodeError):
        crypto.decrypt_bytes("MILOENC1", key)


def test_scrypt_cost_option_is_bounded():
    for bad in (13, 19, 17.0, "17", True):
        with pytest.raises(ValueError):
            crypto.encrypt_bytes(b"x", "pw", scrypt_log2_n=bad)


def test_generated_keys():
    keys = {crypto.generate_encryption_key() for _ in range(100)}
    assert len(keys) == 100 and all(len(k) == 32 for k in keys)


# ------------------------------------------------------------------------------------------ freshness

def test_nonces_and_salts_never_repeat(key):
    n = 2000
    blobs = [crypto.encrypt_bytes(b"same data", key) for _ in range(n)]
    nonces = {b[32:44] for b in blobs}
    salts = {b[16:32] for b in blobs}
    assert len(nonces) == n and len(salts) == n and len(set(blobs)) == n
    assert len({b[44:76] for b in blobs}) == n, "a fresh salt gives a fresh key check"
    pblobs = [crypto.encrypt_bytes(b"same data", "pw", scrypt_log2_n=FAST) for _ in range(20)]
    assert len({b[16:44] for b in pblobs}) == 20


def test_segment_nonces_within_a_file_are_distinct(key):
    blob = crypto.encrypt_bytes(b"\x00" * (4 * SEG), key)
    base = blob[32:44]
    nonces = {crypto._nonce(base, i) for i in range(4)}
    assert len(nonces) == 4 and crypto._nonce(base, 0) == base


# ------------------------------------------------------------------------------------------ headers

def _header(**fields) -> bytes:
    f = {"magic": b"MILOENC1", "cipher": 1, "kdf": 2, "log2_n": FAST, "r": 8, "p": 1, "seg": 20, "reserved": 0}
    f.update(fields)
    return struct.pack(">8sBBBBBBH", f["magic"], f["cipher"], f["kdf"], f["log2_n"], f["r"], f["p"], f["seg"],
                       f["reserved"]) + b"\x00" * 60 + b"\x00" * 16


BAD_HEADERS = {
    "cipher 0": (dict(cipher=0), 8), "cipher 2": (dict(cipher=2), 8), "kdf 0": (dict(kdf=0), 9),
    "kdf 3": (dict(kdf=3), 9), "log2 N 13": (dict(log2_n=13), 10), "log2 N 21": (dict(log2_n=21), 10),
    "log2 N 255": (dict(log2_n=255), 10), "r 0": (dict(r=0), 11), "r 33": (dict(r=33), 11),
    "p 0": (dict(p=0), 12), "p 5": (dict(p=5), 12), "memory 512 MiB": (dict(log2_n=20, r=4), 10),
    "segment 2^21": (dict(seg=21), 13), "segment 0": (dict(seg=0), 13), "reserved": (dict(reserved=1), 14),
    "raw key with scrypt parameters": (dict(kdf=1), 10),
}


@pytest.mark.parametrize("case", sorted(BAD_HEADERS))
def test_malformed_headers_are_decode_errors_before_any_work(case):
    fields, offset = BAD_HEADERS[case]
    blob = _header(**fields)
    assert len(blob) == H + 16
    t = time.perf_counter()
    for k in ("pw", b"k" * 32):
        with pytest.raises(DecodeError) as e:
            crypto.decrypt_bytes(blob, k, source="m.enc")
        assert e.value.offset == offset and "m.enc" in str(e.value)
    with pytest.raises(DecodeError):
        crypto.parse_header(blob)
    assert time.perf_counter() - t < 2.0, "no key derivation should run for a malformed header"


def test_not_encrypted_and_short_headers(key):
    with pytest.raises(DecodeError) as e:
        crypto.decrypt_bytes(b'{"milo_fast": 1}', key)
    assert e.value.offset == 0 and "not a milo_fast encrypted file" in str(e.value)
    with pytest.raises(DecodeError) as e:
        crypto.decrypt_bytes(b"MILOENC1\x01\x01", key)
    assert e.value.offset == 10 and "cut short" in str(e.value)


def test_error_classes():
    assert issubclass(DecodeError, LoadError) and issubclass(SignatureError, LoadError)


# ------------------------------------------------------------------------------------------ load hook

def test_decrypt_loaded(model_bytes, key):
    blob = crypto.encrypt_bytes(model_bytes, key)
    assert crypto.decrypt_loaded(blob, key, source="m") == model_bytes
    assert crypto.decrypt_loaded(model_bytes, None) == model_bytes
    with pytest.raises(SignatureError, match="decrypt_key") as e:
        crypto.decrypt_loaded(blob, None, source="m.enc")
    assert "m.enc" in str(e.value)
    with pytest.raises(SignatureError, match="not encrypted") as e:   # a plaintext file swapped in
        crypto.decrypt_loaded(model_bytes, key, source="m.enc")


def test_encrypt_then_sign_then_verify_then_decrypt(tmp_path, model, model_bytes, key):
    """The order load follows: the signature covers the file as written (the ciphertext) and is checked
    before anything is decrypted or parsed."""
    priv, pub = signing.generate_signing_key()
    path = tmp_path / "model.enc"
    path.write_bytes(crypto.encrypt_bytes(model_bytes, key))
    signing.sign(path, priv)
    data = path.read_bytes()
    signing.verify_loaded(data, str(path), pub)
    plain = crypto.decrypt_loaded(data, key, source=str(path))
    assert plain == model_bytes
    if hasattr(milo_fast, "loads"):
        np.testing.assert_array_equal(milo_fast.loads(plain).predict(model[1]), model[0].predict(model[1]))


def _api_has(name, param):
    fn = getattr(milo_fast, name, None)
    return fn is not None and param in inspect.signature(fn).parameters


@pytest.mark.skipif(not (_api_has("dump", "encrypt_key") and _api_has("load", "decrypt_key")),
                    reason="api.dump(..., encrypt_key=) / load(..., decrypt_key=) not wired in yet")
def test_dump_and_load_encrypted(tmp_path, model, key):
    path = tmp_path / "model.enc"
    milo_fast.dump(model[0], path, encrypt_key=key)
    assert crypto.is_encrypted(path.read_bytes())
    loaded = milo_fast.load(path, decrypt_key=key)
    np.testing.assert_array_equal(loaded.predict(model[1]), model[0].predict(model[1]))
    with pytest.raises(SignatureError):
        milo_fast.load(path, decrypt_key=crypto.generate_encryption_key())
    with pytest.raises(SignatureError):
        milo_fast.load(path)


# ------------------------------------------------------------------------------------------ the spec

def _independent_decrypt(blob: bytes, key: bytes | str) -> bytes:
    """docs/security.md, "Encrypted files", implemented with nothing but struct, hashlib and cryptography."""
    magic, cipher, kdf, log2_n, r, p, seg, reserved = struct.unpack(">8sBBBBBBH", blob[:16])
    assert magic == b"MILOENC1" and cipher == 1 and seg == 20 and reserved == 0
    salt, nonce, check = blob[16:32], blob[32:44], blob[44:76]
    if kdf == 1:
        material = HKDF(hashes.SHA256(), 64, salt, b"milo_fast encryption v1").derive(key)
    else:
        material = Scrypt(salt, 64, 1 << log2_n, r, p).derive(unicodedata.normalize("NFC", key).encode())
    assert material[32:] == check
    aead, header, body = AESGCM(material[:32]), blob[:76], blob[76:]
    size = (1 << 20) + 16
    pieces = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
    out = []
    for i, piece in enumerate(pieces):
        n = (int.from_bytes(nonce, "big") ^ i).to_bytes(12, "big")
        out.append(aead.decrypt(n, piece, header + (b"\x01" if i == len(pieces) - 1 else b"\x00")))
    return b"".join(out)


def _independent_encrypt(data: bytes, key: bytes) -> bytes:
    import os
    salt, nonce = os.urandom(16), os.urandom(12)
    material = HKDF(hashes.SHA256(), 64, salt, b"milo_fast encryption v1").derive(key)
    header = b"MILOENC1" + bytes([1, 1, 0, 0, 0, 20, 0, 0]) + salt + nonce + material[32:]
    chunks = [data[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20)] or [b""]
    aead = AESGCM(material[:32])
    body = b"".join(aead.encrypt((int.from_bytes(nonce, "big") ^ i).to_bytes(12, "big"), c,
                                 header + (b"\x01" if i == len(chunks) - 1 else b"\x00"))
                    for i, c in enumerate(chunks))
    return header + body


@pytest.mark.parametrize("size", [0, 100, SEG, 2 * SEG + 3])
def test_an_independent_implementation_agrees(key, size):
    data = hashlib.sha256(str(size).encode()).digest() * (size // 32) + b"z" * (size % 32)
    assert _independent_decrypt(crypto.encrypt_bytes(data, key), key) == data
    assert crypto.decrypt_bytes(_independent_encrypt(data, key), key) == data
    if size == 100:
        assert _independent_decrypt(crypto.encrypt_bytes(data, "pw", scrypt_log2_n=FAST), "pw") == data

"""Ed25519 signatures (milo_fast.signing): round trips on saved models, every way a check must fail, keys in
every accepted form and the forms refused, copies to other directories and processes, and an independent
verifier written from docs/security.md alone."""
from __future__ import annotations

import base64
import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa, x25519

import milo_fast
from milo_fast import signing
from milo_fast.errors import LoadError, MiloError, SignatureError


# ------------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def model():
    from sklearn.linear_model import LogisticRegression
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return LogisticRegression().fit(X, y), X


def _model_bytes(model, **kw) -> bytes:
    if hasattr(milo_fast, "dumps"):
        return milo_fast.dumps(model, **kw)
    return milo_fast.codec.encode({"coef": model.coef_, "intercept": model.intercept_})


@pytest.fixture(scope="module")
def model_bytes(model):
    return _model_bytes(model[0])


@pytest.fixture(scope="module")
def keys():
    return signing.generate_signing_key()


@pytest.fixture(scope="module")
def other_keys():
    return signing.generate_signing_key()


@pytest.fixture
def signed(tmp_path, model_bytes, keys):
    path = tmp_path / "model.json"
    path.write_bytes(model_bytes)
    signing.sign(path, keys[0])
    return path


def _reason(excinfo) -> str:
    return getattr(excinfo.value, "reason", None)


def _sig(path) -> dict:
    with open(str(path) + ".sig", "rb") as f:
        return json.loads(f.read())


def _write_sig(path, doc) -> None:
    with open(str(path) + ".sig", "w") as f:
        json.dump(doc, f)


# ------------------------------------------------------------------------------------------ round trips

def test_sign_then_verify_a_saved_model(tmp_path, model, model_bytes, keys):
    path = tmp_path / "model.json"
    path.write_bytes(model_bytes)
    out = signing.sign(path, keys[0])
    assert out == str(path) + ".sig" and os.path.exists(out)
    assert path.read_bytes() == model_bytes, "signing must not touch the file"
    assert signing.verify(path, keys[1]) is None
    doc = _sig(path)
    assert doc["file_size"] == len(model_bytes)
    assert doc["file_sha256"] == hashlib.sha256(model_bytes).hexdigest()
    assert doc["public_key_sha256"] == signing.public_key_fingerprint(keys[1])
    if hasattr(milo_fast, "load"):
        loaded = milo_fast.load(path)
        np.testing.assert_array_equal(loaded.predict_proba(model[1]), model[0].predict_proba(model[1]))


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
def test_compressed_file_signs_its_compressed_bytes(tmp_path, model, keys, compress):
    if not hasattr(milo_fast, "dumps"):
        pytest.skip("milo_fast.dumps not available")
    data = milo_fast.dumps(model[0], compress=compress)
    path = tmp_path / f"model.json.{compress}"
    path.write_bytes(data)
    signing.sign(path, keys[0])
    signing.verify(path, keys[1])
    assert _sig(path)["file_sha256"] == hashlib.sha256(data).hexdigest()
    assert _sig(path)["file_size"] == len(data)


def test_signing_is_deterministic_and_matches_sign_bytes(signed, model_bytes, keys):
    first = open(str(signed) + ".sig", "rb").read()
    signing.sign(signed, keys[0])
    assert open(str(signed) + ".sig", "rb").read() == first
    assert signing.sign_bytes(model_bytes, keys[0]) == first
    signing.verify_bytes(model_bytes, first, keys[1])


def test_empty_and_multi_chunk_files(tmp_path, keys):
    for size in (0, 1, (1 << 20) - 1, 1 << 20, 3 * (1 << 20) + 7):
        data = np.random.RandomState(size % 1000).bytes(size)
        path = tmp_path / f"f{size}"
        path.write_bytes(data)
        signing.sign(path, keys[0])
        signing.verify(path, keys[1])
        signing.verify_bytes(data, signing.sign_bytes(data, keys[0]), keys[1])
        if size:
            with open(path, "r+b") as f:  # one byte, deep inside a later chunk when there are several
                f.seek(size * 2 // 3)
                b = f.read(1)
                f.seek(size * 2 // 3)
                f.write(bytes([b[0] ^ 0x10]))
            with pytest.raises(SignatureError) as e:
                signing.verify(path, keys[1])
            assert _reason(e) == "altered"


def test_explicit_signature_path(tmp_path, model_bytes, keys):
    path = tmp_path / "m.json"
    path.write_bytes(model_bytes)
    sig = tmp_path / "elsewhere" / "m.signature"
    sig.parent.mkdir()
    assert signing.sign(path, keys[0], signature_path=sig) == str(sig)
    assert not os.path.exists(str(path) + ".sig")
    signing.verify(path, keys[1], signature_path=sig)
    with pytest.raises(SignatureError) as e:
        signing.verify(path, keys[1])
    assert _reason(e) == "missing"


# ------------------------------------------------------------------------------------------ altered file

def test_every_byte_flip_of_the_file_is_detected(signed, model_bytes, keys):
    pub = signing.load_public_key(keys[1])
    sig = open(str(signed) + ".sig", "rb").read()
    for i in range(len(model_bytes)):
        for mask in (0x01, 0x80):
            data = bytearray(model_bytes)
            data[i] ^= mask
            with pytest.raises(SignatureError) as e:
                signing.verify_bytes(bytes(data), sig, pub)
            assert _reason(e) == "altered", i
    # the file on disk too, at a sample of positions (every byte above goes through the same check)
    for i in range(0, len(model_bytes), 97):
        data = bytearray(model_bytes)
        data[i] ^= 0x04
        signed.write_bytes(bytes(data))
        with pytest.raises(SignatureError) as e:
            signing.verify(signed, pub)
        assert _reason(e) == "altered" and str(signed) in str(e.value)
    signed.write_bytes(model_bytes)
    signing.verify(signed, pub)


def test_every_truncation_and_an_extension_are_detected(signed, model_bytes, keys):
    sig = open(str(signed) + ".sig", "rb").read()
    for n in range(len(model_bytes)):
        with pytest.raises(SignatureError) as e:
            signing.verify_bytes(model_bytes[:n], sig, keys[1])
        assert _reason(e) == "altered"
    for extra in (b" ", b"\n", b"\x00", model_bytes):
        with pytest.raises(SignatureError) as e:
            signing.verify_bytes(model_bytes + extra, sig, keys[1])
        assert _reason(e) == "altered"


def test_newline_conversion_is_an_alteration(tmp_path, keys):
    path = tmp_path / "pretty.json"
    path.write_bytes(b'{\n "a": 1,\n "b": [1, 2]\n}\n')
    signing.sign(path, keys[0])
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    with pytest.raises(SignatureError) as e:
        signing.verify(path, keys[1])
    assert _reason(e) == "altered" and "bytes" in str(e.value)


def test_error_names_the_file_and_both_hashes(signed, model_bytes, keys):
    data = bytearray(model_bytes)
    data[10] ^= 1
    signed.write_bytes(bytes(data))
    with pytest.raises(SignatureError) as e:
        signing.verify(signed, keys[1])
    msg = str(e.value)
    assert str(signed) in msg and "altered" in msg
    assert hashlib.sha256(bytes(data)).hexdigest() in msg and hashlib.sha256(model_bytes).hexdigest() in msg


def test_consistent_forgery_of_file_and_sig_fields_fails_the_signature(signed, model_bytes, keys):
    """An attacker who alters the file and rewrites the size and hash in the .sig cannot make the signature
    agree: the check is always over the recomputed hash."""
    forged = model_bytes.replace(b"LogisticRegression", b"LogisticRegressiom", 1)
    assert forged != model_bytes
    signed.write_bytes(forged)
    doc = _sig(signed)
    doc["file_sha256"] = hashlib.sha256(forged).hexdigest()
    doc["file_size"] = len(forged)
    _write_sig(signed, doc)
    with pytest.raises(SignatureError) as e:
        signing.verify(signed, keys[1])
    assert _reason(e) == "invalid" and str(signed) in str(e.value)


# ------------------------------------------------------------------------------------------ altered signature

def test_every_bit_of_the_signature_matters(signed, model_bytes, keys):
    doc = _sig(signed)
    raw = base64.b64decode(doc["signature"])
    for i in range(len(raw)):
        for bit in range(8):
            bad = bytearray(raw)
            bad[i] ^= 1 << bit
            blob = json.dumps({**doc, "signature": base64.b64encode(bytes(bad)).decode()}).encode()
            with pytest.raises(SignatureError) as e:
                signing.verify_bytes(model_bytes, blob, keys[1])
            assert _reason(e) == "invalid", (i, bit)


def test_every_byte_flip_of_the_sig_file_is_refused(signed, model_bytes, keys):
    sig = open(str(signed) + ".sig", "rb").read()
    harmless = 0
    for i in range(len(sig)):
        blob = bytearray(sig)
        blob[i] ^= 0x01
        try:
            signing.verify_bytes(model_bytes, bytes(blob), keys[1])
        except SignatureError as e:
            assert e.reason in ("malformed", "wrong_key", "altered", "invalid"), e.reason
        else:  # only JSON whitespace may change without changing a field: ' ' ^ 1 == '!' is not whitespace
            harmless += 1
    assert harmless == 0


def test_wrong_key(signed, keys, other_keys):
    with pytest.raises(SignatureError) as e:
        signing.verify(signed, other_keys[1])
    msg = str(e.value)
    assert _reason(e) == "wrong_key" and "another key" in msg and str(signed) in msg
    assert signing.public_key_fingerprint(keys[1]) in msg and signing.public_key_fingerprint(other_keys[1]) in msg


def test_wrong_key_with_a_forged_fingerprint(signed, keys, other_keys):
    doc = _sig(signed)
    doc["public_key_sha256"] = signing.public_key_fingerprint(other_keys[1])
    _write_sig(signed, doc)
    with pytest.raises(SignatureError) as e:
        signing.verify(signed, other_keys[1])
    assert _reason(e) == "invalid"


def test_signature_of_another_file_does_not_transfer(tmp_path, keys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_bytes(b'{"a": 1}')
    b.write_bytes(b'{"a": 2}')
    signing.sign(a, keys[0])
    shutil.copy(str(a) + ".sig", str(b) + ".sig")
    with pytest.raises(SignatureError) as e:
        signing.verify(b, keys[1])
    assert _reason(e) == "altered"


def test_missing_signature(tmp_path, model_bytes, keys):
    path = tmp_path / "unsigned.json"
    path.write_bytes(model_bytes)
    with pytest.raises(SignatureError) as e:
        signing.verify(path, keys[1])
    assert _reason(e) == "missing"
    assert str(path) in str(e.value) and str(path) + ".sig" in str(e.value)


def test_missing_file(tmp_path, keys):
    with pytest.raises(SignatureError) as e:
        signing.sign(tmp_path / "nope.json", keys[0])
    assert "nope.json" in str(e.value)


def _valid_doc(model_bytes, keys):
    return json.loads(signing.sign_bytes(model_bytes, keys[0]))


MALFORMED = {
    "empty": lambda d: b"",
    "not json": lambda d: b"milo_fast signature",
    "not utf-8": lambda d: b'{"milo_fast_signature": 1, "x": "\xff"}',
    "array": lambda d: json.dumps([d]).encode(),
    "number": lambda d: b"1",
    "no version": lambda d: {k: v for k, v in d.items() if k != "milo_fast_signature"},
    "version 2": lambda d: {**d, "milo_fast_signature": 2},
    "version text": lambda d: {**d, "milo_fast_signature": "1"},
    "version bool": lambda d: {**d, "milo_fast_signature": True},
    "version float": lambda d: {**d, "milo_fast_signature": 1.0},
    "algorithm": lambda d: {**d, "algorithm": "RSA"},
    "algorithm case": lambda d: {**d, "algorithm": "ed25519"},
    "extra field": lambda d: {**d, "comment": "hi"},
    "no signature": lambda d: {k: v for k, v in d.items() if k != "signature"},
    "no file_sha256": lambda d: {k: v for k, v in d.items() if k != "file_sha256"},
    "no file_size": lambda d: {k: v for k, v in d.items() if k != "file_size"},
    "no public_key_sha256": lambda d: {k: v for k, v in d.items() if k != "public_key_sha256"},
    "hash uppercase": lambda d: {**d, "file_sha256": d["file_sha256"].upper()},
    "hash short": lambda d: {**d, "file_sha256": d["file_sha256"][:-2]},
    "hash not hex": lambda d: {**d, "file_sha256": "g" * 64},
    "fingerprint number": lambda d: {**d, "public_key_sha256": 12},
    "size negative": lambda d: {**d, "file_size": -1},
    "size bool": lambda d: {**d, "file_size": True},
    "size float": lambda d: {**d, "file_size": float(d["file_size"])},
    "size text": lambda d: {**d, "file_size": str(d["file_size"])},
    "size huge": lambda d: {**d, "file_size": 1 << 64},
    "signature not base64": lambda d: {**d, "signature": "!" * 88},
    "signature 63 bytes": lambda d: {**d, "signature": base64.b64encode(b"\x00" * 63).decode()},
    "signature 65 bytes": lambda d: {**d, "signature": base64.b64encode(b"\x00" * 65).decode()},
    "signature unpadded": lambda d: {**d, "signature": d["signature"].rstrip("=")},
    "signature non-canonical": lambda d: {**d, "signature": d["signature"][:-3] + "B=="},
    "signature with newline": lambda d: {**d, "signature": d["signature"][:40] + "\n" + d["signature"][40:]},
    "signature bytes list": lambda d: {**d, "signature": list(base64.b64decode(d["signature"]))},
    "duplicate key": lambda d: (json.dumps(d)[:-1] + ', "file_size": 0}').encode(),
    "NaN": lambda d: json.dumps(d)[:-1].encode() + b', "x": NaN}',
    "too large": lambda d: json.dumps({**d, "pad": " " * (70 << 10)}).encode(),
    "deep": lambda d: b"[" * 100000 + b"]" * 100000,
    "deep within the size limit": lambda d: b"[" * 30000 + b"]" * 30000,
    "size with 5000 digits": lambda d: json.dumps(d).replace(f'"file_size": {d["file_size"]}', '"file_size": ' + "9" * 5000).encode(),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_signature_file(tmp_path, model_bytes, keys, case):
    doc = _valid_doc(model_bytes, keys)
    bad = MALFORMED[case](doc)
    if isinstance(bad, dict):
        bad = json.dumps(bad).encode()
    path = tmp_path / "model.json"
    path.write_bytes(model_bytes)
    (tmp_path / "model.json.sig").write_bytes(bad)
    with pytest.raises(SignatureError) as e:
        signing.verify(path, keys[1])
    assert _reason(e) == "malformed", str(e.value)
    assert str(path) + ".sig" in str(e.value) and "malformed" in str(e.value)
    with pytest.raises(SignatureError):
        signing.verify_bytes(model_bytes, bad, keys[1])


def test_the_signature_document_is_exactly_the_documented_fields(model_bytes, keys):
    doc = _valid_doc(model_bytes, keys)
    assert sorted(doc) == sorted(signing.FIELDS)
    assert doc["milo_fast_signature"] == 1 and doc["algorithm"] == "Ed25519"


# ------------------------------------------------------------------------------------------ keys

def _key_forms(tmp_path, private_key: ed25519.Ed25519PrivateKey):
    pub = private_key.public_key()
    priv_pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
    pub_pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    priv_ssh = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                         serialization.NoEncryption())
    pub_ssh = pub.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    raw_priv = private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                         serialization.NoEncryption())
    raw_pub = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    (tmp_path / "k.pem").write_bytes(priv_pem)
    (tmp_path / "k.pub.pem").write_bytes(pub_pem)
    (tmp_path / "id_ed25519").write_bytes(priv_ssh)
    (tmp_path / "id_ed25519.pub").write_bytes(pub_ssh + b"\n")
    private = {
        "object": private_key, "pem bytes": priv_pem, "pem str": priv_pem.decode(), "pem bytearray":
        bytearray(priv_pem), "path str": str(tmp_path / "k.pem"), "path": tmp_path / "k.pem",
        "openssh": priv_ssh, "openssh path": tmp_path / "id_ed25519", "raw": raw_priv,
        "raw memoryview": memoryview(raw_priv), "pem with leading blank": b"\n" + priv_pem,
    }
    public = {
        "object": pub, "pem bytes": pub_pem, "pem str": pub_pem.decode(), "path str": str(tmp_path / "k.pub.pem"),
        "path": tmp_path / "k.pub.pem", "openssh": pub_ssh, "openssh str": pub_ssh.decode() + " comment",
        "openssh path": tmp_path / "id_ed25519.pub", "raw": raw_pub, "raw bytearray": bytearray(raw_pub),
    }
    return private, public


def test_every_accepted_key_form(tmp_path, model_bytes):
    key = ed25519.Ed25519PrivateKey.generate()
    private, public = _key_forms(tmp_path, key)
    blobs = {name: signing.sign_bytes(model_bytes, k) for name, k in private.items()}
    assert len(set(blobs.values())) == 1, "every form of the same key signs identically"
    blob = next(iter(blobs.values()))
    for name, k in public.items():
        signing.verify_bytes(model_bytes, blob, k)
        assert signing.public_key_fingerprint(k) == signing.public_key_fingerprint(key), name


def test_generated_keys_are_pem_and_password_protected_ones_work(model_bytes):
    priv, pub = signing.generate_signing_key()
    assert priv.startswith(b"-----BEGIN PRIVATE KEY-----") and pub.startswith(b"-----BEGIN PUBLIC KEY-----")
    epriv, epub = signing.generate_signing_key(password="correct horse")
    assert epriv.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    blob = signing.sign_bytes(model_bytes, epriv, password="correct horse")
    signing.verify_bytes(model_bytes, blob, epub)
    for password in (None, "wrong"):
        with pytest.raises(SignatureError) as e:
            signing.sign_bytes(model_bytes, epriv, password=password)
        assert _reason(e) == "key"
    assert signing.generate_signing_key() != signing.generate_signing_key()


def _rejected_keys(tmp_path):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    rsa_pem = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    rsa_pub_pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    x_key = x25519.X25519PrivateKey.generate()
    x_pub_pem = x_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "garbage").write_bytes(b"not a key at all")
    (tmp_path / "huge").write_bytes(b"-" * (100 << 10))
    common = {
        "None": None, "int": 42, "list": [1, 2], "dict": {}, "float": 1.5,
        "31 bytes": b"\x01" * 31, "33 bytes": b"\x01" * 33, "empty": b"", "garbage": b"hello, world, not a key",
        "missing path": str(tmp_path / "does-not-exist.pem"), "garbage file": tmp_path / "garbage",
        "huge file": tmp_path / "huge", "directory": tmp_path,
        "rsa object": rsa_key, "rsa pem": rsa_pem, "rsa public pem": rsa_pub_pem, "x25519 object": x_key,
        "x25519 public pem": x_pub_pem, "x25519 public object": x_key.public_key(),
        "broken pem": b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "broken public pem": b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    }
    return common


def test_rejected_private_keys(tmp_path, model_bytes, keys):
    bad = _rejected_keys(tmp_path)
    bad["public object"] = signing.load_public_key(keys[1])
    bad["public pem"] = keys[1]
    bad["public ssh"] = signing.load_public_key(keys[1]).public_bytes(serialization.Encoding.OpenSSH,
                                                                      serialization.PublicFormat.OpenSSH)
    for name, key in bad.items():
        with pytest.raises(SignatureError) as e:
            signing.sign_bytes(model_bytes, key)
        assert _reason(e) == "key", name
        assert isinstance(e.value, ValueError) and isinstance(e.value, MiloError)
        assert "key" in str(e.value), name


def test_rejected_public_keys(tmp_path, signed, keys):
    bad = _rejected_keys(tmp_path)
    bad["private object"] = signing.load_private_key(keys[0])
    bad["private pem"] = keys[0]
    bad["private pem str"] = keys[0].decode()
    for name, key in bad.items():
        with pytest.raises(SignatureError) as e:
            signing.verify(signed, key)
        assert _reason(e) == "key", name
    with pytest.raises(SignatureError, match="private key"):
        signing.verify(signed, keys[0])


def test_non_bytes_data(keys):
    with pytest.raises(SignatureError):
        signing.sign_bytes("text is not bytes", keys[0])
    with pytest.raises(SignatureError):
        signing.verify_bytes("text", signing.sign_bytes(b"text", keys[0]), keys[1])


def test_signature_error_is_a_load_error():
    assert issubclass(SignatureError, LoadError) and issubclass(SignatureError, ValueError)
    assert issubclass(SignatureError, MiloError)


# ------------------------------------------------------------------------------------------ moving files

def test_signature_survives_copies_to_another_directory(tmp_path, signed, keys):
    other = tmp_path / "elsewhere" / "deeper"
    other.mkdir(parents=True)
    shutil.copy2(signed, other / "model.json")
    shutil.copy2(str(signed) + ".sig", other / "model.json.sig")
    signing.verify(other / "model.json", keys[1])
    # a plain byte copy (new mtime, new inode, no metadata) and a new name
    (other / "renamed.json").write_bytes(signed.read_bytes())
    (other / "renamed.json.sig").write_bytes(open(str(signed) + ".sig", "rb").read())
    signing.verify(other / "renamed.json", keys[1])
    os.chmod(other / "renamed.json", 0o400)
    signing.verify(other / "renamed.json", keys[1])


def test_verified_in_a_fresh_process_with_only_the_public_key_file(tmp_path, signed, keys):
    """Stands in for another machine: another interpreter, another directory, the public key from a file."""
    remote = tmp_path / "remote"
    remote.mkdir()
    shutil.copy(signed, remote / "model.json")
    shutil.copy(str(signed) + ".sig", remote / "model.json.sig")
    (remote / "publisher.pub").write_bytes(keys[1])
    code = ("import sys, milo_fast.signing as s\n"
            "s.verify(sys.argv[1], sys.argv[2])\n"
            "try:\n    s.verify(sys.argv[1], sys.argv[3])\nexcept s.SignatureError as e:\n"
            "    print('REFUSED', e.reason)\n")
    other_pub = signing.generate_signing_key()[1]
    (remote / "stranger.pub").write_bytes(other_pub)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code, "model.json", "publisher.pub", "stranger.pub"],
                         cwd=remote, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "REFUSED wrong_key"


# ------------------------------------------------------------------------------------------ load hook

def test_verify_loaded_reads_nothing_twice(tmp_path, signed, model_bytes, keys):
    signing.verify_loaded(model_bytes, str(signed), keys[1])
    with pytest.raises(SignatureError) as e:
        signing.verify_loaded(model_bytes + b" ", str(signed), keys[1])
    assert _reason(e) == "altered"
    # a file object has no path: the signature must be named
    with pytest.raises(SignatureError) as e:
        signing.verify_loaded(model_bytes, "<file>", keys[1])
    assert _reason(e) == "missing" and "signature_path" in str(e.value)
    signing.verify_loaded(model_bytes, "<file>", keys[1], signature_path=str(signed) + ".sig")


def _load_accepts_public_key() -> bool:
    return hasattr(milo_fast, "load") and "public_key" in inspect.signature(milo_fast.load).parameters


@pytest.mark.skipif(not _load_accepts_public_key(), reason="api.load(..., public_key=) not wired in yet")
def test_load_with_public_key(tmp_path, model, signed, model_bytes, keys, other_keys):
    loaded = milo_fast.load(signed, public_key=keys[1])
    np.testing.assert_array_equal(loaded.predict(model[1]), model[0].predict(model[1]))
    with pytest.raises(SignatureError):
        milo_fast.load(signed, public_key=other_keys[1])
    os.remove(str(signed) + ".sig")
    with pytest.raises(SignatureError):
        milo_fast.load(signed, public_key=keys[1])


# ------------------------------------------------------------------------------------------ the spec

def _independent_verify(data: bytes, sig_text: bytes, public_pem: bytes) -> bool:
    """docs/security.md, "Signature files", implemented with nothing but json, hashlib and cryptography."""
    doc = json.loads(sig_text)
    if doc.get("milo_fast_signature") != 1 or doc.get("algorithm") != "Ed25519":
        return False
    pub = serialization.load_pem_public_key(public_pem)
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if doc["public_key_sha256"] != hashlib.sha256(raw).hexdigest():
        return False
    message = b"milo_fast signature v1\x00" + len(data).to_bytes(8, "big") + hashlib.sha256(data).digest()
    try:
        pub.verify(base64.b64decode(doc["signature"]), message)
    except Exception:
        return False
    return True


def test_an_independent_verifier_agrees(model_bytes, keys, other_keys):
    blob = signing.sign_bytes(model_bytes, keys[0])
    assert _independent_verify(model_bytes, blob, keys[1])
    assert not _independent_verify(model_bytes + b" ", blob, keys[1])
    assert not _independent_verify(model_bytes, blob, other_keys[1])


def test_an_independent_signer_is_accepted(tmp_path, model_bytes):
    key = ed25519.Ed25519PrivateKey.generate()
    raw_pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(model_bytes).digest()
    message = b"milo_fast signature v1\x00" + len(model_bytes).to_bytes(8, "big") + digest
    doc = {"signature": base64.b64encode(key.sign(message)).decode(), "file_sha256": digest.hex(),
           "algorithm": "Ed25519", "file_size": len(model_bytes), "milo_fast_signature": 1,
           "public_key_sha256": hashlib.sha256(raw_pub).hexdigest()}
    path = tmp_path / "m.json"
    path.write_bytes(model_bytes)
    (tmp_path / "m.json.sig").write_text(json.dumps(doc, separators=(",", ":")))  # any JSON layout will do
    signing.verify(path, raw_pub)
    assert signing.signed_message(len(model_bytes), digest) == message


def test_the_domain_prefix_separates_signatures(model_bytes):
    """A raw Ed25519 signature over the bare hash (no domain, no size) is not a milo_fast signature."""
    key = ed25519.Ed25519PrivateKey.generate()
    raw_pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(model_bytes).digest()
    blob = signing.sign_bytes(model_bytes, key)
    for message in (digest, model_bytes, b"milo_fast signature v1\x00" + digest):
        doc = {**json.loads(blob), "signature": base64.b64encode(key.sign(message)).decode()}
        with pytest.raises(SignatureError) as e:
            signing.verify_bytes(model_bytes, json.dumps(doc).encode(), raw_pub)
        assert _reason(e) == "invalid"

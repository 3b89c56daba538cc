"""Keys, seals and checkpoints: Ed25519 (with and without ``cryptography``) and HMAC-SHA256."""

from __future__ import annotations

import json
import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from driftguard.audit.signing import (
    HMAC_KEY_ENV,
    PUBLIC_KEYS_ENV,
    SIGNING_KEY_ENV,
    BadAuditKey,
    BadCheckpoint,
    Checkpoint,
    Ed25519Signer,
    HmacSigner,
    KeyRing,
    check_seal,
    ed25519_key_id,
    ed25519_verify,
    ed25519_verify_pure,
    find_checkpoints,
    make_seal,
    signer_from_env,
)

# RFC 8032 section 7.1, TEST 1 (empty message)
RFC_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC_SIGNATURE = (
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701"
    "cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
HMAC_SECRET = "a-long-random-test-secret-0123456789"


def test_rfc8032_test_vector_1():
    signer = Ed25519Signer.from_text(RFC_SECRET)
    assert signer.public_key.hex() == RFC_PUBLIC
    assert signer.sign(b"").hex() == RFC_SIGNATURE
    public, signature = bytes.fromhex(RFC_PUBLIC), bytes.fromhex(RFC_SIGNATURE)
    assert ed25519_verify_pure(public, b"", signature)
    assert not ed25519_verify_pure(public, b"x", signature)


def test_pure_python_verifier_agrees_with_cryptography():
    rng = random.Random(3)
    for _ in range(12):
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        message = rng.randbytes(rng.randrange(0, 200))
        signature = key.sign(message)
        assert ed25519_verify_pure(public, message, signature)  # oracle: cryptography signed
        assert ed25519_verify(public, message, signature)
        broken = bytearray(signature)
        broken[rng.randrange(64)] ^= 1 << rng.randrange(8)
        assert ed25519_verify_pure(public, message, bytes(broken)) is False
        assert ed25519_verify(public, message, bytes(broken)) is False
        assert ed25519_verify_pure(public, message + b"!", signature) is False
    assert ed25519_verify_pure(b"short", b"", bytes(64)) is False
    # s >= group order is refused (malleability check of RFC 8032 section 5.1.7)
    order = (2**252 + 27742317777372353535851937790883648493).to_bytes(32, "little")
    assert ed25519_verify_pure(public, message, signature[:32] + order) is False


def test_signers_from_the_environment():
    assert signer_from_env({}) is None
    hmac_signer = signer_from_env({HMAC_KEY_ENV: HMAC_SECRET})
    assert isinstance(hmac_signer, HmacSigner) and hmac_signer.alg == "hmac-sha256"
    ed = signer_from_env({SIGNING_KEY_ENV: RFC_SECRET, HMAC_KEY_ENV: HMAC_SECRET})
    assert isinstance(ed, Ed25519Signer)  # Ed25519 wins over HMAC
    assert ed.key_id == ed25519_key_id(bytes.fromhex(RFC_PUBLIC))
    pem = (
        Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC_SECRET))
        .private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        .decode()
    )
    assert signer_from_env({SIGNING_KEY_ENV: pem}).key_id == ed.key_id


def test_bad_keys_are_refused_without_showing_them():
    secret = "0123456789abcdef" * 3  # 48 hex digits: not a 32-byte seed
    with pytest.raises(BadAuditKey) as raised:
        signer_from_env({SIGNING_KEY_ENV: secret})
    assert secret not in str(raised.value) and raised.value.__cause__ is None
    with pytest.raises(BadAuditKey, match="shorter than 16 characters"):
        signer_from_env({HMAC_KEY_ENV: "short"})
    assert HMAC_SECRET not in repr(HmacSigner(HMAC_SECRET.encode()))
    assert RFC_SECRET not in repr(Ed25519Signer.from_text(RFC_SECRET))


def test_seals_verify_only_with_the_right_key_and_position():
    chain = bytes(range(32))
    for signer in (HmacSigner(HMAC_SECRET.encode()), Ed25519Signer.from_text(RFC_SECRET)):
        ring = KeyRing.for_signer(signer)
        seal = make_seal(signer, "log-1", 5, chain)
        assert check_seal(ring, seal, "log-1", 5, chain) is True
        assert check_seal(ring, seal, "log-1", 6, chain) is False
        assert check_seal(ring, seal, "log-2", 5, chain) is False
        assert check_seal(ring, seal, "log-1", 5, bytes(32)) is False
        assert check_seal(KeyRing(), seal, "log-1", 5, chain) is None  # key unknown


def _checkpoint() -> Checkpoint:
    return Checkpoint("log-1", 3, "aa" * 32, "bb" * 32, "2026-03-01T08:00:00.000000Z")


def test_checkpoint_signatures():
    unsigned = _checkpoint()
    assert unsigned.check_signature(KeyRing()) == "unsigned"
    for signer in (HmacSigner(HMAC_SECRET.encode()), Ed25519Signer.from_text(RFC_SECRET)):
        signed = unsigned.signed(signer)
        ring = KeyRing.for_signer(signer)
        assert signed.alg == signer.alg and signed.key_id == signer.key_id
        assert signed.check_signature(ring) == "valid"
        assert signed.check_signature(KeyRing()) == "unknown key"
        for field, value in (("size", 2), ("head", "cc" * 32), ("root", "dd" * 32)):
            forged = Checkpoint(**{**signed.as_dict(), field: value})
            assert forged.check_signature(ring) == "invalid"


def test_checkpoints_are_found_in_text_html_and_json():
    signed = _checkpoint().signed(Ed25519Signer.from_text(RFC_SECRET))
    html = f"<html><body><p>Audit checkpoint:</p><code>{signed.to_text()}</code></body></html>"
    assert find_checkpoints(html) == [signed]
    assert find_checkpoints(json.dumps(signed.as_dict())) == [signed]
    assert find_checkpoints(json.dumps({"checkpoints": [signed.as_dict()]})) == [signed]
    lines = "\n".join(
        [
            json.dumps({"format": "driftguard-audit-export/1", "log_id": "log-1"}),
            json.dumps({"type": "checkpoint", **signed.as_dict()}),
            json.dumps({"type": "entry", "seq": 1}),
        ]
    )
    assert find_checkpoints(lines) == [signed]
    assert find_checkpoints("no checkpoint here") == []
    with pytest.raises(BadCheckpoint):
        find_checkpoints(json.dumps({"log_id": "x", "size": -1, "head": "", "root": ""}))


def test_keyring_from_the_environment():
    signer = Ed25519Signer.from_text(RFC_SECRET)
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    ring = KeyRing.from_env(
        {SIGNING_KEY_ENV: RFC_SECRET, HMAC_KEY_ENV: HMAC_SECRET, PUBLIC_KEYS_ENV: other.hex()}
    )
    assert ring.can_check("ed25519", signer.key_id)
    assert ring.can_check("ed25519", ed25519_key_id(other))
    assert ring.can_check("hmac-sha256", HmacSigner(HMAC_SECRET.encode()).key_id)
    assert HMAC_SECRET not in repr(ring)
    with pytest.raises(BadAuditKey, match="not an Ed25519 public key"):
        KeyRing.from_env({}, public_keys=["abc"])

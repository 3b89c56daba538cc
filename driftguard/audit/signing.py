"""Signatures over the audit log: entry seals and checkpoints, Ed25519 or HMAC-SHA256.

Two kinds of signed statement:

- a **checkpoint**: log id, size, head (chain value of the last entry), Merkle root and time,
  written after every monitoring run and printed in reports so copies live outside the lake;
- a **seal** on every entry: a signature over ``"driftguard-audit-seal/1" 0x00 ‖ log id ‖ 0x00
  ‖ seq (8 bytes) ‖ chain_seq``. Someone who can write to the lake but does not hold the key
  cannot rewrite entries and recompute the chain without breaking the seals, and the first
  broken seal is the first rewritten entry.

Keys come from the environment only, never from the configuration file, and are never logged:

- ``DRIFTGUARD_AUDIT_SIGNING_KEY``: an Ed25519 private key, as PEM (PKCS#8) or 64 hex digits
  (the 32-byte seed). Signing needs the ``cryptography`` package.
- ``DRIFTGUARD_AUDIT_HMAC_KEY``: a shared secret (at least 16 characters) for HMAC-SHA256,
  used when no Ed25519 key is set. Whoever verifies needs the same secret.
- ``DRIFTGUARD_AUDIT_PUBLIC_KEYS``: Ed25519 public keys (hex, comma or space separated) that
  verification accepts in addition to the one derived from the signing key, e.g. after a key
  rotation or on an auditor's machine that must not hold the private key.

With none set, checkpoints are written with ``alg=none`` ("unsigned") and entries carry no
seal: the chain still detects edits, but only copies of checkpoints held elsewhere detect a
rewrite with recomputed hashes.

Verification needs only the standard library: Ed25519 signatures are checked with
``cryptography`` when it is installed and otherwise with the pure-Python verifier of RFC 8032
section 6 (slow, a few milliseconds per signature, but only a handful are checked).

References
----------
RFC 8032 (Ed25519), https://www.rfc-editor.org/rfc/rfc8032 ; RFC 2104 (HMAC).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal, Protocol

from driftguard.audit.canonical import dumps
from driftguard.errors import ConfigError

SIGNING_KEY_ENV = "DRIFTGUARD_AUDIT_SIGNING_KEY"
HMAC_KEY_ENV = "DRIFTGUARD_AUDIT_HMAC_KEY"
PUBLIC_KEYS_ENV = "DRIFTGUARD_AUDIT_PUBLIC_KEYS"
CHECKPOINT_FORMAT = "driftguard-audit-checkpoint/1"
SEAL_TAG = b"driftguard-audit-seal/1\x00"
MIN_HMAC_KEY_LENGTH = 16

Algorithm = Literal["ed25519", "hmac-sha256", "none"]


class BadAuditKey(ConfigError):
    """An audit signing key in the environment cannot be used (the value is never shown)."""


# --------------------------------------------------------------------------- key ids


def ed25519_key_id(public: bytes) -> str:
    """First 8 bytes (16 hex) of SHA-256 over a tag and the raw public key."""
    return hashlib.sha256(b"driftguard-audit-key\x00ed25519\x00" + public).hexdigest()[:16]


def hmac_key_id(secret: bytes) -> str:
    """First 8 bytes (16 hex) of SHA-256 over a tag and the secret: names the key, hides it."""
    return hashlib.sha256(b"driftguard-audit-key\x00hmac-sha256\x00" + secret).hexdigest()[:16]


# --------------------------------------------------------------------------- signers


class Signer(Protocol):
    alg: Algorithm
    key_id: str

    def sign(self, message: bytes) -> bytes: ...


class HmacSigner:
    """HMAC-SHA256 under a shared secret."""

    alg: Algorithm = "hmac-sha256"

    def __init__(self, secret: bytes):
        if len(secret) < MIN_HMAC_KEY_LENGTH:
            raise BadAuditKey(
                f"{HMAC_KEY_ENV} is shorter than {MIN_HMAC_KEY_LENGTH} characters; use a long "
                "random secret, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        self._secret = secret
        self.key_id = hmac_key_id(secret)

    def sign(self, message: bytes) -> bytes:
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def __repr__(self) -> str:  # never show the secret
        return f"HmacSigner(key_id={self.key_id!r})"


class Ed25519Signer:
    """Ed25519 with a private key (needs the ``cryptography`` package)."""

    alg: Algorithm = "ed25519"

    def __init__(self, private_key: Any):
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self._key = private_key
        self.public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = ed25519_key_id(self.public_key)

    @classmethod
    def from_text(cls, text: str) -> Ed25519Signer:
        """From PEM (PKCS#8) text or 64 hex digits (the 32-byte seed)."""
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
            from cryptography.hazmat.primitives.serialization import load_pem_private_key
        except ImportError as error:
            raise BadAuditKey(
                f"{SIGNING_KEY_ENV} is set but the `cryptography` package is not installed"
            ) from error
        value = text.strip()
        try:
            if "BEGIN" in value:
                key = load_pem_private_key(value.encode(), password=None)
                if not isinstance(key, Ed25519PrivateKey):
                    raise BadAuditKey(f"{SIGNING_KEY_ENV} holds a key that is not Ed25519")
            else:
                key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(value))
        except BadAuditKey:
            raise
        except Exception:  # the key text must never reach the message
            raise BadAuditKey(
                f"{SIGNING_KEY_ENV} is not an Ed25519 private key (PEM or 64 hex digits); "
                "generate one with `driftguard audit keygen`"
            ) from None
        return cls(key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def __repr__(self) -> str:
        return f"Ed25519Signer(key_id={self.key_id!r})"


def signer_from_env(environ: Mapping[str, str] | None = None) -> Signer | None:
    """The signer the environment configures: Ed25519, else HMAC-SHA256, else None."""
    env = os.environ if environ is None else environ
    return _signer(env.get(SIGNING_KEY_ENV, "").strip(), env.get(HMAC_KEY_ENV, ""))


@lru_cache(maxsize=8)
def _signer(ed25519_text: str, hmac_text: str) -> Signer | None:
    if ed25519_text:
        return Ed25519Signer.from_text(ed25519_text)
    if hmac_text:
        return HmacSigner(hmac_text.encode("utf-8"))
    return None


# --------------------------------------------------------------------------- verification


class KeyRing:
    """The keys a verifier accepts: Ed25519 public keys and HMAC secrets, by key id."""

    def __init__(
        self, ed25519_public: Iterable[bytes] = (), hmac_secrets: Iterable[bytes] = ()
    ) -> None:
        self.ed25519 = {ed25519_key_id(k): k for k in ed25519_public}
        self.hmac = {hmac_key_id(k): k for k in hmac_secrets}

    def __repr__(self) -> str:
        return f"KeyRing(ed25519={sorted(self.ed25519)}, hmac={sorted(self.hmac)})"

    @property
    def empty(self) -> bool:
        return not self.ed25519 and not self.hmac

    def can_check(self, alg: str, key_id: str | None) -> bool:
        if alg == "ed25519":
            return key_id in self.ed25519
        if alg == "hmac-sha256":
            return key_id in self.hmac
        return False

    def check(self, alg: str, key_id: str | None, message: bytes, signature: bytes) -> bool | None:
        """True/False for a valid/invalid signature; None when no key with that id is known."""
        if alg == "ed25519" and key_id in self.ed25519:
            return ed25519_verify(self.ed25519[key_id], message, signature)
        if alg == "hmac-sha256" and key_id in self.hmac:
            expected = hmac.new(self.hmac[key_id], message, hashlib.sha256).digest()
            return hmac.compare_digest(expected, signature)
        return None

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, public_keys: Iterable[str] = ()
    ) -> KeyRing:
        """Keys from the environment (the signing key's public half, HMAC key, public keys)."""
        env = os.environ if environ is None else environ
        publics = [parse_public_key(k) for k in public_keys]
        publics += [
            parse_public_key(k) for k in re.split(r"[\s,]+", env.get(PUBLIC_KEYS_ENV, "")) if k
        ]
        secrets_ = []
        if env.get(HMAC_KEY_ENV):
            secrets_.append(env[HMAC_KEY_ENV].encode("utf-8"))
        if env.get(SIGNING_KEY_ENV, "").strip():
            signer = signer_from_env(env)
            if isinstance(signer, Ed25519Signer):
                publics.append(signer.public_key)
        return cls(publics, secrets_)

    @classmethod
    def for_signer(cls, signer: Signer | None) -> KeyRing:
        if isinstance(signer, Ed25519Signer):
            return cls([signer.public_key])
        if isinstance(signer, HmacSigner):
            return cls((), [signer._secret])
        return cls()


def parse_public_key(text: str) -> bytes:
    """An Ed25519 public key from 64 hex digits."""
    value = text.strip()
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise BadAuditKey(
            f"{value[:20]!r} is not an Ed25519 public key (64 hex digits, as printed by "
            "`driftguard audit keygen`)"
        )
    return raw


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """Ed25519 verification: ``cryptography`` when installed, else pure Python (RFC 8032)."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return ed25519_verify_pure(public, message, signature)
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# The verification half of the reference implementation in RFC 8032 section 6, kept close to
# its text so it can be checked line by line (twisted Edwards curve, extended coordinates).
_P = 2**255 - 19
_Q = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _point_add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % _P
    bb = (y1 + x1) * (y2 + x2) % _P
    cc = 2 * t1 * t2 * _D % _P
    dd = 2 * z1 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _point_mul(s: int, point: tuple[int, ...]) -> tuple[int, ...]:
    result: tuple[int, ...] = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            result = _point_add(result, point)
        point = _point_add(point, point)
        s >>= 1
    return result


def _point_equal(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _decompress(data: bytes) -> tuple[int, ...] | None:
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _P)


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0)
assert _GX is not None
_G = (_GX, _GY, 1, _GX * _GY % _P)


def ed25519_verify_pure(public: bytes, message: bytes, signature: bytes) -> bool:
    """Pure-Python Ed25519 verification (RFC 8032 section 6); slow but dependency-free."""
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _Q
    return _point_equal(_point_mul(s, _G), _point_add(r, _point_mul(h, a)))


# --------------------------------------------------------------------------- seals


def seal_message(log_id: str, seq: int, chain: bytes) -> bytes:
    return SEAL_TAG + log_id.encode("utf-8") + b"\x00" + seq.to_bytes(8, "big") + chain


def make_seal(signer: Signer, log_id: str, seq: int, chain: bytes) -> str:
    """``<alg>:<key id>:<signature hex>``, stored with the entry."""
    signature = signer.sign(seal_message(log_id, seq, chain))
    return f"{signer.alg}:{signer.key_id}:{signature.hex()}"


def check_seal(keyring: KeyRing, seal: str, log_id: str, seq: int, chain: bytes) -> bool | None:
    """True/False for a valid/invalid seal, None when the key is unknown."""
    alg, _, rest = seal.partition(":")
    key_id, _, signature = rest.partition(":")
    try:
        raw = bytes.fromhex(signature)
    except ValueError:
        return False if keyring.can_check(alg, key_id) else None
    return keyring.check(alg, key_id, seal_message(log_id, seq, chain), raw)


# --------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of a log's size, head and Merkle root at a moment."""

    log_id: str
    size: int
    head: str  # hex chain value of entry `size` (genesis when 0)
    root: str  # hex RFC 6962 root over the leaves 1..size
    issued_at: str  # ISO 8601 UTC with microseconds and "Z"
    alg: Algorithm = "none"
    key_id: str | None = None
    signature: str | None = None

    def statement(self) -> bytes:
        """The bytes that are signed: canonical JSON of everything but the signature."""
        return dumps(
            {
                "format": CHECKPOINT_FORMAT,
                "log_id": self.log_id,
                "size": self.size,
                "head": self.head,
                "root": self.root,
                "issued_at": self.issued_at,
                "alg": self.alg,
                "key_id": self.key_id,
            }
        ).encode("utf-8")

    def signed(self, signer: Signer | None) -> Checkpoint:
        if signer is None:
            return replace(self, alg="none", key_id=None, signature=None)
        unsigned = replace(self, alg=signer.alg, key_id=signer.key_id, signature=None)
        return replace(unsigned, signature=signer.sign(unsigned.statement()).hex())

    def check_signature(
        self, keyring: KeyRing | None
    ) -> Literal["valid", "invalid", "unsigned", "unknown key"]:
        if self.alg == "none":
            return "unsigned"
        if keyring is None or not keyring.can_check(self.alg, self.key_id):
            return "unknown key"
        try:
            raw = bytes.fromhex(self.signature or "")
        except ValueError:
            return "invalid"
        ok = keyring.check(self.alg, self.key_id, self.statement(), raw)
        return "valid" if ok else "invalid"

    def to_text(self) -> str:
        """One line for reports and e-mails; :func:`find_checkpoints` reads it back."""
        return (
            f"{CHECKPOINT_FORMAT} log={self.log_id} size={self.size} head={self.head} "
            f"root={self.root} at={self.issued_at} alg={self.alg} key={self.key_id or '-'} "
            f"sig={self.signature or '-'}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "log_id": self.log_id,
            "size": self.size,
            "head": self.head,
            "root": self.root,
            "issued_at": self.issued_at,
            "alg": self.alg,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        try:
            size = data["size"]
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise ValueError(f"size {size!r} is not a count")
            alg = data.get("alg") or "none"
            if alg not in ("ed25519", "hmac-sha256", "none"):
                raise ValueError(f"algorithm {alg!r} is unknown")
            return cls(
                log_id=str(data["log_id"]),
                size=size,
                head=str(data["head"]),
                root=str(data["root"]),
                issued_at=str(data["issued_at"]),
                alg=alg,
                key_id=data.get("key_id") or None,
                signature=data.get("signature") or None,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BadCheckpoint(f"not a checkpoint: {error}") from error


class BadCheckpoint(ConfigError):
    """A supplied checkpoint cannot be read."""


_TEXT_FORM = re.compile(re.escape(CHECKPOINT_FORMAT) + r"((?:[ \t]+[a-z]+=[^\s<>\"']+)+)")


def find_checkpoints(text: str) -> list[Checkpoint]:
    """Every checkpoint in ``text``: JSON (object, list, JSON lines) or the one-line form.

    Reports and e-mails print the one-line form, so a folder of them is a set of checkpoint
    copies held outside the lake.
    """
    records: list[Any] = []
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            records = _json_records(json.loads(stripped))
        except ValueError:
            for line in stripped.splitlines():
                try:
                    records.extend(_json_records(json.loads(line)))
                except ValueError:
                    continue
    found = [
        Checkpoint.from_dict(r)
        for r in records
        if isinstance(r, dict) and {"log_id", "size", "head", "root"} <= r.keys()
    ]
    if found:
        return found

    for match in _TEXT_FORM.finditer(text):
        fields = dict(part.split("=", 1) for part in match.group(1).split())
        try:
            record = {
                "log_id": fields["log"],
                "size": int(fields["size"]),
                "head": fields["head"],
                "root": fields["root"],
                "issued_at": fields["at"],
                "alg": fields.get("alg", "none"),
                "key_id": None if fields.get("key", "-") == "-" else fields["key"],
                "signature": None if fields.get("sig", "-") == "-" else fields["sig"],
            }
        except (KeyError, ValueError) as error:
            raise BadCheckpoint(f"incomplete checkpoint line: {match.group(0)[:80]}") from error
        found.append(Checkpoint.from_dict(record))
    return found


def _json_records(data: Any) -> list[Any]:
    if isinstance(data, dict) and isinstance(data.get("checkpoints"), list):
        return list(data["checkpoints"])
    if isinstance(data, dict):
        return [data]
    return list(data) if isinstance(data, list) else []

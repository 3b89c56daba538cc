"""Canonical encoding of audit entries: the exact bytes that are stored and hashed.

An entry is a JSON object with exactly the fields in :data:`FIELDS`, encoded as

    canonical = UTF-8( JSON(entry, keys sorted by code point, separators "," and ":") )

with every string NFC-normalised and no floats anywhere: integers stay JSON integers, every
other number (float, Decimal) becomes a decimal string, and NaN or infinity is refused. The
same logical entry therefore always gives the same bytes, on any machine, and decoding then
re-encoding a canonical entry gives back its bytes exactly (the verifier checks this).

Notes
-----
Floats are excluded because their text form is not unique across languages (``1e-07`` vs
``1E-7`` vs ``0.0000001``) and a hash over text must never depend on the encoder. A float is
written with Python's shortest round-trip form (``repr``), so ``0.1`` becomes ``"0.1"`` and
``2.0`` becomes ``"2.0"``; the reader gets a string and decides how to parse it.

References
----------
RFC 8259 (JSON), https://www.rfc-editor.org/rfc/rfc8259 ; Unicode Standard Annex #15
(normalisation forms), https://unicode.org/reports/tr15/ ; RFC 8785 (JCS) motivates the
approach, but keys here sort by code point and non-integers are strings.

Examples
--------
>>> canonical_bytes({"b": 1, "a": [0.5, "e\\u0301"]})
b'{"a":["0.5","\\xc3\\xa9"],"b":1}'

Standard library only (see :mod:`driftguard.audit`).
"""

from __future__ import annotations

import enum
import json
import math
import numbers
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from driftguard.errors import ConfigError

#: The fields of an entry, in canonical (sorted) order.
FIELDS = (
    "action",
    "actor",
    "event_type",
    "payload",
    "reason",
    "references",
    "resource_id",
    "resource_type",
    "run_id",
    "seq",
    "severity",
    "ts_us",
)
#: Severity levels, least to most severe.
SEVERITIES = ("info", "warning", "high", "critical")
#: Longest accepted text of a short field (event type, actor, resource, action).
MAX_NAME_LENGTH = 256
_REQUIRED_TEXT = ("event_type", "action", "actor", "resource_type", "resource_id")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidAuditEntry(ConfigError, ValueError):
    """An entry cannot be recorded as given (a missing field, a bad severity, ...)."""


class CanonicalEncodingError(InvalidAuditEntry):
    """A value has no canonical form: NaN, infinity, an unsupported type, a clashing key."""


def canonical_value(value: Any, *, path: str = "value") -> Any:
    """``value`` as plain JSON data in canonical form: NFC strings, no floats, str keys.

    Raises :class:`CanonicalEncodingError` naming the offending ``path`` (``payload.score``).
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _nfc(value, path)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float | Decimal | numbers.Real):
        return _decimal_text(value, path)
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return canonical_value(value.value, path=path)
    if isinstance(value, uuid.UUID | PurePath):
        return _nfc(str(value), path)
    if hasattr(value, "model_dump"):  # pydantic models: their JSON form
        return canonical_value(value.model_dump(mode="json"), path=path)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, str | numbers.Integral):
                raise CanonicalEncodingError(
                    f"{path}: key {key!r} is a {type(key).__name__}; keys must be strings"
                )
            name = _nfc(str(key), f"{path} key")
            if name in out:
                raise CanonicalEncodingError(
                    f"{path}: two keys become {name!r} after normalisation; rename one"
                )
            out[name] = canonical_value(item, path=f"{path}.{name}")
        return out
    if isinstance(value, set | frozenset):
        items = [canonical_value(v, path=f"{path}[]") for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [canonical_value(v, path=f"{path}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return canonical_value(value.tolist(), path=path)
    raise CanonicalEncodingError(
        f"{path}: a {type(value).__name__} cannot be recorded; use str, int, bool, None, "
        "float, Decimal, datetime, lists or mappings"
    )


def _nfc(text: str, path: str) -> str:
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise CanonicalEncodingError(
            f"{path}: the text holds a lone surrogate and is not valid Unicode"
        ) from error
    return unicodedata.normalize("NFC", text)


def _decimal_text(value: Any, path: str) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise CanonicalEncodingError(f"{path}: {value} is not a finite number")
        return str(value)
    number = float(value)
    if math.isnan(number):
        raise CanonicalEncodingError(
            f"{path}: NaN cannot be recorded; record None or a string such as 'NaN' instead"
        )
    if math.isinf(number):
        raise CanonicalEncodingError(
            f"{path}: {number} cannot be recorded; record None or a string instead"
        )
    return repr(number)


def dumps(value: Any) -> str:
    """The canonical JSON text of already-canonical data (see :func:`canonical_value`)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def canonical_bytes(value: Any) -> bytes:
    """Canonical UTF-8 JSON bytes of ``value`` (normalised first)."""
    return dumps(canonical_value(value)).encode("utf-8")


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the audit log, with the exact bytes that were hashed."""

    log_id: str
    seq: int
    ts_us: int
    event_type: str
    severity: str
    actor: str
    resource_type: str
    resource_id: str
    action: str
    run_id: str | None
    reason: str | None
    payload: Any
    references: tuple[str, ...]
    canonical: bytes
    leaf_hash: str
    chain_hash: str
    seal: str | None = None

    @property
    def ts(self) -> datetime:
        """The entry time as an aware UTC datetime."""
        return timestamp_from_us(self.ts_us)

    @property
    def reference(self) -> str:
        """How other entries reference this one: ``audit:<seq>:<leaf hash>``."""
        return f"audit:{self.seq}:{self.leaf_hash}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "log_id": self.log_id,
            "seq": self.seq,
            "ts": self.ts.isoformat(),
            "event_type": self.event_type,
            "severity": self.severity,
            "actor": self.actor,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "action": self.action,
            "run_id": self.run_id,
            "reason": self.reason,
            "payload": self.payload,
            "references": list(self.references),
            "leaf_hash": self.leaf_hash,
            "chain_hash": self.chain_hash,
            "sealed": self.seal is not None,
        }


def timestamp_us(moment: datetime) -> int:
    """Integer microseconds since the Unix epoch (naive times are read as UTC)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return (moment - _EPOCH) // _MICROSECOND


def timestamp_from_us(us: int) -> datetime:
    return _EPOCH + us * _MICROSECOND


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH


def entry_fields(
    *,
    seq: int,
    ts_us: int,
    event_type: str,
    action: str,
    actor: str,
    resource_type: str,
    resource_id: str,
    severity: str = "info",
    run_id: str | None = None,
    reason: str | None = None,
    payload: Any = None,
    references: Sequence[str] = (),
) -> dict[str, Any]:
    """Validate one entry's fields and return them in canonical form (a plain dict)."""
    body = draft_fields(
        event_type=event_type,
        action=action,
        actor=actor,
        resource_type=resource_type,
        resource_id=resource_id,
        severity=severity,
        run_id=run_id,
        reason=reason,
        payload=payload,
        references=references,
    )
    return with_position(body, seq=seq, ts_us=ts_us)


def draft_fields(
    *,
    event_type: str,
    action: str,
    actor: str,
    resource_type: str,
    resource_id: str,
    severity: str = "info",
    run_id: str | None = None,
    reason: str | None = None,
    payload: Any = None,
    references: Sequence[str] = (),
) -> dict[str, Any]:
    """Everything of an entry except its position (seq, time), validated and canonical."""
    fields: dict[str, Any] = {}
    given = {
        "event_type": event_type,
        "action": action,
        "actor": actor,
        "resource_type": resource_type,
        "resource_id": resource_id,
    }
    for name in _REQUIRED_TEXT:
        fields[name] = _short_text(name, given[name], required=True)
    if severity not in SEVERITIES:
        raise InvalidAuditEntry(
            f"severity {severity!r} is not one of {', '.join(SEVERITIES)}; pick the closest"
        )
    fields["severity"] = severity
    fields["run_id"] = _short_text("run_id", run_id, required=False)
    if reason is not None and not isinstance(reason, str):
        raise InvalidAuditEntry(f"reason must be text, got {type(reason).__name__}")
    fields["reason"] = None if reason is None else _nfc(reason, "reason")
    fields["payload"] = canonical_value({} if payload is None else payload, path="payload")
    if isinstance(references, str):
        raise InvalidAuditEntry(
            "references must be a list of strings such as ['batch:b12ab', 'audit:3:<hash>'], "
            "not a single string"
        )
    refs = []
    for i, ref in enumerate(references):
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidAuditEntry(f"references[{i}] must be non-empty text, got {ref!r}")
        refs.append(_nfc(ref, f"references[{i}]"))
    fields["references"] = refs
    return fields


def with_position(draft: dict[str, Any], *, seq: int, ts_us: int) -> dict[str, Any]:
    """A complete entry: the draft plus its sequence number and time."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise InvalidAuditEntry(f"seq must be a positive integer, got {seq!r}")
    if isinstance(ts_us, bool) or not isinstance(ts_us, int):
        raise InvalidAuditEntry(f"ts_us must be integer microseconds, got {ts_us!r}")
    return {**draft, "seq": seq, "ts_us": ts_us}


def _short_text(name: str, value: Any, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidAuditEntry(f"{name} must be non-empty text, got {value!r}")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidAuditEntry(f"{name} is longer than {MAX_NAME_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidAuditEntry(f"{name} {value!r} contains a control character")
    return _nfc(value, name)


def encode_entry(fields: dict[str, Any]) -> bytes:
    """Canonical bytes of a complete, already validated entry."""
    return dumps(fields).encode("utf-8")


class NotAnEntry(ValueError):
    """Bytes that do not decode to a well-formed canonical entry."""


def decode_entry(canonical: bytes) -> dict[str, Any]:
    """Parse canonical bytes back into fields, checking shape, types and canonical form.

    Raises :class:`NotAnEntry` saying what is wrong.
    """
    try:
        fields = json.loads(canonical.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise NotAnEntry(f"not UTF-8 JSON ({error})") from error
    if not isinstance(fields, dict) or tuple(sorted(fields)) != FIELDS:
        keys = sorted(fields) if isinstance(fields, dict) else type(fields).__name__
        raise NotAnEntry(f"fields {keys} are not the entry fields")
    for name in ("seq", "ts_us"):
        if type(fields[name]) is not int:
            raise NotAnEntry(f"{name} is not an integer")
    for name in _REQUIRED_TEXT:
        if not isinstance(fields[name], str):
            raise NotAnEntry(f"{name} is not text")
    if fields["severity"] not in SEVERITIES:
        raise NotAnEntry(f"severity {fields['severity']!r} is unknown")
    if not isinstance(fields["references"], list):
        raise NotAnEntry("references is not a list")
    if encode_entry(fields) != canonical:
        raise NotAnEntry("the bytes are not in canonical form")
    return fields


def entry_from_fields(
    log_id: str,
    fields: dict[str, Any],
    canonical: bytes,
    leaf_hash: str,
    chain_hash: str,
    seal: str | None = None,
) -> AuditEntry:
    return AuditEntry(
        log_id=log_id,
        seq=fields["seq"],
        ts_us=fields["ts_us"],
        event_type=fields["event_type"],
        severity=fields["severity"],
        actor=fields["actor"],
        resource_type=fields["resource_type"],
        resource_id=fields["resource_id"],
        action=fields["action"],
        run_id=fields["run_id"],
        reason=fields["reason"],
        payload=fields["payload"],
        references=tuple(fields["references"]),
        canonical=canonical,
        leaf_hash=leaf_hash,
        chain_hash=chain_hash,
        seal=seal,
    )

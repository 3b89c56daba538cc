"""Serving-side guard: honour exported kill switches and prediction safeguards in serving code.

Standard library only, and importing nothing else from DriftGuard, so a model server can
depend on it (or vendor this one file) without pulling the monitoring stack into its
request path. The kill-switch module exports the active switches and the models'
safeguards to a JSON file (format ``driftguard-killswitch/1``, described in the README);
a :class:`Guard` loads that file, verifies its digest and re-reads it when it changes.

Blocking. A switch has a ``scope`` (model_version, model_type, endpoint, segment, region,
consumer) and a ``target``: a mapping of target keys to values. A request is blocked when
every key of some switch's target equals the request's value for that key, so a switch with
fewer keys is broader: ``{"model_type": "credit-scoring"}`` blocks every version of every
model of that type, ``{"model_id": "credit", "version": "2"}`` only that version.

Safeguards, per model: clip a probability to [0, 1], clip a value to [min, max], refuse a
NaN (or infinite) prediction, and serve the entity's last good prediction for
``fallback_ttl_seconds`` instead of a refused one.

Failure policy. A file that cannot be read, is not valid JSON, fails its digest, is
malformed or is older than the loaded one never replaces the state already loaded: the
guard keeps the last good state and reports the error (:meth:`Guard.status`, a warning on
the ``driftguard.guard`` logger). Before any good state was ever loaded the guard fails
*closed* by default (everything is blocked) because the file may hold a switch that stops a
harmful model, and a server that silently ignores it is worse than one that refuses to
serve where the operator can see it at once; ``on_unavailable="open"`` serves instead.

Examples
--------
>>> clip_probability(1.2), clip_value(-5.0, 0.0, 10.0)
(1.0, 0.0)
>>> doc = {"format": FORMAT, "version": 1, "generated_at": "2026-01-01T00:00:00+00:00",
...        "switches": [], "safeguards": {}}
>>> canonical_json(doc)[:60]
b'{"format":"driftguard-killswitch/1","generated_at":"2026-01-'
>>> seal(doc)["digest"] == hashlib.sha256(canonical_json(doc)).hexdigest()
True
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

log = logging.getLogger(__name__)

FORMAT = "driftguard-killswitch/1"
#: Scopes a switch can have, broadest family first.
SCOPES: tuple[str, ...] = (
    "model_type",
    "model_version",
    "endpoint",
    "segment",
    "region",
    "consumer",
)
#: Keys a switch target may name and :meth:`Guard.is_blocked` accepts.
TARGET_KEYS: tuple[str, ...] = (
    "model_type",
    "model_id",
    "version",
    "endpoint",
    "segment",
    "region",
    "consumer",
)
#: Keys a target must contain for each scope; it may add others to narrow the switch.
SCOPE_KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "model_type": ("model_type",),
        "model_version": ("model_id", "version"),
        "endpoint": ("endpoint",),
        "segment": ("segment",),
        "region": ("region",),
        "consumer": ("consumer",),
    }
)
_SWITCH_FIELDS = ("id", "scope", "target", "reason", "activated_at", "activated_by")
_DIGEST_HEX = frozenset("0123456789abcdef")
#: A full ISO-8601 date-time with a UTC offset (the exporter writes UTC).
_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
_DATETIME_SCHEMA = {"type": "string", "format": "date-time", "pattern": _DATETIME}

#: The export file's structure as a JSON schema (draft 2020-12), for writers and reviewers.
EXPORT_JSON_SCHEMA: Mapping[str, Any] = MappingProxyType(
    {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "DriftGuard kill-switch export",
        "type": "object",
        "required": ["format", "version", "generated_at", "switches", "safeguards", "digest"],
        "properties": {
            "format": {"const": FORMAT},
            "version": {"type": "integer", "minimum": 0},
            "generated_at": _DATETIME_SCHEMA,
            "switches": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": list(_SWITCH_FIELDS),
                    "properties": {
                        "id": {"type": "string", "minLength": 1},
                        "scope": {"enum": list(SCOPES)},
                        "target": {
                            "type": "object",
                            "minProperties": 1,
                            "propertyNames": {"enum": list(TARGET_KEYS)},
                            "additionalProperties": {"type": "string", "minLength": 1},
                        },
                        "reason": {"type": "string"},
                        "activated_at": _DATETIME_SCHEMA,
                        "activated_by": {"type": "string"},
                    },
                    "allOf": [
                        {
                            "if": {"properties": {"scope": {"const": scope}}},
                            "then": {"properties": {"target": {"required": list(keys)}}},
                        }
                        for scope, keys in SCOPE_KEYS.items()
                    ],
                },
            },
            "safeguards": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": [
                        "clip_probability",
                        "min",
                        "max",
                        "reject_nan",
                        "fallback_ttl_seconds",
                    ],
                    "properties": {
                        "clip_probability": {"type": "boolean"},
                        "min": {"type": ["number", "null"]},
                        "max": {"type": ["number", "null"]},
                        "reject_nan": {"type": "boolean"},
                        "fallback_ttl_seconds": {"type": "integer", "minimum": 0},
                    },
                },
            },
            "digest": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        },
    }
)


class GuardError(Exception):
    """Base of the errors this module raises."""


class InvalidExport(GuardError, ValueError):
    """An export file that must not be used: unreadable, not JSON, wrong digest, malformed."""


class UnknownTarget(GuardError, TypeError):
    """:meth:`Guard.is_blocked` got a keyword that is not a target key (a typo fails open)."""


class RejectedPrediction(GuardError, ValueError):
    """A prediction the safeguards refuse (NaN, infinite, not a number) with no fallback."""


# --------------------------------------------------------------------------- the file


def canonical_json(document: Any) -> bytes:
    """The bytes the digest is computed over: sorted keys, no spaces, ASCII, no NaN.

    Examples
    --------
    >>> canonical_json({"b": 1, "a": [1.5, None, "é"]})
    b'{"a":[1.5,null,"\\\\u00e9"],"b":1}'
    """
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def export_digest(document: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of every field of ``document`` except ``digest``."""
    body = {key: value for key, value in document.items() if key != "digest"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def seal(document: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` with its ``digest`` set: what an exporter writes."""
    body = {key: value for key, value in document.items() if key != "digest"}
    return {**body, "digest": export_digest(body)}


@dataclass(frozen=True)
class Switch:
    """One active kill switch from the export file."""

    id: str
    scope: str
    target: Mapping[str, str]
    reason: str
    activated_at: str
    activated_by: str

    def matches(self, request: Mapping[str, str]) -> bool:
        """True when every key of the target has the same value in ``request``."""
        return all(request.get(key) == value for key, value in self.target.items())

    def describe(self) -> str:
        what = ", ".join(f"{key}={value}" for key, value in self.target.items())
        return (
            f"kill switch {self.id} on {self.scope} {what} "
            f"(activated by {self.activated_by} at {self.activated_at}: {self.reason})"
        )


@dataclass(frozen=True)
class Safeguard:
    """Output safeguards of one model; the default (no entry in the file) only refuses NaN."""

    clip_probability: bool = False
    min: float | None = None
    max: float | None = None
    reject_nan: bool = True
    fallback_ttl_seconds: int = 0

    @property
    def bounds(self) -> tuple[float, float]:
        """The interval a value is clipped to (infinite ends when unbounded)."""
        low = -math.inf if self.min is None else self.min
        high = math.inf if self.max is None else self.max
        if self.clip_probability:
            low, high = max(low, 0.0), min(high, 1.0)
        return low, high


@dataclass(frozen=True)
class GuardState:
    """One verified export: immutable, replaced whole when a newer export is loaded."""

    version: int
    generated_at: str
    digest: str
    switches: tuple[Switch, ...]
    safeguards: Mapping[str, Safeguard]


def parse_export(raw: bytes, *, source: str = "<export>") -> GuardState:
    """Verify and parse the bytes of an export file; raise :class:`InvalidExport` if unusable.

    The digest is checked before anything else, so a half-written or edited file is refused
    even when it happens to be valid JSON.
    """
    try:
        document = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidExport(
            f"{source}: not valid JSON ({error}); a half-written file? Writers must write a "
            "temporary file and rename it into place"
        ) from error
    if not isinstance(document, dict):
        raise InvalidExport(f"{source}: the file must hold a JSON object")
    if document.get("format") != FORMAT:
        raise InvalidExport(
            f"{source}: format is {document.get('format')!r}, this guard reads {FORMAT!r}"
        )
    digest = document.get("digest")
    if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _DIGEST_HEX:
        raise InvalidExport(f"{source}: `digest` must be 64 lower-case hex digits")
    expected = export_digest(document)
    if not hmac.compare_digest(digest, expected):
        raise InvalidExport(
            f"{source}: digest mismatch (the file says {digest[:12]}..., its content hashes to "
            f"{expected[:12]}...): the file is damaged or was edited by hand; re-export it"
        )
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise InvalidExport(f"{source}: `version` must be a non-negative integer")
    generated_at = _timestamp(document.get("generated_at"), f"{source}: generated_at")
    raw_switches = document.get("switches")
    if not isinstance(raw_switches, list):
        raise InvalidExport(f"{source}: `switches` must be a list")
    switches = [_switch(item, f"{source}: switches[{i}]") for i, item in enumerate(raw_switches)]
    # broadest first (fewest target keys), so explanations start with the widest switch
    switches.sort(key=lambda s: (len(s.target), SCOPES.index(s.scope), s.id))
    raw_safeguards = document.get("safeguards")
    if not isinstance(raw_safeguards, dict):
        raise InvalidExport(f"{source}: `safeguards` must be an object keyed by model id")
    safeguards = {
        model_id: _safeguard(spec, f"{source}: safeguards[{model_id!r}]")
        for model_id, spec in raw_safeguards.items()
    }
    return GuardState(
        version=version,
        generated_at=generated_at,
        digest=digest,
        switches=tuple(switches),
        safeguards=MappingProxyType(safeguards),
    )


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _timestamp(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidExport(f"{where} must be an ISO-8601 date-time string")
    try:
        if not re.fullmatch(_DATETIME, value):
            raise ValueError("not of the form 2026-03-01T12:00:00+00:00")
        datetime.fromisoformat(value)
    except ValueError as error:
        raise InvalidExport(
            f"{where}: {value!r} is not an ISO-8601 date-time with a UTC offset"
        ) from error
    return value


def _switch(item: Any, where: str) -> Switch:
    if not isinstance(item, dict):
        raise InvalidExport(f"{where} must be an object")
    missing = [name for name in _SWITCH_FIELDS if name not in item]
    if missing:
        raise InvalidExport(f"{where} lacks {', '.join(missing)}")
    scope = item["scope"]
    if scope not in SCOPE_KEYS:
        raise InvalidExport(f"{where}: unknown scope {scope!r}; known: {', '.join(SCOPES)}")
    target = item["target"]
    if not isinstance(target, dict):
        raise InvalidExport(f"{where}.target must be an object")
    unknown = sorted(set(target) - set(TARGET_KEYS))
    if unknown:
        raise InvalidExport(
            f"{where}.target has unknown key(s) {', '.join(unknown)}; known: "
            f"{', '.join(TARGET_KEYS)}"
        )
    absent = [key for key in SCOPE_KEYS[scope] if key not in target]
    if absent:
        raise InvalidExport(f"{where}: a {scope} switch needs target key(s) {', '.join(absent)}")
    if not all(isinstance(v, str) and v for v in target.values()):
        raise InvalidExport(f"{where}.target values must be non-empty strings")
    for name in ("id", "reason", "activated_by"):
        if not isinstance(item[name], str):
            raise InvalidExport(f"{where}.{name} must be a string")
    if not item["id"]:
        raise InvalidExport(f"{where}.id must not be empty")
    ordered = {key: target[key] for key in TARGET_KEYS if key in target}
    return Switch(
        id=item["id"],
        scope=scope,
        target=MappingProxyType(ordered),
        reason=item["reason"],
        activated_at=_timestamp(item["activated_at"], f"{where}.activated_at"),
        activated_by=item["activated_by"],
    )


def _safeguard(spec: Any, where: str) -> Safeguard:
    if not isinstance(spec, dict):
        raise InvalidExport(f"{where} must be an object")
    fields = ("clip_probability", "min", "max", "reject_nan", "fallback_ttl_seconds")
    missing = [name for name in fields if name not in spec]
    if missing:
        raise InvalidExport(f"{where} lacks {', '.join(missing)}")
    for name in ("clip_probability", "reject_nan"):
        if not isinstance(spec[name], bool):
            raise InvalidExport(f"{where}.{name} must be true or false")
    bounds = []
    for name in ("min", "max"):
        value = spec[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidExport(f"{where}.{name} must be a number or null")
        bounds.append(None if value is None else float(value))
    low, high = bounds
    if low is not None and high is not None and low > high:
        raise InvalidExport(f"{where}: min {low} is greater than max {high}")
    ttl = spec["fallback_ttl_seconds"]
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
        raise InvalidExport(f"{where}.fallback_ttl_seconds must be a non-negative integer")
    return Safeguard(spec["clip_probability"], low, high, spec["reject_nan"], ttl)


# --------------------------------------------------------------------------- safeguards


def clip_probability(value: float) -> float:
    """``value`` limited to [0, 1].

    Examples
    --------
    >>> clip_probability(-0.2), clip_probability(0.3), clip_probability(1.0000001)
    (0.0, 0.3, 1.0)
    """
    return clip_value(value, 0.0, 1.0)


def clip_value(value: float, low: float | None, high: float | None) -> float:
    """``value`` limited to [low, high]; a ``None`` end is unbounded. NaN is returned as is."""
    if low is not None and value < low:
        return low
    if high is not None and value > high:
        return high
    return value


@dataclass(frozen=True)
class Protected:
    """A prediction after the safeguards: the value to serve and what was done to it."""

    value: float
    original: Any
    #: "passed" (unchanged), "clipped", or "fallback" (the entity's last good value).
    action: Literal["passed", "clipped", "fallback"]
    note: str = ""


def apply_safeguard(value: Any, safeguard: Safeguard) -> tuple[float, str]:
    """The value to serve and "passed" or "clipped"; raise :class:`RejectedPrediction`.

    A value that is not a number is always refused; NaN and infinities are refused when
    ``reject_nan`` is set (an infinite score is as broken as a missing one, and clipping it to
    a bound would serve full confidence). With ``reject_nan`` off, NaN is served unchanged.

    Examples
    --------
    >>> apply_safeguard(1.3, Safeguard(clip_probability=True))
    (1.0, 'clipped')
    >>> apply_safeguard(7, Safeguard(min=0.0, max=5.0))
    (5.0, 'clipped')
    """
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise RejectedPrediction(f"prediction {value!r} is not a number") from error
    if not math.isfinite(number):
        if safeguard.reject_nan:
            raise RejectedPrediction(f"prediction {number!r} is not a finite number")
        if math.isnan(number):
            return number, "passed"
    low, high = safeguard.bounds
    clipped = clip_value(number, low, high)
    return clipped, ("passed" if clipped == number else "clipped")


class FallbackCache:
    """The last good value per key with the (monotonic) time it was stored; bounded LRU.

    An entry serves as a fallback while it is younger than the TTL given at lookup
    (``age < ttl``), so a TTL changed by a newer export applies at once.
    """

    def __init__(
        self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._clock = clock
        self._items: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: Hashable, value: float) -> None:
        with self._lock:
            self._items[key] = (value, self._clock())
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def get(self, key: Hashable, ttl: float) -> tuple[float, float] | None:
        """``(value, age_seconds)`` of a fresh entry, else None (an expired entry is dropped)."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            age = self._clock() - item[1]
            if age >= ttl:
                del self._items[key]
                return None
            return item[0], age

    def __len__(self) -> int:
        return len(self._items)


# --------------------------------------------------------------------------- the guard


@dataclass(frozen=True)
class Decision:
    """Whether a request is blocked and why. ``bool(decision)`` is ``decision.blocked``."""

    blocked: bool
    #: The matching switches, broadest first.
    switches: tuple[Switch, ...] = ()
    #: True when the answer comes from the failure policy because no export is loaded.
    fail_safe: bool = False
    #: Version of the export the answer is based on (None when none is loaded).
    state_version: int | None = None
    explanation: str = ""

    def __bool__(self) -> bool:
        return self.blocked


class Guard:
    """Kill switches and safeguards from an export file, re-read when the file changes.

    Parameters
    ----------
    path
        The export file the kill-switch module writes.
    on_unavailable
        What :meth:`is_blocked` answers while no valid export has been loaded since start:
        ``"closed"`` (default: everything is blocked) or ``"open"`` (nothing is).
    check_interval
        Minimum seconds between two looks at the file (one ``stat``); calls in between use
        the loaded state, so the guard costs a dictionary lookup per request.
    reverify_interval
        Seconds after which the file is read and verified again even if ``stat`` shows no
        change (covers an in-place rewrite of equal size within the timestamp resolution).
    defaults
        Target keys added to every check, e.g. the served model's identity
        ``{"model_id": "credit", "version": "3", "model_type": "credit-scoring"}``.
    fallback_entries
        Bound of the last-known-good cache (least recently stored entries go first).
    clock
        Monotonic seconds; tests inject a fake one.

    Notes
    -----
    Thread-safe: the loaded state is an immutable object replaced by one reference
    assignment, one thread at a time re-reads the file (others keep answering from the
    current state meanwhile), and the fallback cache has its own lock.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        on_unavailable: Literal["closed", "open"] = "closed",
        check_interval: float = 1.0,
        reverify_interval: float = 60.0,
        defaults: Mapping[str, Any] | None = None,
        default_safeguard: Safeguard = Safeguard(),
        fallback_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if on_unavailable not in ("closed", "open"):
            raise ValueError(f"on_unavailable must be 'closed' or 'open', not {on_unavailable!r}")
        if check_interval < 0 or reverify_interval < 0:
            raise ValueError("check_interval and reverify_interval must be >= 0")
        self.path = os.fspath(path)
        self.on_unavailable = on_unavailable
        self._check_interval = check_interval
        self._reverify_interval = reverify_interval
        self._defaults = _request(defaults or {}, {})
        self._default_safeguard = default_safeguard
        self._clock = clock
        self._cache = FallbackCache(max_entries=fallback_entries, clock=clock)
        self._state: GuardState | None = None
        self._signature: tuple[int, int, int, int] | None = None
        self._last_check = -math.inf
        self._last_read = -math.inf
        self._error: str | None = None
        self._error_at: str | None = None
        self._reload = threading.Lock()
        self.refresh(force=True)

    # ---- loading

    def refresh(self, *, force: bool = False) -> bool:
        """Look at the file if ``check_interval`` has passed (or ``force``); True if reloaded."""
        if not force and self._clock() - self._last_check < self._check_interval:
            return False
        if not self._reload.acquire(blocking=force):
            return False  # another thread is looking; answer from the current state
        try:
            now = self._clock()
            if not force and now - self._last_check < self._check_interval:
                return False
            self._last_check = now
            try:
                stat = os.stat(self.path)
            except OSError as error:
                self._fail(f"{self.path}: cannot read the kill-switch export ({error.strerror})")
                return False
            unchanged = _signature(stat) == self._signature
            if unchanged and not force and now - self._last_read < self._reverify_interval:
                return False
            return self._read(now)
        finally:
            self._reload.release()

    def _read(self, now: float) -> bool:
        try:
            with open(self.path, "rb") as handle:
                stat = os.fstat(handle.fileno())  # of the file actually read, even if renamed
                raw = handle.read()
        except OSError as error:
            self._fail(f"{self.path}: cannot read the kill-switch export ({error.strerror})")
            return False
        self._signature = _signature(stat)
        self._last_read = now
        try:
            state = parse_export(raw, source=self.path)
        except InvalidExport as error:
            self._fail(str(error))
            return False
        current = self._state
        if current is not None and state.digest == current.digest:
            self._clear()
            return False
        if current is not None and state.version <= current.version:
            self._fail(
                f"{self.path}: export version {state.version} is not newer than the loaded "
                f"version {current.version}; an older file must not undo newer switches"
            )
            return False
        self._state = state
        self._clear()
        log.info(
            "kill-switch export %s version %d loaded: %d active switch(es)",
            self.path,
            state.version,
            len(state.switches),
        )
        return True

    def _fail(self, message: str) -> None:
        if message != self._error:
            kept = self._state.version if self._state else None
            log.warning(
                "%s; %s",
                message,
                f"keeping export version {kept}"
                if kept is not None
                else f"no export loaded: failing {self.on_unavailable}",
            )
        self._error = message
        self._error_at = datetime.now().astimezone().isoformat(timespec="seconds")

    def _clear(self) -> None:
        self._error = None
        self._error_at = None

    @property
    def state(self) -> GuardState | None:
        """The export in force (None before the first valid one)."""
        return self._state

    @property
    def error(self) -> str | None:
        """Why the last look at the file did not load it (None when it did or was current)."""
        return self._error

    def status(self) -> dict[str, Any]:
        """For a readiness probe or a status page: what is loaded, and the last error."""
        state = self._state
        if state is not None:
            serving = "normal"
        else:
            serving = f"fail_{self.on_unavailable}"
        return {
            "path": self.path,
            "loaded": state is not None,
            "serving": serving,
            "version": state.version if state else None,
            "generated_at": state.generated_at if state else None,
            "digest": state.digest if state else None,
            "active_switches": len(state.switches) if state else 0,
            "error": self._error,
            "error_at": self._error_at,
        }

    # ---- blocking

    def why_blocked(self, **targets: Any) -> Decision:
        """The decision for a request described by target keys, with the switches behind it.

        Keys are those of :data:`TARGET_KEYS`; ``None`` values are ignored, others compared
        as strings. Pass every key you know: a switch on a key the request omits cannot
        match it.
        """
        request = _request(targets, self._defaults)
        self.refresh()
        state = self._state
        if state is None:
            closed = self.on_unavailable == "closed"
            return Decision(
                blocked=closed,
                fail_safe=True,
                explanation=(
                    f"no valid kill-switch export loaded ({self._error}); failing "
                    f"{self.on_unavailable}: {'blocked' if closed else 'allowed'} by policy"
                ),
            )
        hits = tuple(switch for switch in state.switches if switch.matches(request))
        if not hits:
            return Decision(
                blocked=False,
                state_version=state.version,
                explanation=f"no active switch matches (export version {state.version})",
            )
        return Decision(
            blocked=True,
            switches=hits,
            state_version=state.version,
            explanation="blocked by " + "; ".join(switch.describe() for switch in hits),
        )

    def is_blocked(self, **targets: Any) -> bool:
        """True when an active switch (or the failure policy) blocks this request."""
        return self.why_blocked(**targets).blocked

    # ---- safeguards and fallback

    def safeguard(self, model_id: str) -> Safeguard:
        """The model's safeguards from the export, or the default ones."""
        self.refresh()
        state = self._state
        if state is None:
            return self._default_safeguard
        return state.safeguards.get(model_id, self._default_safeguard)

    def protect(self, model_id: str, value: Any, *, entity: Hashable | None = None) -> Protected:
        """Apply the model's safeguards to a prediction; fall back when it is refused.

        A refused prediction (see :func:`apply_safeguard`) is replaced by the last good value
        served for the same ``(model_id, entity)`` if that is younger than the model's
        ``fallback_ttl_seconds``; otherwise :class:`RejectedPrediction` is raised and the
        caller serves its own default. Good values are remembered per entity.
        """
        safeguard = self.safeguard(model_id)
        ttl = safeguard.fallback_ttl_seconds
        try:
            served, action = apply_safeguard(value, safeguard)
        except RejectedPrediction as rejected:
            hit = self._cache.get((model_id, entity), ttl) if entity is not None else None
            if hit is None:
                raise RejectedPrediction(
                    f"{rejected} for model {model_id!r}"
                    + (
                        f" and no last good value of entity {entity!r} younger than {ttl} s"
                        if entity is not None
                        else " (no entity given, so no fallback)"
                    )
                ) from rejected
            last, age = hit
            return Protected(
                last, value, "fallback", f"{rejected}; served the value from {age:.1f} s ago"
            )
        if entity is not None and ttl > 0 and not math.isnan(served):
            self._cache.put((model_id, entity), served)
        note = "" if action == "passed" else f"{value!r} clipped to {served!r}"
        return Protected(served, value, action, note)  # type: ignore[arg-type]

    def fallback(self, model_id: str, entity: Hashable) -> float | None:
        """The entity's last good value if still fresh, e.g. when the model call failed."""
        hit = self._cache.get((model_id, entity), self.safeguard(model_id).fallback_ttl_seconds)
        return None if hit is None else hit[0]


def _signature(stat: os.stat_result) -> tuple[int, int, int, int]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _request(targets: Mapping[str, Any], defaults: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(targets) - set(TARGET_KEYS))
    if unknown:
        raise UnknownTarget(
            f"unknown target key(s) {', '.join(unknown)}; use {', '.join(TARGET_KEYS)}"
        )
    request = dict(defaults)
    request.update({key: str(value) for key, value in targets.items() if value is not None})
    return request

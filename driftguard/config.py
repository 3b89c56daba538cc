"""The ``driftguard.yaml`` configuration and the environment settings, as pydantic models.

A bad configuration is refused before any work starts, with every problem listed by its
field path (``models[1].features.income.kind``). Secrets never live here: they come from
the environment (see :class:`Settings`) or Prefect Secret blocks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from driftguard.errors import ConfigError

MODEL_ID_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
#: Canonical columns of a prediction-log table; a feature may not reuse these names.
RESERVED_COLUMNS = frozenset(
    {"prediction_id", "ts", "score", "predicted_class", "label", "labelled_at"}
)
_DURATION = re.compile(r"^\s*(\d+)\s*(m|h|d|w)\s*$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | timedelta) -> timedelta:
    """Parse ``"90m"``, ``"1h"``, ``"7d"`` or ``"2w"`` (or seconds as an int) into a timedelta."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int):
        return timedelta(seconds=text)
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(
            f"duration {text!r} is not understood: write a number and a unit, e.g. 90m, 1h, 7d, 2w"
        )
    value, unit = int(match.group(1)), match.group(2)
    if value <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    return timedelta(seconds=value * _UNIT_SECONDS[unit])


def format_duration(delta: timedelta) -> str:
    """The shortest ``parse_duration`` spelling of ``delta`` (``7d``, ``1h``, ``90m``)."""
    seconds = int(delta.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[timedelta, Field(description="A duration such as 90m, 1h, 7d or 2w.")]


class _Strict(BaseModel):
    """Base for config sections: unknown keys are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _DurationFields(_Strict):
    @field_validator("*", mode="before")
    @classmethod
    def _durations(cls, value: Any, info: Any) -> Any:
        annotation = cls.model_fields[info.field_name].annotation
        if annotation in (timedelta, timedelta | None) and isinstance(value, str | int):
            return parse_duration(value)
        return value


# --------------------------------------------------------------------------- features


class FeatureSpec(_Strict):
    """One monitored input column of a model."""

    kind: Literal["numeric", "categorical"]
    description: str = ""
    #: Plausible range; values outside it count as out-of-range in data quality checks.
    min: float | None = None
    max: float | None = None
    #: Known categories (optional): used by the simulator and to name unseen categories.
    categories: list[str] | None = None
    #: Drift method override for this feature (see ``driftguard drift --help`` for names).
    method: str | None = None
    #: Weight of this feature in the model's weighted drift score.
    weight: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _range(self) -> FeatureSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if self.kind == "categorical" and (self.min is not None or self.max is not None):
            raise ValueError("min/max apply to numeric features only")
        return self


class ProtectedAttribute(_Strict):
    """A column holding a legally protected characteristic (sex, age band, ...)."""

    name: str
    #: The group others are compared against for disparate impact; default: the largest group.
    reference_group: str | None = None
    #: Expected groups (optional): used by the simulator and shown in reports.
    groups: list[str] | None = None


class Columns(_Strict):
    """Where the canonical fields live in the model's prediction logs."""

    prediction_id: str = "prediction_id"
    timestamp: str = "timestamp"
    #: Probability of the positive class (classifiers) or the predicted value (regressors).
    score: str | None = "score"
    #: Predicted class label, if logged; otherwise derived from score >= decision_threshold.
    predicted_class: str | None = None
    #: Ground truth logged with the prediction (rare; labels usually arrive later).
    label: str | None = None
    segment: str | None = None
    region: str | None = None
    endpoint: str | None = None


class LabelColumns(_Strict):
    """Column names in delayed-label files."""

    prediction_id: str = "prediction_id"
    label: str = "label"
    labelled_at: str = "labelled_at"


class FileSource(_Strict):
    """Files or a glob (a landing folder). Format from the extension unless given."""

    path: str
    format: Literal["auto", "parquet", "csv", "jsonl"] = "auto"


class Sources(_Strict):
    predictions: list[FileSource] = Field(default_factory=list)
    labels: list[FileSource] = Field(default_factory=list)


# --------------------------------------------------------------------------- windows

Cadence = Literal["hourly", "daily", "weekly"]
_CADENCE_LENGTH = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(weeks=1),
}
_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?LW#]+$")


class Schedule(_Strict):
    """When the model is monitored: a cadence, or a cron expression (UTC)."""

    cadence: Cadence | Literal["cron"] = "daily"
    cron: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value in _CADENCE_LENGTH:
                return {"cadence": value}
            return {"cadence": "cron", "cron": value}
        return value

    @model_validator(mode="after")
    def _cron(self) -> Schedule:
        if self.cadence == "cron":
            fields = (self.cron or "").split()
            if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
                raise ValueError(
                    f"schedule {self.cron!r} is neither hourly, daily, weekly nor a 5-field "
                    "cron expression such as '30 6 * * 1-5'"
                )
        elif self.cron is not None:
            raise ValueError("cron is only allowed with cadence: cron")
        return self

    @property
    def label(self) -> str:
        return self.cron if self.cadence == "cron" and self.cron else self.cadence


class CurrentWindow(_DurationFields):
    """The window a run inspects: ``length`` long, ending at the run's as-of time.

    The end is aligned down to ``align`` (default: the window length for hourly/daily/weekly
    windows) so that re-running a schedule slot looks at exactly the same rows.
    """

    length: timedelta | None = None
    align: timedelta | None = None


class ReferenceWindow(_DurationFields):
    """The baseline: fixed dates, or a rolling window ending ``gap`` before the current one."""

    start: datetime | None = None
    end: datetime | None = None
    length: timedelta | None = None
    gap: timedelta = timedelta(0)

    @model_validator(mode="after")
    def _fixed_or_rolling(self) -> ReferenceWindow:
        fixed = self.start is not None or self.end is not None
        if fixed and self.length is not None:
            raise ValueError("give either start/end (fixed) or length (rolling), not both")
        if fixed:
            if self.start is None or self.end is None:
                raise ValueError("a fixed reference window needs both start and end")
            if _utc(self.start) >= _utc(self.end):
                raise ValueError("reference start must be before its end")
        elif self.length is None:
            raise ValueError("give start and end (fixed) or length (rolling)")
        return self

    @property
    def is_fixed(self) -> bool:
        return self.start is not None


class Window(BaseModel):
    """A half-open time interval [start, end) in UTC."""

    model_config = ConfigDict(frozen=True)
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if _utc(self.start) >= _utc(self.end):
            raise ValueError(f"window start {self.start} is not before its end {self.end}")
        return self

    def __str__(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def align_down(moment: datetime, step: timedelta) -> datetime:
    """Floor ``moment`` to a multiple of ``step`` since the Unix epoch (UTC)."""
    moment = _utc(moment)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    steps = (moment - epoch) // step
    return epoch + steps * step


# --------------------------------------------------------------------------- models


class SimulationSpec(_Strict):
    """How ``driftguard simulate`` shapes this model's synthetic logs (demo and tests)."""

    days: int = Field(14, ge=2, le=366)
    rows_per_day: int = Field(2000, ge=10)
    #: The shifted period is the last ``shift_days`` days.
    shift_days: int = Field(7, ge=1)
    #: Mean shift of numeric features in reference standard deviations, or for categorical
    #: features the share of rows moved to another category, during the shifted period.
    drift: dict[str, float] = Field(default_factory=dict)
    #: Logit penalty applied to one group of a protected attribute, e.g. {"sex": 0.8}.
    disparity: dict[str, float] = Field(default_factory=dict)
    #: Share of predictions that eventually get a label, and the mean delay before it does.
    label_rate: float = Field(0.9, ge=0, le=1)
    label_delay_hours: float = Field(48.0, ge=0)
    seed: int = 7

    @model_validator(mode="after")
    def _shift(self) -> SimulationSpec:
        if self.shift_days >= self.days:
            raise ValueError("shift_days must be smaller than days (a baseline period is needed)")
        return self


class ModelConfig(_DurationFields):
    """One monitored model version."""

    id: str = Field(pattern=MODEL_ID_PATTERN, description="lower-case id, e.g. credit-risk")
    version: str = "1"
    owner: str
    purpose: str = Field(min_length=1, description="business purpose, in plain words")
    model_type: str = Field(
        "generic", pattern=r"^[a-z][a-z0-9_-]{0,62}$", description="family, e.g. credit-scoring"
    )
    task: Literal["binary_classification", "regression"] = "binary_classification"
    decision_threshold: float = Field(0.5, gt=0, lt=1)
    schedule: Schedule = Field(default_factory=Schedule)
    columns: Columns = Field(default_factory=Columns)
    label_columns: LabelColumns = Field(default_factory=LabelColumns)
    features: dict[str, FeatureSpec]
    protected_attributes: list[ProtectedAttribute] = Field(default_factory=list)
    #: Columns holding personal data: replaced by a keyed hash at ingestion.
    personal_data: list[str] = Field(default_factory=list)
    sources: Sources = Field(default_factory=Sources)
    reference: ReferenceWindow = Field(
        default_factory=lambda: ReferenceWindow(length=timedelta(days=7))
    )
    current: CurrentWindow = Field(default_factory=CurrentWindow)
    #: Timestamps further than this in the future are quarantined (clock skew tolerance).
    future_tolerance: timedelta = timedelta(minutes=5)
    recipients: list[str] = Field(default_factory=list)
    simulation: SimulationSpec | None = None

    @field_validator("features", mode="before")
    @classmethod
    def _feature_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"kind": v} if isinstance(v, str) else v for k, v in value.items()}
        if isinstance(value, list):
            raise ValueError(
                "features must be a mapping of name to kind, e.g. {income: numeric, region: "
                "categorical}"
            )
        return value

    @field_validator("protected_attributes", mode="before")
    @classmethod
    def _protected_shorthand(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        if not self.features:
            raise ValueError("a model needs at least one feature to monitor")
        for name in self.features:
            check_column_name(name)
            if name in RESERVED_COLUMNS:
                raise ValueError(
                    f"feature {name!r} uses a reserved column name; reserved: "
                    f"{', '.join(sorted(RESERVED_COLUMNS))}"
                )
        protected = [p.name for p in self.protected_attributes]
        duplicates = {n for n in protected if protected.count(n) > 1}
        if duplicates:
            raise ValueError(f"protected attribute listed twice: {', '.join(sorted(duplicates))}")
        for name in [*protected, *self.personal_data]:
            check_column_name(name)
        clash = set(protected) & set(self.features)
        if clash:
            raise ValueError(
                f"{', '.join(sorted(clash))} is both a feature and a protected attribute; "
                "protected attributes are monitored for fairness, list them only there"
            )
        if self.columns.score is None and self.columns.predicted_class is None:
            raise ValueError("columns: give score or predicted_class (or both)")
        if self.task == "regression" and self.columns.score is None:
            raise ValueError("a regression model needs a score column (the predicted value)")
        for attr in ("prediction_id", "timestamp"):
            check_column_name(getattr(self.columns, attr))
        if self.simulation:
            unknown = set(self.simulation.drift) - set(self.features)
            if unknown:
                raise ValueError(
                    f"simulation.drift names unknown features: {', '.join(sorted(unknown))}"
                )
            unknown = set(self.simulation.disparity) - set(protected)
            if unknown:
                raise ValueError(
                    "simulation.disparity names attributes that are not protected attributes: "
                    f"{', '.join(sorted(unknown))}"
                )
        return self

    @property
    def numeric_features(self) -> list[str]:
        return [n for n, f in self.features.items() if f.kind == "numeric"]

    @property
    def categorical_features(self) -> list[str]:
        return [n for n, f in self.features.items() if f.kind == "categorical"]

    @property
    def protected_names(self) -> list[str]:
        return [p.name for p in self.protected_attributes]

    @property
    def context_columns(self) -> dict[str, str]:
        """Optional serving-context columns that are present: lake name -> log column."""
        return {
            name: getattr(self.columns, name)
            for name in ("segment", "region", "endpoint")
            if getattr(self.columns, name)
        }

    @property
    def score_is_probability(self) -> bool:
        return self.task == "binary_classification"

    def current_length(self) -> timedelta:
        if self.current.length is not None:
            return self.current.length
        if self.schedule.cadence == "cron":
            return _CADENCE_LENGTH["daily"]
        return _CADENCE_LENGTH[self.schedule.cadence]

    def current_window(self, as_of: datetime) -> Window:
        """The current window of a run at ``as_of``: aligned so re-runs see the same rows."""
        length = self.current_length()
        align = self.current.align or (
            length if self.schedule.cadence != "cron" else timedelta(minutes=1)
        )
        end = align_down(as_of, align)
        return Window(start=end - length, end=end)

    def reference_window(self, current: Window) -> Window:
        """The baseline for a given current window."""
        if self.reference.is_fixed:
            assert self.reference.start and self.reference.end
            return Window(start=_utc(self.reference.start), end=_utc(self.reference.end))
        assert self.reference.length is not None
        end = current.start - self.reference.gap
        return Window(start=end - self.reference.length, end=end)


# --------------------------------------------------------------------------- whole file


class LakeConfig(_Strict):
    """Where the lake lives. The environment (DRIFTGUARD_CATALOG, ...) overrides this."""

    #: ``sqlite`` (embedded, ``<home>/catalog.sqlite``), ``sqlite:<path>`` or
    #: ``postgres:<libpq DSN>`` (e.g. ``postgres:dbname=lake host=10.0.0.5``).
    catalog: str = "sqlite"
    #: Folder or ``s3://bucket/prefix/`` for the Parquet data files; default ``<home>/lake/``.
    data_path: str | None = None
    #: Small inserts (audit entries, governance rows) stay in the catalog below this many rows.
    inlining_row_limit: int = Field(100, ge=0)

    @field_validator("catalog")
    @classmethod
    def _catalog(cls, value: str) -> str:
        if value == "sqlite" or value.startswith(("sqlite:", "postgres:")):
            return value
        raise ValueError(f"catalog {value!r} must be 'sqlite', 'sqlite:<path>' or 'postgres:<dsn>'")


#: Governed actions and the roles allowed to take them by default (``governance.permissions``
#: overrides any of them).
DEFAULT_PERMISSIONS: dict[str, list[str]] = {
    "model.register": ["admin", "ml_engineer"],
    "model.request_approval": ["admin", "ml_engineer"],
    "model.approve": ["admin", "approver"],
    "model.promote": ["admin", "ml_engineer"],
    "model.override_gate": ["admin"],
    "model.retire": ["admin", "ml_engineer"],
    "model.block": ["admin", "on_call"],
    "model.release": ["admin", "on_call"],
    "policy.write": ["admin", "approver"],
    "policy.activate": ["admin", "approver"],
    "killswitch.activate": ["admin", "on_call"],
    "killswitch.deactivate": ["admin", "on_call"],
    "audit.revert": ["admin"],
}


class GovernanceConfig(_Strict):
    """Approvals and who may do what."""

    #: Distinct approvers needed per model type; ``default`` applies to the others.
    required_approvals: dict[str, int] = Field(default_factory=lambda: {"default": 1})
    #: Action -> roles allowed, overriding DEFAULT_PERMISSIONS for the actions named.
    permissions: dict[str, list[str]] = Field(default_factory=dict)
    #: Deployment stages whose promotion needs passing monitoring results (no results = block).
    gated_states: list[Literal["shadow", "canary", "production"]] = Field(
        default_factory=lambda: ["shadow", "canary", "production"]
    )
    #: Stages where missing monitoring results only warn (a shadow deployment gathers them).
    results_optional_states: list[Literal["shadow", "canary", "production"]] = Field(
        default_factory=lambda: ["shadow"]
    )
    #: Minimum length of a written override or release reason.
    min_reason_length: int = Field(10, ge=1)

    @field_validator("required_approvals")
    @classmethod
    def _approvals(cls, value: dict[str, int]) -> dict[str, int]:
        if any(n < 1 for n in value.values()):
            raise ValueError("required approvals must be at least 1")
        return {"default": 1, **value}

    @field_validator("permissions")
    @classmethod
    def _known_actions(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = set(value) - set(DEFAULT_PERMISSIONS)
        if unknown:
            raise ValueError(
                f"unknown action(s) {', '.join(sorted(unknown))}; known: "
                f"{', '.join(sorted(DEFAULT_PERMISSIONS))}"
            )
        return value

    def roles_for(self, action: str) -> list[str]:
        return self.permissions.get(action, DEFAULT_PERMISSIONS[action])

    def approvals_needed(self, model_type: str) -> int:
        return self.required_approvals.get(model_type, self.required_approvals["default"])


class KillSwitchCondition(_Strict):
    """When a rule fires: one measure of a monitoring run against one bound."""

    measure: str
    above: float | None = None
    at_least: float | None = None
    below: float | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> KillSwitchCondition:
        from driftguard.governance.measures import check_measure

        check_measure(self.measure)
        bounds = [b for b in (self.above, self.at_least, self.below, self.at_most) if b is not None]
        if len(bounds) != 1:
            raise ValueError("give exactly one of above, at_least, below, at_most")
        return self

    def holds(self, value: float | None) -> bool:
        if value is None:
            return False  # a measure the run did not compute never trips a switch
        if self.above is not None:
            return value > self.above
        if self.at_least is not None:
            return value >= self.at_least
        if self.below is not None:
            return value < self.below
        assert self.at_most is not None
        return value <= self.at_most

    def describe(self) -> str:
        for word, bound in (
            ("above", self.above),
            ("at least", self.at_least),
            ("below", self.below),
            ("at most", self.at_most),
        ):
            if bound is not None:
                return f"{self.measure} {word} {bound:g}"
        raise AssertionError("unreachable")


class KillSwitchRule(_Strict):
    """Switch a scope off automatically when a monitoring run meets a condition."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    when: KillSwitchCondition
    #: What to switch off: this model version, or every model of its type.
    scope: Literal["model_version", "model_type"] = "model_version"
    #: Models the rule applies to (default: all).
    models: list[str] = Field(default_factory=list)
    description: str = ""


class Safeguard(_Strict):
    """Serving-side protection of one model's predictions (exported for driftguard.guard)."""

    clip_probability: bool = True
    min: float | None = None
    max: float | None = None
    reject_nan: bool = True
    fallback_ttl_seconds: int = Field(300, ge=0)


class KillSwitchConfig(_Strict):
    """Automatic kill-switch rules, serving safeguards, and where the export file goes."""

    #: The file serving code reads (``{home}`` allowed); written atomically after every change.
    export_path: str = "{home}/killswitch.json"
    rules: list[KillSwitchRule] = Field(default_factory=list)
    safeguards: dict[str, Safeguard] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique(self) -> KillSwitchConfig:
        ids = [r.id for r in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"kill-switch rule id used twice: {', '.join(duplicates)}")
        return self


class Config(_Strict):
    """The whole ``driftguard.yaml``."""

    version: Literal[1] = 1
    project: str = "driftguard"
    lake: LakeConfig = Field(default_factory=LakeConfig)
    #: Role name -> actor names. Real authentication is the platform's; see the README.
    roles: dict[str, list[str]] = Field(default_factory=dict)
    governance: GovernanceConfig = Field(default_factory=GovernanceConfig)
    kill_switches: KillSwitchConfig = Field(default_factory=KillSwitchConfig)
    models: list[ModelConfig]

    @model_validator(mode="after")
    def _unique_ids(self) -> Config:
        ids = [m.id for m in self.models]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"model id used twice: {', '.join(duplicates)}")
        known = set(ids)
        for rule in self.kill_switches.rules:
            unknown = set(rule.models) - known
            if unknown:
                raise ValueError(
                    f"kill_switches.rules {rule.id!r} names unknown models: "
                    f"{', '.join(sorted(unknown))}"
                )
        unknown = set(self.kill_switches.safeguards) - known
        if unknown:
            raise ValueError(
                f"kill_switches.safeguards names unknown models: {', '.join(sorted(unknown))}"
            )
        return self

    def model(self, model_id: str) -> ModelConfig:
        for model in self.models:
            if model.id == model_id:
                return model
        known = ", ".join(m.id for m in self.models) or "none"
        raise UnknownModel(f"Model {model_id!r} is not in the configuration. Known: {known}.")

    def select(self, model_ids: Iterable[str] | None) -> list[ModelConfig]:
        """The models named (all when ``model_ids`` is empty), in config order."""
        wanted = list(model_ids or [])
        if not wanted:
            return list(self.models)
        return [self.model(i) for i in wanted]

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of this config: reports cite it."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class UnknownModel(ConfigError, LookupError):
    """A model id that the configuration does not define."""


_COLUMN_NAME_MAX = 128


def check_column_name(name: str) -> str:
    """Column names may be any printable text (they are always quoted in SQL)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a column name must be a non-empty string")
    if len(name) > _COLUMN_NAME_MAX:
        raise ValueError(f"column name {name[:20]!r}... is longer than {_COLUMN_NAME_MAX}")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError(f"column name {name!r} contains a control character")
    return name


# --------------------------------------------------------------------------- loading


def format_validation_error(error: ValidationError) -> list[str]:
    """One line per problem: ``<field path>: <message>``, paths written like models[0].id."""
    lines = []
    for problem in error.errors():
        path = ""
        for part in problem["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif part in {"function-after[_consistent()]", "function-after[_range()]"}:
                continue
            else:
                path += f".{part}" if path else str(part)
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown field (check the spelling; `driftguard config schema` lists fields)"
        lines.append(f"{path or '<root>'}: {message}")
    return lines


class ConfigFileError(ConfigError):
    """The configuration file is missing, unreadable or invalid."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s) in the configuration:\n{listing}")


def parse_config(data: Any, *, source: Path = Path("<config>")) -> Config:
    """Validate already-parsed YAML/JSON data into a :class:`Config`."""
    if not isinstance(data, dict):
        raise ConfigFileError(source, ["<root>: the file must hold a mapping with a `models` list"])
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise ConfigFileError(source, format_validation_error(error)) from error


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate ``driftguard.yaml``; raise :class:`ConfigFileError` listing problems."""
    path = Path(path)
    if not path.exists():
        raise ConfigFileError(
            path, ["file not found: run `driftguard init` to write an example configuration"]
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigFileError(path, [f"{where}not valid YAML ({error})"]) from error
    return parse_config(data, source=path)


def config_json_schema() -> dict[str, Any]:
    """The JSON schema of ``driftguard.yaml`` for editors (yaml-language-server)."""
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "driftguard.yaml"
    return schema


# --------------------------------------------------------------------------- environment


class Settings(BaseModel):
    """Process settings from the environment. Secrets are read here and never printed."""

    model_config = ConfigDict(frozen=True)

    home: Path
    config_path: Path
    catalog: str | None = None
    data_path: str | None = None
    pii_key: str | None = Field(default=None, repr=False)
    log_format: Literal["human", "json"] = "human"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "home": Path(env.get("DRIFTGUARD_HOME", ".driftguard")),
            "config_path": Path(env.get("DRIFTGUARD_CONFIG", "driftguard.yaml")),
            "catalog": env.get("DRIFTGUARD_CATALOG") or None,
            "data_path": env.get("DRIFTGUARD_DATA_PATH") or None,
            "pii_key": env.get("DRIFTGUARD_PII_KEY") or None,
            "log_format": env.get("DRIFTGUARD_LOG_FORMAT", "human"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def expand(self, path: str, *, base: Path | None = None) -> str:
        """Expand ``{home}`` in a configured path; relative paths are relative to ``base``."""
        expanded = path.replace("{home}", str(self.home))
        if "://" in expanded or os.path.isabs(expanded) or base is None:
            return expanded
        return str(base / expanded)

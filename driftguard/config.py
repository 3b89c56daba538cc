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
    Discriminator,
    Field,
    Tag,
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
        if self.method is not None:
            check_drift_method(self.method, self.kind)
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

    #: Excluded from dumps so configs written before table sources keep their digest.
    type: Literal["files"] = Field("files", exclude=True)
    path: str
    format: Literal["auto", "parquet", "csv", "jsonl"] = "auto"


_DSN_PASSWORD = re.compile(r"(^|\s)password\s*=", re.IGNORECASE)


class PostgresSource(_DurationFields):
    """A PostgreSQL table read incrementally: each run takes the rows whose ``cursor`` column
    is past the position stored in the lake (a timestamp or an increasing id).

    Secrets never live here: ``dsn`` holds the non-secret libpq parameters and the password
    comes from the environment variable ``password_env`` (or the whole DSN from ``dsn_env``;
    libpq's own PGPASSWORD / PGPASSFILE also work).
    """

    type: Literal["postgres"]
    #: libpq key=value parameters without the password, e.g. "host=db dbname=serving user=dg".
    dsn: str | None = None
    #: Name of an environment variable holding the whole DSN (instead of ``dsn``).
    dsn_env: str | None = None
    #: Name of an environment variable holding the password (added to ``dsn``).
    password_env: str | None = None
    schema_name: str = Field("public", alias="schema")
    table: str
    #: Column that only grows as rows are added: a timestamp or an integer id.
    cursor: str
    #: How the cursor is compared; ``auto`` takes the column's type.
    cursor_type: Literal["auto", "timestamp", "integer"] = "auto"
    #: At most about this many rows per batch (all rows of the last cursor value are kept
    #: together, so a batch can be slightly larger).
    batch_rows: int = Field(1_000_000, ge=1)
    #: Timestamp cursors only: leave rows younger than this for a later run, so rows whose
    #: transaction commits a little after their timestamp was taken are not skipped.
    settle: timedelta | None = None

    @model_validator(mode="after")
    def _check(self) -> PostgresSource:
        if (self.dsn is None) == (self.dsn_env is None):
            raise ValueError("give exactly one of dsn and dsn_env")
        if self.dsn is not None and _DSN_PASSWORD.search(self.dsn):
            raise ValueError(
                "dsn must not hold a password: put it in an environment variable and name "
                "that variable in password_env"
            )
        for name in (self.dsn_env, self.password_env):
            if name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not an environment variable name")
        for name in (self.schema_name, self.table, self.cursor):
            check_column_name(name)
        if self.settle is not None and self.cursor_type == "integer":
            raise ValueError("settle applies to timestamp cursors only")
        return self

    @property
    def key(self) -> str:
        """How the ledger and the stored cursor name this source (no secret in it)."""
        where = self.dsn if self.dsn is not None else f"${self.dsn_env}"
        return f"postgres:{where} table={self.schema_name}.{self.table} cursor={self.cursor}"


def _source_type(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("type", "files"))
    return str(getattr(value, "type", "files"))


Source = Annotated[
    Annotated[FileSource, Tag("files")] | Annotated[PostgresSource, Tag("postgres")],
    Discriminator(_source_type),
]


class Sources(_Strict):
    """Where a model's prediction logs and delayed labels come from (files or tables)."""

    predictions: list[Source] = Field(default_factory=list)
    labels: list[Source] = Field(default_factory=list)

    def files(self, kind: Literal["predictions", "labels"]) -> list[FileSource]:
        """The file sources of ``kind`` (what simulation and the serving logger write to)."""
        return [s for s in getattr(self, kind) if isinstance(s, FileSource)]


# --------------------------------------------------------------------------- metric settings

RISK_COMPONENTS = ("drift", "fairness", "quality", "performance")


class FairnessSettings(_Strict):
    """How group fairness is judged for one model (see the README section "Fairness")."""

    #: The prediction (and label) value that is good for the person: 1 for an approval model;
    #: 0 for a risk score where a high score means "high risk" (predicted low risk is
    #: favourable). Every rate is computed for this outcome.
    favourable_outcome: Literal[0, 1] = 1
    #: Groups with fewer rows (or fewer labelled rows, for label-based rates) are reported as
    #: insufficient data and left out of the group metrics, never merged or dropped.
    min_group_size: int = Field(30, ge=1)
    #: Disparate impact below this is a finding (the four-fifths rule of US EEOC guidance).
    four_fifths: float = Field(0.8, gt=0, lt=1)
    #: Also measure intersections: true = all protected attributes together (when there are
    #: two or more), false = none, or explicit lists such as [[sex, age_band]].
    intersections: bool | list[list[str]] = True
    #: Metric -> threshold, on top of the defaults (disparate_impact and
    #: demographic_parity_ratio = four_fifths; demographic_parity_difference,
    #: equal_opportunity_difference and equalized_odds_difference = 0.1). ``*_difference``
    #: metrics breach above their threshold, ``*_ratio`` metrics and disparate_impact below it.
    thresholds: dict[str, float] = Field(default_factory=dict)

    @field_validator("thresholds")
    @classmethod
    def _known_metrics(cls, value: dict[str, float]) -> dict[str, float]:
        from driftguard.metrics._fairness_names import GROUP_METRICS

        for name, threshold in value.items():
            if name not in GROUP_METRICS:
                raise ValueError(
                    f"unknown fairness metric {name!r}; known: {', '.join(sorted(GROUP_METRICS))}"
                )
            if not 0 < threshold < 1:
                raise ValueError(f"threshold of {name} must be between 0 and 1, got {threshold}")
        return value

    @field_validator("intersections")
    @classmethod
    def _intersections(cls, value: bool | list[list[str]]) -> bool | list[list[str]]:
        if isinstance(value, list):
            for combo in value:
                if len(combo) < 2 or len(set(combo)) != len(combo):
                    raise ValueError(
                        f"an intersection needs two or more different attributes, got {combo}"
                    )
        return value


class QualitySettings(_Strict):
    """Data-quality thresholds of one model's current window (README "Data quality")."""

    #: Highest tolerated share of missing values in any monitored column.
    missing_rate: float = Field(0.05, gt=0, lt=1)
    #: Highest tolerated share of numeric values outside the feature's declared min/max.
    out_of_range_rate: float = Field(0.01, gt=0, lt=1)
    #: Highest tolerated share of rows without a usable prediction.
    invalid_prediction_rate: float = Field(0.01, gt=0, lt=1)
    #: Highest tolerated share of quarantined rows in the batches that fed the window.
    quarantine_rate: float = Field(0.05, gt=0, lt=1)
    #: Rows per day against the reference window: below ``volume_drop`` or above
    #: ``volume_spike`` times the reference rate is a finding.
    volume_drop: float = Field(0.5, gt=0, lt=1)
    volume_spike: float = Field(2.0, gt=1)


class PerformanceSettings(_Strict):
    """When model performance counts as degraded (README "Performance")."""

    #: Fewer labelled predictions than this in a window: metrics are insufficient data.
    min_labelled: int = Field(100, ge=1)
    #: Highest tolerated drop against the reference window, in absolute terms, of
    #: higher-is-better classifier metrics (roc_auc, accuracy, f1, precision, recall).
    max_drop: dict[str, float] = Field(
        default_factory=lambda: {"roc_auc": 0.05, "accuracy": 0.05, "f1": 0.05}
    )
    #: Highest tolerated relative increase against the reference window of error metrics
    #: (log_loss, brier, mae, rmse): 0.2 means 20% worse.
    max_increase: dict[str, float] = Field(
        default_factory=lambda: {"log_loss": 0.2, "brier": 0.2, "mae": 0.2, "rmse": 0.2}
    )
    #: Absolute floors of higher-is-better metrics, e.g. {roc_auc: 0.7} (none by default).
    minimum: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> PerformanceSettings:
        higher = {"roc_auc", "accuracy", "f1", "precision", "recall"}
        lower = {"log_loss", "brier", "mae", "rmse"}
        for field_name, allowed in (
            ("max_drop", higher),
            ("minimum", higher),
            ("max_increase", lower),
        ):
            for name, value in getattr(self, field_name).items():
                if name not in allowed:
                    known = ", ".join(sorted(allowed))
                    raise ValueError(f"{field_name}: unknown metric {name!r}; known: {known}")
                if value <= 0:
                    raise ValueError(f"{field_name}.{name} must be positive, got {value}")
        return self


class RiskSettings(_Strict):
    """The composite risk score (README "Risk score")."""

    #: Weight of each component in the weighted mean; 0 leaves a component out.
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "drift": 0.35,
            "fairness": 0.25,
            "quality": 0.15,
            "performance": 0.25,
        }
    )
    #: Share of the score taken by the worst component instead of the weighted mean, so one
    #: severe problem cannot hide behind three healthy components (0 = plain weighted mean).
    worst_share: float = Field(0.5, ge=0, le=1)
    #: Status thresholds on the 0-100 score.
    attention: float = Field(50, gt=0, lt=100)
    at_risk: float = Field(70, gt=0, le=100)
    #: Below this share of the total weight available, the score is UNKNOWN.
    min_available_weight: float = Field(0.5, gt=0, le=1)
    #: Trend over the last ``trend_runs`` scored runs; a fitted change smaller than
    #: ``trend_band`` points is "stable".
    trend_runs: int = Field(5, ge=2, le=100)
    trend_band: float = Field(5.0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> RiskSettings:
        unknown = set(self.weights) - set(RISK_COMPONENTS)
        if unknown:
            raise ValueError(
                f"weights: unknown component(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(RISK_COMPONENTS)}"
            )
        if any(w < 0 for w in self.weights.values()) or not any(self.weights.values()):
            raise ValueError("weights must be non-negative and at least one must be positive")
        if self.attention >= self.at_risk:
            raise ValueError(f"attention ({self.attention}) must be below at_risk ({self.at_risk})")
        return self

    def weight(self, component: str) -> float:
        return float(self.weights.get(component, 0.0))


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


# --------------------------------------------------------------------------- drift


def check_drift_method(name: str, kind: str | None = None) -> str:
    """A registered drift method name that applies to ``kind`` (numeric or categorical)."""
    from driftguard.metrics.drift import METHODS, UnknownDriftMethod, get_method

    try:
        method = get_method(name)
    except UnknownDriftMethod as error:  # pydantic reports ValueErrors with the field path
        raise ValueError(str(error)) from None
    if kind is not None and not method.applies_to(kind):
        fitting = ", ".join(sorted(n for n, m in METHODS.items() if m.applies_to(kind)))
        raise ValueError(f"drift method {name!r} does not apply to {kind} columns; use {fitting}")
    return name


class MethodSelection(_Strict):
    """How a column's default drift method is chosen: named heuristics, not inline numbers.

    References with at most ``small_reference_rows`` non-missing values get a statistical test
    (p < 0.05 is drift); larger references get an effect size, because at hundreds of
    thousands of rows every p-value is tiny and a test flags differences nobody cares about.
    """

    small_reference_rows: int = Field(1000, ge=1)
    numeric_small: str = "ks"
    numeric_large: str = "psi"
    categorical_small: str = "chi_square"
    #: Categorical columns with exactly two reference categories and a small reference.
    binary_small: str = "z_test"
    categorical_large: str = "psi"

    @field_validator("numeric_small", "numeric_large")
    @classmethod
    def _numeric(cls, value: str) -> str:
        return check_drift_method(value, "numeric")

    @field_validator("categorical_small", "binary_small", "categorical_large")
    @classmethod
    def _categorical(cls, value: str) -> str:
        return check_drift_method(value, "categorical")


class MethodThresholds(_Strict):
    """Warning and critical levels of one method: p-value levels for the tests (ks,
    chi_square, z_test: drift when p < level), value levels for the effect sizes."""

    warning: float = Field(ge=0)
    critical: float = Field(ge=0)


class LearnedThresholds(_Strict):
    """Thresholds learned from the reference instead of fixed levels.

    The reference window is split into ``chunks`` equal time slices (default: as many as
    current windows fit in it, at least 3); each method's value for every chunk against the
    whole reference gives a mean and a standard deviation; a value outside
    mean ± warning_sigma·sd is a warning, outside mean ± critical_sigma·sd critical.
    """

    enabled: bool = False
    chunks: int | None = Field(None, ge=3, le=1000)
    warning_sigma: float = Field(3.0, gt=0)
    critical_sigma: float = Field(5.0, gt=0)

    @field_validator("critical_sigma")
    @classmethod
    def _ordered(cls, value: float, info: Any) -> float:
        warning = info.data.get("warning_sigma")
        if warning is not None and value < warning:
            raise ValueError(f"critical_sigma ({value}) must be at least warning_sigma ({warning})")
        return value


class DriftSettings(_Strict):
    """Drift monitoring of one model (``drift:`` in a model). Every field has a default."""

    enabled: bool = True
    #: Quantile bins of the reference for numeric columns (before duplicate edges are removed).
    bins: int = Field(10, ge=2, le=1000)
    #: Share given to a bin empty in one window only (PSI, KL, chi-square), then renormalised.
    empty_bin: float = Field(1e-4, gt=0, le=0.5)
    #: Fewer compared values than this in either window: verdict "insufficient_data".
    min_sample_size: int = Field(50, ge=1)
    #: Method for every numeric / categorical column of this model (a feature's own
    #: ``method`` still wins); default: chosen by ``selection``.
    numeric_method: str | None = None
    categorical_method: str | None = None
    #: Override the registry's warning/critical levels per method name.
    thresholds: dict[str, MethodThresholds] = Field(default_factory=dict)
    selection: MethodSelection = Field(default_factory=MethodSelection)
    learned_thresholds: LearnedThresholds = Field(default_factory=LearnedThresholds)
    #: KS from every distinct value (exact, agrees with scipy) or from ``ks_bins`` reference
    #: quantile bins (approximate: D is under-estimated by at most the largest bin share).
    ks_mode: Literal["exact", "binned"] = "exact"
    ks_bins: int = Field(1000, ge=10, le=100_000)
    #: Also monitor the score (prediction drift) and the joined labels (label drift).
    prediction: bool = True
    labels: bool = True
    #: Drift per value of ``columns.segment`` when one is configured, for the largest segments.
    segments: bool = True
    max_segments: int = Field(20, ge=1, le=1000)
    #: How many of the most drifted features the run summary lists.
    top: int = Field(5, ge=1, le=100)
    #: Findings for a rise of the missing share of at least this much (absolute) ...
    missing_change_alert: float = Field(0.05, gt=0, le=1)
    #: ... and for at least this share of current rows in categories unseen in the reference.
    unseen_share_alert: float = Field(0.01, gt=0, le=1)

    @field_validator("numeric_method")
    @classmethod
    def _numeric(cls, value: str | None) -> str | None:
        return None if value is None else check_drift_method(value, "numeric")

    @field_validator("categorical_method")
    @classmethod
    def _categorical(cls, value: str | None) -> str | None:
        return None if value is None else check_drift_method(value, "categorical")

    @field_validator("thresholds")
    @classmethod
    def _levels(cls, value: dict[str, MethodThresholds]) -> dict[str, MethodThresholds]:
        from driftguard.metrics.drift import get_method

        for name, levels in value.items():
            check_drift_method(name)
            method = get_method(name)
            if method.is_test:
                if not 0 < levels.critical <= levels.warning < 1:
                    raise ValueError(
                        f"{name} is a test judged on its p-value: need 0 < critical <= "
                        f"warning < 1 (e.g. warning 0.05, critical 0.01), got warning "
                        f"{levels.warning}, critical {levels.critical}"
                    )
            elif levels.critical < levels.warning:
                raise ValueError(
                    f"{name}: critical ({levels.critical}) must be at least warning "
                    f"({levels.warning})"
                )
        return value


# --------------------------------------------------------------------------- operations


class RetentionSettings(_Strict):
    """How long one model's raw data is kept (README "Operations: data retention")."""

    #: Prediction logs, labels and quarantined rows older than this many days are deleted by
    #: the retention flow; aggregated results and audit entries are kept. None: keep forever.
    raw_days: int | None = Field(None, ge=1)


class RetentionDefaults(_DurationFields):
    """Retention for the whole lake: the default per model and how long snapshots live."""

    #: Default ``raw_days`` for models that do not set their own (None: keep forever).
    raw_days: int | None = Field(None, ge=1)
    #: Lake snapshots older than this are expired and their unreferenced files deleted. A
    #: report can only be re-rendered from its run's snapshot while that snapshot exists, and
    #: deleted raw rows leave the data files only once no kept snapshot still references them.
    keep_snapshots: timedelta = timedelta(days=30)


class OperationsConfig(_Strict):
    """Metrics, retention and health checks (README "Operations")."""

    #: Prometheus node-exporter textfile written after every pipeline run (``{home}`` allowed;
    #: the file name must end in .prom); null disables it. DRIFTGUARD_METRICS_PATH overrides.
    metrics_path: str | None = "{home}/metrics/driftguard.prom"
    retention: RetentionDefaults = Field(default_factory=RetentionDefaults)
    #: ``driftguard doctor`` fails when the home or data folder has less free space (MB).
    min_free_disk_mb: int = Field(1024, ge=0)

    @field_validator("metrics_path")
    @classmethod
    def _prom_suffix(cls, value: str | None) -> str | None:
        if value is not None and not value.endswith(".prom"):
            raise ValueError(
                "the node-exporter textfile collector only reads files ending in .prom"
            )
        return value


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
    drift: DriftSettings = Field(default_factory=DriftSettings)
    simulation: SimulationSpec | None = None
    fairness: FairnessSettings = Field(default_factory=FairnessSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    performance: PerformanceSettings = Field(default_factory=PerformanceSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    #: Raw-data retention of this model (default: ``operations.retention.raw_days``).
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        return [check_recipient(v) for v in value]

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
        for attr in self.protected_attributes:
            if attr.groups and attr.reference_group and attr.reference_group not in attr.groups:
                raise ValueError(
                    f"protected attribute {attr.name!r}: reference_group "
                    f"{attr.reference_group!r} is not one of its groups ({', '.join(attr.groups)})"
                )
        if isinstance(self.fairness.intersections, list):
            for combo in self.fairness.intersections:
                unknown = set(combo) - set(protected)
                if unknown:
                    raise ValueError(
                        "fairness.intersections names attributes that are not protected "
                        f"attributes: {', '.join(sorted(unknown))}"
                    )
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

    def fairness_attribute_sets(self) -> list[tuple[str, ...]]:
        """Each protected attribute alone, then the configured intersections, in order."""
        sets: list[tuple[str, ...]] = [(name,) for name in self.protected_names]
        wanted = self.fairness.intersections
        if wanted is True and len(sets) >= 2:
            sets.append(tuple(self.protected_names))
        elif isinstance(wanted, list):
            sets.extend(tuple(combo) for combo in wanted if tuple(combo) not in sets)
        return sets

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


SendPolicy = Literal["always", "findings", "status_change"]


def check_recipient(address: str) -> str:
    """A plain e-mail address (the same rule as the mailer's), else ValueError."""
    from driftguard.notify import InvalidAddress, check_address

    try:
        return check_address(address)
    except InvalidAddress as error:
        raise ValueError(str(error)) from None


class ReportsConfig(_Strict):
    """Compliance reports and who receives them by e-mail (``reports:`` at the top level)."""

    #: When a model's report is e-mailed to its ``recipients``: on every run, only when the
    #: run has findings, or only when the model's health status changed since its previous run.
    send: SendPolicy = "findings"
    #: The same choice for the fleet report (sent when any of its models qualifies).
    fleet_send: SendPolicy = "findings"
    #: Who receives the fleet report (executive dashboard).
    fleet_recipients: list[str] = Field(default_factory=list)
    #: Start of every e-mail subject.
    subject_prefix: str = Field("[DriftGuard]", max_length=40)
    #: Reference-vs-current distribution charts for this many of the most drifted features.
    top_features: int = Field(5, ge=0, le=50)
    #: Past runs shown in the risk trend chart.
    trend_runs: int = Field(20, ge=2, le=200)
    #: Where ``<home>/reports`` is served (e.g. ``https://reports.example.com/driftguard``):
    #: links in Prefect artifacts and e-mails point there; without it they are file:// URIs.
    base_url: str | None = None
    #: Attach the full HTML report to each e-mail.
    attach_report: bool = True

    @field_validator("fleet_recipients")
    @classmethod
    def _fleet_recipients(cls, value: list[str]) -> list[str]:
        return [check_recipient(v) for v in value]

    @field_validator("subject_prefix")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(c in value for c in "\r\n\x00"):
            raise ValueError("subject_prefix must be one line")
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s<>\"']+$", value):
            raise ValueError("base_url must be an http(s) URL without spaces or quotes")
        return value.rstrip("/") if value else value


class Config(_Strict):
    """The whole ``driftguard.yaml``."""

    version: Literal[1] = 1
    project: str = "driftguard"
    lake: LakeConfig = Field(default_factory=LakeConfig)
    #: Role name -> actor names. Real authentication is the platform's; see the README.
    roles: dict[str, list[str]] = Field(default_factory=dict)
    governance: GovernanceConfig = Field(default_factory=GovernanceConfig)
    kill_switches: KillSwitchConfig = Field(default_factory=KillSwitchConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    operations: OperationsConfig = Field(default_factory=OperationsConfig)
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

    def raw_days(self, model_id: str) -> int | None:
        """Days of raw data kept for a model: its own setting, else the operations default."""
        own = self.model(model_id).retention.raw_days
        return own if own is not None else self.operations.retention.raw_days

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
            elif isinstance(part, str) and part.startswith("function-after["):
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

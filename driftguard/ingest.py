"""Ingestion: validate prediction-log and label files, keep good rows, quarantine bad ones.

One file is one batch, and a batch is one lake transaction: the accepted rows, the quarantined
rows (each with its reasons and the raw row), the ledger entry and the moved watermark commit
together or not at all. Re-ingesting is a no-op: a file whose checksum the ledger already holds
is skipped, and a prediction id seen before is quarantined as ``already_ingested`` rather than
stored twice. Every reason starts with a rule code (``score_out_of_range: ...``) so reports
can count them.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from driftguard.config import ModelConfig, PostgresSource, Settings
from driftguard.errors import ConfigError
from driftguard.schema import LABEL_COLUMNS, ensure_model_tables, prediction_columns
from driftguard.sources import ROW_NUMBER, SourceFile, UnreadableSource, discover, stage
from driftguard.sources import file_identity as _identity
from driftguard.sql import model_table, quote_ident
from driftguard.store import Lake

log = logging.getLogger(__name__)

Kind = Literal["predictions", "labels"]
STAGE = "__dg_stage"
CHECKED = "__dg_checked"
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE")
_VALUE_PREVIEW = 60
#: Rule codes that quarantine a row, in the order they are checked.
RULES = (
    "missing_column",
    "missing_id",
    "duplicate_id",
    "already_ingested",
    "missing_timestamp",
    "bad_timestamp",
    "future_timestamp",
    "missing_score",
    "bad_score",
    "nan_score",
    "infinite_score",
    "score_out_of_range",
    "bad_class",
    "bad_label",
    "missing_label",
    "bad_feature",
)


class MissingPIIKey(ConfigError):
    """Personal-data columns are configured but no pseudonymisation key is set."""


@dataclass
class BatchOutcome:
    """What happened to one source file."""

    model_id: str
    kind: Kind
    source_path: str
    status: Literal["ingested", "skipped", "failed"]
    batch_id: str | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    min_ts: datetime | None = None
    max_ts: datetime | None = None
    message: str = ""


@dataclass
class IngestReport:
    """Outcome of ingesting every source of one model."""

    model_id: str
    batches: list[BatchOutcome] = field(default_factory=list)

    def _sum(self, attr: str, kind: Kind | None = None) -> int:
        return sum(getattr(b, attr) for b in self.batches if kind is None or b.kind == kind)

    @property
    def rows_read(self) -> int:
        return self._sum("rows_read")

    @property
    def rows_accepted(self) -> int:
        return self._sum("rows_accepted")

    @property
    def rows_quarantined(self) -> int:
        return self._sum("rows_quarantined")

    @property
    def failed(self) -> list[BatchOutcome]:
        return [b for b in self.batches if b.status == "failed"]

    def count(self, status: str) -> int:
        return sum(1 for b in self.batches if b.status == status)

    def reasons(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for batch in self.batches:
            for code, n in batch.reasons.items():
                totals[code] = totals.get(code, 0) + n
        return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "files_ingested": self.count("ingested"),
            "files_skipped": self.count("skipped"),
            "files_failed": self.count("failed"),
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "predictions_accepted": self._sum("rows_accepted", "predictions"),
            "labels_accepted": self._sum("rows_accepted", "labels"),
            "rows_quarantined": self.rows_quarantined,
            "reasons": self.reasons(),
            "failures": [{"path": b.source_path, "error": b.message} for b in self.failed],
        }


# --------------------------------------------------------------------------- public API


def ingest_model(
    lake: Lake,
    model: ModelConfig,
    settings: Settings,
    *,
    base: Path | None = None,
    actor: str | None = None,
    now: datetime | None = None,
    on_batch: Callable[[BatchOutcome], None] | None = None,
) -> IngestReport:
    """Ingest every new file of every source of ``model``; files are batches, in path order."""
    if model.personal_data and not settings.pii_key:
        raise MissingPIIKey(
            f"Model {model.id!r} marks {', '.join(model.personal_data)} as personal data, but "
            "DRIFTGUARD_PII_KEY is not set. Set it to a long random secret (the same one on "
            "every run, so hashed identifiers stay linkable)."
        )
    ensure_model_tables(lake, model)
    report = IngestReport(model.id)
    plan: list[tuple[Kind, str, SourceFile]] = []
    tables: list[tuple[Kind, PostgresSource]] = []
    for kind in ("predictions", "labels"):
        for source in getattr(model.sources, kind):
            if isinstance(source, PostgresSource):
                tables.append((kind, source))
            else:
                plan += [(kind, source.path, f) for f in discover(source, settings, base)]
    for kind, source_key, file in plan:
        outcome = ingest_file(
            lake, model, file, kind, settings, source_key=source_key, actor=actor, now=now
        )
        report.batches.append(outcome)
        if on_batch:
            on_batch(outcome)
    for kind, table_source in tables:
        from driftguard.table_source import ingest_table

        for outcome in ingest_table(
            lake, model, table_source, kind, settings, actor=actor, now=now
        ):
            report.batches.append(outcome)
            if on_batch:
                on_batch(outcome)
    return report


def ingest_file(
    lake: Lake,
    model: ModelConfig,
    file: SourceFile,
    kind: Kind,
    settings: Settings,
    *,
    source_key: str | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> BatchOutcome:
    """Ingest one file as one all-or-nothing batch."""
    path = _identity(file)
    checksum = file.sha256()
    batch_id = batch_id_for(model.id, kind, checksum)
    if _already_in_ledger(lake, model.id, kind, checksum):
        return BatchOutcome(model.id, kind, path, "skipped", batch_id, message="already ingested")
    try:
        source_columns = stage(lake.con, file, STAGE)
    except UnreadableSource as error:
        log.warning("batch %s failed: %s", path, error)
        return BatchOutcome(model.id, kind, path, "failed", batch_id, message=str(error))
    return ingest_staged(
        lake,
        model,
        kind,
        settings,
        source_columns=source_columns,
        path=path,
        size=file.size,
        checksum=checksum,
        source_key=source_key or path,
        actor=actor,
        now=now,
    )


def ingest_staged(
    lake: Lake,
    model: ModelConfig,
    kind: Kind,
    settings: Settings,
    *,
    source_columns: dict[str, str],
    path: str,
    size: int | None,
    checksum: str,
    source_key: str,
    actor: str | None = None,
    now: datetime | None = None,
    guard: Callable[[Lake], str | None] | None = None,
    on_commit: Callable[[Lake, BatchOutcome], None] | None = None,
) -> BatchOutcome:
    """Validate the rows staged in the temporary table ``__dg_stage`` and commit them as one
    batch (accepted rows, quarantine, ledger entry, watermark) in one transaction.

    ``guard`` runs first inside the transaction and may return a reason to skip the batch
    (a table source checks that its cursor has not moved); ``on_commit`` writes more rows in
    the same transaction (that source's new cursor).
    """
    now = now or datetime.now(UTC)
    actor = actor or default_actor()
    batch_id = batch_id_for(model.id, kind, checksum)
    plan = (
        _predictions_plan(model, source_columns, settings)
        if kind == "predictions"
        else (_labels_plan(model, source_columns))
    )
    started = datetime.now(UTC)

    def write(lk: Lake) -> BatchOutcome:
        if _already_in_ledger(lk, model.id, kind, checksum):
            return BatchOutcome(
                model.id, kind, path, "skipped", batch_id, message="already ingested"
            )
        skip = guard(lk) if guard else None
        if skip:
            return BatchOutcome(model.id, kind, path, "skipped", batch_id, message=skip)
        _build_checked(lk, model, kind, plan, now)
        outcome = _commit_batch(
            lk,
            model,
            kind,
            plan,
            path,
            size,
            checksum,
            batch_id,
            actor,
            started,
            source_key,
        )
        if on_commit:
            on_commit(lk, outcome)
        after_batch_hooks(lk, outcome, actor)
        return outcome

    try:
        outcome = lake.transaction(write, message=f"ingest {kind} {model.id}", author=actor)
    finally:
        lake.execute(f"DROP TABLE IF EXISTS temp.{STAGE}")
        lake.execute(f"DROP TABLE IF EXISTS temp.{CHECKED}")
    log.info(
        "model %s %s batch %s: %d read, %d accepted, %d quarantined",
        model.id,
        kind,
        path,
        outcome.rows_read,
        outcome.rows_accepted,
        outcome.rows_quarantined,
    )
    return outcome


#: Functions called inside each batch's transaction after it is written (the audit chain
#: registers one); they receive the lake, the outcome and the actor.
AFTER_BATCH: list[Callable[[Lake, BatchOutcome, str], None]] = []


def after_batch_hooks(lake: Lake, outcome: BatchOutcome, actor: str) -> None:
    importlib.import_module("driftguard.audit.hooks")  # registers every batch's audit entry

    for hook in AFTER_BATCH:
        hook(lake, outcome, actor)


def default_actor() -> str:
    """The acting identity when none is given: the operating-system user."""
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"


def batch_id_for(model_id: str, kind: str, checksum: str) -> str:
    """Deterministic: the same bytes for the same model always get the same batch id."""
    return "b" + hashlib.sha256(f"{model_id}|{kind}|{checksum}".encode()).hexdigest()[:19]


def pseudonymise(value: str, key: str) -> str:
    """HMAC-SHA256 of ``value`` under ``key``, hex: the Python twin of the SQL used at ingest."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- planning


@dataclass
class _Plan:
    """SQL for one file: typed select expressions and reason expressions, with named params."""

    selects: dict[str, str]  # lake column -> SQL expression over the staged table
    reasons: list[str]  # SQL expressions that yield "code: detail" or NULL
    params: dict[str, Any]  # named parameters ($p0, $p1, ...) used by the expressions
    ts_column: str = "ts"


def _timestamp_expr(column: str, dtype: str) -> str:
    ref = quote_ident(column)
    if dtype == "TIMESTAMP WITH TIME ZONE":
        return ref
    if dtype.startswith(("TIMESTAMP", "DATE")):
        return f"CAST({ref} AS TIMESTAMPTZ)"  # naive times are read as UTC
    if dtype in _NUMERIC_TYPES or dtype.startswith("DECIMAL"):
        return f"to_timestamp(CAST({ref} AS DOUBLE))"  # epoch seconds
    return f"TRY_CAST({ref} AS TIMESTAMPTZ)"


def _is_numeric(dtype: str) -> bool:
    return dtype in _NUMERIC_TYPES or dtype.startswith("DECIMAL")


class _Builder:
    """Collects expressions for one file, binds values, and notes missing declared columns."""

    def __init__(self, source_columns: dict[str, str], now: str = "$now"):
        self.columns = source_columns
        self.selects: dict[str, str] = {}
        self.reasons: list[str] = []
        self.params: dict[str, Any] = {}
        self.missing: list[str] = []

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def present(self, source: str) -> bool:
        if source in self.columns:
            return True
        self.missing.append(source)
        return False

    def reason(self, condition: str, code: str, *parts: str) -> None:
        """Reason ``code: <parts joined>`` when ``condition``; parts are SQL text expressions."""
        detail = " || ".join(parts) if parts else "''"
        self.reasons.append(f"CASE WHEN {condition} THEN {self.bind(code + ': ')} || {detail} END")

    def text(self, literal: str) -> str:
        return self.bind(literal)

    def preview(self, expr: str) -> str:
        return f"left(CAST({expr} AS VARCHAR), {_VALUE_PREVIEW})"

    def double(
        self, lake_col: str, source: str, label: str, *, missing_code: str | None, bad_code: str
    ) -> str | None:
        """Typed DOUBLE column with 'missing' and 'not a number' reasons; None when absent."""
        if not self.present(source):
            self.selects[lake_col] = "CAST(NULL AS DOUBLE)"
            return None
        raw = quote_ident(source)
        dtype = self.columns[source]
        if _is_numeric(dtype):
            expr = f"CAST({raw} AS DOUBLE)"
        elif dtype == "BOOLEAN":
            expr = f"CAST(CAST({raw} AS INTEGER) AS DOUBLE)"
        else:
            expr = f"TRY_CAST({raw} AS DOUBLE)"
            self.reason(
                f"{raw} IS NOT NULL AND {expr} IS NULL",
                bad_code,
                self.text(f"{label} value '"),
                self.preview(raw),
                self.text("' is not a number"),
            )
        self.selects[lake_col] = expr
        if missing_code:
            self.reason(f"{raw} IS NULL", missing_code, self.text(f"{label} is missing"))
        return expr

    def prediction_id(self, source: str) -> None:
        if self.present(source):
            pid = f"NULLIF(trim(CAST({quote_ident(source)} AS VARCHAR)), '')"
            self.selects["prediction_id"] = pid
            self.reason(f"{pid} IS NULL", "missing_id", self.text("prediction id is empty"))
        else:
            self.selects["prediction_id"] = "CAST(NULL AS VARCHAR)"

    def timestamp(self, lake_col: str, source: str, *, required: bool) -> str | None:
        if source not in self.columns:
            if required:
                self.missing.append(source)
            return None
        raw = quote_ident(source)
        ts = _timestamp_expr(source, self.columns[source])
        self.selects[lake_col] = ts
        if required:
            self.reason(f"{raw} IS NULL", "missing_timestamp", self.text("timestamp is missing"))
        self.reason(
            f"{raw} IS NOT NULL AND {ts} IS NULL",
            "bad_timestamp",
            self.text("'"),
            self.preview(raw),
            self.text("' is not a date-time"),
        )
        self.reason(
            f"{ts} > $now + $tolerance",
            "future_timestamp",
            f"CAST({ts} AS VARCHAR)",
            self.text(" is after the ingestion time"),
        )
        return ts

    def binary(self, expr: str | None, code: str, label: str) -> None:
        if expr:
            self.reason(
                f"{expr} IS NOT NULL AND NOT isnan({expr}) AND {expr} NOT IN (0, 1)",
                code,
                self.text(f"{label} "),
                f"CAST({expr} AS VARCHAR)",
                self.text(" is not 0 or 1"),
            )

    def plan(self, ts_column: str = "ts") -> _Plan:
        if self.missing:
            names = ", ".join(repr(m) for m in self.missing)
            self.reasons.insert(
                0, self.bind(f"missing_column: required column(s) {names} absent from the file")
            )
        return _Plan(self.selects, self.reasons, self.params, ts_column)


def _predictions_plan(
    model: ModelConfig, source_columns: dict[str, str], settings: Settings
) -> _Plan:
    cols = model.columns
    b = _Builder(source_columns)
    b.prediction_id(cols.prediction_id)
    if b.timestamp("ts", cols.timestamp, required=True) is None:
        b.selects["ts"] = "CAST(NULL AS TIMESTAMPTZ)"
    b.selects["score"] = "CAST(NULL AS DOUBLE)"
    if cols.score:
        score = b.double(
            "score", cols.score, "score", missing_code="missing_score", bad_code="bad_score"
        )
        if score:
            b.reason(f"isnan({score})", "nan_score", b.text("score is NaN"))
            b.reason(f"isinf({score})", "infinite_score", b.text("score is infinite"))
            if model.score_is_probability:
                b.reason(
                    f"isfinite({score}) AND ({score} < 0 OR {score} > 1)",
                    "score_out_of_range",
                    b.text("score "),
                    f"CAST({score} AS VARCHAR)",
                    b.text(" is outside [0, 1] for a probability"),
                )
    b.selects["predicted_class"] = "CAST(NULL AS DOUBLE)"
    if cols.predicted_class:
        klass = b.double(
            "predicted_class",
            cols.predicted_class,
            "predicted class",
            missing_code="bad_class",
            bad_code="bad_class",
        )
        if model.task == "binary_classification":
            b.binary(klass, "bad_class", "predicted class")
    if cols.label:
        label = b.double("__label", cols.label, "label", missing_code=None, bad_code="bad_label")
        if model.task == "binary_classification":
            b.binary(label, "bad_label", "label")
    for name, spec in model.features.items():
        if spec.kind == "numeric":
            expr = b.double(
                name, name, f"feature {name!r}", missing_code=None, bad_code="bad_feature"
            )
            if expr:  # NaN in a feature is a missing value; infinity is an error
                b.selects[name] = f"CASE WHEN isnan({expr}) THEN NULL ELSE {expr} END"
                b.reason(f"isinf({expr})", "bad_feature", b.text(f"feature {name!r} is infinite"))
        else:
            b.selects[name] = (
                f"CAST({quote_ident(name)} AS VARCHAR)"
                if b.present(name)
                else "CAST(NULL AS VARCHAR)"
            )
    context = {source: lake_name for lake_name, source in model.context_columns.items()}
    for source in [*model.protected_names, *context]:
        lake_name = context.get(source, source)
        b.selects[lake_name] = (
            f"CAST({quote_ident(source)} AS VARCHAR)"
            if b.present(source)
            else "CAST(NULL AS VARCHAR)"
        )
    for name in model.personal_data:
        if name in source_columns:
            b.selects[name] = _hmac_sql(
                f"CAST({quote_ident(name)} AS VARCHAR)", settings.pii_key or "", b
            )
        else:
            b.selects.setdefault(name, "CAST(NULL AS VARCHAR)")
    return b.plan()


def _labels_plan(model: ModelConfig, source_columns: dict[str, str]) -> _Plan:
    cols = model.label_columns
    b = _Builder(source_columns)
    b.prediction_id(cols.prediction_id)
    label = b.double(
        "label", cols.label, "label", missing_code="missing_label", bad_code="bad_label"
    )
    if label:
        b.reason(f"isnan({label}) OR isinf({label})", "bad_label", b.text("label is not finite"))
        if model.task == "binary_classification":
            b.binary(label, "bad_label", "label")
    ts = b.timestamp("labelled_at", cols.labelled_at, required=False)
    # without a labelled_at column, a label counts as arriving when it is ingested
    b.selects["labelled_at"] = f"coalesce({ts}, $now)" if ts else "$now"
    return b.plan(ts_column="labelled_at")


def _hmac_sql(value_sql: str, key: str, b: _Builder) -> str:
    """HMAC-SHA256 (RFC 2104) in DuckDB SQL, so pseudonymising 10M ids needs no Python loop."""
    raw = key.encode()
    if len(raw) > 64:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(64, b"\x00")
    inner = b.bind(bytes(x ^ 0x36 for x in raw))
    outer = b.bind(bytes(x ^ 0x5C for x in raw))
    return (
        f"CASE WHEN {value_sql} IS NULL THEN NULL ELSE "
        f"sha256({outer} || unhex(sha256({inner} || encode({value_sql})))) END"
    )


# --------------------------------------------------------------------------- writing


def _already_in_ledger(lake: Lake, model_id: str, kind: str, checksum: str) -> bool:
    row = lake.fetchone(
        "SELECT count(*) FROM ingest_batches WHERE model_id = ? AND kind = ? AND sha256 = ?",
        [model_id, kind, checksum],
    )
    return bool(row[0])


def _build_checked(lake: Lake, model: ModelConfig, kind: Kind, plan: _Plan, now: datetime) -> None:
    """Materialise the typed batch with its reasons (one scan of the staged file)."""
    table = model_table(model.id, kind)
    typed = ", ".join(f"{expr} AS {quote_ident(col)}" for col, expr in plan.selects.items())
    local = f"concat_ws('; ', {', '.join(plan.reasons)})" if plan.reasons else "''"
    params = {**plan.params, "now": now, "tolerance": model.future_tolerance}
    # Rows stored by earlier batches, found by joining the lake to this batch's ids: the hash
    # table is built on the batch, so memory follows the batch size, not the lake's.
    if kind == "predictions":
        seen_sql = (
            f"SELECT DISTINCT l.prediction_id FROM {table} l "
            "JOIN (SELECT DISTINCT prediction_id FROM typed) b USING (prediction_id)"
        )
        seen_match = "seen.prediction_id = d.prediction_id"
        seen_text = (
            "'already_ingested: prediction id ' || d.prediction_id "
            "|| ' was ingested by an earlier batch'"
        )
    else:
        seen_sql = (
            f"SELECT DISTINCT l.prediction_id, l.label, l.labelled_at FROM {table} l "
            "JOIN (SELECT DISTINCT prediction_id FROM typed) b USING (prediction_id)"
        )
        seen_match = (
            "seen.prediction_id = d.prediction_id AND seen.label = d.label "
            "AND seen.labelled_at = d.labelled_at"
        )
        seen_text = "'already_ingested: this label was ingested by an earlier batch'"
    # Duplicates are rare, so find them with one aggregate and join back, instead of a
    # window over every id (1M-row file: 1.19 s -> 0.83 s for this statement).
    lake.execute(
        f"""CREATE OR REPLACE TEMP TABLE {CHECKED} AS
        WITH typed AS (
            SELECT {ROW_NUMBER}, {typed}, NULLIF({local}, '') AS _local FROM temp.{STAGE}
        ), dups AS (
            SELECT prediction_id, min({ROW_NUMBER}) AS _first FROM typed
            WHERE prediction_id IS NOT NULL GROUP BY prediction_id HAVING count(*) > 1
        ), seen AS ({seen_sql}
        ), d AS (
            SELECT typed.*, dups._first FROM typed LEFT JOIN dups USING (prediction_id)
        )
        SELECT d.*, NULLIF(concat_ws('; ', d._local,
            CASE WHEN d.{ROW_NUMBER} > d._first
                 THEN 'duplicate_id: prediction id ' || d.prediction_id
                      || ' repeats row ' || d._first || ' of this file' END,
            CASE WHEN seen.prediction_id IS NOT NULL AND coalesce(d.{ROW_NUMBER} = d._first, true)
                 THEN {seen_text} END
        ), '') AS _reason
        FROM d LEFT JOIN seen ON {seen_match}""",
        params,
    )


def _commit_batch(
    lake: Lake,
    model: ModelConfig,
    kind: Kind,
    plan: _Plan,
    path: str,
    size: int | None,
    checksum: str,
    batch_id: str,
    actor: str,
    started: datetime,
    source_key: str,
) -> BatchOutcome:
    table = model_table(model.id, kind)
    now = datetime.now(UTC)
    if kind == "predictions":
        lake_columns = [c for c in prediction_columns(model) if not c.startswith("_")]
    else:
        lake_columns = [c for c in LABEL_COLUMNS if not c.startswith("_")]
    names = ", ".join(quote_ident(c) for c in lake_columns)
    lake.execute(
        f"INSERT INTO {table} ({names}, _batch_id, _ingested_at) "
        f"SELECT {names}, ?, ? FROM temp.{CHECKED} WHERE _reason IS NULL",
        [batch_id, now],
    )
    if kind == "predictions" and "__label" in plan.selects:
        labels = model_table(model.id, "labels")
        lake.execute(
            f"INSERT INTO {labels} SELECT prediction_id, __label, ts, ?, ? FROM temp.{CHECKED} "
            "WHERE _reason IS NULL AND __label IS NOT NULL",
            [batch_id, now],
        )
    source_cols = [c for c in _staged_columns(lake) if c != ROW_NUMBER]
    raw_json = (
        "json_object(" + ", ".join(f"?, s.{quote_ident(c)}" for c in source_cols) + ")"
        if source_cols
        else "'{}'"
    )
    lake.execute(
        f"INSERT INTO quarantine SELECT ?, ?, ?, ?, c.{ROW_NUMBER}, c._reason, {raw_json}, ? "
        f"FROM temp.{CHECKED} c JOIN temp.{STAGE} s USING ({ROW_NUMBER}) "
        f"WHERE c._reason IS NOT NULL ORDER BY c.{ROW_NUMBER}",
        [model.id, batch_id, kind, path, *source_cols, now],
    )
    ts = quote_ident(plan.ts_column)
    read, accepted, min_ts, max_ts = lake.fetchone(
        f"SELECT count(*), count(*) FILTER (WHERE _reason IS NULL), "
        f"min({ts}) FILTER (WHERE _reason IS NULL), max({ts}) FILTER (WHERE _reason IS NULL) "
        f"FROM temp.{CHECKED}"
    )
    reasons = dict(
        lake.fetchall(
            f"SELECT split_part(r, ':', 1) AS code, count(*) FROM ("
            f"SELECT unnest(string_split(_reason, '; ')) AS r FROM temp.{CHECKED} "
            "WHERE _reason IS NOT NULL) GROUP BY code ORDER BY code"
        )
    )
    lake.execute(
        "INSERT INTO ingest_batches (batch_id, model_id, kind, source_path, size_bytes, sha256, "
        "rows_read, rows_accepted, rows_quarantined, min_ts, max_ts, started_at, finished_at, "
        "actor, model_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            batch_id,
            model.id,
            kind,
            path,
            size,
            checksum,
            read,
            accepted,
            read - accepted,
            min_ts,
            max_ts,
            started,
            datetime.now(UTC),
            actor,
            model.version,
        ],
    )
    _move_watermark(lake, model.id, kind, source_key, max_ts)
    return BatchOutcome(
        model.id,
        kind,
        path,
        "ingested",
        batch_id,
        rows_read=read,
        rows_accepted=accepted,
        rows_quarantined=read - accepted,
        reasons=reasons,
        min_ts=min_ts,
        max_ts=max_ts,
    )


def _staged_columns(lake: Lake) -> list[str]:
    return [
        r[0]
        for r in lake.fetchall(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = 'temp' "
            "AND table_name = ? AND column_name NOT IN ('file_row_number') "
            "ORDER BY column_index",
            [STAGE],
        )
    ]


def _move_watermark(
    lake: Lake, model_id: str, kind: str, source: str, max_ts: datetime | None
) -> None:
    """Replace the source's watermark row (never moving it backwards).

    Rewriting this one row in every batch transaction also serialises concurrent ingestion of
    the same model: two writers of one row conflict at commit, and the loser retries and then
    finds the file in the ledger.
    """
    lake.execute(
        "CREATE OR REPLACE TEMP TABLE __dg_wm AS SELECT max(watermark) AS w FROM "
        "source_watermarks WHERE model_id = ? AND kind = ? AND source = ?",
        [model_id, kind, source],
    )
    lake.execute(
        "DELETE FROM source_watermarks WHERE model_id = ? AND kind = ? AND source = ?",
        [model_id, kind, source],
    )
    lake.execute(
        "INSERT INTO source_watermarks SELECT ?, ?, ?, "
        "CASE WHEN w IS NULL THEN CAST(? AS TIMESTAMPTZ) "
        "WHEN ? IS NULL THEN w ELSE greatest(w, CAST(? AS TIMESTAMPTZ)) END, now() FROM __dg_wm",
        [model_id, kind, source, max_ts, max_ts, max_ts],
    )

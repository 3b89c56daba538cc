"""Versioned lake schema: numbered migrations, applied once each, in order, atomically.

Each migration is a list of DDL statements. The applied versions are recorded in
``schema_migrations`` in the same transaction as the DDL, so two processes migrating at once
cannot both apply one (the loser's commit conflicts, is retried and finds it applied).
Per-model prediction and label tables follow the model configuration instead: they are
created on first use and gain columns when the configuration gains features.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from driftguard.config import ModelConfig
from driftguard.errors import StoreError
from driftguard.sql import model_table, quote_ident
from driftguard.store import Lake, SchemaTooNew

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "ingestion ledger, quarantine, watermarks",
        (
            """CREATE TABLE IF NOT EXISTS ingest_batches (
                batch_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,            -- predictions | labels
                source_path VARCHAR NOT NULL,
                size_bytes BIGINT,
                sha256 VARCHAR NOT NULL,
                rows_read BIGINT NOT NULL,
                rows_accepted BIGINT NOT NULL,
                rows_quarantined BIGINT NOT NULL,
                min_ts TIMESTAMPTZ,
                max_ts TIMESTAMPTZ,
                started_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ NOT NULL,
                actor VARCHAR
            )""",
            """CREATE TABLE IF NOT EXISTS quarantine (
                model_id VARCHAR NOT NULL,
                batch_id VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,
                source_path VARCHAR NOT NULL,
                row_number BIGINT NOT NULL,       -- 1-based row in the source file
                reason VARCHAR NOT NULL,
                raw_json VARCHAR,                 -- the row as read, so nothing is lost
                quarantined_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS source_watermarks (
                model_id VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,
                source VARCHAR NOT NULL,
                watermark TIMESTAMPTZ,
                updated_at TIMESTAMPTZ NOT NULL
            )""",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        2,
        "monitoring runs",
        (
            """CREATE TABLE IF NOT EXISTS monitoring_runs (
                run_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                model_version VARCHAR NOT NULL,
                window_start TIMESTAMPTZ NOT NULL,
                window_end TIMESTAMPTZ NOT NULL,
                reference_start TIMESTAMPTZ NOT NULL,
                reference_end TIMESTAMPTZ NOT NULL,
                as_of TIMESTAMPTZ NOT NULL,
                n_current BIGINT NOT NULL,
                n_reference BIGINT NOT NULL,
                started_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ,
                config_digest VARCHAR NOT NULL,
                fingerprint VARCHAR NOT NULL,     -- model, version, window, config digest
                actor VARCHAR,
                summary_json VARCHAR              -- each stage's summary, for listings
            )""",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        5,
        "fairness, data quality, performance, risk history and model health",
        (
            """CREATE TABLE IF NOT EXISTS fairness_groups (
                run_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                attribute VARCHAR NOT NULL,       -- 'sex' or an intersection 'sex × age_band'
                columns_json VARCHAR NOT NULL,    -- the attribute columns, as a JSON list
                group_label VARCHAR NOT NULL,     -- 'female × 18-24'; '<missing>' for NULL
                group_json VARCHAR NOT NULL,      -- the group values, as a JSON list
                status VARCHAR NOT NULL,          -- ok | insufficient_data | missing_value
                is_reference BOOLEAN NOT NULL,
                n BIGINT NOT NULL,                -- rows with a decision
                selected BIGINT NOT NULL,         -- favourable decisions
                labelled BIGINT NOT NULL,
                tp BIGINT NOT NULL, fp BIGINT NOT NULL, fn BIGINT NOT NULL, tn BIGINT NOT NULL,
                selection_rate DOUBLE, selection_rate_low DOUBLE, selection_rate_high DOUBLE,
                tpr DOUBLE, tpr_low DOUBLE, tpr_high DOUBLE,
                fpr DOUBLE, fpr_low DOUBLE, fpr_high DOUBLE,
                fnr DOUBLE, fnr_low DOUBLE, fnr_high DOUBLE,
                precision DOUBLE, precision_low DOUBLE, precision_high DOUBLE,
                disparate_impact DOUBLE,          -- selection rate over the reference group's
                window_start TIMESTAMPTZ NOT NULL,
                window_end TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS fairness_metrics (
                run_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                attribute VARCHAR NOT NULL,
                metric VARCHAR NOT NULL,          -- e.g. demographic_parity_ratio
                value DOUBLE,
                threshold DOUBLE,
                verdict VARCHAR NOT NULL,         -- ok|warning|critical|insufficient_data|
                                                  -- not_judged
                severity DOUBLE,                  -- 0..1, 0.5 at the threshold
                groups_json VARCHAR,              -- the extreme groups, worst first
                window_start TIMESTAMPTZ NOT NULL,
                window_end TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS quality_metrics (
                run_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                "check" VARCHAR NOT NULL,         -- missing_rate | out_of_range_rate | ...
                "column" VARCHAR,                 -- the column checked, NULL for window-wide
                value DOUBLE,
                numerator DOUBLE,
                denominator DOUBLE,
                threshold DOUBLE,
                verdict VARCHAR NOT NULL,
                severity DOUBLE,
                window_start TIMESTAMPTZ NOT NULL,
                window_end TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS performance_metrics (
                run_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                "window" VARCHAR NOT NULL,        -- current | reference
                metric VARCHAR NOT NULL,          -- accuracy, roc_auc, rmse, label_coverage, ...
                value DOUBLE,
                n_labelled BIGINT NOT NULL,
                n_predictions BIGINT NOT NULL,
                window_start TIMESTAMPTZ NOT NULL,
                window_end TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS risk_history (
                run_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                model_version VARCHAR NOT NULL,
                as_of TIMESTAMPTZ NOT NULL,
                window_start TIMESTAMPTZ NOT NULL,
                window_end TIMESTAMPTZ NOT NULL,
                score DOUBLE,                     -- 0..100, NULL when UNKNOWN
                status VARCHAR NOT NULL,          -- HEALTHY | ATTENTION_NEEDED | AT_RISK | UNKNOWN
                drift DOUBLE, fairness DOUBLE, quality DOUBLE, performance DOUBLE,
                missing_json VARCHAR NOT NULL,    -- component -> why it is missing
                breakdown_json VARCHAR NOT NULL,  -- the full breakdown, for reports
                trend VARCHAR NOT NULL,           -- improving | stable | worsening | unknown
                recorded_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS model_health (
                model_id VARCHAR NOT NULL,        -- one row per model, replaced by each run
                model_version VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                score DOUBLE,
                trend VARCHAR NOT NULL,
                run_id VARCHAR NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            )""",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        3,
        "drift results and reference profiles",
        (
            """CREATE TABLE IF NOT EXISTS drift_results (
                run_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                model_version VARCHAR NOT NULL,
                target VARCHAR NOT NULL,          -- feature | prediction | label
                column_name VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,            -- numeric | categorical
                segment VARCHAR,                  -- NULL: all rows of the window
                method VARCHAR NOT NULL,          -- psi, ks, wasserstein, jensen_shannon, ...
                is_primary BOOLEAN NOT NULL,      -- the method that decides the verdict
                method_reason VARCHAR,            -- why this method was used
                value DOUBLE,                     -- distance, or the test statistic
                p_value DOUBLE,                   -- tests only
                threshold_source VARCHAR NOT NULL,-- fixed | learned
                warning_threshold DOUBLE,         -- p-value levels for tests under fixed levels
                critical_threshold DOUBLE,
                warning_lower DOUBLE,             -- learned thresholds: lower bounds
                critical_lower DOUBLE,
                verdict VARCHAR NOT NULL,         -- ok | warning | critical | insufficient_data
                rank INTEGER,                     -- 1 = most drifted feature of the run
                weight DOUBLE,
                n_ref BIGINT,                     -- values compared in each window
                n_cur BIGINT,
                ref_missing_share DOUBLE,
                cur_missing_share DOUBLE,
                unseen_share DOUBLE,              -- categorical: current rows in unseen categories
                window_start TIMESTAMPTZ NOT NULL,
                window_end TIMESTAMPTZ NOT NULL,
                reference_start TIMESTAMPTZ NOT NULL,
                reference_end TIMESTAMPTZ NOT NULL,
                profile_id VARCHAR,
                details_json VARCHAR              -- bins and shares, unseen examples, bounds
            )""",
            """CREATE TABLE IF NOT EXISTS drift_profiles (
                profile_id VARCHAR NOT NULL,      -- the same for every build of one profile
                build_id VARCHAR NOT NULL,        -- one build (the earliest wins on load)
                profile_key VARCHAR NOT NULL,     -- model, reference window, columns, binning
                model_id VARCHAR NOT NULL,
                reference_start TIMESTAMPTZ NOT NULL,
                reference_end TIMESTAMPTZ NOT NULL,
                n_rows BIGINT NOT NULL,           -- reference rows when built (stale check)
                n_chunks INTEGER NOT NULL,
                segment_column VARCHAR,
                settings_json VARCHAR NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                created_by_run VARCHAR
            )""",
            """CREATE TABLE IF NOT EXISTS drift_profile_columns (
                profile_id VARCHAR NOT NULL,
                build_id VARCHAR NOT NULL,
                column_name VARCHAR NOT NULL,
                role VARCHAR NOT NULL,            -- feature | prediction
                kind VARCHAR NOT NULL,
                n_rows BIGINT NOT NULL,
                n_missing BIGINT NOT NULL,
                edges_json VARCHAR,               -- reference quantile edges (numeric)
                fine_edges_json VARCHAR,          -- fine edges for the binned KS (opt-in)
                summary_json VARCHAR NOT NULL     -- bin or category counts: overall, per
                                                  -- segment and per reference chunk
            )""",
            """CREATE TABLE IF NOT EXISTS drift_profile_values (
                profile_id VARCHAR NOT NULL,
                build_id VARCHAR NOT NULL,
                column_name VARCHAR NOT NULL,
                value DOUBLE NOT NULL,            -- every distinct reference value ...
                n BIGINT NOT NULL                 -- ... and its count (exact KS, Wasserstein)
            )""",
            """CREATE TABLE IF NOT EXISTS drift_profile_value_sets (
                profile_id VARCHAR NOT NULL,
                build_id VARCHAR NOT NULL,
                column_name VARCHAR NOT NULL,
                n_values BIGINT NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS drift_profile_chunk_values (
                profile_id VARCHAR NOT NULL,
                build_id VARCHAR NOT NULL,
                column_name VARCHAR NOT NULL,
                method VARCHAR NOT NULL,          -- ks | wasserstein (learned thresholds)
                chunk INTEGER NOT NULL,
                value DOUBLE                      -- NULL: too few values in the chunk
            )""",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        4,
        "audit log: entries, head, checkpoints, epochs",
        (
            # One row per epoch of the log; the first is created here, with a random id.
            """CREATE TABLE IF NOT EXISTS audit_logs (
                log_id VARCHAR NOT NULL,
                epoch INTEGER NOT NULL,
                started_at TIMESTAMPTZ NOT NULL,
                previous_log_id VARCHAR,          -- the log this epoch replaced
                previous_size BIGINT,             -- its head row when it was replaced
                previous_head VARCHAR,
                reason VARCHAR
            )""",
            # Exactly one row: every append rewrites it, so concurrent appends conflict and
            # are retried instead of forking the chain.
            """CREATE TABLE IF NOT EXISTS audit_head (
                log_id VARCHAR NOT NULL,
                epoch INTEGER NOT NULL,
                size BIGINT NOT NULL,
                head VARCHAR NOT NULL,            -- hex chain value of entry `size`
                frontier VARCHAR NOT NULL,        -- JSON list of hex Merkle subtree roots
                updated_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS audit_entries (
                log_id VARCHAR NOT NULL,
                seq BIGINT NOT NULL,
                ts TIMESTAMPTZ NOT NULL,
                event_type VARCHAR NOT NULL,
                severity VARCHAR NOT NULL,
                actor VARCHAR NOT NULL,
                resource_type VARCHAR NOT NULL,
                resource_id VARCHAR NOT NULL,
                action VARCHAR NOT NULL,
                run_id VARCHAR,
                reason VARCHAR,
                payload_json VARCHAR NOT NULL,
                references_json VARCHAR NOT NULL,
                canonical BLOB NOT NULL,          -- the exact bytes that were hashed
                leaf_hash VARCHAR NOT NULL,
                chain_hash VARCHAR NOT NULL,
                seal VARCHAR                      -- <alg>:<key id>:<signature>, or NULL
            )""",
            """CREATE TABLE IF NOT EXISTS audit_checkpoints (
                log_id VARCHAR NOT NULL,
                size BIGINT NOT NULL,
                head VARCHAR NOT NULL,
                root VARCHAR NOT NULL,
                issued_at TIMESTAMPTZ NOT NULL,
                alg VARCHAR NOT NULL,             -- ed25519 | hmac-sha256 | none
                key_id VARCHAR,
                signature VARCHAR,
                frontier VARCHAR NOT NULL,
                run_id VARCHAR,
                note VARCHAR
            )""",
            "INSERT INTO audit_logs SELECT CAST(uuid() AS VARCHAR), 1, now(), NULL, NULL, NULL, "
            "'created'",
            # genesis = SHA-256(0x03 || log id), see driftguard.audit.hashing
            "INSERT INTO audit_head SELECT log_id, 1, 0, "
            "sha256('\\x03'::BLOB || CAST(log_id AS BLOB)), '[]', now() "
            "FROM audit_logs WHERE epoch = 1",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        6,
        "governance: registry, lifecycle, approvals, deployments, policies",
        (
            """CREATE TABLE IF NOT EXISTS model_versions (
                model_id VARCHAR NOT NULL,
                version VARCHAR NOT NULL,
                owner VARCHAR NOT NULL,
                purpose VARCHAR NOT NULL,
                model_type VARCHAR NOT NULL,
                training_snapshot_id VARCHAR,
                feature_version VARCHAR,
                training_metrics_json VARCHAR,
                lifecycle_state VARCHAR NOT NULL,
                registered_by VARCHAR NOT NULL,
                registered_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS lifecycle_events (
                event_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                version VARCHAR NOT NULL,
                from_state VARCHAR,
                to_state VARCHAR NOT NULL,
                actor VARCHAR NOT NULL,
                reason VARCHAR,
                changed_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS approval_requests (
                request_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                version VARCHAR NOT NULL,
                requested_by VARCHAR NOT NULL,
                justification VARCHAR NOT NULL,
                required_approvals INTEGER NOT NULL,
                status VARCHAR NOT NULL,          -- open | approved | rejected
                requested_at TIMESTAMPTZ NOT NULL,
                closed_at TIMESTAMPTZ
            )""",
            """CREATE TABLE IF NOT EXISTS approval_decisions (
                request_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                version VARCHAR NOT NULL,
                approver VARCHAR NOT NULL,
                decision VARCHAR NOT NULL,        -- approve | reject
                notes VARCHAR,
                decided_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS deployments (
                deployment_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                version VARCHAR NOT NULL,
                from_state VARCHAR NOT NULL,
                to_state VARCHAR NOT NULL,
                actor VARCHAR NOT NULL,
                deployed_at TIMESTAMPTZ NOT NULL,
                status VARCHAR NOT NULL,          -- promoted | blocked
                check_outcome VARCHAR NOT NULL,   -- pass | warn | block | no_results
                check_json VARCHAR NOT NULL,
                run_id VARCHAR,
                override BOOLEAN NOT NULL,
                override_reason VARCHAR,
                notes VARCHAR
            )""",
            """CREATE TABLE IF NOT EXISTS policy_versions (
                policy_name VARCHAR NOT NULL,
                version INTEGER NOT NULL,
                scope_kind VARCHAR NOT NULL,      -- global | model_type | model
                scope_value VARCHAR NOT NULL,
                rules_json VARCHAR NOT NULL,
                description VARCHAR,
                created_by VARCHAR NOT NULL,
                created_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS policy_activations (
                policy_name VARCHAR NOT NULL,
                version INTEGER NOT NULL,
                scope_kind VARCHAR NOT NULL,
                scope_value VARCHAR NOT NULL,
                active BOOLEAN NOT NULL,
                actor VARCHAR NOT NULL,
                reason VARCHAR,
                changed_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS policy_evaluations (
                run_id VARCHAR NOT NULL,
                model_id VARCHAR NOT NULL,
                model_version VARCHAR NOT NULL,
                policy_name VARCHAR NOT NULL,
                policy_version INTEGER NOT NULL,
                rule_id VARCHAR NOT NULL,
                measure VARCHAR NOT NULL,
                bound VARCHAR NOT NULL,           -- max | min
                threshold DOUBLE NOT NULL,
                value DOUBLE,
                severity VARCHAR NOT NULL,        -- warn | block
                outcome VARCHAR NOT NULL,         -- pass | warn | block | not_evaluated
                message VARCHAR NOT NULL,
                evaluated_at TIMESTAMPTZ NOT NULL
            )""",
            "ALTER TABLE ingest_batches ADD COLUMN IF NOT EXISTS model_version VARCHAR",
            """CREATE TABLE IF NOT EXISTS governance_heads (
                resource VARCHAR NOT NULL,        -- one row per model version or policy scope
                updated_at TIMESTAMPTZ NOT NULL
            )""",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        7,
        "kill switches and their exports",
        (
            """CREATE TABLE IF NOT EXISTS killswitches (
                switch_id VARCHAR NOT NULL,
                scope VARCHAR NOT NULL,
                target_json VARCHAR NOT NULL,     -- sorted keys, as exported to serving
                reason VARCHAR NOT NULL,
                context_json VARCHAR,
                source VARCHAR NOT NULL,          -- manual | rule:<id>
                run_id VARCHAR,
                window_start TIMESTAMPTZ,         -- the run window a rule fired for
                window_end TIMESTAMPTZ,
                activated_by VARCHAR NOT NULL,
                activated_at TIMESTAMPTZ NOT NULL,
                deactivated_by VARCHAR,
                deactivated_at TIMESTAMPTZ,
                recovery_notes VARCHAR
            )""",
            """CREATE TABLE IF NOT EXISTS killswitch_events (
                switch_id VARCHAR NOT NULL,
                event VARCHAR NOT NULL,           -- activated | deactivated
                actor VARCHAR NOT NULL,
                reason VARCHAR,
                run_id VARCHAR,
                changed_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS killswitch_exports (
                version INTEGER NOT NULL,
                digest VARCHAR NOT NULL,
                path VARCHAR NOT NULL,
                switches INTEGER NOT NULL,
                actor VARCHAR NOT NULL,
                exported_at TIMESTAMPTZ NOT NULL
            )""",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        8,
        "report deliveries",
        (
            # One row per delivery attempt of a report e-mail; the latest row of a key says
            # whether that message still needs sending (retries never send twice).
            """CREATE TABLE IF NOT EXISTS report_deliveries (
                delivery_key VARCHAR NOT NULL,    -- kind, runs, recipients, report digest
                kind VARCHAR NOT NULL,            -- model | fleet
                model_id VARCHAR,                 -- NULL for a fleet report
                run_ids_json VARCHAR NOT NULL,
                recipients_json VARCHAR NOT NULL,
                subject VARCHAR NOT NULL,
                status VARCHAR NOT NULL,          -- sent | written | undelivered
                method VARCHAR NOT NULL,          -- smtp | outbox
                eml_path VARCHAR,                 -- the .eml written or kept for a retry
                error VARCHAR,
                report_path VARCHAR,
                report_sha256 VARCHAR,
                attempted_at TIMESTAMPTZ NOT NULL,
                actor VARCHAR NOT NULL
            )""",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        9,
        "pipeline runs, audit verifications, retention",
        (
            """CREATE TABLE IF NOT EXISTS pipeline_runs (
                pipeline_run_id VARCHAR NOT NULL,  -- the Prefect flow run id, or a local id
                flow VARCHAR NOT NULL,            -- monitor-fleet | monitor-model | ...
                name VARCHAR NOT NULL,            -- what it did, e.g. "monitor fleet (daily)"
                orchestrator VARCHAR NOT NULL,    -- prefect | local
                parameters_json VARCHAR NOT NULL,
                status VARCHAR NOT NULL,          -- running | completed | failed
                started_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ,
                duration_s DOUBLE,
                models_json VARCHAR,              -- models the run covered
                failed_json VARCHAR,              -- model id -> why it failed
                run_ids_json VARCHAR,             -- DriftGuard monitoring run ids it produced
                findings INTEGER,
                alerts INTEGER,                   -- kill-switch alerts and events emitted
                rows_ingested BIGINT,
                rows_quarantined BIGINT,
                message VARCHAR
            )""",
            """CREATE TABLE IF NOT EXISTS audit_verifications (
                verified_at TIMESTAMPTZ NOT NULL,
                log_id VARCHAR NOT NULL,
                status VARCHAR NOT NULL,          -- ok | unanchored | tampered
                size BIGINT NOT NULL,
                anchored_size BIGINT,
                first_bad_seq BIGINT,
                kind VARCHAR,
                verdict VARCHAR NOT NULL,
                mode VARCHAR NOT NULL,
                seconds DOUBLE NOT NULL,
                pipeline_run_id VARCHAR
            )""",
            """CREATE TABLE IF NOT EXISTS retention_runs (
                model_id VARCHAR NOT NULL,
                cutoff TIMESTAMPTZ NOT NULL,      -- raw rows before this were deleted
                predictions_deleted BIGINT NOT NULL,
                labels_deleted BIGINT NOT NULL,
                quarantine_deleted BIGINT NOT NULL,
                actor VARCHAR NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL
            )""",
        ),
    ),
)

MIGRATIONS += (
    Migration(
        10,
        "table source cursors",
        (
            # Where each incremental table source (a PostgreSQL table of prediction logs or
            # labels) was read up to: one row per model, kind and source, replaced in the
            # same transaction as the batch it covers, so a batch and its cursor commit
            # together or not at all.
            """CREATE TABLE IF NOT EXISTS source_cursors (
                model_id VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,            -- predictions | labels
                source VARCHAR NOT NULL,          -- PostgresSource.key (never a secret)
                cursor_column VARCHAR NOT NULL,
                cursor_type VARCHAR NOT NULL,     -- timestamp | integer
                position VARCHAR,                 -- last value read, as text (NULL: none yet)
                batch_id VARCHAR,
                rows_read BIGINT NOT NULL,        -- total over every batch of this source
                updated_at TIMESTAMPTZ NOT NULL
            )""",
        ),
    ),
)

# branches add migrations independently; they apply in version order
MIGRATIONS = tuple(sorted(MIGRATIONS, key=lambda m: m.version))
LATEST_VERSION = MIGRATIONS[-1].version


def _ensure_migrations_table(lake: Lake) -> None:
    if lake.table_exists("schema_migrations"):
        return
    lake.transaction(
        lambda lk: lk.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER NOT NULL, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
        ),
        message="create schema_migrations",
    )


def applied_versions(lake: Lake) -> set[int]:
    return {row[0] for row in lake.fetchall("SELECT version FROM schema_migrations")}


def current_version(lake: Lake) -> int:
    if not lake.table_exists("schema_migrations"):
        return 0
    return max(applied_versions(lake), default=0)


def migrate(lake: Lake, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply pending migrations; return the versions applied by this call."""
    _ensure_migrations_table(lake)
    known = max((m.version for m in migrations), default=0)
    newest = current_version(lake)
    if newest > known:
        raise SchemaTooNew(
            f"The lake's schema is at version {newest} but this DriftGuard knows up to {known}. "
            "Upgrade DriftGuard before using this lake."
        )
    applied: list[int] = []
    for migration in migrations:

        def apply(lk: Lake, migration: Migration = migration) -> bool:
            if migration.version in applied_versions(lk):
                return False  # another process got there first
            for statement in migration.statements:
                lk.execute(statement)
            lk.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, now())",
                [migration.version, migration.name],
            )
            return True

        if migration.version in applied_versions(lake):
            continue
        if lake.transaction(apply, message=f"migration {migration.version}: {migration.name}"):
            log.info("applied lake migration %d (%s)", migration.version, migration.name)
            applied.append(migration.version)
    return applied


# --------------------------------------------------------------------------- model tables

#: Columns every prediction-log table has, before the model's own columns.
PREDICTION_BASE_COLUMNS = {
    "prediction_id": "VARCHAR",
    "ts": "TIMESTAMPTZ",
    "score": "DOUBLE",
    "predicted_class": "DOUBLE",
}
LABEL_COLUMNS = {
    "prediction_id": "VARCHAR",
    "label": "DOUBLE",
    "labelled_at": "TIMESTAMPTZ",
    "_batch_id": "VARCHAR",
    "_ingested_at": "TIMESTAMPTZ",
}
SYSTEM_COLUMNS = {"_batch_id": "VARCHAR", "_ingested_at": "TIMESTAMPTZ"}
#: How DuckDB reports the type aliases used above.
_TYPE_NAMES = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}


def prediction_columns(model: ModelConfig) -> dict[str, str]:
    """Lake column -> DuckDB type for a model's prediction-log table."""
    columns = dict(PREDICTION_BASE_COLUMNS)
    for name, spec in model.features.items():
        columns[name] = "DOUBLE" if spec.kind == "numeric" else "VARCHAR"
    for name in model.protected_names:
        columns[name] = "VARCHAR"
    for name in model.context_columns:
        columns[name] = "VARCHAR"
    for name in model.personal_data:
        columns.setdefault(name, "VARCHAR")
    columns.update(SYSTEM_COLUMNS)
    return columns


def ensure_model_tables(lake: Lake, model: ModelConfig) -> None:
    """Create the model's tables, or add columns the configuration gained since last time.

    Columns are only ever added: dropping a feature from the configuration keeps its history.
    A column whose type changed is an error rather than a silent rewrite of history.
    """

    def work(lk: Lake) -> None:
        for kind, wanted in (
            ("predictions", prediction_columns(model)),
            ("labels", LABEL_COLUMNS),
        ):
            table = model_table(model.id, kind)
            existing = lk.table_columns(table)
            if not existing:
                body = ", ".join(f"{quote_ident(c)} {t}" for c, t in wanted.items())
                lk.execute(f"CREATE TABLE IF NOT EXISTS {table} ({body})")
                continue
            for column, dtype in wanted.items():
                if column not in existing:
                    lk.execute(f"ALTER TABLE {table} ADD COLUMN {quote_ident(column)} {dtype}")
                elif existing[column] != _TYPE_NAMES.get(dtype, dtype):
                    raise SchemaConflict(
                        f"Column {column!r} of {table} is {existing[column]} in the lake but "
                        f"{dtype} in the configuration. Rename the feature instead of changing "
                        "its kind."
                    )

    tables = [model_table(model.id, k) for k in ("predictions", "labels")]
    if all(lake.table_exists(t) for t in tables):
        current = lake.table_columns(tables[0])
        if all(c in current for c in prediction_columns(model)):
            return
    lake.transaction(work, message=f"tables for model {model.id}")


class SchemaConflict(StoreError):
    """The configuration asks for a column type the lake already holds differently."""

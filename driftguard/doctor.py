"""``driftguard doctor``: is this installation ready to run, and if not, what to fix.

Each check returns ``ok``, ``warn`` (works, but something is missing or unusual) or ``fail``
(runs will fail), with what it found and what to do. The checks never change anything: the
catalog is opened without migrating, the audit log is verified read-only (hash-only, so the
doctor stays quick on long logs; the scheduled ``verify-audit`` flow does the full check), the
SMTP server is only greeted, and the Prefect API is only asked for its health.
"""

from __future__ import annotations

import shutil
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from driftguard.config import Config, Settings
from driftguard.errors import DriftGuardError
from driftguard.workspace import Workspace

Status = Literal["ok", "warn", "fail", "skipped"]
#: A scheduled full verification older than this is worth a warning.
VERIFICATION_MAX_AGE = timedelta(days=2)


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_config(
    settings: Settings, config_path: str | Path | None
) -> tuple[Check, Workspace | None]:
    try:
        ws = Workspace.load(config_path)
    except DriftGuardError as error:
        return (
            Check(
                "config",
                "fail",
                str(error),
                "Fix the listed fields; `driftguard config "
                "check` repeats this check, `driftguard init` writes an example.",
            ),
            None,
        )
    return Check("config", "ok", f"{ws.config_path}: {len(ws.config.models)} model(s)"), ws


def check_catalog(ws: Workspace) -> tuple[list[Check], Any]:
    """Reachable, schema version; returns the open lake (or None) for later checks."""
    from driftguard.schema import LATEST_VERSION, current_version
    from driftguard.store import Lake, LakeLocation

    location = LakeLocation.resolve(ws.settings, ws.config.lake)
    if location.is_embedded and not Path(location.catalog.removeprefix("sqlite:")).exists():
        return [
            Check(
                "catalog",
                "warn",
                f"no lake yet at {location.describe()}",
                "It is created by the first run: `driftguard ingest` or `driftguard demo`.",
            ),
        ], None
    try:
        lake = Lake.open(ws.settings, ws.config.lake, migrate=False)
    except DriftGuardError as error:
        return [
            Check(
                "catalog",
                "fail",
                str(error),
                "Check DRIFTGUARD_HOME and "
                "DRIFTGUARD_CATALOG, and that the catalog server is reachable.",
            )
        ], None
    version = current_version(lake)
    checks = [Check("catalog", "ok", f"reachable: {location.describe()}")]
    if version == LATEST_VERSION:
        checks.append(Check("schema", "ok", f"version {version} (current)"))
    elif version < LATEST_VERSION:
        checks.append(
            Check(
                "schema",
                "warn",
                f"version {version}; this DriftGuard uses {LATEST_VERSION}",
                "The next command or flow run migrates it (e.g. `driftguard status`).",
            )
        )
    else:
        checks.append(
            Check(
                "schema",
                "fail",
                f"version {version} is newer than this DriftGuard ({LATEST_VERSION})",
                "Upgrade DriftGuard on this machine.",
            )
        )
    return checks, lake


def check_audit(lake: Any) -> list[Check]:
    from driftguard import audit
    from driftguard.audit.signing import signer_from_env

    if not lake.table_exists("audit_head"):
        return [Check("audit", "warn", "no audit log yet", "It is created by the next run.")]
    verification = audit.verify(lake, full=False)
    status: Status = {"ok": "ok", "unanchored": "warn", "tampered": "fail"}[verification.status]
    fix = {
        "ok": "",
        "unanchored": "Set DRIFTGUARD_AUDIT_SIGNING_KEY (`driftguard audit keygen`) so "
        "checkpoints are signed, or verify with a checkpoint from a report.",
        "tampered": "Run `driftguard audit verify` for the details, then "
        "`driftguard audit recover --reason ...`; restore a backup if needed.",
    }[verification.status]
    checks = [Check("audit", status, verification.verdict(), fix)]
    if signer_from_env() is None:
        checks.append(
            Check(
                "audit key",
                "warn",
                "no signing key: checkpoints are unsigned (alg=none)",
                "Set DRIFTGUARD_AUDIT_SIGNING_KEY, or the Prefect Secret block "
                "driftguard-audit-signing-key on the workers.",
            )
        )
    if lake.table_exists("audit_verifications"):
        last = lake.fetchone(
            "SELECT status, verified_at FROM audit_verifications ORDER BY verified_at DESC LIMIT 1"
        )
        if last is None or datetime.now(UTC) - last[1] > VERIFICATION_MAX_AGE:
            when = "never" if last is None else f"last on {last[1]:%Y-%m-%d %H:%M} UTC"
            checks.append(
                Check(
                    "audit schedule",
                    "warn",
                    f"full verification ran {when}",
                    "Deploy the schedules (`driftguard serve`): verify-audit runs daily.",
                )
            )
        elif last[0] == "tampered":
            checks.append(
                Check(
                    "audit schedule",
                    "fail",
                    "the last full verification failed",
                    "Run `driftguard audit verify` for the details.",
                )
            )
    return checks


def check_retention(config: Config) -> Check:
    from driftguard.retention import RetentionTooShort
    from driftguard.retention import check_retention as check_one

    now = datetime.now(UTC)
    problems, kept = [], []
    for model in config.models:
        days = config.raw_days(model.id)
        if days is None:
            kept.append(model.id)
            continue
        try:
            check_one(model, days, now - timedelta(days=days))
        except RetentionTooShort as error:
            problems.append(str(error))
    if problems:
        return Check("retention", "fail", "; ".join(problems), "Raise retention.raw_days.")
    detail = (
        "raw data of every model is kept forever"
        if len(kept) == len(config.models)
        else (
            "raw days: "
            + ", ".join(f"{m.id}={config.raw_days(m.id) or 'forever'}" for m in config.models)
        )
    )
    return Check("retention", "ok", detail)


def check_secrets(ws: Workspace) -> Check:
    needing = [m.id for m in ws.config.models if m.personal_data]
    if needing and not ws.settings.pii_key:
        return Check(
            "secrets",
            "fail",
            f"models {', '.join(needing)} declare personal_data but DRIFTGUARD_PII_KEY is not set",
            "Set DRIFTGUARD_PII_KEY (32+ random "
            "bytes, e.g. `openssl rand -hex 32`) in the workers' environment.",
        )
    return Check("secrets", "ok", "required secrets are set" if needing else "none required")


def check_smtp(timeout: float = 10) -> Check:
    from driftguard.notify import SmtpSettings

    try:
        settings = SmtpSettings.from_env()
    except DriftGuardError as error:
        return Check("smtp", "fail", str(error), "Fix the DRIFTGUARD_SMTP_* variables.")
    if settings is None:
        return Check(
            "smtp",
            "ok",
            "not configured: e-mails are written to <home>/outbox",
            "Set DRIFTGUARD_SMTP_HOST (and _PORT, _SECURITY, _USER, _PASSWORD) to send.",
        )
    try:
        context = ssl.create_default_context()
        if settings.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        with client:
            client.ehlo()
            if settings.security == "starttls":
                client.starttls(context=context)
            if settings.username:
                client.login(settings.username, settings.password or "")
            code, _ = client.noop()
    except (OSError, smtplib.SMTPException) as error:
        return Check(
            "smtp",
            "fail",
            f"{settings.host}:{settings.port}: {type(error).__name__}: {error}",
            "Check DRIFTGUARD_SMTP_HOST/_PORT/_SECURITY and the "
            "credentials; messages are kept in <home>/outbox/undelivered meanwhile.",
        )
    return Check("smtp", "ok", f"{settings.host}:{settings.port} answered ({code})")


def check_prefect(environ: dict[str, str], timeout: float = 5) -> Check:
    url = environ.get("PREFECT_API_URL")
    if not url:
        return Check(
            "prefect",
            "warn",
            "PREFECT_API_URL is not set: flows start a temporary "
            "local server and schedules do not run",
            "Run `driftguard serve`, or set "
            "PREFECT_API_URL (and PREFECT_API_KEY for Prefect Cloud).",
        )
    request = urllib.request.Request(url.rstrip("/") + "/health")
    if environ.get("PREFECT_API_KEY"):
        request.add_header("Authorization", f"Bearer {environ['PREFECT_API_KEY']}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            healthy = response.status == 200
    except (urllib.error.URLError, OSError) as error:
        return Check(
            "prefect",
            "fail",
            f"{url}: {error}",
            "Start the server (`driftguard serve`) or fix PREFECT_API_URL / PREFECT_API_KEY.",
        )
    if not healthy:
        return Check("prefect", "fail", f"{url} is not healthy", "Check the server's logs.")
    return Check("prefect", "ok", f"{url} is healthy")


def check_disk(paths: list[Path], min_free_mb: int) -> Check:
    worst: tuple[float, Path] | None = None
    for path in paths:
        probe = path
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = shutil.disk_usage(probe).free / 2**20
        if worst is None or free < worst[0]:
            worst = (free, path)
    assert worst is not None
    free, path = worst
    if free < min_free_mb:
        return Check(
            "disk",
            "fail",
            f"{free:,.0f} MB free at {path} (minimum {min_free_mb:,} MB)",
            "Free space, apply retention (`driftguard retention apply`) or raise "
            "operations.min_free_disk_mb deliberately.",
        )
    return Check("disk", "ok", f"{free:,.0f} MB free at {path}")


def run_checks(
    config_path: str | Path | None = None,
    *,
    environ: dict[str, str] | None = None,
    on_check: Callable[[Check], None] | None = None,
) -> list[Check]:
    """Every check, in order. ``on_check`` sees each as it completes."""
    import os

    environ = dict(os.environ) if environ is None else environ
    settings = Settings.from_env(environ)
    checks: list[Check] = []

    def add(check: Check) -> None:
        checks.append(check)
        if on_check:
            on_check(check)

    config_check, ws = check_config(settings, config_path)
    add(config_check)
    if ws is None:
        for name in ("catalog", "audit", "retention", "secrets"):
            add(Check(name, "skipped", "needs a valid configuration"))
    else:
        catalog_checks, lake = check_catalog(ws)
        for check in catalog_checks:
            add(check)
        try:
            if lake is not None:
                for check in check_audit(lake):
                    add(check)
        finally:
            if lake is not None:
                lake.close()
        add(check_retention(ws.config))
        add(check_secrets(ws))
    add(check_smtp())
    add(check_prefect(environ))
    paths = [settings.home.resolve()]
    if ws is not None:
        from driftguard.store import LakeLocation

        data = LakeLocation.resolve(ws.settings, ws.config.lake).data_path
        if "://" not in data:
            paths.append(Path(data))
    add(check_disk(paths, ws.config.operations.min_free_disk_mb if ws else 1024))
    return checks

"""One small monitored workspace shared by the report tests (built once per session; the
``report_world`` fixture in tests/conftest.py).

Real results, not stand-ins: simulated logs are ingested and monitored by the full stage
list, with governance around them, so every section of a report has something to show:

- ``credit``: drift on income and region, a disparity on sex, a registered version with an
  approval and a promotion to shadow, an active policy whose PSI rule blocks, a kill-switch
  rule that fires; two runs a day apart (the second changes the health status).
- ``xss``: a feature literally named ``<script>alert(1)</script>`` that drifts, a protected
  group named ``<img src=x onerror=alert(1)>``, and a manual kill switch whose reason is
  markup; its report must show all of it as text.

Before the second credit run and the extra data, the first run's report is rendered and
its bytes kept, so a test can re-render it later and compare (time travel).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from driftguard.config import Settings, load_config
from driftguard.workspace import Workspace
from tests.helpers import PII_KEY, model_dict, write_config

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
XSS_FEATURE = "<script>alert(1)</script>"
XSS_GROUP = "<img src=x onerror=alert(1)>"
XSS_REASON = "<script>alert('switch')</script> feed broken & <b>bold</b>"
ROLES = {
    "admin": ["alice"],
    "ml_engineer": ["olivia", "bob"],
    "approver": ["carol", "dave"],
    "on_call": ["erin"],
}


@dataclass
class ReportWorld:
    ws: Workspace
    first_run: str  # credit, day before
    credit_run: str  # credit, latest
    xss_run: str
    first_report: Path
    first_bytes: bytes

    @property
    def runs(self) -> list[str]:
        return [self.credit_run, self.xss_run]


def models() -> list[dict[str, Any]]:
    credit = model_dict(
        "credit",
        recipients=["risk-office@example.com", "owner@example.com"],
        simulation={
            "days": 8,
            "shift_days": 2,
            "rows_per_day": 160,
            "seed": 5,
            "drift": {"income": 1.5, "region": 0.4},
            "disparity": {"sex": 1.2},
        },
    )
    xss = model_dict(
        "xss",
        recipients=["xss-owner@example.com"],
        features={XSS_FEATURE: {"kind": "numeric"}, "region": {"kind": "categorical"}},
        protected_attributes=[
            {"name": "sex", "reference_group": "male", "groups": [XSS_GROUP, "male"]}
        ],
        simulation={
            "days": 8,
            "shift_days": 2,
            "rows_per_day": 120,
            "seed": 9,
            "drift": {XSS_FEATURE: 2.0},
        },
    )
    return [credit, xss]


def build(root: Path) -> ReportWorld:
    from driftguard.governance import killswitch, policy, registry
    from driftguard.ingest import ingest_model
    from driftguard.monitor import run_monitoring
    from driftguard.report import render_run_report
    from driftguard.simulate import simulate_model

    config_path = write_config(
        root / "driftguard.yaml",
        models(),
        roles=ROLES,
        kill_switches={
            "rules": [
                {
                    "id": "psi-spike",
                    "when": {"measure": "drift.max_psi", "above": 0.5},
                    "models": ["credit"],
                }
            ]
        },
        reports={
            "send": "always",
            "fleet_send": "always",
            "fleet_recipients": ["board@example.com"],
        },
    )
    settings = Settings.from_env({}, home=root / "home", pii_key=PII_KEY)
    ws = Workspace(settings=settings, config=load_config(config_path), config_path=config_path)
    config = ws.config
    with ws.open_lake() as lake:
        for model in config.models:
            simulate_model(model, settings, lake=lake, now=NOW)
            ingest_model(lake, model, settings)
        registry.register_model(lake, config, "credit", actor="olivia")
        registry.request_approval(
            lake, config, "credit", "1.0", justification="Quarterly refresh", actor="bob"
        )
        registry.decide(lake, config, "credit", "1.0", approve=True, notes="ok", actor="carol")
        registry.promote(lake, config, "credit", "1.0", "shadow", actor="bob")
        policy.create_policy(
            lake,
            config,
            "credit-gate",
            scope="model:credit",
            rules=policy.parse_rules(
                [
                    {"id": "psi", "measure": "drift.max_psi", "max": 0.25, "severity": "block"},
                    {"id": "risk", "measure": "risk.score", "max": 90, "severity": "warn"},
                ]
            ),
            actor="alice",
        )
        policy.activate_policy(lake, config, "credit-gate", actor="alice")
        first = run_monitoring(
            lake, config, "credit", settings, as_of=NOW - timedelta(days=2), actor="scheduler"
        )
        report = render_run_report(lake, config, settings, first.run_id)
        first_bytes = report.path.read_bytes()
        # later activity that must not change the first report
        killswitch.activate(
            lake,
            config,
            settings,
            scope="model_version",
            target={"model_id": "xss", "version": "1.0"},
            reason=XSS_REASON,
            actor="alice",
        )
        credit = run_monitoring(lake, config, "credit", settings, as_of=NOW, actor="scheduler")
        xss = run_monitoring(lake, config, "xss", settings, as_of=NOW, actor="scheduler")
    return ReportWorld(ws, first.run_id, credit.run_id, xss.run_id, report.path, first_bytes)

"""The composite risk score of a monitoring run: 0 (no sign of trouble) to 100, with a breakdown.

Components, each 0-100 (higher is worse), from the earlier stages of the same run:

- ``drift = 100 · max(drift_score, v)`` where ``drift_score`` is the drift stage's weighted
  score in [0, 1] (its ``share_drifted`` when it gives no score) and ``v`` is 0 / 0.5 / 1 for
  a prediction-drift verdict of ok / warning / critical.
- ``fairness``, ``quality``, ``performance`` = ``100 · worst severity`` over their judged
  checks, where a check's severity is ``clip(0.5 · (value − ideal) / (threshold − ideal), 0, 1)``
  (:mod:`driftguard.metrics.severity`): 50 exactly at a threshold, 100 at twice the allowed
  distance or more.

Score over the *available* components ``A`` with weights ``w`` (``RiskSettings``)::

    score = (1 − m) · Σ_{c∈A} w_c·s_c / Σ_{c∈A} w_c  +  m · max_{c∈A} s_c

with ``m = worst_share`` (default 0.5): half weighted mean, half worst component, so one
severe problem cannot hide behind three healthy components. With the default weights
(drift 0.35, fairness 0.25, quality 0.15, performance 0.25) and the other components at 0,
fairness exactly at its threshold (50) gives ``0.5·12.5 + 0.5·50 = 31.25`` (HEALTHY, visible
in the breakdown), fairness at twice its threshold (100) gives ``0.5·25 + 0.5·100 = 62.5``
(ATTENTION_NEEDED), and every component at its threshold gives 50.

Status: ``AT_RISK`` from ``at_risk`` (70), ``ATTENTION_NEEDED`` from ``attention`` (50),
else ``HEALTHY``.

Missing components: a component that cannot be computed (stage not run, no protected
attributes, too few labels, nothing judged) is listed in ``missing`` with the reason and is
never counted as 0: the weights are renormalised over the available components, and the
summary names what is missing. When the available components carry less than
``min_available_weight`` (default 0.5) of the total weight, the status is ``UNKNOWN`` and the
score is None.

Trend over the last ``trend_runs`` scored runs of the model (this one included): the slope
``b`` of the least-squares line through the scores against their run index; the fitted change
``b·(k − 1)`` below ``trend_band`` points in absolute value is ``stable``, above is
``worsening``, below minus the band is ``improving``; fewer than two scores: ``unknown``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from driftguard.config import RISK_COMPONENTS, RiskSettings

Status = Literal["HEALTHY", "ATTENTION_NEEDED", "AT_RISK", "UNKNOWN"]
Trend = Literal["improving", "stable", "worsening", "unknown"]
_VERDICT_SEVERITY = {"ok": 0.0, "warning": 0.5, "critical": 1.0}


@dataclass(frozen=True)
class Component:
    name: str
    score: float | None  # 0..100, None when missing
    weight: float
    explanation: str
    missing_reason: str | None = None


@dataclass(frozen=True)
class RiskResult:
    score: float | None
    status: Status
    components: dict[str, Component]
    available_weight: float
    trend: Trend
    trend_change: float | None
    history: list[float] = field(default_factory=list)  # scores, oldest first, this run last

    @property
    def missing(self) -> dict[str, str]:
        return {n: c.missing_reason or "" for n, c in self.components.items() if c.score is None}

    @property
    def worst(self) -> Component | None:
        present = [c for c in self.components.values() if c.score is not None and c.weight > 0]
        return max(present, key=lambda c: c.score or 0.0, default=None)

    @property
    def note(self) -> str:
        present = [n for n, c in self.components.items() if c.score is not None and c.weight > 0]
        if not self.missing:
            return f"computed from all components ({', '.join(present)})"
        gone = "; ".join(f"{n} ({why})" for n, why in self.missing.items())
        if self.status == "UNKNOWN":
            return f"too little is known to score: missing {gone}"
        return f"computed from {', '.join(present)} only (weights renormalised); missing {gone}"

    @property
    def findings(self) -> list[str]:
        if self.status == "UNKNOWN":
            return [f"risk status UNKNOWN: {self.note}"]
        if self.status == "HEALTHY" or self.score is None:
            return []
        worst = self.worst
        text = f"risk score {self.score:.0f}/100 ({self.status})"
        if worst is not None:
            text += f", driven by {worst.name} {worst.score:.0f}: {worst.explanation}"
        if self.missing:
            text += f"; {self.note}"
        return [text]

    def summary(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "status": self.status,
            "components": {n: c.score for n, c in self.components.items()},
            "explanations": {n: c.explanation for n, c in self.components.items()},
            "missing": sorted(self.missing),
            "missing_reasons": self.missing,
            "available_weight": self.available_weight,
            "note": self.note,
            "trend": self.trend,
            "trend_change": self.trend_change,
            "findings": self.findings,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "breakdown": {n: asdict(c) for n, c in self.components.items()},
            "history": self.history,
        }


# --------------------------------------------------------------------------- formula


def status_of(score: float | None, settings: RiskSettings) -> Status:
    """HEALTHY below ``attention``, ATTENTION_NEEDED from it, AT_RISK from ``at_risk``.

    >>> s = RiskSettings()
    >>> status_of(49.9, s), status_of(50, s), status_of(70, s), status_of(None, s)
    ('HEALTHY', 'ATTENTION_NEEDED', 'AT_RISK', 'UNKNOWN')
    """
    if score is None:
        return "UNKNOWN"
    if score >= settings.at_risk:
        return "AT_RISK"
    if score >= settings.attention:
        return "ATTENTION_NEEDED"
    return "HEALTHY"


def combine(scores: dict[str, float | None], settings: RiskSettings) -> tuple[float | None, float]:
    """The score over the available components and the share of the weight they carry.

    Equal weights: mean 40, worst 60, so 0.5·40 + 0.5·60 = 50. With fairness missing, drift
    alone carries half the weight, which is just enough (``min_available_weight`` 0.5):

    >>> s = RiskSettings(weights={"drift": 1, "fairness": 1}, worst_share=0.5)
    >>> combine({"drift": 20.0, "fairness": 60.0}, s)
    (50.0, 1.0)
    >>> combine({"drift": 20.0, "fairness": None}, s)
    (20.0, 0.5)
    >>> heavy = RiskSettings(weights={"drift": 1, "fairness": 3})
    >>> combine({"drift": 20.0, "fairness": None}, heavy)
    (None, 0.25)
    """
    total = sum(settings.weight(c) for c in RISK_COMPONENTS)
    available = {c: v for c, v in scores.items() if v is not None and settings.weight(c) > 0}
    share = sum(settings.weight(c) for c in available) / total
    if not available or share < settings.min_available_weight:
        return None, share
    weights = {c: settings.weight(c) for c in available}
    mean = sum(weights[c] * v for c, v in available.items()) / sum(weights.values())
    m = settings.worst_share
    return round((1 - m) * mean + m * max(available.values()), 6), share


def trend_of(scores: list[float], *, band: float) -> tuple[Trend, float | None]:
    """Least-squares slope over the scores (oldest first) times (k − 1), against ``band``.

    By hand: x̄ = 1.5, ȳ = 49.25, Σ(x−x̄)(y−ȳ) = 33.5, Σ(x−x̄)² = 5, slope 6.7, change 6.7·3:

    >>> trend_of([40, 45, 52, 60], band=5)
    ('worsening', 20.1)
    >>> trend_of([50, 48, 51], band=5)
    ('stable', 1.0)
    >>> trend_of([50], band=5)
    ('unknown', None)
    """
    k = len(scores)
    if k < 2:
        return "unknown", None
    mean_x = (k - 1) / 2
    mean_y = sum(scores) / k
    sxx = sum((i - mean_x) ** 2 for i in range(k))
    sxy = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(scores))
    change = round(sxy / sxx * (k - 1), 6)
    if abs(change) < band:
        return "stable", change
    return ("worsening" if change > 0 else "improving"), change


# --------------------------------------------------------------------------- components


def stage_summary(name: str, results: dict[str, Any]) -> dict[str, Any] | None:
    """The summary dict of an earlier stage of this run, or None when it did not run."""
    if name not in results or results[name] is None:
        return None
    result = results[name]
    if isinstance(result, dict):
        return result
    from driftguard.monitor import STAGES

    for stage in STAGES:
        if stage.name == name:
            return stage.summary(result)
    if hasattr(result, "summary"):
        return result.summary()
    return None


def drift_component(summary: dict[str, Any] | None, weight: float) -> Component:
    if summary is None:
        return Component("drift", None, weight, "", "the drift stage did not run")
    base = summary.get("drift_score")
    source = "drift score"
    if base is None:
        base, source = summary.get("share_drifted"), "share of drifted features"
    prediction = summary.get("prediction_drift") or {}
    verdict = prediction.get("verdict") if isinstance(prediction, dict) else None
    v = _VERDICT_SEVERITY.get(verdict or "", None)
    if base is None and v is None:
        return Component("drift", None, weight, "", "no drift score (insufficient data)")
    parts = []
    if base is not None:
        parts.append(f"{source} {float(base):.2f}")
    if v is not None:
        parts.append(f"prediction drift {verdict}")
    value = 100 * max(float(base or 0.0), v or 0.0)
    return Component("drift", round(min(100.0, value), 6), weight, ", ".join(parts))


def _from_severity(
    name: str, worst: float | None, weight: float, explanation: str, missing: str
) -> Component:
    if worst is None:
        return Component(name, None, weight, "", missing)
    return Component(name, round(100 * worst, 6), weight, explanation)


def fairness_component(result: Any, weight: float) -> Component:
    if result is None:
        return Component("fairness", None, weight, "", "the fairness stage did not run")
    if result.status != "ok":
        return Component("fairness", None, weight, "", result.reason or result.status)
    worst, why = None, ""
    for attribute in result.attributes.values():
        for check in attribute.metrics.values():
            if check.severity is not None and (worst is None or check.severity > worst):
                worst = check.severity
                why = f"{attribute.attribute} {check.metric.replace('_', ' ')} {check.value:.3f}"
    return _from_severity(
        "fairness", worst, weight, why, "no group had enough data to judge a fairness metric"
    )


def quality_component(result: Any, weight: float) -> Component:
    if result is None:
        return Component("quality", None, weight, "", "the quality stage did not run")
    judged = [c for c in result.checks if c.severity is not None]
    if not judged:
        return Component("quality", None, weight, "", "no quality check could be judged")
    worst = max(judged, key=lambda c: c.severity)
    where = f" of {worst.column}" if worst.column else ""
    return Component(
        "quality",
        round(100 * worst.severity, 6),
        weight,
        f"{worst.check.replace('_', ' ')}{where} {worst.value:.4g}",
    )


def performance_component(result: Any, weight: float) -> Component:
    if result is None:
        return Component("performance", None, weight, "", "the performance stage did not run")
    if not result.sufficient:
        return Component(
            "performance",
            None,
            weight,
            "",
            f"{result.current.labelled} labelled predictions in the window "
            f"(at least {result.min_labelled} needed)",
        )
    judged = [c for c in result.checks if c.severity is not None]
    if not judged:
        return Component(
            "performance", None, weight, "", "no reference performance to compare with"
        )
    worst = max(judged, key=lambda c: c.severity)
    return Component(
        "performance",
        round(100 * worst.severity, 6),
        weight,
        f"{worst.metric} {worst.kind} {worst.value:.3g}",
    )


def assess_risk(
    results: dict[str, Any], settings: RiskSettings, previous_scores: list[float]
) -> RiskResult:
    """The risk of one run from the earlier stages' results and the model's past scores."""
    components = {
        "drift": drift_component(stage_summary("drift", results), settings.weight("drift")),
        "fairness": fairness_component(results.get("fairness"), settings.weight("fairness")),
        "quality": quality_component(results.get("quality"), settings.weight("quality")),
        "performance": performance_component(
            results.get("performance"), settings.weight("performance")
        ),
    }
    score, share = combine({n: c.score for n, c in components.items()}, settings)
    status = status_of(score, settings)
    history = [
        *previous_scores[-(settings.trend_runs - 1) :],
        *([score] if score is not None else []),
    ]
    trend, change = (
        trend_of(history, band=settings.trend_band) if score is not None else ("unknown", None)
    )
    return RiskResult(score, status, components, round(share, 6), trend, change, history)


# --------------------------------------------------------------------------- lake


def previous_scores(lake: Any, model_id: str, limit: int) -> list[float]:
    """Scores of the model's latest runs (oldest first), UNKNOWN runs left out."""
    if not lake.table_exists("risk_history"):
        return []
    rows = lake.fetchall(
        "SELECT score FROM risk_history WHERE model_id = ? AND score IS NOT NULL "
        "ORDER BY window_end DESC, recorded_at DESC LIMIT ?",
        [model_id, limit],
    )
    return [float(r[0]) for r in reversed(rows)]


def latest_risk(lake: Any, model_id: str | None = None, *, history: int = 10) -> list[dict]:
    """Latest risk row per model (or one model) with its breakdown and recent scores."""
    where, params = ("WHERE model_id = ?", [model_id]) if model_id else ("", [])
    health = lake.records(
        f"SELECT model_id, model_version, status, score, trend, run_id, updated_at "
        f"FROM model_health {where} ORDER BY model_id",
        params,
    )
    out = []
    for row in health:
        detail = lake.records(
            "SELECT run_id, as_of, window_start, window_end, score, status, drift, fairness, "
            "quality, performance, missing_json, breakdown_json, trend FROM risk_history "
            "WHERE run_id = ?",
            [row["run_id"]],
        )
        recent = lake.records(
            "SELECT run_id, window_end, score, status FROM risk_history WHERE model_id = ? "
            "ORDER BY window_end DESC, recorded_at DESC LIMIT ?",
            [row["model_id"], history],
        )
        item = dict(row)
        if detail:
            d = detail[0]
            item.update(
                {
                    "window_start": d["window_start"],
                    "window_end": d["window_end"],
                    "components": {
                        c: d[c] for c in ("drift", "fairness", "quality", "performance")
                    },
                    "missing": json.loads(d["missing_json"]),
                    "breakdown": json.loads(d["breakdown_json"]),
                }
            )
        item["history"] = list(reversed(recent))
        out.append(item)
    return out


class RiskStage:
    """Monitoring stage "risk": score, breakdown, history row and the model's health status."""

    name = "risk"

    def compute(self, lake: Any, ctx: Any, results: dict[str, Any]) -> RiskResult:
        settings = ctx.model.risk
        past = previous_scores(lake, ctx.model.id, settings.trend_runs - 1)
        return assess_risk(results, settings, past)

    def store(self, lake: Any, ctx: Any, result: RiskResult, results: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        c = result.components
        lake.execute(
            "INSERT INTO risk_history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ctx.run_id,
                ctx.model.id,
                ctx.model.version,
                ctx.as_of,
                ctx.current.start,
                ctx.current.end,
                result.score,
                result.status,
                c["drift"].score,
                c["fairness"].score,
                c["quality"].score,
                c["performance"].score,
                json.dumps(result.missing, sort_keys=True),
                json.dumps(result.as_dict(), sort_keys=True, default=str),
                result.trend,
                now,
            ],
        )
        # the health status changes in the same transaction as the metrics it rests on
        lake.execute("DELETE FROM model_health WHERE model_id = ?", [ctx.model.id])
        lake.execute(
            "INSERT INTO model_health VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                ctx.model.id,
                ctx.model.version,
                result.status,
                result.score,
                result.trend,
                ctx.run_id,
                now,
            ],
        )

    def summary(self, result: RiskResult) -> dict[str, Any]:
        return result.summary()


from driftguard.monitor import STAGES  # noqa: E402  (registration at import, by design)

STAGES.append(RiskStage())

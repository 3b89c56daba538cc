"""Plain-language explanations of a run's decisions, built only from the stored results.

Every decision a run makes gets one :class:`Narrative` with five parts, always in this order:
what was measured, against which threshold, what it means, what DriftGuard did, and what a
person should check next. Decisions covered:

- a health status change against the previous scored run (``status_change``);
- each kill switch a rule activated, kept on, or left off because a person had switched it off
  for this window (``killswitch``);
- a policy outcome of warn or block, rule by rule (``policy``);
- each feature whose drift verdict is warning or critical, and prediction or label drift
  (``drift``, ``prediction_drift``, ``label_drift``);
- each fairness metric past its threshold, with the groups' rates and intervals (``fairness``);
- a performance degradation and each failing data-quality check (``performance``, ``quality``).

The text is deterministic: the same stored results give the same words, so a report
re-rendered from its snapshot is byte-identical. No external service is involved.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from driftguard.report.context import METHOD_NAMES, DriftRow, FairnessAttribute, ModelReportData
from driftguard.report.format import label, moment, number, percent, score, window

Severity = Literal["info", "warning", "critical"]
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
_STATUS_WORDS = {
    "HEALTHY": "healthy",
    "ATTENTION_NEEDED": "needs attention",
    "AT_RISK": "at risk",
    "UNKNOWN": "unknown (too little evidence to score)",
}
_STATUS_RANK = {"HEALTHY": 0, "UNKNOWN": 1, "ATTENTION_NEEDED": 2, "AT_RISK": 3}


@dataclass(frozen=True)
class Narrative:
    """One decision explained: measured, threshold, meaning, action, next step."""

    kind: str
    subject: str
    severity: Severity
    headline: str
    measured: str
    threshold: str
    meaning: str
    action: str
    next_step: str

    def text(self) -> str:
        """The five parts as one paragraph."""
        return " ".join(
            part
            for part in (
                f"Measured: {self.measured}",
                f"Threshold: {self.threshold}",
                f"Meaning: {self.meaning}",
                f"Done: {self.action}",
                f"Next: {self.next_step}",
            )
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text()}


def status_words(status: str) -> str:
    return _STATUS_WORDS.get(status, status.lower())


# --------------------------------------------------------------------------- builders


def build_narratives(data: ModelReportData) -> list[Narrative]:
    """Every decision of the run, most severe first within the fixed section order."""
    out: list[Narrative] = []
    out += _status_change(data)
    out += _killswitches(data)
    out += _policy(data)
    out += [_drift(data, row) for row in data.drift_features if row.verdict in _JUDGED_BAD]
    out += [_output_drift(data, row) for row in data.drift_outputs if row.verdict in _JUDGED_BAD]
    for attribute in data.fairness:
        out += [
            _fairness(data, attribute, metric)
            for metric in attribute.metrics
            if metric["verdict"] in _JUDGED_BAD
        ]
    out += _performance(data)
    out += [_quality(data, check) for check in data.quality if check["verdict"] in _JUDGED_BAD]
    return out


_JUDGED_BAD = ("warning", "critical")
#: How the kill-switch stage words a firing (driftguard.governance.killswitch).
_RULE_REASON = re.compile(
    r"^rule (?P<rule>[^:]+): (?P<condition>.+?) \(measured (?P<value>[^)]+)\) on (?P<rest>.*)$"
)


def _model(data: ModelReportData) -> str:
    return f"{data.identity.model_id} {data.identity.version}"


def _status_change(data: ModelReportData) -> list[Narrative]:
    before = data.previous
    if before is None or before["status"] == data.status:
        return []
    worse = _STATUS_RANK.get(data.status, 1) > _STATUS_RANK.get(before["status"], 1)
    rs = data.risk_settings
    present = [c for c in data.components if c["score"] is not None]
    # the first of the largest, in component order, as the risk stage names its driver
    driver = max(present, key=lambda c: c["score"], default=None)
    if data.status == "UNKNOWN":
        meaning = (
            "Too few risk components could be computed to score the model "
            f"({data.risk_note}); missing evidence is not treated as health."
        )
        step = "Restore the missing inputs (labels, protected attributes, enough rows)."
    elif driver is not None:
        meaning = (
            f"The model {'now ' if worse else 'no longer '}"
            f"{status_words(data.status)}; the largest component is {driver['name']} "
            f"({score(driver['score'])}: {driver['explanation']})."
        )
        step = (
            f"Start with the {driver['name']} section of this report and its explanations."
            if worse
            else "Confirm the improvement holds in the next run before closing any incident."
        )
    else:
        meaning = f"The model is now {status_words(data.status)}."
        step = "Review the risk breakdown."
    return [
        Narrative(
            kind="status_change",
            subject=data.identity.model_id,
            severity="critical"
            if data.status == "AT_RISK"
            else ("warning" if worse or data.status != "HEALTHY" else "info"),
            headline=(
                f"Health status changed from {before['status']} to {data.status} "
                f"({'worse' if worse else 'better'})"
            ),
            measured=(
                f"risk score {score(before['score'])} at the previous run ({before['run_id']}) "
                f"and {score(data.score)} now, out of 100 (higher is worse)."
            ),
            threshold=(
                f"ATTENTION_NEEDED from {number(rs.attention)}, AT_RISK from "
                f"{number(rs.at_risk)}; UNKNOWN when the computed components carry less than "
                f"{percent(rs.min_available_weight, 0)} of the weight."
            ),
            meaning=meaning,
            action=(
                f"The status {data.status} was recorded in model_health and the risk history in "
                f"the run's transaction (snapshot {data.snapshot_id}) and in the audit log."
            ),
            next_step=step,
        )
    ]


def _killswitches(data: ModelReportData) -> list[Narrative]:
    out = []
    here = {s["switch_id"]: s for s in data.killswitch["activated_here"]}
    for firing in data.killswitch["fired"]:
        target = ", ".join(f"{k}={v}" for k, v in sorted(firing["target"].items()))
        parsed = _RULE_REASON.match(firing.get("reason") or "")
        if parsed:
            measure = parsed["condition"].split()[0]
            measured = (
                f"{measure} = {parsed['value']} for {parsed['rest'].split(',')[0]} "
                f"over the window {window(data.run.current.start, data.run.current.end)}."
            )
            condition = f"rule {firing['rule_id']} fires when {parsed['condition']}"
        else:
            measured = f"value {number(firing.get('value'))}."
            condition = f"rule {firing['rule_id']}"
        switch = next(
            (s for s in here.values() if s["target"] == firing["target"]),
            None,
        )
        serving = (
            f"Serving systems that honour the kill-switch export refuse predictions of scope "
            f"{firing['scope']} ({target}) and use their fallback."
        )
        if firing.get("suppressed_by"):
            headline = f"Kill-switch rule {firing['rule_id']} fired but was not re-activated"
            action = (
                f"Nothing was switched off: {firing['suppressed_by']} had deactivated this "
                "switch for the same run window, and a rule never overrides that decision."
            )
            meaning = "The condition still holds; a person decided to keep serving."
            step = "Confirm the person's recovery notes still apply to what this run measured."
            severity: Severity = "warning"
        elif firing.get("already_active"):
            headline = f"Kill switch {firing['already_active']} stays active"
            action = (
                f"No new switch: {firing['already_active']} from an earlier run is still on "
                "for the same target."
            )
            meaning = serving
            step = (
                "Fix the cause, then deactivate with `driftguard killswitch deactivate "
                f"{firing['already_active']} --notes ...` and release the model with "
                "`driftguard model release`."
            )
            severity = "critical"
        else:
            ident = switch["switch_id"] if switch else "a new switch"
            headline = f"Kill switch {ident} activated by rule {firing['rule_id']}"
            action = (
                f"{ident} was activated in this run's transaction"
                + (
                    f" by {switch['activated_by']} at {moment(switch['activated_at'])}"
                    if switch
                    else ""
                )
                + "; the registered versions it targets were set to blocked, and the export "
                "for serving was rewritten after the commit."
            )
            meaning = serving
            step = (
                "Investigate the measured cause; when it is fixed, an on-call engineer "
                f"deactivates the switch (`driftguard killswitch deactivate {ident} --notes "
                "...`) and an admin releases the model (`driftguard model release`)."
            )
            severity = "critical"
        out.append(
            Narrative(
                kind="killswitch",
                subject=firing["rule_id"],
                severity=severity,
                headline=headline,
                measured=measured,
                threshold=f"{condition} (scope {firing['scope']}: {target}).",
                meaning=meaning,
                action=action,
                next_step=step,
            )
        )
    return out


def _policy(data: ModelReportData) -> list[Narrative]:
    outcome = data.policy.get("outcome")
    if outcome not in ("warn", "block") or not data.policy.get("policy"):
        return []
    broken = [r for r in data.policy_rules if r["outcome"] in ("warn", "block")]
    missing = [r for r in data.policy_rules if r["outcome"] == "not_evaluated"]
    name = f"{data.policy['policy']} v{data.policy.get('version')}"
    measured = "; ".join(r["message"] for r in broken + missing) or "; ".join(
        data.policy.get("reasons") or []
    )
    if outcome == "block":
        meaning = (
            f"While this is the latest run, the deployment gate refuses to promote "
            f"{_model(data)} to shadow, canary or production."
        )
        step = (
            "Fix what the rules name and let a new run pass; an admin may override the gate "
            "only with a written reason (`driftguard model promote ... --override-reason`)."
        )
    else:
        meaning = "A warning is recorded; it does not stop a promotion."
        step = "Review the rules that warn before the next promotion."
    return [
        Narrative(
            kind="policy",
            subject=str(data.policy["policy"]),
            severity="critical" if outcome == "block" else "warning",
            headline=f"Policy {name} says {outcome.upper()}",
            measured=measured + ".",
            threshold=(
                f"{len(data.policy_rules)} rule(s) of {name} (scope {data.policy.get('scope')}); "
                "the worst rule decides: pass < warn < block; a measure the run could not "
                "compute counts as the rule's on_missing choice."
            ),
            meaning=meaning,
            action=(
                "Each rule's value, threshold and outcome were stored in policy_evaluations and "
                "the outcome in the audit log, in the run's transaction."
            ),
            next_step=step,
        )
    ]


def _value_text(row: DriftRow) -> str:
    name = METHOD_NAMES.get(row.method, row.method)
    if row.is_test and row.threshold_source == "fixed":
        return f"{name}: p-value {number(row.p_value)} (statistic {number(row.value)})"
    return f"{name} {number(row.value)}"


def _windows(data: ModelReportData, row: DriftRow) -> str:
    run = data.run
    return (
        f"reference window {window(run.reference.start, run.reference.end)} "
        f"({number(row.n_ref)} values) vs current window "
        f"{window(run.current.start, run.current.end)} ({number(row.n_cur)} values)"
    )


def _drift(data: ModelReportData, row: DriftRow) -> Narrative:
    shift = row.largest_shift()
    meaning = f"The distribution of {row.column} in the current window differs from the reference"
    if row.is_test and row.threshold_source == "fixed":
        meaning += (
            f": a difference at least this large would appear by chance with probability "
            f"{number(row.p_value)} if nothing had changed"
        )
    if shift is not None:
        meaning += (
            f"; the largest change is in {shift[0]}: {percent(shift[1])} of reference values, "
            f"{percent(shift[2])} now"
        )
    meaning += "."
    checks = []
    if row.kind == "numeric":
        checks.append(
            f"Check the upstream source of {row.column} for a change of unit, scale or "
            "pipeline around the start of the current window"
        )
    else:
        checks.append(f"Check which categories of {row.column} gained or lost share and why")
    if row.unseen and row.unseen > 0:
        examples = ", ".join(str(e[0]) for e in row.unseen_examples[:3])
        checks.append(
            f"{percent(row.unseen)} of current rows hold categories the reference never saw"
            + (f" (e.g. {examples})" if examples else "")
        )
    if (
        row.ref_missing is not None
        and row.cur_missing is not None
        and row.cur_missing - row.ref_missing >= 0.05
    ):
        checks.append(
            f"missing values rose from {percent(row.ref_missing)} to {percent(row.cur_missing)}"
        )
    checks.append(
        "if the population really changed, compare performance on the newest labels and "
        "consider retraining or moving the reference window"
    )
    drift_component = next((c for c in data.components if c["name"] == "drift"), None)
    return Narrative(
        kind="drift",
        subject=row.column,
        severity="critical" if row.verdict == "critical" else "warning",
        headline=f"{row.column}: drift {row.verdict} ({_value_text(row)})",
        measured=f"{_value_text(row)} between the {_windows(data, row)}.",
        threshold=f"{row.threshold_text()} ({row.threshold_source} thresholds; method chosen "
        f"because: {row.method_reason or 'configured'}).",
        meaning=meaning,
        action=(
            f"Verdict {row.verdict} stored with the run; the feature counts with weight "
            f"{number(row.weight)} in the drift score"
            + (
                f", which sets the risk score's drift component ({score(drift_component['score'])})"
                if drift_component and drift_component["score"] is not None
                else ""
            )
            + "."
        ),
        next_step="; ".join(checks) + ".",
    )


def _output_drift(data: ModelReportData, row: DriftRow) -> Narrative:
    what = "model's scores" if row.target == "prediction" else "observed outcomes (labels)"
    kind = "prediction_drift" if row.target == "prediction" else "label_drift"
    step = (
        "Check whether the input drift above explains the shift, and whether the decision "
        "threshold still gives the intended approval rate."
        if row.target == "prediction"
        else "Check whether the outcome rate really changed (seasonality, policy change) or the "
        "labelling process did; compare with the performance section."
    )
    return Narrative(
        kind=kind,
        subject=row.column,
        severity="critical" if row.verdict == "critical" else "warning",
        headline=f"{row.target.capitalize()} drift {row.verdict} ({_value_text(row)})",
        measured=f"{_value_text(row)} of the {what} between the {_windows(data, row)}.",
        threshold=f"{row.threshold_text()}.",
        meaning=f"The distribution of the {what} moved away from the reference.",
        action=(
            "Stored with the run; a prediction-drift verdict sets at least 50 (warning) or 100 "
            "(critical) in the risk score's drift component."
            if row.target == "prediction"
            else "Stored with the run and listed in its findings."
        ),
        next_step=step,
    )


_METRIC_TEXT = {
    "disparate_impact": (
        "selection_rate",
        "the lowest group's selection rate divided by the reference group's",
        "the four-fifths rule: below 0.8 is the usual evidence of adverse impact",
    ),
    "demographic_parity_ratio": (
        "selection_rate",
        "the lowest selection rate divided by the highest",
        "1 is parity; below the threshold one group receives the favourable outcome markedly "
        "less often",
    ),
    "demographic_parity_difference": (
        "selection_rate",
        "the highest selection rate minus the lowest",
        "0 is parity",
    ),
    "equal_opportunity_difference": (
        "tpr",
        "the gap in true positive rates (deserving the favourable outcome and getting it)",
        "0 is parity",
    ),
    "equalized_odds_difference": (
        "tpr",
        "the larger of the true- and false-positive-rate gaps",
        "0 is parity",
    ),
}


def _fairness(data: ModelReportData, attribute: FairnessAttribute, metric: dict) -> Narrative:
    rate_key, definition, reading = _METRIC_TEXT.get(
        metric["metric"], ("selection_rate", label(metric["metric"]), "")
    )
    groups = {g["group_label"]: g for g in attribute.groups}
    extreme = [groups[g] for g in metric.get("groups") or [] if g in groups][:2]
    parts = []
    for g in extreme:
        value, low, high = g.get(rate_key), g.get(f"{rate_key}_low"), g.get(f"{rate_key}_high")
        parts.append(
            f"{g['group_label']}{' (reference)' if g['is_reference'] else ''} "
            f"{percent(value)} (95% CI {percent(low)}–{percent(high)}, n={number(g['n'])})"
        )
    overlap = None
    if len(extreme) == 2:
        a, b = extreme
        bounds = [g.get(f"{rate_key}_{end}") for g in (a, b) for end in ("low", "high")]
        known = [float(x) for x in bounds if x is not None]
        if len(known) == 4:
            a_low, a_high, b_low, b_high = known
            overlap = max(a_low, b_low) <= min(a_high, b_high)
    is_ratio = metric["metric"].endswith(("ratio", "impact"))
    meaning = f"{label(metric['metric']).capitalize()} is {definition}; {reading}."
    if overlap is True:
        meaning += " The two groups' 95% intervals overlap, so the gap may be noise at this volume."
    elif overlap is False:
        meaning += " The groups' 95% intervals do not overlap, so chance alone is unlikely."
    threshold = float(metric["threshold"]) if metric["threshold"] is not None else None
    if threshold is not None:
        critical_at = 1 - 2 * (1 - threshold) if is_ratio else 2 * threshold
        bound = (
            f"at least {number(threshold)} (critical below {number(critical_at)})"
            if is_ratio
            else f"at most {number(threshold)} (critical above {number(critical_at)})"
        )
    else:
        bound = "not judged"
    component = next((c for c in data.components if c["name"] == "fairness"), None)
    return Narrative(
        kind="fairness",
        subject=f"{attribute.name}: {metric['metric']}",
        severity="critical" if metric["verdict"] == "critical" else "warning",
        headline=(
            f"{attribute.name}: {label(metric['metric'])} {number(metric['value'])} "
            f"({metric['verdict']})"
        ),
        measured=(
            f"{label(metric['metric'])} {number(metric['value'])} over "
            f"{window(data.run.current.start, data.run.current.end)}"
            + (f"; {label(rate_key.replace('tpr', 'true positive rate'))}: " if parts else "")
            + "; ".join(parts)
            + "."
        ),
        threshold=f"{bound}.",
        meaning=meaning,
        action=(
            "Stored in fairness_metrics with its severity"
            + (
                f"; sets the risk score's fairness component ({score(component['score'])})"
                if component and component["score"] is not None
                else ""
            )
            + "."
        ),
        next_step=(
            f"Review a sample of decisions for the disadvantaged group of {attribute.name}; "
            "check whether a drifted feature acts as a proxy for it; involve the fairness "
            "reviewer before the next promotion."
        ),
    )


def _performance(data: ModelReportData) -> list[Narrative]:
    section = data.section("performance")
    findings = section.get("findings") or []
    if not findings:
        return []
    component = next((c for c in data.components if c["name"] == "performance"), None)
    worst = (component or {}).get("score")
    return [
        Narrative(
            kind="performance",
            subject=data.identity.model_id,
            severity="critical" if worst is not None and worst >= 100 else "warning",
            headline="Performance degraded against the reference window",
            measured="; ".join(findings)
            + f" (label coverage {percent(section.get('label_coverage'))}, "
            f"{number(section.get('labelled'))} labelled predictions).",
            threshold=(
                "higher-is-better metrics may drop by at most their max_drop, error metrics "
                "may rise by at most max_increase, relative to the reference window."
            ),
            meaning=(
                "The model's decisions are measurably less accurate on the labels that have "
                "arrived so far; late labels can still change this."
            ),
            action=(
                "Stored in performance_metrics"
                + (
                    f"; sets the risk score's performance component ({score(worst)})"
                    if worst is not None
                    else ""
                )
                + "."
            ),
            next_step=(
                "Check whether drifted features explain the drop; re-run with `--force` once "
                "more labels arrive; plan retraining if the drop persists."
            ),
        )
    ]


_QUALITY_TEXT = {
    "missing_rate": "share of rows without a value",
    "out_of_range_rate": "share of values outside the declared [min, max]",
    "invalid_prediction_rate": "share of rows without a usable prediction",
    "quarantine_rate": "share of rows quarantined at ingestion",
    "volume_ratio": "rows per day in the window over rows per day in the reference",
}


def _quality(data: ModelReportData, check: dict) -> Narrative:
    name = check["check"]
    column = f" of {check['column']}" if check["column"] else ""
    is_volume = name == "volume_ratio"
    value = number(check["value"]) if is_volume else percent(check["value"])
    counts = (
        ""
        if is_volume or check["denominator"] is None
        else f" ({number(int(check['numerator'] or 0))} of {number(int(check['denominator']))})"
    )
    return Narrative(
        kind="quality",
        subject=f"{name}{column}",
        severity="critical" if check["verdict"] == "critical" else "warning",
        headline=f"Data quality: {label(name)}{column} {value} ({check['verdict']})",
        measured=f"{label(name)}{column} {value}{counts}: the {_QUALITY_TEXT.get(name, name)}.",
        threshold=(
            f"{'outside ' if is_volume else 'at most '}{number(check['threshold'])}"
            + (" (a drop below volume_drop or a spike above volume_spike)" if is_volume else "")
            + "."
        ),
        meaning=(
            "Metrics computed from this window rest on incomplete or unusual data, so read "
            "drift and fairness results with care."
        ),
        action="Stored in quality_metrics; sets the risk score's quality component.",
        next_step=(
            "Check the ingestion ledger and quarantine (`driftguard status`) and the feed that "
            f"delivers{column or ' the logs'}."
        ),
    )


def executive_summary(data: ModelReportData, narratives: list[Narrative]) -> list[str]:
    """Four to six plain sentences: state, what changed, what is at risk, what was done, next."""
    model = _model(data)
    sentences = []
    state = f"{model} is {status_words(data.status)}"
    if data.score is not None:
        state += f": risk score {score(data.score)} of 100, grade {data.grade}"
    if data.trend in ("worsening", "improving") and data.trend_change is not None:
        state += f", {data.trend} ({number(data.trend_change, 2)} points over recent runs)"
    elif data.trend == "stable":
        state += ", stable over recent runs"
    if data.previous and data.previous["status"] != data.status:
        state += f"; it was {data.previous['status']} at the previous run"
    sentences.append(state + ".")
    drift = data.section("drift")
    drifted = [r for r in data.drift_features if r.verdict in _JUDGED_BAD]
    if drifted:
        named = ", ".join(f"{r.column} ({r.verdict})" for r in drifted[:3])
        more = f" and {len(drifted) - 3} more" if len(drifted) > 3 else ""
        sentences.append(
            f"What changed: {len(drifted)} of {drift.get('n_features', len(data.drift_features))} "
            f"features drifted from the reference window: {named}{more}."
        )
    elif data.drift_features:
        sentences.append("What changed: no feature drifted beyond its thresholds.")
    for row in data.drift_outputs:
        if row.verdict in _JUDGED_BAD:
            sentences.append(f"The {row.target} distribution drifted too ({row.verdict}).")
    fair = [n for n in narratives if n.kind == "fairness"]
    four = [a for a in data.fairness if a.four_fifths and a.four_fifths["verdict"] in _JUDGED_BAD]
    if four:
        sentences.append(
            "Fairness: the four-fifths rule fails for "
            + ", ".join(f"{a.name} ({number(a.four_fifths['value'])})" for a in four)  # type: ignore[index]
            + "."
        )
    elif fair:
        sentences.append(f"Fairness: {len(fair)} metric(s) past their thresholds.")
    elif data.fairness:
        sentences.append("Fairness: every judged metric is within its threshold.")
    risk_findings = data.section("risk").get("findings") or []
    if risk_findings and data.status != "HEALTHY":
        sentences.append(f"At risk: {risk_findings[0]}.")
    done = []
    for n in narratives:
        if n.kind in ("killswitch", "policy"):
            done.append(n.headline[:1].lower() + n.headline[1:])
    if not done:
        done.append("results recorded; no kill switch or policy block")
    sentences.append(
        "What was done: "
        + "; ".join(done)
        + f"; everything is committed in lake snapshot {data.snapshot_id} and the audit log."
    )
    fired_here = {s["switch_id"] for s in data.killswitch["activated_here"]}
    standing = [s for s in data.killswitch["active_on_model"] if s["switch_id"] not in fired_here]
    if standing:
        sentences.append(
            "Serving: "
            + "; ".join(
                f"kill switch {s['switch_id']} is active on this model (activated by "
                f"{s['activated_by']} on {moment(s['activated_at'])}: {s['reason']})"
                for s in standing
            )
            + "."
        )
    if narratives:
        first = sorted(narratives, key=lambda n: _SEVERITY_RANK[n.severity])[0]
        sentences.append(f"Check first: {first.next_step}")
    return sentences

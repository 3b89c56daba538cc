"""``driftguard fairness`` (any file, no lake) and ``driftguard risk`` (from the lake)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from driftguard.cli._common import HINTS, app, console, load_workspace, print_json, print_table
from driftguard.config import FairnessSettings
from driftguard.metrics.fairness import (
    AttributeFairness,
    FairnessInputError,
    FairnessResult,
    ProtectedAttributeMissing,
    fairness_of_file,
)

HINTS[ProtectedAttributeMissing] = (
    "Check the model's protected_attributes in driftguard.yaml against the logged columns "
    "(`driftguard status` shows what was ingested)."
)


def _pct(rate: Any) -> str:
    if rate is None or rate.value is None:
        return "-"
    if rate.low is None:
        return f"{rate.value:.3f}"
    return f"{rate.value:.3f} [{rate.low:.2f}, {rate.high:.2f}]"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _print_attribute(attribute: AttributeFairness, labelled: bool) -> None:
    headers = ["group", "n", "status", "selection rate [95% CI]", "disparate impact"]
    if labelled:
        headers += ["labelled", "TPR", "FPR", "FNR", "precision"]
    rows = []
    for g in attribute.groups:
        name = g.label + (" (reference)" if g.is_reference else "")
        row = [
            name,
            f"{g.counts.n:,}",
            g.status,
            _pct(g.rates["selection_rate"]),
            _num(g.disparate_impact),
        ]
        if labelled:
            row += [f"{g.counts.labelled:,}"] + [
                _pct(g.rates[r])
                for r in (
                    "true_positive_rate",
                    "false_positive_rate",
                    "false_negative_rate",
                    "precision",
                )
            ]
        rows.append(row)
    print_table(f"Fairness by {attribute.attribute}", headers, rows)
    judged = [c for c in attribute.metrics.values() if c.verdict != "not_judged"]
    print_table(
        f"Group metrics for {attribute.attribute}",
        ["metric", "value", "threshold", "verdict", "groups (worst first)"],
        [
            [
                c.metric,
                _num(c.value),
                _num(c.threshold, 2),
                c.verdict,
                " vs ".join(c.groups) if c.groups else "-",
            ]
            for c in judged
        ],
    )
    for note in attribute.notes:
        console.print(f"  note: {escape(note)}")


def print_fairness(result: FairnessResult) -> None:
    """Human-readable tables of a fairness result (shared with ``driftguard report``)."""
    console.print(
        f"{result.rows:,} rows, {result.labelled:,} labelled; favourable outcome "
        f"{result.favourable}; groups under {result.min_group_size} rows are insufficient data"
    )
    for attribute in result.attributes.values():
        _print_attribute(attribute, labelled=result.labelled > 0)
    if result.findings:
        console.print("[bold]Findings[/]")
        for finding in result.findings:
            console.print(f"  - {finding}", markup=False)


@app.command()
def fairness(
    data: Path = typer.Option(..., "--data", help="Parquet, CSV or JSON-lines file."),
    prediction: str = typer.Option(
        ..., "--prediction", help="Column of 0/1 decisions (or scores with --threshold)."
    ),
    protected: str = typer.Option(
        ..., "--protected", help="Protected column(s), comma-separated: sex,age_band."
    ),
    label: str = typer.Option(None, "--label", help="Column of 0/1 outcomes (optional)."),
    favourable: int = typer.Option(
        1, "--favourable", help="The good outcome for the person: 1 or 0 (0 for risk scores)."
    ),
    threshold: float = typer.Option(
        None, "--threshold", help="Turn scores into decisions: prediction >= threshold is 1."
    ),
    min_group_size: int = typer.Option(
        30, "--min-group-size", help="Smaller groups are reported as insufficient data."
    ),
    four_fifths: float = typer.Option(
        0.8, "--four-fifths", help="Disparate impact below this is a finding."
    ),
    reference: list[str] = typer.Option(
        None, "--reference", help="Reference group COL=VALUE (repeatable); default: largest."
    ),
    intersections: bool = typer.Option(
        True, "--intersections/--no-intersections", help="Also measure the columns together."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Group fairness of the decisions in a file (no lake needed): rates per group with 95%
    Wilson intervals, demographic parity, disparate impact, equal opportunity, equalized odds.

    Exit code 1 when a metric breaches its threshold, 2 for a usage error.
    Example: driftguard fairness --data compas.csv --prediction decile_score --threshold 5
    --label two_year_recid --protected race,sex --favourable 0
    """
    columns = [c.strip() for c in protected.split(",") if c.strip()]
    if favourable not in (0, 1):
        raise FairnessInputError(f"--favourable must be 0 or 1, got {favourable}")
    references = {}
    for item in reference or []:
        column, sep, value = item.partition("=")
        if not sep:
            raise FairnessInputError(f"--reference {item!r}: write COLUMN=VALUE, e.g. sex=male")
        references[column] = value
    try:
        settings = FairnessSettings(
            favourable_outcome=favourable,  # type: ignore[arg-type]
            min_group_size=min_group_size,
            four_fifths=four_fifths,
            intersections=intersections,
        )
    except ValueError as error:
        raise FairnessInputError(str(error)) from error
    result = fairness_of_file(
        data,
        prediction=prediction,
        protected=columns,
        label=label,
        favourable=favourable,
        threshold=threshold,
        settings=settings,
        reference_groups=references,
    )
    if as_json:
        print_json(result.as_dict())
    else:
        print_fairness(result)
    if result.findings:
        raise typer.Exit(1)


@app.command()
def risk(
    model: str = typer.Option(None, "--model", "-m", help="Only this model."),
    history: int = typer.Option(10, "--history", help="How many past runs to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Latest risk score per model with its breakdown, what is missing, and the trend.

    Exit code 1 when a model is not HEALTHY. Example: driftguard risk -m credit-risk
    """
    from driftguard.metrics.risk import latest_risk

    ws = load_workspace()
    if model:
        ws.config.model(model)  # unknown ids fail with the list of known ones
    with ws.open_lake() as lake:
        items = latest_risk(lake, model, history=history)
    if as_json:
        print_json(items)
    else:
        if not items:
            console.print("No monitoring run has scored a model yet: run `driftguard monitor`.")
        for item in items:
            _print_risk(item)
    if any(i["status"] != "HEALTHY" for i in items):
        raise typer.Exit(1)


def _print_risk(item: dict[str, Any]) -> None:
    score = "-" if item["score"] is None else f"{item['score']:.1f}"
    console.print(
        f"[bold]{escape(item['model_id'])}[/] {escape(item['model_version'])}: "
        f"risk {score}/100, {item['status']}, trend {item['trend']} "
        f"(run {escape(item['run_id'])}, window {item.get('window_start')} to "
        f"{item.get('window_end')})"
    )
    breakdown = item.get("breakdown", {})
    parts = breakdown.get("breakdown", {})
    print_table(
        "Breakdown",
        ["component", "score", "weight", "why"],
        [
            [
                name,
                "missing" if part["score"] is None else f"{part['score']:.1f}",
                f"{part['weight']:.2f}",
                part["missing_reason"] or part["explanation"],
            ]
            for name, part in parts.items()
        ],
    )
    if breakdown.get("note"):
        console.print(f"  {escape(breakdown['note'])}")
    scores = ["-" if h["score"] is None else f"{h['score']:.0f}" for h in item.get("history", [])]
    console.print(f"  history (oldest first): {' '.join(scores)}")

"""``driftguard drift``: drift between any two files, without a lake; drift tables for runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import typer

from driftguard.cli._common import app, console, print_json, print_table
from driftguard.config import DriftSettings
from driftguard.metrics.drift import get_method

# driftguard.drift registers the drift stage when imported, so it is imported inside the
# commands: the stage order of a run is set by driftguard.stages alone.

TABLE_HEADERS = [
    "#",
    "column",
    "method",
    "value",
    "p-value",
    "threshold",
    "verdict",
    "n ref",
    "n cur",
    "missing ref -> cur",
    "unseen",
]


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _threshold(method: str, threshold: float | None, source: str) -> str:
    if threshold is None:
        return "-"
    if get_method(method).is_test and source == "fixed":
        return f"p < {threshold:g}"
    return f"{threshold:.4g}" + (" (learned)" if source == "learned" else "")


def table_row(rank: Any, row: Mapping[str, Any]) -> list[Any]:
    """One display row from :func:`driftguard.drift.column_dict` or a stored result row."""
    name = row.get("column", row.get("column_name"))
    role = row.get("role", row.get("target"))
    label = name if role in (None, "feature") else f"{name} ({role})"
    return [
        rank if rank is not None else "",
        label,
        row["method"],
        row["value"],
        row["p_value"],
        _threshold(row["method"], row["threshold"], row["threshold_source"]),
        row["verdict"],
        row["n_ref"],
        row["n_cur"],
        f"{_share(row['ref_missing_share'])} -> {_share(row['cur_missing_share'])}",
        _share(row["unseen_share"]),
    ]


def stored_threshold(row: Mapping[str, Any]) -> float | None:
    """The threshold a stored result was judged by (the crossed one, else the warning one)."""
    lower = row["threshold_source"] == "learned" and row["verdict"] in ("warning", "critical")
    if lower and row["value"] is not None and row["warning_lower"] is not None:
        lower = row["value"] <= row["warning_lower"]
    else:
        lower = False
    if row["verdict"] == "critical":
        return row["critical_lower"] if lower else row["critical_threshold"]
    return row["warning_lower"] if lower else row["warning_threshold"]


def print_drift_rows(title: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """A ranked drift table of stored ``drift_results`` rows (primary methods)."""
    display = []
    for row in rows:
        shown = dict(row)
        shown["threshold"] = stored_threshold(row)
        display.append(table_row(row.get("rank"), shown))
    print_table(title, TABLE_HEADERS, display)


@app.command()
def drift(
    reference: Path = typer.Option(..., "--reference", help="Reference file (Parquet/CSV)."),
    current: Path = typer.Option(..., "--current", help="Current file (Parquet/CSV)."),
    features: list[str] = typer.Option(
        None, "--features", "-f", help="Columns to compare (repeatable or comma-separated)."
    ),
    method: str = typer.Option(
        None, "--method", help="psi, ks, wasserstein, jensen_shannon, kl, chi_square or z_test."
    ),
    categorical: list[str] = typer.Option(
        None, "--categorical", help="Treat these numeric columns as categories (repeatable)."
    ),
    segment: str = typer.Option(None, "--segment", help="Also compare per value of this column."),
    bins: int = typer.Option(10, help="Reference quantile bins for numeric columns."),
    min_sample_size: int = typer.Option(50, "--min-sample-size", help="Fewer values: no verdict."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Compare two Parquet/CSV files column by column, no lake needed.

    Bins come from the reference file only. Numeric columns get KS (at most 1,000 reference
    values) or PSI; categorical ones chi-square, the Z-test (two categories) or PSI, unless
    --method says otherwise. Exit code 1 when a column drifted.
    Example: driftguard drift --reference last_month.parquet --current today.parquet --json
    """
    from driftguard.drift import column_dict, compare_files

    settings = DriftSettings(bins=bins, min_sample_size=min_sample_size)
    result = compare_files(
        reference,
        current,
        features=features or None,
        method=method,
        categorical=categorical or (),
        segment=segment,
        settings=settings,
    )
    report = result.report
    if as_json:
        data = result.as_dict()
        if segment:
            data["segments"] = {
                seg: [column_dict(c) for c in rows] for seg, rows in sorted(report.segments.items())
            }
        print_json(data)
    else:
        rows = [table_row(i, column_dict(c)) for i, c in enumerate(report.features, start=1)]
        print_table(f"Drift: {current} against {reference}", TABLE_HEADERS, rows)
        for seg, seg_rows in sorted(report.segments.items()):
            print_table(
                f"{segment} = {seg}",
                TABLE_HEADERS,
                [table_row(None, column_dict(c)) for c in seg_rows],
            )
        for finding in report.findings(result.settings):
            console.print(f"  - {finding}", markup=False)
    if report.drifted:
        raise typer.Exit(1)

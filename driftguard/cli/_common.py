"""Shared command-line plumbing: the app, global options, output and error translation.

Core errors are translated here, at the edge: a :class:`DriftGuardError` prints its message
(plus a command-level hint where one helps) and exits with its code: 2 for configuration and
usage mistakes, 1 for data and operational failures. Findings also exit with 1.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from driftguard.config import UnknownModel
from driftguard.errors import DriftGuardError
from driftguard.workspace import Workspace


def _console(stderr: bool = False) -> Console:
    probe = Console(stderr=stderr)
    # piped output (make demo, CI logs) is not a terminal: rich would assume 80 columns
    width = None if probe.is_terminal else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


console = _console()
err_console = _console(stderr=True)

#: Exception type -> what to do next, appended to the message on the command line.
HINTS: dict[type[BaseException], str] = {
    UnknownModel: "Run `driftguard status` to list the configured models.",
}


class _Group(TyperGroup):
    """Turns DriftGuard errors into a clear message and the documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DriftGuardError as error:
            err_console.print(f"[bold red]error:[/] {escape(str(error))}")
            for kind, hint in HINTS.items():
                if isinstance(error, kind):
                    err_console.print(f"[yellow]hint:[/] {escape(hint)}")
                    break
            raise typer.Exit(error.exit_code) from error


app = typer.Typer(
    cls=_Group,
    name="driftguard",
    help="Monitor production ML models: drift, fairness, risk, governance and audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def subapp(name: str, help: str) -> typer.Typer:
    """A command group (``driftguard audit ...``) attached to the main app."""
    group = typer.Typer(name=name, help=help, no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(group, name=name)
    return group


@app.callback()
def _global_options(
    config: Path = typer.Option(
        None,
        "--config",
        "-c",
        envvar="DRIFTGUARD_CONFIG",
        help="driftguard.yaml to use (default: ./driftguard.yaml, else <home>/driftguard.yaml).",
    ),
    home: Path = typer.Option(
        None,
        "--home",
        envvar="DRIFTGUARD_HOME",
        help="Folder for the lake, reports and outbox (default ./.driftguard).",
    ),
    log_format: str = typer.Option(
        None, "--log-format", envvar="DRIFTGUARD_LOG_FORMAT", help="human or json"
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
) -> None:
    # exported so that Prefect tasks started from this process resolve the same workspace
    if config:
        os.environ["DRIFTGUARD_CONFIG"] = str(config)
    if home:
        os.environ["DRIFTGUARD_HOME"] = str(home)
    from driftguard.logs import configure_logging

    configure_logging(log_format or "human", verbose=verbose)


def load_workspace() -> Workspace:
    return Workspace.load()


# --------------------------------------------------------------------------- output


def to_jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "as_dict"):
        return value.as_dict()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def print_json(data: Any) -> None:
    """JSON for scripts: stdout only, nothing else on it."""
    typer.echo(json.dumps(data, default=to_jsonable, indent=2, ensure_ascii=False))


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left", header_style="bold")
    for header in headers:
        numeric = header.split()[0].lower() in {"rows", "labels", "batches", "quarantined"}
        table.add_column(header, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*(escape(fmt(v)) for v in row))
    console.print(table)


def parse_moment(text: str | None, option: str) -> datetime | None:
    """ISO 8601 date or date-time; naive values are UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 date or date-time, e.g. 2026-03-01 or 2026-03-01T12:00",
            param_hint=option,
        ) from error
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def parse_pairs(
    values: Iterable[str] | None, *, example: str, numbers: bool = False
) -> dict[str, Any]:
    """``KEY=VALUE`` options (repeatable) as a dict; values are floats when ``numbers``."""
    pairs: dict[str, Any] = {}
    for text in values or []:
        key, sep, value = text.partition("=")
        if not sep or not key or not value:
            raise typer.BadParameter(f"{text!r}: write KEY=VALUE, e.g. {example}")
        if numbers:
            try:
                pairs[key] = float(value)
            except ValueError as error:
                raise typer.BadParameter(f"{text!r}: {value!r} is not a number") from error
        else:
            pairs[key] = value
    return pairs


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)

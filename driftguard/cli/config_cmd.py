"""``driftguard config check`` and ``driftguard config schema``."""

from __future__ import annotations

from pathlib import Path

import typer

from driftguard.cli._common import console, print_json, subapp
from driftguard.config import (
    Config,
    ConfigFileError,
    Settings,
    config_json_schema,
    load_config,
)
from driftguard.workspace import resolve_config_path

config_app = subapp("config", "Validate the configuration and export its JSON schema.")


@config_app.command("check")
def check(
    path: Path = typer.Argument(None, help="File to check (default: the configured one)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Validate driftguard.yaml and print every problem with its field path (exit 2 if any).

    Example: driftguard config check driftguard.yaml
    """
    target = path or resolve_config_path(Settings.from_env())
    try:
        config = load_config(target)
    except ConfigFileError as error:
        if as_json:
            print_json({"path": str(target), "valid": False, "problems": error.problems})
        else:
            console.print(f"[red]{target}: {len(error.problems)} problem(s)[/]")
            for problem in error.problems:
                console.print(f"  - {problem}", markup=False)
        raise typer.Exit(2) from error
    problems = _log_problems(config, target)
    if problems:
        if as_json:
            print_json({"path": str(target), "valid": False, "problems": problems})
        else:
            console.print(f"[red]{target}: {len(problems)} problem(s)[/]")
            for problem in problems:
                console.print(f"  - {problem}", markup=False)
        raise typer.Exit(2)
    summary = {
        "path": str(target),
        "valid": True,
        "models": [m.id for m in config.models],
        "digest": config.digest(),
    }
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"{target}: valid, {len(config.models)} model(s): {', '.join(summary['models'])}"
        )


def _log_problems(config: Config, target: Path) -> list[str]:
    """Declared protected attributes that the newest prediction logs do not carry."""
    from driftguard.metrics.fairness import protected_attribute_problems

    settings = Settings.from_env()
    return [
        f"models[{i}].protected_attributes: {problem}"
        for i, model in enumerate(config.models)
        for problem in protected_attribute_problems(model, settings, target.resolve().parent)
    ]


@config_app.command("schema")
def schema(
    output: Path = typer.Option(None, "--output", "-o", help="Write to a file instead."),
) -> None:
    """Print the JSON schema of driftguard.yaml (for editor completion and validation).

    Example: driftguard config schema -o driftguard.schema.json
    """
    import json

    text = json.dumps(config_json_schema(), indent=2)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        console.print(f"wrote {output}")
    else:
        typer.echo(text)

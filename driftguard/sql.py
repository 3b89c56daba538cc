"""Safe SQL identifiers. Values always travel as bound parameters; names go through here.

Column names from a model configuration may hold any printable text (even HTML), so they are
always double-quoted with embedded quotes doubled; table names are derived from model ids,
which the configuration restricts to ``[a-z][a-z0-9_-]*``.
"""

from __future__ import annotations

import re

from driftguard.config import MODEL_ID_PATTERN, check_column_name

_MODEL_ID = re.compile(MODEL_ID_PATTERN)
_PLAIN_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def quote_ident(name: str) -> str:
    """Quote a column or table name for DuckDB after checking it is printable text."""
    check_column_name(name)
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Quote a string literal, for the few DDL places that cannot take bound parameters."""
    if "\x00" in text:
        raise ValueError("a SQL literal cannot contain a NUL character")
    return "'" + text.replace("'", "''") + "'"


def model_table(model_id: str, kind: str) -> str:
    """Lake table name of a model's ``predictions`` or ``labels``: ``predictions__credit_risk``."""
    if not _MODEL_ID.match(model_id):
        raise ValueError(f"model id {model_id!r} does not match {MODEL_ID_PATTERN}")
    if not _PLAIN_IDENTIFIER.match(kind):
        raise ValueError(f"table kind {kind!r} is not a plain identifier")
    return f"{kind}__{model_id.replace('-', '_')}"

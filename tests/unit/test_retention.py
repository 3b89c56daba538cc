"""Retention refuses to delete rows that monitoring runs still compare against."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from driftguard.config import parse_config
from driftguard.retention import RetentionTooShort, apply_retention, days_needed
from tests.helpers import model_dict

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _config(**model):
    return parse_config({"version": 1, "models": [model_dict("credit", **model)]})


def test_days_needed_is_current_plus_gap_plus_reference():
    config = _config(reference={"length": "7d", "gap": "6d"}, current={"length": "1d"})
    assert days_needed(config.models[0]) == 14  # 1 + 6 + 7 days


def test_a_too_short_retention_is_refused_before_touching_the_lake():
    config = _config(
        reference={"length": "1d"}, current={"length": "1d"}, retention={"raw_days": 1}
    )
    with pytest.raises(RetentionTooShort, match="at least 2"):  # 1 day current + 1 day reference
        apply_retention(None, config, now=NOW)  # type: ignore[arg-type]


def test_a_fixed_reference_before_the_cutoff_is_refused():
    config = _config(
        reference={"start": "2026-01-01", "end": "2026-01-08"}, retention={"raw_days": 30}
    )
    with pytest.raises(RetentionTooShort, match="fixed reference window starts 2026-01-01"):
        apply_retention(None, config, now=NOW)  # type: ignore[arg-type]


def test_the_operations_default_applies_to_models_without_their_own():
    config = parse_config(
        {
            "version": 1,
            "operations": {"retention": {"raw_days": 90}},
            "models": [model_dict("credit"), model_dict("churn", retention={"raw_days": 30})],
        }
    )
    assert (config.raw_days("credit"), config.raw_days("churn")) == (90, 30)

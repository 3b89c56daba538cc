"""Configuration: every kind of mistake gets one clear message naming its field path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from driftguard.config import (
    ConfigFileError,
    Settings,
    load_config,
    parse_config,
    parse_duration,
)
from tests.helpers import model_dict


def problems(data) -> list[str]:
    with pytest.raises(ConfigFileError) as info:
        parse_config(data)
    return info.value.problems


def config_with(**overrides) -> dict:
    return {"models": [model_dict(**overrides)]}


def test_short_config_works_with_defaults():
    config = parse_config(
        {"models": [{"id": "m", "owner": "o", "purpose": "p", "features": {"x": "numeric"}}]}
    )
    model = config.models[0]
    assert model.schedule.cadence == "daily"
    assert model.task == "binary_classification"
    assert model.reference.length == timedelta(days=7)
    assert model.features["x"].kind == "numeric"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"id": "Credit Risk"}, "models[0].id: String should match pattern"),
        ({"owner": None}, "models[0].owner: Input should be a valid string"),
        ({"purpose": ""}, "models[0].purpose: String should have at least 1 character"),
        ({"task": "ranking"}, "models[0].task: Input should be 'binary_classification' or"),
        ({"schedule": "every tuesday"}, "schedule 'every tuesday' is neither hourly"),
        ({"features": {"x": "numerical"}}, "models[0].features.x.kind: Input should be"),
        ({"features": ["x", "y"]}, "features must be a mapping of name to kind"),
        ({"features": {}}, "a model needs at least one feature"),
        ({"features": {"score": "numeric"}}, "feature 'score' uses a reserved column name"),
        ({"features": {"x": {"kind": "numeric", "min": 5, "max": 1}}}, "min (5.0) is greater"),
        ({"features": {"sex": "categorical"}}, "sex is both a feature and a protected attribute"),
        ({"reference": {"length": "7 days"}}, "duration '7 days' is not understood"),
        ({"reference": {"start": "2026-02-01", "end": "2026-01-01"}}, "start must be before"),
        ({"reference": {"start": "2026-01-01", "length": "7d"}}, "give either start/end"),
        ({"decision_threshold": 1.5}, "models[0].decision_threshold: Input should be less than 1"),
        ({"colour": "blue"}, "models[0].colour: unknown field"),
        ({"columns": {"score": None}}, "give score or predicted_class"),
        ({"simulation": {"drift": {"nope": 1.0}}}, "simulation.drift names unknown features: nope"),
        ({"sources": {"predictions": [{"path": "x", "format": "xml"}]}}, "format: Input should"),
    ],
)
def test_each_kind_of_mistake_names_its_field(overrides, expected):
    found = problems(config_with(**overrides))
    assert any(expected in p for p in found), found


def test_every_problem_is_listed_not_just_the_first():
    data = {"models": [model_dict(id="BAD", task="nope", colour="x")]}
    found = problems(data)
    assert len(found) >= 3
    assert all(p.startswith("models[0].") for p in found)


def test_duplicate_model_ids_are_refused():
    found = problems({"models": [model_dict("a"), model_dict("a")]})
    assert any("model id used twice: a" in p for p in found)


def test_catalog_must_be_sqlite_or_postgres():
    found = problems({"lake": {"catalog": "mysql://x"}, "models": [model_dict()]})
    assert any(p.startswith("lake.catalog:") for p in found)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigFileError, match="run `driftguard init`"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - id: x\n    owner: [y\n")
    with pytest.raises(ConfigFileError, match="line 4, column 1: not valid YAML"):
        load_config(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigFileError, match="must hold a mapping"):
        load_config(empty)


def test_example_config_is_valid():
    from driftguard.cli.lake import example_config_text

    config = parse_config(yaml.safe_load(example_config_text()))
    assert [m.id for m in config.models] == ["credit-risk", "churn", "fraud"]
    assert config.models[0].personal_data == ["customer_id"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        (3600, timedelta(hours=1)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


def test_windows_are_aligned_so_reruns_see_the_same_rows():
    config = parse_config(config_with(schedule="hourly"))
    model = config.models[0]
    window = model.current_window(datetime(2026, 3, 4, 10, 37, tzinfo=UTC))
    # hourly cadence: the last complete hour (hand-computed)
    assert (window.start, window.end) == (
        datetime(2026, 3, 4, 9, tzinfo=UTC),
        datetime(2026, 3, 4, 10, tzinfo=UTC),
    )
    reference = model.reference_window(window)
    assert reference.end == window.start and reference.start == window.start - timedelta(days=7)


def test_fixed_reference_window():
    model = parse_config(
        config_with(reference={"start": "2026-01-01T00:00:00Z", "end": "2026-01-08T00:00:00Z"})
    ).models[0]
    current = model.current_window(datetime(2026, 2, 1, 12, tzinfo=UTC))
    assert model.reference_window(current).start == datetime(2026, 1, 1, tzinfo=UTC)


def test_config_digest_is_stable_and_sensitive():
    a = parse_config(config_with())
    b = parse_config(config_with())
    c = parse_config(config_with(version="2.0"))
    assert a.digest() == b.digest() != c.digest()


def test_settings_from_environment_keep_secrets_out_of_repr():
    settings = Settings.from_env({"DRIFTGUARD_HOME": "/x", "DRIFTGUARD_PII_KEY": "s3cret"})
    assert str(settings.home) == "/x"
    assert "s3cret" not in repr(settings)


# --------------------------------------------------------------------------- metric settings


def _model_with(**extra):
    from tests.helpers import model_dict

    return {"models": [model_dict("credit", **extra)]}


def test_metric_settings_have_defaults():
    from driftguard.config import parse_config

    model = parse_config(_model_with()).models[0]
    # defaults documented in the README sections Fairness, Data quality, Performance, Risk
    assert model.fairness.favourable_outcome == 1 and model.fairness.min_group_size == 30
    assert model.fairness.four_fifths == 0.8 and model.quality.volume_drop == 0.5
    assert model.performance.min_labelled == 100
    assert model.risk.weights == {
        "drift": 0.35,
        "fairness": 0.25,
        "quality": 0.15,
        "performance": 0.25,
    }
    assert (model.risk.attention, model.risk.at_risk) == (50, 70)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"fairness": {"thresholds": {"parity": 0.1}}}, "unknown fairness metric 'parity'"),
        ({"fairness": {"thresholds": {"disparate_impact": 1.5}}}, "must be between 0 and 1"),
        ({"fairness": {"favourable_outcome": 2}}, "favourable_outcome"),
        ({"fairness": {"intersections": [["sex", "race"]]}}, "not protected attributes: race"),
        ({"fairness": {"intersections": [["sex"]]}}, "two or more different attributes"),
        ({"risk": {"weights": {"drfit": 1}}}, "unknown component(s) drfit"),
        ({"risk": {"attention": 80}}, "must be below at_risk"),
        ({"performance": {"max_drop": {"rmse": 0.1}}}, "max_drop: unknown metric 'rmse'"),
    ],
)
def test_metric_settings_are_validated(extra, message):
    from driftguard.config import ConfigFileError, parse_config

    with pytest.raises(ConfigFileError) as error:
        parse_config(_model_with(**extra))
    assert message in str(error.value)


def test_intersections_and_attribute_sets():
    from driftguard.config import parse_config

    two = [{"name": "sex"}, {"name": "age_band"}]
    model = parse_config(_model_with(protected_attributes=two)).models[0]
    assert model.fairness_attribute_sets() == [("sex",), ("age_band",), ("sex", "age_band")]
    off = parse_config(
        _model_with(protected_attributes=two, fairness={"intersections": False})
    ).models[0]
    assert off.fairness_attribute_sets() == [("sex",), ("age_band",)]

"""SVG charts: well-formed, accessible, escaped, deterministic."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from driftguard.report.charts import (
    RateBar,
    breakdown_chart,
    distribution_chart,
    interval_chart,
    trend_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>&'


def parse(svg) -> ET.Element:
    return ET.fromstring(str(svg))  # raises if not well-formed XML


def charts():
    return [
        distribution_chart(
            ["[-inf, 1)", HOSTILE, "missing"],
            [0.5, 0.3, 0.2],
            [0.2, 0.5, 0.3],
            title=f"income {HOSTILE}",
        ),
        interval_chart(
            [
                RateBar("female", 0.42, 0.38, 0.46, "warning"),
                RateBar(HOSTILE, None, verdict="insufficient_data"),
                RateBar("male", 0.61, 0.58, 0.64),
            ],
            title="selection rate",
            reference_value=0.61,
            reference_label="male",
        ),
        trend_chart(
            [("r1", 40.0), ("r2", None), (HOSTILE, 72.5)],
            title="risk",
            bands=[(50, "attention"), (70, "at risk")],
        ),
        breakdown_chart(
            [("drift", 80.0, 0.4), ("fairness", None, 0.3), (HOSTILE, 10.0, 0.3)],
            title="risk breakdown",
        ),
    ]


@pytest.mark.parametrize("index", range(4))
def test_charts_are_accessible_well_formed_svg(index):
    root = parse(charts()[index])
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text and desc is not None and desc.text
    assert set(root.get("aria-labelledby").split()) == {title.get("id"), desc.get("id")}


def test_hostile_names_are_text_not_markup():
    for svg in charts():
        text = str(svg)
        assert "<script>" not in text
        root = parse(svg)
        assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))
    assert "&lt;script&gt;" in str(charts()[0])


def test_missing_values_are_said_not_drawn_as_zero():
    interval = str(charts()[1])
    breakdown = str(charts()[3])
    assert "insufficient data" in interval
    assert "missing (not counted)" in breakdown
    assert "r2: not computed" in str(charts()[2])


def test_rendering_twice_gives_identical_bytes():
    assert [str(c) for c in charts()] == [str(c) for c in charts()]


def test_bars_scale_to_the_largest_share():
    root = parse(distribution_chart(["a", "b"], [0.25, 0.75], [0.75, 0.25], title="t"))
    heights = sorted(
        float(r.get("height"))
        for r in root.iter(f"{SVG}rect")
        if r.get("height") and r.find(f"{SVG}title") is not None
    )
    # the 0.75 bars fill the plot height (220 - 46 - 26 = 148), the 0.25 bars a third of it
    assert heights == pytest.approx([148 / 3, 148 / 3, 148, 148], abs=0.1)


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="same length"):
        distribution_chart(["a"], [0.5, 0.5], [1.0], title="t")

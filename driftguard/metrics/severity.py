"""How far a measured value is past its threshold, on one scale shared by every check.

``severity = clip(0.5 * (value - ideal) / (threshold - ideal), 0, 1)``

0 means the ideal value (no difference, a ratio of 1), 0.5 means exactly at the threshold and
1 means at least twice as far from the ideal as the threshold allows. The same formula works
whichever way "worse" points, because the threshold sits on the worse side of the ideal: a
difference with threshold 0.1 (ideal 0) and a ratio with threshold 0.8 (ideal 1) both reach
0.5 at their threshold. Verdicts follow from it: past the threshold is a ``warning``, at or past
twice the allowed distance is ``critical``. The risk score turns a component's worst severity
into 0-100 points, so "at the threshold" lands on 50, the ATTENTION_NEEDED boundary.
"""

from __future__ import annotations

from typing import Literal

Verdict = Literal["ok", "warning", "critical", "insufficient_data"]


def severity(value: float, *, threshold: float, ideal: float) -> float:
    """Distance of ``value`` from ``ideal`` in units of twice the allowed distance, in [0, 1].

    ``s = clip(0.5 · (value − ideal) / (threshold − ideal), 0, 1)``

    Values on the good side of the ideal (a ratio above 1, a negative difference) give 0.

    Examples
    --------
    A disparate impact of 0.7 against the four-fifths threshold 0.8: 0.5 · 0.3 / 0.2 = 0.75.

    >>> round(severity(0.7, threshold=0.8, ideal=1.0), 6)
    0.75
    >>> severity(0.05, threshold=0.1, ideal=0.0)
    0.25
    """
    if threshold == ideal:
        raise ValueError("a threshold must differ from the ideal value")
    raw = 0.5 * (value - ideal) / (threshold - ideal)
    return min(1.0, max(0.0, raw))


def verdict_of(value: float | None, *, threshold: float, ideal: float) -> Verdict:
    """``ok`` up to the threshold, ``warning`` past it, ``critical`` at twice the distance.

    >>> verdict_of(0.79, threshold=0.8, ideal=1.0), verdict_of(0.6, threshold=0.8, ideal=1.0)
    ('warning', 'critical')
    >>> verdict_of(0.8, threshold=0.8, ideal=1.0)
    'ok'
    """
    if value is None:
        return "insufficient_data"
    raw = (value - ideal) / (threshold - ideal)
    if raw >= 2.0:
        return "critical"
    if raw > 1.0:
        return "warning"
    return "ok"

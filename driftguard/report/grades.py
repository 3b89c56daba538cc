"""Compliance grades A-F from the risk score, consistent with the health status.

The bands follow the model's own status thresholds (``risk.attention``, default 50, and
``risk.at_risk``, default 70), so a grade never disagrees with the status next to it:

======  =====================================  ==================  ==================
grade   risk score s                            default band        status
======  =====================================  ==================  ==================
A       s < 0.4 · attention                     0 ≤ s < 20          HEALTHY
B       0.4 · attention ≤ s < 0.7 · attention   20 ≤ s < 35         HEALTHY
C       0.7 · attention ≤ s < attention         35 ≤ s < 50         HEALTHY
D       attention ≤ s < at_risk                 50 ≤ s < 70         ATTENTION_NEEDED
F       s ≥ at_risk                             70 ≤ s ≤ 100        AT_RISK
–       no score                                                    UNKNOWN
======  =====================================  ==================  ==================

There is no E, as in the usual school scale. A model without a score is ungraded rather than
given a good or bad grade: missing evidence is not evidence of health.
"""

from __future__ import annotations

from typing import Literal

Grade = Literal["A", "B", "C", "D", "F", "–"]
GRADES: tuple[Grade, ...] = ("A", "B", "C", "D", "F")
UNGRADED: Grade = "–"
#: Shares of the attention threshold where B and C begin.
B_FROM, C_FROM = 0.4, 0.7


def grade_of(score: float | None, *, attention: float = 50.0, at_risk: float = 70.0) -> Grade:
    """The grade of a 0-100 risk score (higher is worse).

    >>> [grade_of(s) for s in (0, 19.9, 20, 35, 49.9, 50, 69.9, 70, 100, None)]
    ['A', 'A', 'B', 'C', 'C', 'D', 'D', 'F', 'F', '–']
    """
    if score is None:
        return UNGRADED
    if score >= at_risk:
        return "F"
    if score >= attention:
        return "D"
    if score >= C_FROM * attention:
        return "C"
    if score >= B_FROM * attention:
        return "B"
    return "A"


def bands(*, attention: float = 50.0, at_risk: float = 70.0) -> list[tuple[Grade, str]]:
    """Each grade with its score band in words, for the report's legend."""

    def f(x: float) -> str:
        return f"{x:g}"

    b, c = B_FROM * attention, C_FROM * attention
    return [
        ("A", f"below {f(b)}"),
        ("B", f"{f(b)} to below {f(c)}"),
        ("C", f"{f(c)} to below {f(attention)}"),
        ("D", f"{f(attention)} to below {f(at_risk)}"),
        ("F", f"{f(at_risk)} and above"),
    ]

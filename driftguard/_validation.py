"""Argument checks for public functions: one place, one message format.

Public functions check their arguments where they begin and nowhere else (private helpers trust
their inputs). Every message names the parameter, the function, what is allowed, what was got
and, where it helps, what to do::

    The 'bins' parameter of quantile_edges must be an int in [2, inf). Got 1 instead.

The message templates are module constants so that tests assert them verbatim.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from typing import Any

import numpy as np

from driftguard.errors import ConfigError

#: The one format of a rejected argument.
INVALID_PARAMETER = (
    "The '{parameter}' parameter of {function} must be {allowed}. Got {got} instead."
)
#: ``allowed`` texts reused by several functions.
ALLOWED_EMPTY_BIN = "'raise' or a float in (0, 0.5]"
ALLOWED_ZERO_STD = "'raise' or a float > 0"
ALLOWED_SAMPLE = "a non-empty 1-d array of finite numbers"
ALLOWED_COUNTS = "a 1-d array of non-negative finite counts (or shares) with a positive sum"


class InvalidParameter(ConfigError, ValueError):
    """A public function was called with an argument outside its documented domain."""

    def __init__(self, *, parameter: str, function: str, allowed: str, got: str):
        self.parameter = parameter
        self.function = function
        self.allowed = allowed
        self.got = got
        super().__init__(
            INVALID_PARAMETER.format(
                parameter=parameter, function=function, allowed=allowed, got=got
            )
        )


def describe(value: Any) -> str:
    """A short description of an argument for an error message."""
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            return f"an array of shape {value.shape}"
        if value.size == 0:
            return "an empty array"
        if value.dtype.kind == "f":
            bad = int(np.count_nonzero(~np.isfinite(value)))
            if bad:
                return f"an array with {bad} non-finite value(s)"
        if value.dtype.kind in "iuf" and np.any(value < 0):
            return "an array with negative values"
        return f"an array of {value.size} values"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def fail(parameter: str, function: str, allowed: str, got: Any) -> InvalidParameter:
    """The exception for a rejected argument (``raise fail(...)``)."""
    return InvalidParameter(
        parameter=parameter, function=function, allowed=allowed, got=describe(got)
    )


def check_int(
    value: Any, *, parameter: str, function: str, low: int, high: float = math.inf
) -> int:
    """An int (not a bool) in [low, high]."""
    upper = "inf)" if high == math.inf else f"{int(high)}]"
    allowed = f"an int in [{low}, {upper}"
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise fail(parameter, function, allowed, value)
    if not low <= int(value) <= high:
        raise fail(parameter, function, allowed, value)
    return int(value)


def check_choice(value: Any, choices: Collection[str], *, parameter: str, function: str) -> str:
    """One of a fixed set of strings."""
    if not isinstance(value, str) or value not in choices:
        allowed = "one of " + ", ".join(repr(c) for c in sorted(choices))
        raise fail(parameter, function, allowed, value)
    return value


def check_empty_bin(value: Any, *, function: str) -> float | None:
    """``empty_bin``: "raise" (returned as None) or the floor share for empty bins."""
    if isinstance(value, str) and value == "raise":
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.floating)
        or not 0 < float(value) <= 0.5
    ):
        raise fail("empty_bin", function, ALLOWED_EMPTY_BIN, value)
    return float(value)


def check_positive_or_raise(value: Any, *, parameter: str, function: str) -> float | None:
    """ "raise" (returned as None) or a float > 0."""
    if isinstance(value, str) and value == "raise":
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.floating)
        or not (float(value) > 0 and math.isfinite(float(value)))
    ):
        raise fail(parameter, function, ALLOWED_ZERO_STD, value)
    return float(value)


def as_sample(values: Any, *, parameter: str, function: str) -> np.ndarray:
    """A non-empty 1-d float array of finite numbers (missing values must be removed first)."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise fail(parameter, function, ALLOWED_SAMPLE, values) from None
    if array.ndim != 1 or array.size == 0 or not np.all(np.isfinite(array)):
        raise fail(parameter, function, ALLOWED_SAMPLE, array)
    return array


def as_counts(values: Any, *, parameter: str, function: str) -> np.ndarray:
    """A 1-d float array of non-negative finite counts or shares with a positive sum."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise fail(parameter, function, ALLOWED_COUNTS, values) from None
    if (
        array.ndim != 1
        or array.size == 0
        or not np.all(np.isfinite(array))
        or np.any(array < 0)
        or array.sum() <= 0
    ):
        raise fail(parameter, function, ALLOWED_COUNTS, array)
    return array


def check_same_length(
    first: np.ndarray, second: np.ndarray, *, function: str, names: Iterable[str]
) -> None:
    """Two count vectors over the same bins."""
    a, b = names
    if first.shape != second.shape:
        raise InvalidParameter(
            parameter=b,
            function=function,
            allowed=f"an array with as many bins as '{a}' ({first.size})",
            got=f"{second.size} bins",
        )

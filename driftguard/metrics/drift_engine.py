"""Drift of a model's columns between a reference profile and a current window.

The engine works on *summaries*, never on rows: a :class:`ReferenceProfile` (per column: the
reference's quantile bin edges, bin counts, category counts, missing counts, and optionally
counts per segment and per time chunk) and a :class:`WindowSummary` of the current window
binned the same way. Both come either from numpy arrays (:func:`profile_from_arrays`,
:func:`window_from_arrays`: the reference implementation used in tests) or from DuckDB SQL over
the lake or files (:mod:`driftguard.metrics.drift_sql`); the tests prove the two give equal
summaries, so everything downstream is shared.

Method choice (:func:`choose_method`): a feature's own ``method`` wins, then the model's
``numeric_method``/``categorical_method``, then the size rule of ``selection``: references with
at most ``small_reference_rows`` non-missing values get a test (KS, chi-square, or the Z-test
for two categories), larger ones an effect size (PSI), since at scale every p-value is tiny.
PSI is computed for every column as well (its bins cost nothing extra) and stored beside the
chosen method, so ``max_psi`` always means the same thing.

Aggregation (:class:`DriftReport`): share of drifted features, a weighted drift score
(ok 0, warning 0.5, critical 1, weighted by the features' ``weight``), the features ranked
most drifted first, prediction drift and label drift kept apart from feature drift, and drift
per segment. Everything is deterministic: same summaries, same numbers, same order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from driftguard.config import DriftSettings
from driftguard.metrics import drift as m

Role = Literal["feature", "prediction", "label"]
#: Severity weights of the drift score.
SCORE_WEIGHTS = {"ok": 0.0, "warning": 0.5, "critical": 1.0}
#: How many unseen categories a result names.
UNSEEN_EXAMPLES = 5


@dataclass(frozen=True)
class ColumnSpec:
    """A monitored column: a feature, the prediction (score) or the label."""

    name: str
    kind: m.Kind
    role: Role = "feature"
    method: str | None = None
    weight: float = 1.0


# ----------------------------------------------------------------------------- summaries


@dataclass
class NumericSummary:
    """One numeric column in one window (or segment, or chunk), binned on reference edges."""

    n_rows: int
    n_missing: int
    #: Non-missing counts per quantile bin: len(edges) + 1 entries.
    bins: np.ndarray
    #: Non-missing counts per fine bin (binned KS only): len(fine_edges) + 1 entries.
    fine: np.ndarray | None = None

    @property
    def n_values(self) -> int:
        return self.n_rows - self.n_missing


@dataclass
class CategoricalSummary:
    """One categorical column in one window: count per category (missing counted apart)."""

    n_rows: int
    n_missing: int
    counts: dict[str, int]

    @property
    def n_values(self) -> int:
        return self.n_rows - self.n_missing


Summary = NumericSummary | CategoricalSummary


@dataclass
class ColumnProfile:
    """The reference side of one column."""

    spec: ColumnSpec
    reference: Summary
    edges: np.ndarray | None = None
    fine_edges: np.ndarray | None = None
    segments: dict[str, Summary] = field(default_factory=dict)
    chunks: dict[int, Summary] = field(default_factory=dict)
    #: Values of the exact methods (ks, wasserstein) per reference chunk, for learned thresholds.
    chunk_values: dict[str, list[float | None]] = field(default_factory=dict)


@dataclass
class ReferenceProfile:
    """Everything the drift of later windows needs from the reference, without its rows."""

    n_rows: int
    columns: dict[str, ColumnProfile]
    bins: int
    ks_bins: int | None = None
    segment_column: str | None = None
    n_chunks: int = 0
    profile_id: str | None = None
    reused: bool = False


@dataclass(frozen=True)
class ExactGap:
    """What the exact methods need, computed from every distinct value of both windows:
    the KS numerator max|A·n_c − B·n_r| and the Wasserstein-1 integral, unnormalised."""

    numerator: int
    distance: float
    n_ref: int
    n_cur: int
    #: Population standard deviation (ddof=0) of the reference values.
    ref_std: float = 0.0


@dataclass
class WindowSummary:
    """The current window, binned on the profile's edges."""

    n_rows: int
    columns: dict[str, Summary]
    segments: dict[str, dict[str, Summary]] = field(default_factory=dict)
    exact: dict[str, ExactGap] = field(default_factory=dict)


# ----------------------------------------------------------------------------- numpy path


def profile_from_arrays(
    data: Mapping[str, ArrayLike],
    specs: Sequence[ColumnSpec],
    settings: DriftSettings,
    *,
    segments: ArrayLike | None = None,
    segment_column: str | None = None,
    chunks: ArrayLike | None = None,
) -> ReferenceProfile:
    """A reference profile from in-memory columns (the numpy reference implementation).

    ``data`` maps column names to values (numeric: floats with NaN for missing; categorical:
    strings with None for missing). ``segments`` and ``chunks`` give each row's segment value
    and reference chunk number when those breakdowns are wanted.
    """
    n_rows = _common_length(data, specs)
    seg = None if segments is None else np.asarray(segments, dtype=object)
    chk = None if chunks is None else np.asarray(chunks)
    columns: dict[str, ColumnProfile] = {}
    for spec in specs:
        values = data[spec.name]
        if spec.kind == "numeric":
            x = np.asarray(values, dtype=float)
            present = x[~np.isnan(x)]
            edges = m.quantile_edges(present, bins=settings.bins) if present.size else np.array([])
            fine = None
            if settings.ks_mode == "binned":
                fine = (
                    m.quantile_edges(present, bins=settings.ks_bins)
                    if present.size
                    else np.array([])
                )
            col = ColumnProfile(spec, numeric_summary(x, edges, fine), edges, fine)
        else:
            col = ColumnProfile(spec, categorical_summary(values))
        columns[spec.name] = col
        if seg is not None:
            for key in _segment_keys(seg):
                mask = np.array([_seg_key(s) == key for s in seg])
                col.segments[key] = _summary_of(col, _take(values, mask))
        if chk is not None:
            for chunk in sorted(set(chk.tolist())):
                mask = chk == chunk
                col.chunks[int(chunk)] = _summary_of(col, _take(values, mask))
    profile = ReferenceProfile(
        n_rows=n_rows,
        columns=columns,
        bins=settings.bins,
        ks_bins=settings.ks_bins if settings.ks_mode == "binned" else None,
        segment_column=segment_column if seg is not None else None,
        n_chunks=len(set(chk.tolist())) if chk is not None else 0,
    )
    if chk is not None:
        for spec in specs:
            if spec.kind == "numeric":
                _exact_chunk_values(profile.columns[spec.name], data[spec.name], chk, settings)
    return profile


def window_from_arrays(
    profile: ReferenceProfile,
    data: Mapping[str, ArrayLike],
    *,
    reference: Mapping[str, ArrayLike] | None = None,
    segments: ArrayLike | None = None,
) -> WindowSummary:
    """The current window binned on ``profile``'s edges; with ``reference`` rows given, the
    exact gaps (KS, Wasserstein) of every numeric column too."""
    specs = [c.spec for c in profile.columns.values()]
    n_rows = _common_length(data, specs)
    columns = {name: _summary_of(col, data[name]) for name, col in profile.columns.items()}
    window = WindowSummary(n_rows=n_rows, columns=columns)
    if segments is not None:
        seg = np.asarray(segments, dtype=object)
        for key in _segment_keys(seg):
            mask = np.array([_seg_key(s) == key for s in seg])
            window.segments[key] = {
                name: _summary_of(col, _take(data[name], mask))
                for name, col in profile.columns.items()
            }
    if reference is not None:
        for name, col in profile.columns.items():
            if col.spec.kind == "numeric":
                gap = exact_gap(reference[name], data[name])
                if gap is not None:
                    window.exact[name] = gap
    return window


def numeric_summary(
    values: ArrayLike, edges: np.ndarray, fine_edges: np.ndarray | None = None
) -> NumericSummary:
    x = np.asarray(values, dtype=float)
    counts = m.numeric_bins(x, edges)
    return NumericSummary(
        n_rows=int(x.size),
        n_missing=int(counts[-1]),
        bins=counts[:-1],
        fine=None if fine_edges is None else m.numeric_bins(x, fine_edges)[:-1],
    )


def categorical_summary(values: ArrayLike) -> CategoricalSummary:
    counts = m.category_counts(_iterable(values))
    missing = counts.pop(None, 0)
    named = {k: n for k, n in counts.items() if k is not None}
    return CategoricalSummary(
        n_rows=sum(named.values()) + missing,
        n_missing=missing,
        counts={k: named[k] for k in sorted(named)},
    )


def exact_gap(reference: ArrayLike, current: ArrayLike) -> ExactGap | None:
    """KS numerator and Wasserstein integral over the non-missing values (None if either is
    empty)."""
    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    r, c = r[~np.isnan(r)], c[~np.isnan(c)]
    if not r.size or not c.size:
        return None
    values, rc, cc = m.value_counts_pair(r, c)
    numerator, distance = m.ecdf_gap(values, rc, cc)
    return ExactGap(numerator, distance, int(r.size), int(c.size), float(np.std(r)))


def _exact_chunk_values(
    col: ColumnProfile, values: ArrayLike, chunks: np.ndarray, settings: DriftSettings
) -> None:
    x = np.asarray(values, dtype=float)
    ks: list[float | None] = []
    wd: list[float | None] = []
    for chunk in sorted(set(chunks.tolist())):
        gap = exact_gap(x, x[chunks == chunk])
        if gap is None or min(gap.n_ref, gap.n_cur) < settings.min_sample_size:
            ks.append(None)
            wd.append(None)
            continue
        ks.append(gap.numerator / (gap.n_ref * gap.n_cur))
        wd.append(gap.distance / (gap.ref_std or 1.0))
    col.chunk_values = {"ks": ks, "wasserstein": wd}


def _summary_of(col: ColumnProfile, values: ArrayLike) -> Summary:
    if col.spec.kind == "numeric":
        assert col.edges is not None
        return numeric_summary(values, col.edges, col.fine_edges)
    return categorical_summary(values)


def _common_length(data: Mapping[str, ArrayLike], specs: Sequence[ColumnSpec]) -> int:
    lengths = {len(_iterable(data[s.name])) for s in specs}
    if len(lengths) > 1:
        raise ValueError(f"columns have different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def _iterable(values: ArrayLike) -> list[Any]:
    if isinstance(values, np.ndarray):
        return values.tolist()
    return list(values)  # type: ignore[arg-type]


def _take(values: ArrayLike, mask: np.ndarray) -> np.ndarray:
    return np.asarray(_iterable(values), dtype=object)[mask]


def _segment_keys(values: np.ndarray) -> list[str]:
    return sorted({k for k in (_seg_key(v) for v in values) if k is not None})


def _seg_key(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


# ----------------------------------------------------------------------------- method choice


def choose_method(spec: ColumnSpec, reference: Summary, settings: DriftSettings) -> tuple[str, str]:
    """The column's drift method and why it was chosen."""
    binary = isinstance(reference, CategoricalSummary) and len(reference.counts) == 2
    if spec.method:
        name, reason = spec.method, "set for this feature"
    elif spec.kind == "numeric" and settings.numeric_method:
        name, reason = settings.numeric_method, "set for this model"
    elif spec.kind == "categorical" and settings.categorical_method:
        name, reason = settings.categorical_method, "set for this model"
    else:
        sel = settings.selection
        small = reference.n_values <= sel.small_reference_rows
        size = (
            f"reference of {reference.n_values:,} values "
            f"{'<=' if small else '>'} {sel.small_reference_rows:,}"
        )
        if spec.kind == "numeric":
            name = sel.numeric_small if small else sel.numeric_large
        elif binary and small:
            name = sel.binary_small
        else:
            name = sel.categorical_small if small else sel.categorical_large
        reason = size
    method = m.get_method(name)
    if method.binary_only and not binary:
        n = len(reference.counts) if isinstance(reference, CategoricalSummary) else 0
        return "chi_square", f"{name} needs exactly two reference categories (found {n})"
    return name, reason


def plan_methods(profile: ReferenceProfile, settings: DriftSettings) -> dict[str, tuple[str, str]]:
    """Method (and reason) of every profiled column."""
    return {
        name: choose_method(col.spec, col.reference, settings)
        for name, col in profile.columns.items()
    }


def needs_exact(method: str, settings: DriftSettings) -> bool:
    """Whether the method needs every distinct value (rather than the bins)."""
    if method == "ks":
        return settings.ks_mode == "exact"
    return m.get_method(method).needs_values


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class MethodResult:
    """One method's value for one column, the thresholds applied and the verdict."""

    method: str
    value: float | None
    p_value: float | None
    thresholds: m.Thresholds
    verdict: m.Verdict
    n_ref: int
    n_cur: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def compared_value(self) -> float | None:
        """The number the verdict compared with a threshold (p-value for fixed test levels)."""
        if self.thresholds.on_p_value and self.thresholds.source == "fixed":
            return self.p_value
        return self.value

    @property
    def compared_threshold(self) -> float:
        """The threshold crossed (the critical one if critical), else the warning level; for
        learned thresholds, the lower bound only when the value fell below it."""
        t = self.thresholds
        below = (
            t.source == "learned"
            and self.verdict in ("warning", "critical")
            and self.value is not None
            and t.warning_lower is not None
            and self.value <= t.warning_lower
        )
        if self.verdict == "critical":
            return t.critical_lower if below and t.critical_lower is not None else t.critical
        return t.warning_lower if below and t.warning_lower is not None else t.warning

    @property
    def strength(self) -> float:
        """How far past its critical level the result is (1.0 = at the critical level)."""
        t = self.thresholds
        if self.verdict == "insufficient_data" or self.compared_value is None:
            return -1.0
        if t.source == "learned":
            assert self.value is not None and t.warning_lower is not None
            mean = (t.warning + t.warning_lower) / 2
            half = t.critical - mean
            return (
                abs(self.value - mean) / half
                if half > 0
                else (math.inf if self.value != mean else 0.0)
            )
        if t.on_p_value:
            p = max(self.compared_value, 1e-300)
            return math.log(p) / math.log(t.critical) if t.critical < 1 else 0.0
        return self.compared_value / t.critical if t.critical > 0 else math.inf


@dataclass(frozen=True)
class ColumnDrift:
    """Drift of one column (in one segment, or overall): the chosen method, PSI beside it,
    and the missing-value and unseen-category signals."""

    column: str
    kind: m.Kind
    role: Role
    result: MethodResult
    method_reason: str
    weight: float = 1.0
    segment: str | None = None
    psi: MethodResult | None = None
    ref_missing_share: float | None = None
    cur_missing_share: float | None = None
    unseen_share: float | None = None
    unseen_examples: tuple[tuple[str, int], ...] = ()

    @property
    def verdict(self) -> m.Verdict:
        return self.result.verdict

    @property
    def method(self) -> str:
        return self.result.method

    @property
    def psi_value(self) -> float | None:
        source = self.result if self.result.method == "psi" else self.psi
        return None if source is None or source.verdict == "insufficient_data" else source.value

    @property
    def results(self) -> list[tuple[MethodResult, bool]]:
        """(result, is_primary) pairs: the chosen method first, then PSI if it differs."""
        return [(self.result, True)] + ([(self.psi, False)] if self.psi is not None else [])

    def rank_key(self) -> tuple[float, float, str]:
        return (-m.SEVERITY[self.verdict], -self.result.strength, self.column)


def thresholds_for(
    method: str, col: ColumnProfile, settings: DriftSettings, *, learned: bool = True
) -> m.Thresholds:
    """Fixed levels (registry defaults or the model's overrides), or learned from chunks."""
    spec = m.get_method(method)
    override = settings.thresholds.get(method)
    fixed = m.fixed_thresholds(
        spec,
        warning=override.warning if override else None,
        critical=override.critical if override else None,
    )
    lt = settings.learned_thresholds
    if not (learned and lt.enabled):
        return fixed
    values = chunk_values(method, col, settings)
    found = m.learned_thresholds(
        [x for x in values if x is not None],
        warning_sigma=lt.warning_sigma,
        critical_sigma=lt.critical_sigma,
    )
    return found or fixed


def chunk_values(method: str, col: ColumnProfile, settings: DriftSettings) -> list[float | None]:
    """The method's value on each reference chunk against the whole reference."""
    if needs_exact(method, settings):
        return list(col.chunk_values.get(method, []))
    values: list[float | None] = []
    for chunk in sorted(col.chunks):
        summary = col.chunks[chunk]
        result = binned_result(method, col, col.reference, summary, settings, learned=False)
        values.append(None if result.verdict == "insufficient_data" else result.value)
    return values


def binned_result(
    method: str,
    col: ColumnProfile,
    ref: Summary,
    cur: Summary,
    settings: DriftSettings,
    *,
    learned: bool = True,
) -> MethodResult:
    """A method computed from bins (everything but the exact KS and Wasserstein)."""
    spec = m.get_method(method)
    thresholds = thresholds_for(method, col, settings, learned=learned)
    minimum = settings.min_sample_size

    def insufficient(n_ref: int, n_cur: int, why: str) -> MethodResult:
        return MethodResult(
            method, None, None, thresholds, "insufficient_data", n_ref, n_cur, {"reason": why}
        )

    if method == "z_test":
        assert isinstance(ref, CategoricalSummary) and isinstance(cur, CategoricalSummary)
        if min(ref.n_values, cur.n_values) < minimum:
            return insufficient(ref.n_values, cur.n_values, _too_few(minimum))
        # the tracked category comes from the whole reference (a segment may lack one)
        whole = col.reference
        assert isinstance(whole, CategoricalSummary)
        first = sorted(whole.counts or ref.counts)[0]
        a_r, a_c = ref.counts.get(first, 0), cur.counts.get(first, 0)
        test = m.two_proportion_z_test([a_r, ref.n_values - a_r], [a_c, cur.n_values - a_c])
        details = {
            "category": first,
            "reference_share": a_r / ref.n_values,
            "current_share": a_c / cur.n_values,
        }
        verdict = m.judge(test.statistic, test.p_value, thresholds)
        return MethodResult(
            method,
            test.statistic,
            test.p_value,
            thresholds,
            verdict,
            ref.n_values,
            cur.n_values,
            details,
        )
    if method == "ks":  # binned approximation (opt-in): on the fine reference quantile bins
        assert isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary)
        if min(ref.n_values, cur.n_values) < minimum:
            return insufficient(ref.n_values, cur.n_values, _too_few(minimum))
        assert ref.fine is not None and cur.fine is not None
        a = np.cumsum(ref.fine, dtype=np.int64)
        b = np.cumsum(cur.fine, dtype=np.int64)
        numerator = max(
            abs(int(x) * cur.n_values - int(y) * ref.n_values) for x, y in zip(a, b, strict=True)
        )
        test = m.ks_test_from_gap(numerator, ref.n_values, cur.n_values)
        bound = float(max(np.max(ref.fine) / ref.n_values, np.max(cur.fine) / cur.n_values))
        details = {"approximate": True, "fine_bins": int(ref.fine.size), "error_bound": bound}
        verdict = m.judge(test.statistic, test.p_value, thresholds)
        return MethodResult(
            method,
            test.statistic,
            test.p_value,
            thresholds,
            verdict,
            ref.n_values,
            cur.n_values,
            details,
        )
    labels, r, c = binned_counts(col, ref, cur)
    if min(ref.n_rows, cur.n_rows) < minimum:
        return insufficient(ref.n_rows, cur.n_rows, _too_few(minimum))
    details = {
        "bins": labels,
        "reference_share": (r / r.sum()).tolist(),
        "current_share": (c / c.sum()).tolist(),
    }
    p_value = None
    if method == "psi":
        value = m.population_stability_index(r, c, empty_bin=settings.empty_bin)
    elif method == "kl":
        value = m.kullback_leibler_divergence(r, c, empty_bin=settings.empty_bin)
    elif method == "jensen_shannon":
        value = m.jensen_shannon_distance(r, c)
    elif method == "chi_square":
        test = m.chi_square_test(r, c, empty_bin=settings.empty_bin)
        value, p_value = test.statistic, test.p_value
        details["dof"] = test.dof
    else:
        raise ValueError(f"{spec.name} is not computed from bins")
    verdict = m.judge(value, p_value, thresholds)
    return MethodResult(
        method, value, p_value, thresholds, verdict, ref.n_rows, cur.n_rows, details
    )


def exact_result(
    method: str,
    col: ColumnProfile,
    gap: ExactGap | None,
    ref: Summary,
    cur: Summary,
    settings: DriftSettings,
) -> MethodResult:
    """KS (exact) or normalised Wasserstein from the exact gap of both windows."""
    thresholds = thresholds_for(method, col, settings)
    n_ref, n_cur = ref.n_values, cur.n_values
    if gap is None or min(n_ref, n_cur) < settings.min_sample_size:
        return MethodResult(
            method,
            None,
            None,
            thresholds,
            "insufficient_data",
            n_ref,
            n_cur,
            {"reason": _too_few(settings.min_sample_size)},
        )
    if method == "ks":
        test = m.ks_test_from_gap(gap.numerator, gap.n_ref, gap.n_cur)
        verdict = m.judge(test.statistic, test.p_value, thresholds)
        return MethodResult(
            method, test.statistic, test.p_value, thresholds, verdict, n_ref, n_cur, {}
        )
    scale = gap.ref_std
    details: dict[str, Any] = {"reference_std": scale}
    if scale == 0:
        scale = 1.0
        details["unscaled"] = "constant reference: distance in the feature's units"
    value = gap.distance / scale
    verdict = m.judge(value, None, thresholds)
    return MethodResult(method, value, None, thresholds, verdict, n_ref, n_cur, details)


def binned_counts(
    col: ColumnProfile, ref: Summary, cur: Summary
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Both windows' counts over the same bins: quantile bins + missing (numeric), or
    reference categories + missing + unseen (categorical)."""
    if isinstance(ref, NumericSummary):
        assert isinstance(cur, NumericSummary) and col.edges is not None
        labels = [*interval_labels(col.edges), m.MISSING_LABEL]
        r = np.append(ref.bins, ref.n_missing).astype(float)
        c = np.append(cur.bins, cur.n_missing).astype(float)
        return labels, r, c
    assert isinstance(cur, CategoricalSummary)
    categories = sorted(ref.counts)
    seen = set(categories)
    unseen = sum(n for k, n in cur.counts.items() if k not in seen)
    labels = [*categories, m.MISSING_LABEL, m.UNSEEN_LABEL]
    r = np.array([ref.counts[k] for k in categories] + [ref.n_missing, 0], dtype=float)
    c = np.array([cur.counts.get(k, 0) for k in categories] + [cur.n_missing, unseen], dtype=float)
    return labels, r, c


def interval_labels(edges: np.ndarray) -> list[str]:
    bounds = ["-inf", *(f"{e:.6g}" for e in edges), "inf"]
    return [
        f"({lo}, {hi}]" if hi != "inf" else f"({lo}, {hi})"
        for lo, hi in zip(bounds, bounds[1:], strict=False)
    ]


def compare_column(
    col: ColumnProfile,
    ref: Summary,
    cur: Summary,
    *,
    method: str,
    reason: str,
    settings: DriftSettings,
    gap: ExactGap | None = None,
    segment: str | None = None,
) -> ColumnDrift:
    """Drift of one column: the chosen method, PSI beside it, missing and unseen signals."""
    if needs_exact(method, settings):
        result = exact_result(method, col, gap, ref, cur, settings)
    else:
        result = binned_result(method, col, ref, cur, settings, learned=segment is None)
    psi = None
    if method != "psi":
        psi = binned_result("psi", col, ref, cur, settings, learned=segment is None)
    unseen_share: float | None = None
    examples: tuple[tuple[str, int], ...] = ()
    if isinstance(ref, CategoricalSummary) and isinstance(cur, CategoricalSummary):
        unseen = {k: n for k, n in cur.counts.items() if k not in ref.counts}
        unseen_share = sum(unseen.values()) / cur.n_rows if cur.n_rows else None
        examples = tuple(sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))[:UNSEEN_EXAMPLES])
    return ColumnDrift(
        column=col.spec.name,
        kind=col.spec.kind,
        role=col.spec.role,
        result=result,
        method_reason=reason,
        weight=col.spec.weight,
        segment=segment,
        psi=psi,
        ref_missing_share=ref.n_missing / ref.n_rows if ref.n_rows else None,
        cur_missing_share=cur.n_missing / cur.n_rows if cur.n_rows else None,
        unseen_share=unseen_share,
        unseen_examples=examples,
    )


def _too_few(minimum: int) -> str:
    return f"fewer than {minimum} values in a window (min_sample_size)"


# ----------------------------------------------------------------------------- aggregation


@dataclass
class DriftReport:
    """Drift of one model over one window: features ranked, prediction and label apart."""

    features: list[ColumnDrift]
    prediction: ColumnDrift | None = None
    label: ColumnDrift | None = None
    segments: dict[str, list[ColumnDrift]] = field(default_factory=dict)
    segment_column: str | None = None
    missing_segments: list[str] = field(default_factory=list)
    profile_id: str | None = None
    profile_reused: bool = False

    @property
    def assessed(self) -> list[ColumnDrift]:
        return [f for f in self.features if f.verdict != "insufficient_data"]

    @property
    def drifted(self) -> list[ColumnDrift]:
        return [f for f in self.features if f.verdict in ("warning", "critical")]

    @property
    def insufficient(self) -> list[str]:
        return [f.column for f in self.features if f.verdict == "insufficient_data"]

    @property
    def share_drifted(self) -> float | None:
        return len(self.drifted) / len(self.assessed) if self.assessed else None

    @property
    def drift_score(self) -> float | None:
        """Σ w·s / Σ w over assessed features, s = 0 ok, 0.5 warning, 1 critical."""
        total = sum(f.weight for f in self.assessed)
        if not self.assessed or total <= 0:
            return None
        return sum(f.weight * SCORE_WEIGHTS[f.verdict] for f in self.assessed) / total

    @property
    def max_psi(self) -> float | None:
        values = [f.psi_value for f in self.assessed if f.psi_value is not None]
        return max(values) if values else None

    def all_results(self) -> list[ColumnDrift]:
        rows = [*self.features]
        rows += [c for c in (self.prediction, self.label) if c is not None]
        for seg in sorted(self.segments):
            rows += self.segments[seg]
        return rows

    def summary(self, settings: DriftSettings) -> dict[str, Any]:
        """The drift stage's run summary (the contract other stages read)."""
        return {
            "n_features": len(self.features),
            "n_drifted": len(self.drifted),
            "share_drifted": self.share_drifted,
            "drift_score": self.drift_score,
            "max_psi": self.max_psi,
            "prediction_drift": _brief(self.prediction),
            "label_drift": _brief(self.label),
            "insufficient": self.insufficient,
            "top": [
                {
                    "feature": f.column,
                    "method": f.method,
                    "value": f.result.compared_value,
                    "threshold": f.result.compared_threshold,
                    "verdict": f.verdict,
                }
                for f in self.assessed[: settings.top]
            ],
            "findings": self.findings(settings),
        }

    def findings(self, settings: DriftSettings) -> list[str]:
        """Plain sentences that need attention."""
        found: list[str] = []
        drifted = self.drifted
        if drifted:
            found.append(
                f"{len(drifted)} of {len(self.assessed)} assessed features drifted "
                f"(drift score {self.drift_score:.2f})"
            )
            for f in drifted[: settings.top]:
                found.append(describe(f))
            if len(drifted) > settings.top:
                found.append(f"... and {len(drifted) - settings.top} more drifted features")
        for target in (self.prediction, self.label):
            if target is not None and target.verdict in ("warning", "critical"):
                found.append(describe(target))
        for f in [*self.features, *(c for c in (self.prediction,) if c is not None)]:
            if (
                f.ref_missing_share is not None
                and f.cur_missing_share is not None
                and f.cur_missing_share - f.ref_missing_share >= settings.missing_change_alert
            ):
                found.append(
                    f"{f.column}: missing values rose from {f.ref_missing_share:.1%} to "
                    f"{f.cur_missing_share:.1%} of rows"
                )
            if f.unseen_share is not None and f.unseen_share >= settings.unseen_share_alert:
                names = ", ".join(repr(k) for k, _ in f.unseen_examples)
                found.append(
                    f"{f.column}: {f.unseen_share:.1%} of current rows are in categories the "
                    f"reference never saw ({names})"
                )
        if self.insufficient:
            found.append(
                f"drift not assessed for {len(self.insufficient)} feature(s) with fewer than "
                f"{settings.min_sample_size} values in a window: {', '.join(self.insufficient)}"
            )
        for seg in sorted(self.segments):
            rows = [r for r in self.segments[seg] if r.role == "feature"]
            bad = [r for r in rows if r.verdict in ("warning", "critical")]
            if bad:
                names = ", ".join(f"{r.column} ({r.verdict})" for r in bad[: settings.top])
                found.append(
                    f"{self.segment_column} {seg!r}: {len(bad)} of {len(rows)} features "
                    f"drifted: {names}"
                )
        for seg in self.missing_segments:
            found.append(
                f"{self.segment_column} {seg!r} appears in the current window but not in the "
                "reference: its drift cannot be assessed"
            )
        return found


def describe(f: ColumnDrift) -> str:
    """One result as a sentence: 'income: PSI 0.31 >= 0.25 (critical; n_ref=..., n_cur=...)'."""
    r = f.result
    name = f"{f.role} ({f.column})" if f.role != "feature" else f.column
    short = m.get_method(r.method).short
    t = r.thresholds
    sizes = f"n_ref={r.n_ref:,}, n_cur={r.n_cur:,}"
    if t.source == "learned":
        return (
            f"{name}: {short} {_fmt(r.value)} outside the learned range "
            f"{_fmt(t.warning_lower)}..{_fmt(t.warning)} ({r.verdict}; {sizes})"
        )
    if t.on_p_value:
        return (
            f"{name}: {short} p={_fmt(r.p_value)} < {_fmt(r.compared_threshold)} "
            f"({r.verdict}; statistic {_fmt(r.value)}, {sizes})"
        )
    return f"{name}: {short} {_fmt(r.value)} >= {_fmt(r.compared_threshold)} ({r.verdict}; {sizes})"


def _brief(f: ColumnDrift | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {"method": f.method, "value": f.result.compared_value, "verdict": f.verdict}


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def assess(
    profile: ReferenceProfile,
    window: WindowSummary,
    settings: DriftSettings,
    *,
    methods: Mapping[str, tuple[str, str]] | None = None,
) -> DriftReport:
    """Compare every profiled column, rank the features and break drift down by segment."""
    methods = dict(methods or plan_methods(profile, settings))
    features: list[ColumnDrift] = []
    report = DriftReport(features=features, segment_column=profile.segment_column)
    for name, col in profile.columns.items():
        method, reason = methods[name]
        drift = compare_column(
            col,
            col.reference,
            window.columns[name],
            method=method,
            reason=reason,
            settings=settings,
            gap=window.exact.get(name),
        )
        if col.spec.role == "feature":
            features.append(drift)
        elif col.spec.role == "prediction":
            report.prediction = drift
        else:
            report.label = drift
    features.sort(key=ColumnDrift.rank_key)
    if profile.segment_column and settings.segments:
        report.segments, report.missing_segments = _segment_drift(
            profile, window, methods, settings
        )
    report.profile_id = profile.profile_id
    report.profile_reused = profile.reused
    return report


def _segment_drift(
    profile: ReferenceProfile,
    window: WindowSummary,
    methods: Mapping[str, tuple[str, str]],
    settings: DriftSettings,
) -> tuple[dict[str, list[ColumnDrift]], list[str]]:
    """Per segment: the binned method of each column (PSI when its method needs values)."""
    reference_rows = (
        {
            seg: next(iter(profile.columns.values())).segments[seg].n_rows
            for seg in next(iter(profile.columns.values())).segments
        }
        if profile.columns
        else {}
    )
    largest = sorted(reference_rows, key=lambda s: (-reference_rows[s], s))[: settings.max_segments]
    out: dict[str, list[ColumnDrift]] = {}
    for seg in sorted(largest):
        current = window.segments.get(seg)
        if current is None:
            continue
        rows = []
        for name, col in profile.columns.items():
            method, reason = methods[name]
            if needs_exact(method, settings) or method == "ks":
                method, reason = "psi", f"per-segment drift uses PSI ({method} needs every value)"
            rows.append(
                compare_column(
                    col,
                    col.segments[seg],
                    current[name],
                    method=method,
                    reason=reason,
                    settings=settings,
                    segment=seg,
                )
            )
        rows.sort(key=ColumnDrift.rank_key)
        out[seg] = rows
    missing = sorted(set(window.segments) - set(reference_rows))
    return out, missing


def with_profile_id(
    profile: ReferenceProfile, profile_id: str, *, reused: bool
) -> ReferenceProfile:
    return replace(profile, profile_id=profile_id, reused=reused)

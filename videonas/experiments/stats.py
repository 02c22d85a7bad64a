"""Differences between two arms over seeds, with an interval that says how far noise could move them.

A paper question compares two arms (evolution vs random search, guided vs unguided mutation, ...) run with a few seeds.
``paired`` compares arms run with the same seeds (seed ``s`` of A against seed ``s`` of B), ``unpaired`` arms without
that pairing (or repeated measurements, such as latencies), ``exact`` deterministic figures (parameter counts, FLOPs)
that have no noise at all.

Each returns an ``Estimate``: the mean difference (or, for ``kind="ratio"``, the ratio of geometric means, computed on
logarithms) with its interval, and keeps the values keyed by seed, so that the verdict can store them and test them.

**The interval is t-based** (``interval="t"``, the default): a one-sample Student t interval on the paired
differences, a Welch interval for unpaired arms. A percentile bootstrap interval is too narrow at the handful of
seeds we run (it resamples the plug-in distribution, whose spread is the standard deviation with divisor n, and
ignores that the spread itself is estimated: at n = 6 a nominal 95% interval covers about 88%). The bootstrap is
kept for large samples only (``interval="bootstrap"`` refuses fewer than ``BOOTSTRAP_MIN_N`` values per arm).

**Two tests at a boundary** back every verdict: ``Estimate.p_value`` is the exact permutation test (all 2^n sign flips
when paired, all C(n_a + n_b, n_a) splits when unpaired; a seeded sample of 9999 beyond 10^5 permutations) and
``Estimate.t_p_value`` the t test that matches the interval. ``Estimate.min_p_value`` is the smallest p the exact
test can reach at all (1/2^n paired, 1/C(n_a + n_b, n_a) unpaired): below it no effect size, however large, decides.

**Ties**: a paired difference equal to the boundary (within ``TIE_TOLERANCE``, so that 0.1 - 0.1 is a tie) has no
sign. It is set to exactly the boundary, so every sign flip leaves it unchanged: the exact test is then the test of the
non-tied differences, its smallest attainable p is 1/2^(n - ties), and ``Estimate.ties`` counts them so the verdict can
say so. A tie is neither agreement nor dissent. The t test keeps tied differences (they are data: they shrink the mean
towards the boundary).

**Power**: ``Estimate.detectable`` is the smallest true effect (beyond the tested boundary) that a one-sided t test
at the interval's level detects with probability ``power``, from the observed spread and n (the usual t
approximation: (t_{1-alpha} + t_{power}) x standard error).

Missing seeds: a ``None`` or NaN value (a failed seed) is dropped, pairwise when paired, and counted in
``Estimate.dropped`` (the per-seed values keep it, as ``None``). With fewer than two values left, no interval exists
(``low``/``high`` are ``None``) and ``Estimate.reason`` says why.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import numpy
import scipy.stats

KINDS = ("difference", "ratio")
INTERVALS = ("t", "bootstrap")
RESAMPLES = 9999
BOOTSTRAP_MIN_N = 20
TIE_TOLERANCE = 1e-9
ALTERNATIVES = ("greater", "less")

Values = Sequence[float | None] | Mapping[Any, float | None]


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A (difference or ratio) estimate of arm A against arm B, with its interval; ``None`` where undefined.

    ``n`` counts the pairs used (paired) or the values of the smaller arm (unpaired); ``dropped`` the values (or
    pairs) left out because a seed failed. ``values_a``/``values_b`` are the values used, in order;
    ``per_seed_a``/``per_seed_b`` every value given, keyed by seed as text (by position for a plain list), failed
    seeds as ``None``. ``method`` names the interval: "t" (paired), "welch" (unpaired), "bootstrap" or "exact".
    """

    value: float | None
    low: float | None
    high: float | None
    n: int
    dropped: int = 0
    kind: str = "difference"
    paired: bool = True
    confidence: float = 0.95
    method: str = "t"
    reason: str = ""
    values_a: tuple[float, ...] = ()
    values_b: tuple[float, ...] = ()
    per_seed_a: Mapping[str, float | None] = dataclasses.field(default_factory=dict)
    per_seed_b: Mapping[str, float | None] = dataclasses.field(default_factory=dict)

    @property
    def defined(self) -> bool:
        return self.low is not None and self.high is not None

    @property
    def level(self) -> float:
        """The one-sided level that matches the two-sided interval: (1 - confidence) / 2."""
        return (1 - self.confidence) / 2

    def p_value(self, *, boundary: float, alternative: str) -> float | None:
        """Exact permutation p-value of "A - B (or A / B) is ``alternative`` than ``boundary``"; ``None`` when it
        cannot be computed (an exact figure, fewer than two values). Ties with the boundary: see the module."""
        if not self._testable(alternative):
            return None
        if self.paired:
            data, permutation_type, statistic = (self._shifted(boundary),), "samples", _mean
        else:
            a, b = _transform(self.values_a, self.kind), _transform(self.values_b, self.kind)
            data, permutation_type, statistic = (a - self._shift(boundary), b), "independent", _mean_difference
        result = scipy.stats.permutation_test(data, statistic, permutation_type=permutation_type, vectorized=True,
                                              n_resamples=_permutations(self), alternative=alternative,
                                              rng=numpy.random.default_rng(0))
        return float(result.pvalue)

    def t_p_value(self, *, boundary: float, alternative: str) -> float | None:
        """One-sided t test p-value (one-sample on the paired differences, Welch unpaired) at ``boundary``; with no
        spread at all it is 0 when every value lies on the ``alternative`` side, else 1."""
        if not self._testable(alternative):
            return None
        standard_error, df = self._standard_error()
        mean = self._mean() - self._shift(boundary)
        if standard_error == 0:
            return 0.0 if (mean > 0 if alternative == "greater" else mean < 0) else 1.0
        statistic = mean / standard_error
        tail = scipy.stats.t.sf(statistic, df) if alternative == "greater" else scipy.stats.t.cdf(statistic, df)
        return float(tail)

    def ties(self, boundary: float) -> int:
        """Paired differences equal to ``boundary``: they carry no sign (0 unpaired or without values)."""
        if not self.paired or not self.values_a:
            return 0
        return int(numpy.sum(self._shifted(boundary) == 0))

    def min_p_value(self, boundary: float = 0.0) -> float | None:
        """The smallest p-value the exact test can reach: 1/2^(n - ties) paired, 1/C(n_a + n_b, n_a) unpaired (with
        no tied values across the arms); ``None`` where the test does not apply."""
        if not self._testable("greater"):
            return None
        if self.paired:
            return 1.0 / 2 ** (len(self.values_a) - self.ties(boundary))
        return 1.0 / math.comb(len(self.values_a) + len(self.values_b), len(self.values_a))

    def detectable(self, *, power: float = 0.8, equivalence: bool = False) -> float | None:
        """The smallest true effect beyond a boundary that the one-sided t test at ``level`` detects with
        probability ``power`` (t approximation), in the estimate's unit: a difference, or for ``kind="ratio"`` the
        factor by which the true ratio must exceed the boundary. With ``equivalence``, the half-width of the
        narrowest band around 0 that two one-sided tests confirm with that power when the true effect is 0."""
        if not 0 < power < 1:
            raise ValueError(f"power must be between 0 and 1, got {power!r}")
        if not self._testable("greater"):
            return None
        standard_error, df = self._standard_error()
        beta_quantile = scipy.stats.t.ppf(1 - (1 - power) / 2 if equivalence else power, df)
        effect = float((scipy.stats.t.ppf(1 - self.level, df) + beta_quantile) * standard_error)
        return math.exp(effect) if self.kind == "ratio" else effect

    def _testable(self, alternative: str) -> bool:
        if alternative not in ALTERNATIVES:
            raise ValueError(f"alternative must be 'greater' or 'less', got {alternative!r}")
        return self.method != "exact" and self.defined

    def _shift(self, boundary: float) -> float:
        return math.log(boundary) if self.kind == "ratio" else float(boundary)

    def _shifted(self, boundary: float) -> numpy.ndarray:
        """Paired differences minus the boundary, with ties set to exactly 0."""
        differences = _transform(self.values_a, self.kind) - _transform(self.values_b, self.kind)
        shifted = differences - self._shift(boundary)
        scale = max(1.0, float(numpy.max(numpy.abs(differences))), abs(self._shift(boundary)))
        shifted[numpy.abs(shifted) <= TIE_TOLERANCE * scale] = 0.0
        return shifted

    def _mean(self) -> float:
        a, b = _transform(self.values_a, self.kind), _transform(self.values_b, self.kind)
        return float(numpy.mean(a - b)) if self.paired else float(numpy.mean(a) - numpy.mean(b))

    def _standard_error(self) -> tuple[float, float]:
        a, b = _transform(self.values_a, self.kind), _transform(self.values_b, self.kind)
        return standard_error(a - b) if self.paired else welch_standard_error(a, b)


def standard_error(differences: numpy.ndarray) -> tuple[float, float]:
    """Standard error of the mean of paired differences and its degrees of freedom (n - 1)."""
    n = len(differences)
    return float(numpy.std(differences, ddof=1) / math.sqrt(n)), float(n - 1)


def welch_standard_error(a: numpy.ndarray, b: numpy.ndarray) -> tuple[float, float]:
    """Standard error of a difference of means with unequal variances, and its Welch-Satterthwaite degrees of
    freedom (n_a + n_b - 2 when neither arm varies)."""
    share_a, share_b = numpy.var(a, ddof=1) / len(a), numpy.var(b, ddof=1) / len(b)
    variance = share_a + share_b
    if variance == 0:
        return 0.0, float(len(a) + len(b) - 2)
    df = variance ** 2 / (share_a ** 2 / (len(a) - 1) + share_b ** 2 / (len(b) - 1))
    return float(math.sqrt(variance)), float(df)


def paired(a: Values, b: Values, *, kind: str = "difference", confidence: float = 0.95, seed: int = 0,
           interval: str = "t") -> Estimate:
    """A against B where each value of A has its partner in B: the same position, or the same key of a mapping
    (``{seed: value}``; a key missing on either side counts as a dropped pair)."""
    per_seed_a, per_seed_b = _keyed(a, b)
    pairs = [(x, y) for x, y in zip(per_seed_a.values(), per_seed_b.values()) if x is not None and y is not None]
    values_a, values_b = tuple(x for x, _ in pairs), tuple(y for _, y in pairs)
    _check(kind, confidence, interval, values_a + values_b)
    estimate = Estimate(value=None, low=None, high=None, n=len(pairs), dropped=len(per_seed_a) - len(pairs),
                        kind=kind, paired=True, confidence=confidence, method="t" if interval == "t" else interval,
                        values_a=values_a, values_b=values_b, per_seed_a=per_seed_a, per_seed_b=per_seed_b)
    if not pairs:
        return dataclasses.replace(estimate, reason=_none_reason(estimate.dropped))
    differences = _transform(values_a, kind) - _transform(values_b, kind)
    value = float(numpy.mean(differences))
    if len(pairs) == 1:
        return _finish(estimate, value, None, None, reason="one seed: no interval")
    if interval == "bootstrap":
        _check_bootstrap(len(pairs))
        bounds = scipy.stats.bootstrap((differences,), _mean, vectorized=True, confidence_level=confidence,
                                       n_resamples=RESAMPLES, method="percentile",
                                       rng=numpy.random.default_rng(seed)).confidence_interval
        return _finish(estimate, value, bounds.low, bounds.high, reason="")
    return _t_interval(estimate, value, *standard_error(differences))


def unpaired(a: Values, b: Values, *, kind: str = "difference", confidence: float = 0.95, seed: int = 0,
             interval: str = "t") -> Estimate:
    """A against B with no pairing between their values (each arm on its own): seeds of separate runs, or repeated
    measurements of one quantity (latencies), given as lists or as mappings keyed by seed or repeat."""
    per_seed_a, per_seed_b = _keyed_one(a, "a"), _keyed_one(b, "b")
    values_a = tuple(v for v in per_seed_a.values() if v is not None)
    values_b = tuple(v for v in per_seed_b.values() if v is not None)
    dropped = len(per_seed_a) + len(per_seed_b) - len(values_a) - len(values_b)
    _check(kind, confidence, interval, values_a + values_b)
    estimate = Estimate(value=None, low=None, high=None, n=min(len(values_a), len(values_b)), dropped=dropped,
                        kind=kind, paired=False, confidence=confidence,
                        method="welch" if interval == "t" else interval, values_a=values_a, values_b=values_b,
                        per_seed_a=per_seed_a, per_seed_b=per_seed_b)
    if not values_a or not values_b:
        return dataclasses.replace(estimate, reason=_none_reason(dropped))
    x, y = _transform(values_a, kind), _transform(values_b, kind)
    value = float(numpy.mean(x) - numpy.mean(y))
    if min(len(x), len(y)) < 2:
        return _finish(estimate, value, None, None, reason="one seed in an arm: no interval")
    if interval == "bootstrap":
        _check_bootstrap(min(len(x), len(y)))
        bounds = scipy.stats.bootstrap((x, y), _mean_difference, vectorized=True, paired=False,
                                       confidence_level=confidence, n_resamples=RESAMPLES, method="percentile",
                                       rng=numpy.random.default_rng(seed)).confidence_interval
        return _finish(estimate, value, bounds.low, bounds.high, reason="")
    return _t_interval(estimate, value, *welch_standard_error(x, y))


def exact(a: float, b: float, *, kind: str = "difference") -> Estimate:
    """A deterministic comparison (parameter counts, FLOPs): the interval is the value itself. Its per-seed values
    are the two figures, keyed "figure"."""
    _check(kind, 0.95, "t", (a, b))
    value = a - b if kind == "difference" else a / b
    return Estimate(value=float(value), low=float(value), high=float(value), n=1, kind=kind, method="exact",
                    values_a=(float(a),), values_b=(float(b),), per_seed_a={"figure": float(a)},
                    per_seed_b={"figure": float(b)}, reason="exact figures: no noise")


def spread(values: Sequence[float | None]) -> float | None:
    """Standard deviation over seeds of one configuration retrained (the noise floor); ``None`` below two values."""
    finite = [v for v in _keyed_one(values, "values").values() if v is not None]
    return float(numpy.std(finite, ddof=1)) if len(finite) >= 2 else None


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of a family of p-values (controls the chance of any false decision at the
    level used): the i-th smallest of m becomes max over j <= i of min(1, (m - j + 1) p_(j)). ``None`` (no test)
    stays ``None`` and does not count in m."""
    tested = [(p, index) for index, p in enumerate(p_values) if p is not None]
    for p, _ in tested:
        if not (isinstance(p, (int, float)) and 0 <= p <= 1):
            raise ValueError(f"p_values must be numbers from 0 to 1 or None, got {p!r}")
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(sorted(tested)):
        running = max(running, min(1.0, (len(tested) - rank) * float(p)))
        adjusted[index] = running
    return adjusted


def _t_interval(estimate: Estimate, value: float, standard_error: float, df: float) -> Estimate:
    half = float(scipy.stats.t.ppf(1 - estimate.level, df) * standard_error) if standard_error > 0 else 0.0
    return _finish(estimate, value, value - half, value + half, reason="")


def _mean(x, axis=-1):
    return numpy.mean(x, axis=axis)


def _mean_difference(x, y, axis=-1):
    return numpy.mean(x, axis=axis) - numpy.mean(y, axis=axis)


def _finish(estimate: Estimate, value: float, low: float | None, high: float | None, *, reason: str) -> Estimate:
    if estimate.kind == "ratio":
        value, low, high = (None if v is None else math.exp(v) for v in (value, low, high))
    low, high = (None if v is None else float(v) for v in (low, high))
    return dataclasses.replace(estimate, value=float(value), low=low, high=high, reason=reason)


def _permutations(estimate: Estimate) -> float:
    """Every permutation when there are at most ~10^5 of them (exact), else a seeded sample."""
    if estimate.paired:
        count = 2 ** len(estimate.values_a)
    else:
        count = math.comb(len(estimate.values_a) + len(estimate.values_b), len(estimate.values_a))
    return numpy.inf if count <= 100_000 else RESAMPLES


def _keyed(a: Values, b: Values) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Both arms keyed alike (the union of their seeds, in order of first appearance); a missing seed is ``None``."""
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise ValueError("a and b must both be sequences or both mappings of seed to value, got "
                         f"{type(a).__name__} and {type(b).__name__}")
    if not isinstance(a, Mapping) and len(a) != len(b):
        raise ValueError(f"paired arms need one value per seed on both sides, got {len(a)} and {len(b)} values")
    keyed_a, keyed_b = _keyed_one(a, "a"), _keyed_one(b, "b")
    if len(keyed_a) != len(a) or len(keyed_b) != len(b):
        raise ValueError("a and b must not give two values for one seed (seeds are compared as text)")
    keys = list(dict.fromkeys([*keyed_a, *keyed_b]))
    return {key: keyed_a.get(key) for key in keys}, {key: keyed_b.get(key) for key in keys}


def _keyed_one(values: Values, name: str) -> dict[str, float | None]:
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{name} must be a sequence or mapping of numbers, got {type(values).__name__}")
    items = values.items() if isinstance(values, Mapping) else enumerate(values)
    return {str(key): float(value) if _is_finite(value) else None for key, value in items}


def _is_finite(value: Any) -> bool:
    return value is not None and math.isfinite(float(value))


def _check(kind: str, confidence: float, interval: str, values: Sequence[float]) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {list(INTERVALS)}, got {interval!r}")
    if kind == "ratio" and any(v <= 0 for v in values):
        raise ValueError(f"kind='ratio' needs positive values, got {min(values)!r}")


def _check_bootstrap(n: int) -> None:
    if n < BOOTSTRAP_MIN_N:
        raise ValueError(f"interval='bootstrap' needs at least {BOOTSTRAP_MIN_N} values per arm (its percentile "
                         f"interval is too narrow below), got {n}")


def _transform(values: Sequence[float], kind: str) -> numpy.ndarray:
    array = numpy.asarray(values, dtype=float)
    return numpy.log(array) if kind == "ratio" else array


def _none_reason(dropped: int) -> str:
    return f"no seed gave a value on both sides ({dropped} dropped)" if dropped else "no seed was run"

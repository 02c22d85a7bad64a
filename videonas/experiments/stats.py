"""Differences between two arms over seeds, with an interval that says how far noise could move them.

A paper question compares two arms (evolution vs random search, guided vs unguided mutation, ...) run with a few seeds.
``paired`` compares arms run with the same seeds (seed ``s`` of A against seed ``s`` of B), ``unpaired`` arms without
that pairing, ``exact`` deterministic figures (parameter counts, FLOPs) that have no noise at all.

Each returns an ``Estimate``: the mean difference (or, for ``kind="ratio"``, the ratio of geometric means) with a
percentile bootstrap interval (seeded: the same data give the same interval on every run), and keeps the values, so
that ``Estimate.p_value`` can run an exact permutation test (all 2^n sign flips when paired) against any boundary.

Missing seeds: a ``None`` or NaN value (a failed seed) is dropped, pairwise when paired, and counted in
``Estimate.dropped``. With fewer than two values left, no interval exists (``low``/``high`` are ``None``) and
``Estimate.reason`` says why.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import numpy
import scipy.stats

KINDS = ("difference", "ratio")
RESAMPLES = 9999


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A (difference or ratio) estimate of arm A against arm B, with its interval; ``None`` where undefined.

    ``n`` counts the pairs used (paired) or the values of the smaller arm (unpaired); ``dropped`` the values (or
    pairs) left out because a seed failed.
    """

    value: float | None
    low: float | None
    high: float | None
    n: int
    dropped: int = 0
    kind: str = "difference"
    paired: bool = True
    confidence: float = 0.95
    method: str = "bootstrap"
    reason: str = ""
    values_a: tuple[float, ...] = ()
    values_b: tuple[float, ...] = ()

    @property
    def defined(self) -> bool:
        return self.low is not None and self.high is not None

    def p_value(self, *, boundary: float, alternative: str) -> float | None:
        """Exact permutation p-value of "A - B (or A / B) is ``alternative`` than ``boundary``"; ``None`` when it
        cannot be computed (an exact figure, fewer than two values)."""
        if alternative not in ("greater", "less"):
            raise ValueError(f"alternative must be 'greater' or 'less', got {alternative!r}")
        if self.method == "exact" or not self.defined:
            return None
        a, b = _transform(self.values_a, self.kind), _transform(self.values_b, self.kind)
        shift = math.log(boundary) if self.kind == "ratio" else boundary
        if self.paired:
            data, permutation_type, statistic = (a - b - shift,), "samples", _mean
        else:
            data, permutation_type, statistic = (a - shift, b), "independent", _mean_difference
        result = scipy.stats.permutation_test(data, statistic, permutation_type=permutation_type, vectorized=True,
                                              n_resamples=_permutations(self), alternative=alternative,
                                              rng=numpy.random.default_rng(0))
        return float(result.pvalue)


def paired(a: Sequence[float | None] | Mapping[Any, float | None], b: Sequence[float | None] |
           Mapping[Any, float | None], *, kind: str = "difference", confidence: float = 0.95,
           seed: int = 0) -> Estimate:
    """A against B where each value of A has its partner in B: the same position, or the same key of a mapping
    (``{seed: value}``; a key missing on either side counts as a dropped pair)."""
    pairs, dropped = _pairs(a, b)
    values_a = tuple(x for x, _ in pairs)
    values_b = tuple(y for _, y in pairs)
    _check(kind, confidence, values_a + values_b)
    differences = _transform(values_a, kind) - _transform(values_b, kind)
    estimate = Estimate(value=None, low=None, high=None, n=len(pairs), dropped=dropped, kind=kind, paired=True,
                        confidence=confidence, values_a=values_a, values_b=values_b)
    if len(pairs) == 0:
        return dataclasses.replace(estimate, reason=_none_reason(dropped))
    value = float(numpy.mean(differences))
    if len(pairs) == 1:
        return _finish(estimate, value, None, None, reason="one seed: no interval")
    if numpy.all(differences == differences[0]):
        return _finish(estimate, value, value, value, reason="")
    interval = scipy.stats.bootstrap((differences,), _mean, vectorized=True, confidence_level=confidence,
                                     n_resamples=RESAMPLES, method="percentile",
                                     rng=numpy.random.default_rng(seed)).confidence_interval
    return _finish(estimate, value, interval.low, interval.high, reason="")


def unpaired(a: Sequence[float | None], b: Sequence[float | None], *, kind: str = "difference",
             confidence: float = 0.95, seed: int = 0) -> Estimate:
    """A against B with no pairing between their values (each arm resampled on its own)."""
    values_a, values_b = _finite(a, "a"), _finite(b, "b")
    dropped = len(a) + len(b) - len(values_a) - len(values_b)
    _check(kind, confidence, values_a + values_b)
    estimate = Estimate(value=None, low=None, high=None, n=min(len(values_a), len(values_b)), dropped=dropped,
                        kind=kind, paired=False, confidence=confidence, values_a=values_a, values_b=values_b)
    if not values_a or not values_b:
        return dataclasses.replace(estimate, reason=_none_reason(dropped))
    x, y = _transform(values_a, kind), _transform(values_b, kind)
    value = float(numpy.mean(x) - numpy.mean(y))
    if min(len(x), len(y)) < 2:
        return _finish(estimate, value, None, None, reason="one seed in an arm: no interval")
    if numpy.ptp(x) == 0 and numpy.ptp(y) == 0:
        return _finish(estimate, value, value, value, reason="")
    interval = scipy.stats.bootstrap((x, y), _mean_difference, vectorized=True, paired=False,
                                     confidence_level=confidence, n_resamples=RESAMPLES, method="percentile",
                                     rng=numpy.random.default_rng(seed)).confidence_interval
    return _finish(estimate, value, interval.low, interval.high, reason="")


def exact(a: float, b: float, *, kind: str = "difference") -> Estimate:
    """A deterministic comparison (parameter counts, FLOPs): the interval is the value itself."""
    _check(kind, 0.95, (a, b))
    value = a - b if kind == "difference" else a / b
    return Estimate(value=float(value), low=float(value), high=float(value), n=1, kind=kind, method="exact",
                    values_a=(float(a),), values_b=(float(b),), reason="exact: no noise")


def spread(values: Sequence[float | None]) -> float | None:
    """Standard deviation over seeds of one configuration retrained (the noise floor); ``None`` below two values."""
    finite = _finite(values, "values")
    return float(numpy.std(finite, ddof=1)) if len(finite) >= 2 else None


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


def _pairs(a, b) -> tuple[list[tuple[float, float]], int]:
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise ValueError("a and b must both be sequences or both mappings of seed to value, got "
                         f"{type(a).__name__} and {type(b).__name__}")
    if isinstance(a, Mapping):
        keys = list(dict.fromkeys([*a, *b]))
        raw = [(a.get(key), b.get(key)) for key in keys]
    else:
        if len(a) != len(b):
            raise ValueError(f"paired arms need one value per seed on both sides, got {len(a)} and {len(b)} values")
        raw = list(zip(a, b))
    pairs = [(float(x), float(y)) for x, y in raw if _is_finite(x) and _is_finite(y)]
    return pairs, len(raw) - len(pairs)


def _finite(values: Sequence[float | None], name: str) -> tuple[float, ...]:
    if isinstance(values, (str, bytes, Mapping)):
        raise ValueError(f"{name} must be a sequence of numbers, got {type(values).__name__}")
    return tuple(float(v) for v in values if _is_finite(v))


def _is_finite(value: Any) -> bool:
    return value is not None and math.isfinite(float(value))


def _check(kind: str, confidence: float, values: Sequence[float]) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    if kind == "ratio" and any(v <= 0 for v in values):
        raise ValueError(f"kind='ratio' needs positive values, got {min(values)!r}")


def _transform(values: Sequence[float], kind: str) -> numpy.ndarray:
    array = numpy.asarray(values, dtype=float)
    return numpy.log(array) if kind == "ratio" else array


def _none_reason(dropped: int) -> str:
    return f"no seed gave a value on both sides ({dropped} dropped)" if dropped else "no seed was run"

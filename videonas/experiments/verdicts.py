"""Verdicts: does our estimate, with its interval, support the paper's claim, contradict it, or not tell?

The verdict reads the interval only, never the point estimate: a claim is *supported* when every value in the
interval satisfies it, *contradicted* when none does, and *inconclusive* otherwise, or when there is no interval
(fewer than two seeds). The claim's ``margin`` is its minimum effect of interest, so "supported" needs the interval
beyond the margin, not merely beyond 0 (hundreds of seeds must not call a trivial difference a gain). Three kinds:

- ``greater``: A - B > margin ("A beats B by at least the margin"). Supported when low > margin, contradicted when
  high <= margin.
- ``equivalent``: |A - B| <= margin ("within 3 points"). Supported when the interval lies inside [-margin, margin],
  contradicted when it lies entirely outside.
- ``ratio_at_least``: A / B >= margin ("10x faster"). Supported when low >= margin, contradicted when high < margin.

The interval is a t interval (``videonas.experiments.stats``: paired t, or Welch). A decisive verdict also needs the
exact permutation test at the deciding boundary to reach the interval's one-sided level ((1 - confidence) / 2); the
smallest p that test can reach is stored (``min_p_value``: 1/2^n paired, so at 95% paired comparisons need at least
6 seeds, unpaired ones 4 values per arm). Both p-values are stored for every verdict with an interval: for a decisive
verdict those of its deciding test, for an inconclusive one those of the side the interval lies on, or of the claim
itself when it straddles the boundary (A - B beyond the margin; for an equivalence, the larger of its two one-sided
tests), so that a report can adjust them for multiplicity (``Verdict.decision_p_value``).

Every verdict stores the per-seed values of both arms (``values_a``/``values_b``, keyed by seed; an exact verdict
its two figures) and a power statement (``detectable``): the smallest true effect beyond the claim's boundary that
this n and spread detect with ``power`` (80%), so that an inconclusive verdict says how large an effect it rules out.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

from videonas import jsonio
from videonas.experiments import stats

CLAIM_KINDS = ("greater", "equivalent", "ratio_at_least")
VERDICTS = ("supported", "contradicted", "inconclusive")
POWER = 0.8
PAPERS = ("TVN", "EvaNet", "AssembleNet")


@dataclasses.dataclass(frozen=True)
class Claim:
    """What the paper says, as a testable statement about arm A against arm B; A is the arm the paper favours
    (evolution, guided mutation, the ensemble, the baseline's runtime over the TVN's for "TVN is k times faster").
    Values are in the unit the caller passes (accuracy differences in points: multiply top-1 by 100). ``margin`` is
    the minimum effect of interest, in that unit (a factor for ratios).

    ``paper_figure`` is the paper's own number for the same quantity (in ``paper_unit``), or ``None`` when no
    figure in the paper measures the same thing (the usual case: our data and scale differ).
    """

    text: str
    kind: str = "greater"
    margin: float = 0.0
    paper_figure: float | None = None
    paper_unit: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text:
            raise ValueError(f"claim.text must be a non-empty string, got {self.text!r}")
        if self.kind not in CLAIM_KINDS:
            raise ValueError(f"claim.kind must be one of {list(CLAIM_KINDS)}, got {self.kind!r}")
        if not _finite(self.margin) or (self.kind == "equivalent" and self.margin < 0):
            raise ValueError(f"claim.margin must be a finite number (>= 0 for 'equivalent'), got {self.margin!r}")
        if self.kind == "ratio_at_least" and self.margin <= 0:
            raise ValueError(f"claim.margin of a 'ratio_at_least' claim must be positive, got {self.margin!r}")
        if self.paper_figure is not None and not _finite(self.paper_figure):
            raise ValueError(f"claim.paper_figure must be a finite number or None, got {self.paper_figure!r}")


@dataclasses.dataclass(frozen=True)
class Verdict:
    """One paper question's answer, as written into ``results.json`` (``Results.verdicts``) and shown in the index.

    ``estimate``/``low``/``high`` are in ``unit`` (``None`` when undefined); ``noise_floor`` is the spread (standard
    deviation) of one configuration retrained over seeds, in ``unit``, when it was measured. ``p_value`` (exact
    permutation) and ``t_p_value`` are those of ``test``; ``min_p_value`` the smallest p the exact test could reach;
    ``ties`` the paired differences equal to the tested boundary; ``detectable`` the power statement (a difference in
    ``unit``, or for ratios the factor beyond the boundary; for equivalence the narrowest confirmable half-band).

    ``values_a``/``values_b`` (keyword-only, no default: a verdict cannot be built without them) are the per-seed
    values of both arms keyed by seed, ``None`` for a failed seed; ``None`` as a whole only for a results file
    written before verdicts carried them (``from_dict`` reads those so).
    """

    question: str
    claim: str
    kind: str
    margin: float
    estimate: float | None
    low: float | None
    high: float | None
    unit: str
    n: int
    verdict: str
    reason: str
    paper_figure: float | None = None
    paper_unit: str = ""
    confidence: float = 0.95
    dropped: int = 0
    p_value: float | None = None
    noise_floor: float | None = None
    method: str = "bootstrap"
    paper: str = ""
    test: str = ""
    t_p_value: float | None = None
    min_p_value: float | None = None
    ties: int = 0
    detectable: float | None = None
    power: float = POWER
    counted: str = "seeds"  # what ``n`` counts: seeds, or the timed runs of a latency ratio
    values_a: Mapping[str, float | None] | None = dataclasses.field(kw_only=True)
    values_b: Mapping[str, float | None] | None = dataclasses.field(kw_only=True)

    def __post_init__(self) -> None:
        for name in ("question", "claim"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"verdict.{name} must be a non-empty string, got {getattr(self, name)!r}")
        if self.kind not in CLAIM_KINDS:
            raise ValueError(f"verdict.kind must be one of {list(CLAIM_KINDS)}, got {self.kind!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict.verdict must be one of {list(VERDICTS)}, got {self.verdict!r}")
        if self.paper and self.paper not in PAPERS:
            raise ValueError(f"verdict.paper must be one of {list(PAPERS)} or '', got {self.paper!r}")
        for name in ("n", "dropped", "ties"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"verdict.{name} must be a non-negative integer, got {value!r}")
        if not _finite(self.margin):
            raise ValueError(f"verdict.margin must be a finite number, got {self.margin!r}")
        for name in ("estimate", "low", "high", "paper_figure", "p_value", "noise_floor", "t_p_value", "min_p_value",
                     "detectable"):
            value = getattr(self, name)
            if value is not None and not _finite(value):
                raise ValueError(f"verdict.{name} must be a finite number or None, got {value!r}")
        if (self.low is None) != (self.high is None) or (self.low is not None and self.low > self.high):
            raise ValueError(f"verdict interval must be low <= high or both None, got {self.low!r}, {self.high!r}")
        if self.verdict != "inconclusive" and self.low is None:
            raise ValueError(f"verdict.verdict {self.verdict!r} needs an interval, got none")
        for name in ("values_a", "values_b"):
            object.__setattr__(self, name, _per_seed(getattr(self, name), name))

    @property
    def can_decide(self) -> bool:
        """Whether the exact test could reach the interval's one-sided level at all: with n paired seeds its smallest
        attainable p is 1/2^n, so 5 or fewer can never be decisive, whatever the effect."""
        return self.min_p_value is None or self.min_p_value < (1 - self.confidence) / 2

    @property
    def decision_p_value(self) -> float | None:
        """The p-value a multiplicity adjustment uses: the larger of the exact and the t test's (a decisive verdict
        needs both); ``None`` for exact figures, which have no noise."""
        if self.method == "exact":
            return None
        tested = [p for p in (self.p_value, self.t_p_value) if p is not None]
        return max(tested) if tested else None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Verdict":
        """A verdict read back from JSON; one written before per-seed values were stored reads with them ``None``."""
        if isinstance(data, Mapping):
            data = {"values_a": None, "values_b": None, **data}
        return jsonio.from_object(cls, data, name="verdict")


def judge(claim: Claim, estimate: stats.Estimate, *, question: str, unit: str = "",
          noise_floor: float | None = None, paper: str = "", power: float = POWER) -> Verdict:
    """The verdict of ``estimate`` on ``claim`` (see the module docstring for the rule)."""
    expected = "ratio" if claim.kind == "ratio_at_least" else "difference"
    if estimate.kind != expected:
        raise ValueError(f"a {claim.kind!r} claim needs a {expected!r} estimate, got {estimate.kind!r}")
    verdict, reason, tests = _decide(claim, estimate)
    p_values = [estimate.p_value(boundary=boundary, alternative=side) for boundary, side in tests]
    t_p_values = [estimate.t_p_value(boundary=boundary, alternative=side) for boundary, side in tests]
    minimum = [estimate.min_p_value(boundary) for boundary, _ in tests]
    return Verdict(question=question, claim=claim.text, kind=claim.kind, margin=float(claim.margin),
                   estimate=estimate.value, low=estimate.low, high=estimate.high, unit=unit, n=estimate.n,
                   verdict=verdict, reason=reason, paper_figure=claim.paper_figure, paper_unit=claim.paper_unit,
                   confidence=estimate.confidence, dropped=estimate.dropped, p_value=_largest(p_values),
                   noise_floor=noise_floor, method=estimate.method, paper=paper,
                   test=_test_text(tests, estimate.kind, unit), t_p_value=_largest(t_p_values),
                   min_p_value=_largest(minimum), ties=max([estimate.ties(b) for b, _ in tests], default=0),
                   detectable=estimate.detectable(power=power, equivalence=claim.kind == "equivalent"), power=power,
                   values_a=dict(estimate.per_seed_a), values_b=dict(estimate.per_seed_b))


def compare(*, question: str, claim: Claim, a: stats.Values, b: stats.Values, paired: bool = True, unit: str = "",
            noise_floor: float | None = None, confidence: float = 0.95, seed: int = 0, paper: str = "") -> Verdict:
    """Estimate arm A against arm B over seeds and judge ``claim`` on it: a notebook's one call per question."""
    kind = "ratio" if claim.kind == "ratio_at_least" else "difference"
    if paired:
        estimate = stats.paired(a, b, kind=kind, confidence=confidence, seed=seed)
    else:
        estimate = stats.unpaired(a, b, kind=kind, confidence=confidence, seed=seed)
    return judge(claim, estimate, question=question, unit=unit, noise_floor=noise_floor, paper=paper)


def _decide(claim: Claim, estimate: stats.Estimate) -> tuple[str, str, list[tuple[float, str]]]:
    """The verdict, its reason and the tests whose p-values it stores (``(boundary, alternative)``)."""
    margin = claim.margin
    claimed = [(-margin, "greater"), (margin, "less")] if claim.kind == "equivalent" else [(margin, "greater")]
    if not estimate.defined:
        return "inconclusive", estimate.reason or "no interval", claimed
    if estimate.method == "exact":
        outcome = _interval_outcome(claim, estimate)
        return (outcome[0], "exact figures", []) if outcome else ("inconclusive", "exact figures on the boundary", [])
    outcome = _interval_outcome(claim, estimate)
    if outcome is None:
        return "inconclusive", "the interval includes the claim's boundary", claimed
    verdict, tests = outcome
    p_value = _largest([estimate.p_value(boundary=b, alternative=side) for b, side in tests])
    if p_value < estimate.level:
        return verdict, "", tests
    minimum = _largest([estimate.min_p_value(b) for b, _ in tests])
    seeds = f"{estimate.n} seeds" if estimate.paired else f"{len(estimate.values_a)} and {len(estimate.values_b)} seeds"
    ties = max(estimate.ties(b) for b, _ in tests)
    tied = f" ({ties} tied with the boundary, which carry no sign)" if ties else ""
    return ("inconclusive", f"the interval lies on one side of the claim's boundary, but with {seeds}{tied} the exact "
            f"permutation test cannot (p = {p_value:.2g}, smallest attainable {minimum:.2g}, needs below "
            f"{estimate.level:.2g})", tests)


def _interval_outcome(claim: Claim, estimate: stats.Estimate) -> tuple[str, list[tuple[float, str]]] | None:
    """What the interval alone says, with the exact tests that must agree; ``None`` when it straddles."""
    low, high, margin = estimate.low, estimate.high, claim.margin
    if claim.kind == "equivalent":
        if -margin <= low and high <= margin:
            return "supported", [(-margin, "greater"), (margin, "less")]
        if low > margin:
            return "contradicted", [(margin, "greater")]
        return ("contradicted", [(-margin, "less")]) if high < -margin else None
    supported = low > margin if claim.kind == "greater" else low >= margin
    contradicted = high <= margin if claim.kind == "greater" else high < margin
    if supported:
        return "supported", [(margin, "greater")]
    return ("contradicted", [(margin, "less")]) if contradicted else None


def _test_text(tests: Sequence[tuple[float, str]], kind: str, unit: str) -> str:
    """The tested hypotheses in words: "A - B > 1 points", "A / B < 10x"."""
    quantity = "A / B" if kind == "ratio" else "A - B"
    unit = unit if unit in ("x", "%") else f" {unit}" if unit else ""
    return " and ".join(f"{quantity} {'>' if side == 'greater' else '<'} {boundary:g}{unit}"
                        for boundary, side in tests)


def _largest(values: Sequence[float | None]) -> float | None:
    finite = [v for v in values if v is not None]
    return max(finite) if finite else None


def _per_seed(values: Any, name: str) -> dict[str, float | None] | None:
    if values is None:
        return None
    if not isinstance(values, Mapping):
        raise ValueError(f"verdict.{name} must be a mapping of seed to value or None, got {type(values).__name__}")
    for key, value in values.items():
        if not isinstance(key, str) or (value is not None and not _finite(value)):
            raise ValueError(f"verdict.{name} must map seeds (text) to finite numbers or None, got {key!r}: {value!r}")
    return dict(values)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

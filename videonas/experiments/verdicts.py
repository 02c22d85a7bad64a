"""Verdicts: does our estimate, with its interval, support the paper's claim, contradict it, or not tell?

The verdict reads the interval only, never the point estimate: a claim is *supported* when every value in the
interval satisfies it, *contradicted* when none does, and *inconclusive* otherwise, or when there is no interval
(fewer than two seeds). Three kinds of claim:

- ``greater``: A - B > margin (margin 0: "A beats B"). Supported when low > margin, contradicted when high <= margin.
- ``equivalent``: |A - B| <= margin ("within 3 points"). Supported when the interval lies inside [-margin, margin],
  contradicted when it lies entirely outside.
- ``ratio_at_least``: A / B >= margin ("10x faster"). Supported when low >= margin, contradicted when high < margin.

A bootstrap interval over a handful of seeds can exclude a boundary that an exact test cannot: with 3 seeds every
difference of the same sign gives a bootstrap interval that excludes 0, while the best exact sign-flip p-value is
1/8. So a decisive verdict also needs the exact permutation test at that boundary to reach the interval's level
(one-sided p below (1 - confidence) / 2); when it does not, the verdict is inconclusive and says how few seeds there
were. At 95%, paired comparisons therefore need at least 6 seeds (1/2^6 < 0.025) to decide anything, and
unpaired ones at least 4 values per arm (1/70).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

from videonas import jsonio
from videonas.experiments import stats

CLAIM_KINDS = ("greater", "equivalent", "ratio_at_least")
VERDICTS = ("supported", "contradicted", "inconclusive")


@dataclasses.dataclass(frozen=True)
class Claim:
    """What the paper says, as a testable statement about arm A against arm B; A is the arm the paper favours
    (evolution, guided mutation, the ensemble, the baseline's runtime over the TVN's for "TVN is k times faster").
    Values are in the unit the caller passes (accuracy differences in points: multiply top-1 by 100).

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
    deviation) of one configuration retrained over seeds, in ``unit``, when it was measured.
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

    def __post_init__(self) -> None:
        for name in ("question", "claim"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"verdict.{name} must be a non-empty string, got {getattr(self, name)!r}")
        if self.kind not in CLAIM_KINDS:
            raise ValueError(f"verdict.kind must be one of {list(CLAIM_KINDS)}, got {self.kind!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict.verdict must be one of {list(VERDICTS)}, got {self.verdict!r}")
        if not isinstance(self.n, int) or isinstance(self.n, bool) or self.n < 0:
            raise ValueError(f"verdict.n must be a non-negative integer, got {self.n!r}")
        if not _finite(self.margin):
            raise ValueError(f"verdict.margin must be a finite number, got {self.margin!r}")
        for name in ("estimate", "low", "high", "paper_figure", "p_value", "noise_floor"):
            value = getattr(self, name)
            if value is not None and not _finite(value):
                raise ValueError(f"verdict.{name} must be a finite number or None, got {value!r}")
        if (self.low is None) != (self.high is None) or (self.low is not None and self.low > self.high):
            raise ValueError(f"verdict interval must be low <= high or both None, got {self.low!r}, {self.high!r}")
        if self.verdict != "inconclusive" and self.low is None:
            raise ValueError(f"verdict.verdict {self.verdict!r} needs an interval, got none")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Verdict":
        return jsonio.from_object(cls, data, name="verdict")


def judge(claim: Claim, estimate: stats.Estimate, *, question: str, unit: str = "",
          noise_floor: float | None = None) -> Verdict:
    """The verdict of ``estimate`` on ``claim`` (see the module docstring for the rule)."""
    expected = "ratio" if claim.kind == "ratio_at_least" else "difference"
    if estimate.kind != expected:
        raise ValueError(f"a {claim.kind!r} claim needs a {expected!r} estimate, got {estimate.kind!r}")
    verdict, reason, p_value = _decide(claim, estimate)
    return Verdict(question=question, claim=claim.text, kind=claim.kind, margin=float(claim.margin),
                   estimate=estimate.value, low=estimate.low, high=estimate.high, unit=unit, n=estimate.n,
                   verdict=verdict, reason=reason, paper_figure=claim.paper_figure, paper_unit=claim.paper_unit,
                   confidence=estimate.confidence, dropped=estimate.dropped, p_value=p_value,
                   noise_floor=noise_floor, method=estimate.method)


def compare(*, question: str, claim: Claim, a: Sequence[float | None] | Mapping[Any, float | None],
            b: Sequence[float | None] | Mapping[Any, float | None], paired: bool = True, unit: str = "",
            noise_floor: float | None = None, confidence: float = 0.95, seed: int = 0) -> Verdict:
    """Estimate arm A against arm B over seeds and judge ``claim`` on it: a notebook's one call per question."""
    kind = "ratio" if claim.kind == "ratio_at_least" else "difference"
    if paired:
        estimate = stats.paired(a, b, kind=kind, confidence=confidence, seed=seed)
    else:
        estimate = stats.unpaired(a, b, kind=kind, confidence=confidence, seed=seed)
    return judge(claim, estimate, question=question, unit=unit, noise_floor=noise_floor)


def _decide(claim: Claim, estimate: stats.Estimate) -> tuple[str, str, float | None]:
    if not estimate.defined:
        return "inconclusive", estimate.reason or "no interval", None
    low, high, margin = estimate.low, estimate.high, claim.margin
    # (verdict, boundary, alternative): which end of the interval decides, and the exact test that must agree.
    if claim.kind == "greater":
        options = [("supported", margin, "greater")] if low > margin else []
        options += [("contradicted", margin, "less")] if high <= margin else []
    elif claim.kind == "equivalent":
        if -margin <= low and high <= margin:
            return _confirmed("supported", estimate, [(-margin, "greater"), (margin, "less")])
        options = [("contradicted", margin, "greater")] if low > margin else []
        options += [("contradicted", -margin, "less")] if high < -margin else []
    else:
        options = [("supported", margin, "greater")] if low >= margin else []
        options += [("contradicted", margin, "less")] if high < margin else []
    if not options:
        return "inconclusive", "the interval includes the claim's boundary", None
    verdict, boundary, alternative = options[0]
    return _confirmed(verdict, estimate, [(boundary, alternative)])


def _confirmed(verdict: str, estimate: stats.Estimate,
               tests: list[tuple[float, str]]) -> tuple[str, str, float | None]:
    """``verdict`` when every exact one-sided test at the interval's level agrees; else inconclusive."""
    if estimate.method == "exact":
        return verdict, "exact figures", None
    level = (1 - estimate.confidence) / 2
    p_values = [estimate.p_value(boundary=boundary, alternative=alternative) for boundary, alternative in tests]
    p_value = max(p for p in p_values if p is not None)
    if p_value < level:
        return verdict, "", p_value
    seeds = f"{estimate.n} seeds" if estimate.paired else f"{len(estimate.values_a)} and {len(estimate.values_b)} seeds"
    return ("inconclusive", f"the interval lies on one side of the claim's boundary, but with {seeds} the exact permutation test "
            f"cannot (p = {p_value:.2g}, needs below {level:.2g})", p_value)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

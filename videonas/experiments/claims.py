"""The papers' questions as testable claims, in one place: their paper, wording, direction, minimum effect of interest
(the claim's margin) and published figure, so that every notebook states them alike and the index lists them in the
same words.

Arm A is always the arm the paper favours. Accuracy differences are in points (top-1 or mAP times 100). A paper
figure is given only where the paper reports the same quantity; elsewhere it is ``None``.

Every question states its margin, and ``margin_basis`` says where it comes from:

- the papers' own words where they give a size: "similar accuracy" and "competitive" read as within / at most 3
  points below, "a few frames suffice" and "hardly more accurate" as 5 points, "much faster" as 10x (the paper's
  2000 ms / 37 ms, about 54x, names no prior model and was timed on another CPU, so it stands beside none of our
  ratios, which set named networks at their published inputs side by side: ``published.speed_verdicts``);
- elsewhere our minimum effect of interest: ``BEATS_POINTS`` (1 point) for "A beats B" accuracy claims, because a
  smaller gain is within about two clips of the 260-clip test split and below what the papers report as an
  improvement; half a point for the ensemble, half the paper's smallest reported ensemble gain (+0.8); 10% less
  compute (``CHEAPER``) for "costs less". With hundreds of seeds a gain of 0.1 point would clear 0: the margin keeps
  it from being called "supported".

To declare a question, add one ``_question(...)`` to ``QUESTIONS`` naming its ``paper`` (one of
``videonas.experiments.verdicts.PAPERS``: the index adjusts p-values within each paper's questions), its ``margin``
(keyword, no default) and its ``basis``; ``kind`` ("greater", "equivalent", "ratio_at_least") and ``unit``
("points" or "x") as the claim needs.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, Mapping, Sequence

from videonas.experiments import stats
from videonas.experiments.verdicts import PAPERS, Claim, Verdict, compare, judge

BEATS_POINTS = 1.0
CHEAPER = 1.1
_BEATS_BASIS = "our minimum effect of interest for an accuracy gain: 1 point"


@dataclasses.dataclass(frozen=True)
class Question:
    """One row of the answers table: the paper it comes from, what is asked, the paper's claim (whose margin is the
    minimum effect of interest, with ``margin_basis`` saying why), the unit of our estimate, and the two arms."""

    key: str
    question: str
    claim: Claim
    unit: str
    arms: tuple[str, str]
    paper: str
    margin_basis: str

    def __post_init__(self) -> None:
        if self.paper not in PAPERS:
            raise ValueError(f"question.paper of {self.key!r} must be one of {list(PAPERS)}, got {self.paper!r}")
        if not isinstance(self.margin_basis, str) or not self.margin_basis:
            raise ValueError(f"question.margin_basis of {self.key!r} must say where its margin comes from, got "
                             f"{self.margin_basis!r}")
        if self.unit not in ("points", "x"):
            raise ValueError(f"question.unit of {self.key!r} must be 'points' or 'x', got {self.unit!r}")


def _question(key: str, paper: str, question: str, claim: str, arms: tuple[str, str], *, margin: float, basis: str,
              unit: str = "points", **claim_options: Any) -> Question:
    return Question(key=key, question=question, claim=Claim(text=claim, margin=margin, **claim_options), unit=unit,
                    arms=arms, paper=paper, margin_basis=basis)


QUESTIONS = {question.key: question for question in (
    _question("tvn_evolution_vs_random", "TVN", "Does TVN evolution find better networks than random search?",
              "evolution finds good TVNs more efficiently than random search",
              ("evolution: best top-1 per seed", "random search: best top-1 per seed"), margin=BEATS_POINTS,
              basis=_BEATS_BASIS),
    _question("evanet_evolution_vs_random", "EvaNet", "Does EvaNet evolution find better modules than random search?",
              "evolution finds better networks than random search (the TVN paper's claim; EvaNet compares its "
              "evolved modules with hand-made ones, not with random search)",
              ("evolution: best top-1 per seed", "random search: best top-1 per seed"), margin=BEATS_POINTS,
              basis=_BEATS_BASIS),
    _question("evanet_diverse_similar", "EvaNet", "Does one EvaNet search yield diverse nets of similar accuracy?",
              "one search yields several diverse architectures of similar accuracy: within 3 points",
              ("best net per seed", "best net at least min_distance components from it"), kind="equivalent",
              margin=3.0, basis="our reading of 'similar accuracy': within 3 points"),
    # The operator where it acts: both arms of a seed share their starting graphs, and a seed whose best overall is
    # one of them cannot tell the arms apart (the 2026-12-06 default run: 4 of 6 seeds), so the question compares
    # what each operator made, the best mutated candidate per search.
    _question("assemblenet_guided_vs_unguided", "AssembleNet",
              "Does connection-guided mutation make better networks than unguided mutation from the same starting "
              "graphs?",
              "mutations guided by the learned connection weights find better multi-stream networks",
              ("guided: best mutated candidate per seed", "unguided: best mutated candidate per seed"),
              margin=BEATS_POINTS, basis=_BEATS_BASIS),
    _question("assemblenet_vs_two_stream", "AssembleNet",
              "Does the evolved four-stream network beat two-stream late fusion of the same FLOPs (within 10%)?",
              "an evolved four-stream AssembleNet beats a hand-made two-stream network",
              ("best evolved four-stream network per seed", "two-stream late fusion per seed"), margin=BEATS_POINTS,
              basis=_BEATS_BASIS),
    _question("evanet_ensemble_vs_single", "EvaNet", "Does an ensemble of diverse evolved nets beat its best member?",
              "an ensemble of diverse evolved nets beats the best single net (the paper's +0.8 to +1.3 points are "
              "four RGB+flow models on Kinetics, another quantity: no paper figure stands beside ours)",
              ("ensemble", "best member"), margin=0.5,
              basis="half the paper's smallest ensemble gain (+0.8 points)"),
    _question("evanet_ensemble_cost", "EvaNet",
              "Does the ensemble cost less compute than a (2+1)D ResNet of the same width?",
              "even the ensemble costs less compute than (2+1)D ResNet",
              ("(2+1)D ResNet FLOPs", "ensemble FLOPs"), unit="x", kind="ratio_at_least", margin=CHEAPER,
              basis="our minimum effect of interest for 'costs less': 10% fewer FLOPs"),
    _question("evanet_ensemble_vs_r2plus1d_width", "EvaNet",
              "Is the ensemble more accurate than a (2+1)D ResNet of the same width?",
              "the ensemble is more accurate than (2+1)D ResNet", ("ensemble", "R(2+1)D-18 at the members' width"),
              margin=BEATS_POINTS, basis=_BEATS_BASIS),
    _question("evanet_ensemble_vs_r2plus1d_flops", "EvaNet",
              "Is the ensemble more accurate than a (2+1)D ResNet of the same FLOPs?",
              "the ensemble is more accurate than (2+1)D ResNet at no more compute",
              ("ensemble", "R(2+1)D-18 at the ensemble's FLOPs"), margin=BEATS_POINTS, basis=_BEATS_BASIS),
    _question("tvn_scaling_width_vs_depth", "TVN", "Does scaling width beat scaling depth at equal FLOPs (within 10%)?",
              "width helps more than depth, as EfficientNet found", ("width-scaled", "depth-scaled"),
              margin=BEATS_POINTS, basis=_BEATS_BASIS),
    _question("tvn_speed", "TVN", "Is a TVN much faster than a prior video network on the same CPU?",
              "TVNs run in 37-100 ms on a CPU where prior models need 2000+ ms: at least 10x faster",
              ("large network latency", "TVN latency"), unit="x", kind="ratio_at_least", margin=10.0,
              basis="our reading of 'much faster': at least 10x"),
    # Non-inferiority, not equivalence: "competitive" is a floor, so a TVN far more accurate than the baseline
    # supports the claim rather than breaking a "within 3 points" band.
    _question("tvn_accuracy_vs_big", "TVN", "Is a TVN at least about as accurate as a large video network?",
              "TVNs reach competitive accuracy: at most 3 points below", ("TVN", "large network"), kind="greater",
              margin=-3.0, basis="our reading of 'competitive accuracy': at most 3 points below"),
    # The tabulated benchmark (search_strategies): hundreds of simulated searches per arm at one training budget.
    # Filed under the TVN paper, whose search claim they test (the index's Holm family); each claim names its source.
    _question("table_evolution_vs_random", "TVN",
              "On the tabulated benchmark, does the TVN schedule (mutate the best so far) find better TVNs than "
              "random search at the same training budget?",
              "evolution finds good TVNs more efficiently than random search (TVN paper, arXiv 1910.06961)",
              ("TVN schedule: winner's test top-1 per seed", "random search: winner's test top-1 per seed"),
              margin=BEATS_POINTS, basis=_BEATS_BASIS),
    _question("table_regularized_vs_random", "TVN",
              "On the tabulated benchmark, does regularized evolution find better TVNs than random search at the "
              "same training budget?",
              "regularized (aging) evolution finds better architectures than random search at equal compute (Real "
              "et al. 2019, arXiv 1802.01548; on a tabulated benchmark: NAS-Bench-101, arXiv 1902.09635)",
              ("regularized evolution: winner's test top-1 per seed", "random search: winner's test top-1 per seed"),
              margin=BEATS_POINTS, basis=_BEATS_BASIS),
    _question("table_rungs_vs_none", "TVN",
              "On the tabulated benchmark, do rungs (successive halving) find better TVNs than training every "
              "candidate fully, at the same training budget?",
              "training many candidates briefly and only the best to the end finds better configurations for the "
              "same budget (successive halving and Hyperband, Li et al. 2018, arXiv 1603.06560)",
              ("with rungs: winner's test top-1 per seed", "without rungs: winner's test top-1 per seed"),
              margin=BEATS_POINTS, basis=_BEATS_BASIS),
    _question("table_frames_by_kind", "TVN",
              "On the tabulated benchmark, does the TVN search pick more frames when it selects on the motion classes "
              "than on the scene classes?",
              "the search picks few frames on scene-based data (Moments in Time: 2-4) and more on motion-based data "
              "(Charades: 8)", ("frames of the motion-selected winner", "frames of the scene-selected winner"),
              unit="x", kind="ratio_at_least", margin=1.5,
              basis="our minimum effect of interest: 1.5x the frames (the table's frame counts double per step)"),
    # Non-superiority, as tvn_frames_forced16: forcing may not add more than 5 points over the free search.
    _question("table_forced_frames", "TVN",
              "On the tabulated benchmark, is forcing the TVN search to the most frames hardly more accurate than "
              "the free search?",
              "TVN-16 frames is slower and hardly more accurate than the free search (MiT): at most 5 points better",
              ("free search", "search forced to the most frames"), kind="greater", margin=-5.0,
              basis="our reading of 'hardly more accurate': at most 5 points"),
)}


def get(key: str) -> Question:
    if key not in QUESTIONS:
        raise ValueError(f"question must be one of {sorted(QUESTIONS)}, got {key!r}")
    return QUESTIONS[key]


def ask(key: str, *, a: stats.Values, b: stats.Values, paired: bool = True, noise_floor: float | None = None,
        seed: int = 0) -> Verdict:
    """The verdict on question ``key`` from per-seed values of its two arms (see ``Question.arms``), best given as
    ``{seed: value}`` so that the verdict stores them under their seeds."""
    question = get(key)
    return compare(question=question.question, claim=question.claim, a=a, b=b, paired=paired, unit=question.unit,
                   noise_floor=noise_floor, seed=seed, paper=question.paper)


def ask_scores(key: str, *, a: Mapping[Any, float | None], b: Mapping[Any, float | None],
               noise_floor: float | None = None) -> Verdict:
    """``ask`` for per-seed scores given as fractions (top-1, mAP): they become points where the question's unit is
    points, and so does the noise floor."""
    scale = 100.0 if get(key).unit == "points" else 1.0

    def scaled(values: Mapping[Any, float | None]) -> dict[Any, float | None]:
        return {seed: None if value is None else scale * value for seed, value in values.items()}

    return ask(key, a=scaled(a), b=scaled(b), noise_floor=None if noise_floor is None else scale * noise_floor)


def ask_exact(key: str, *, a: float | Sequence[float] | Mapping[Any, float],
              b: float | Sequence[float] | Mapping[Any, float]) -> Verdict:
    """The verdict on question ``key`` from two figures: deterministic ones (parameter counts, FLOPs), judged as
    exact, or repeated measurements (a list per arm, such as latencies timed several times in separate runs),
    compared unpaired (Welch, on logarithms for a ratio) so that the run-to-run spread gives the ratio an interval.
    A single measurement per arm is still judged as exact: pass repeats wherever the figure is noisy."""
    question = get(key)
    kind = "ratio" if question.claim.kind == "ratio_at_least" else "difference"
    if _is_figure(a) and _is_figure(b):
        estimate = stats.exact(float(a), float(b), kind=kind)
        return judge(question.claim, estimate, question=question.question, unit=question.unit,
                     paper=question.paper)
    if _is_figure(a) or _is_figure(b):
        raise ValueError(f"ask_exact needs a figure on both sides or repeats on both sides, got {a!r} and {b!r}")
    verdict = compare(question=question.question, claim=question.claim, a=_repeats(a), b=_repeats(b), paired=False,
                      unit=question.unit, paper=question.paper)
    return dataclasses.replace(verdict, counted="timed runs")


def _is_figure(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _repeats(values: Any) -> Any:
    return values if isinstance(values, Mapping) else list(values)

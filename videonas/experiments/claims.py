"""The papers' questions as testable claims, in one place: their wording, direction, margin and published figure,
so that every notebook states them alike and the index lists them in the same words.

Arm A is always the arm the paper favours. Accuracy differences are in points (top-1 or mAP times 100). A paper
figure is given only where the paper reports the same quantity; elsewhere it is ``None``. The margins of the
"similar accuracy" and "flat" claims (3 and 5 points) and of "much faster" (10x) are our reading of the papers'
words, not figures they give: change them here, once, if a better reading appears. The paper's 2000 ms / 37 ms (about
54x) compares models at their own inputs, not one input, so it stands beside none of our same-input ratios.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

from videonas.experiments import stats
from videonas.experiments.verdicts import Claim, Verdict, compare, judge


@dataclasses.dataclass(frozen=True)
class Question:
    """One row of the answers table: what is asked, the paper's claim, the unit of our estimate, and the two arms."""

    key: str
    question: str
    claim: Claim
    unit: str
    arms: tuple[str, str]


def _question(key: str, question: str, claim: str, arms: tuple[str, str], *, unit: str = "points",
              **claim_options: Any) -> Question:
    return Question(key=key, question=question, claim=Claim(text=claim, **claim_options), unit=unit, arms=arms)


QUESTIONS = {question.key: question for question in (
    _question("tvn_evolution_vs_random", "Does TVN evolution find better networks than random search?",
              "evolution finds good TVNs more efficiently than random search",
              ("evolution: best top-1 per seed", "random search: best top-1 per seed")),
    _question("evanet_evolution_vs_random", "Does EvaNet evolution find better modules than random search?",
              "evolution finds better networks than random search (the TVN paper's claim; EvaNet compares its "
              "evolved modules with hand-made ones, not with random search)",
              ("evolution: best top-1 per seed", "random search: best top-1 per seed")),
    _question("evanet_diverse_similar", "Does one EvaNet search yield diverse nets of similar accuracy?",
              "one search yields several diverse architectures of similar accuracy: within 3 points",
              ("best net per seed", "best net at least min_distance components from it"), kind="equivalent",
              margin=3.0),
    _question("assemblenet_guided_vs_unguided", "Does connection-guided mutation beat unguided mutation?",
              "mutations guided by the learned connection weights find better multi-stream networks",
              ("guided: best score per seed", "unguided: best score per seed")),
    _question("assemblenet_vs_two_stream",
              "Does the evolved four-stream network beat two-stream late fusion of the same FLOPs?",
              "an evolved four-stream AssembleNet beats a hand-made two-stream network",
              ("best evolved four-stream network per seed", "two-stream late fusion per seed")),
    _question("evanet_ensemble_vs_single", "Does an ensemble of diverse evolved nets beat its best member?",
              "the ensemble gains +0.8 to +1.3 points over the best single net", ("ensemble", "best member"),
              paper_figure=0.8, paper_unit="points"),
    _question("evanet_ensemble_cost", "Does the ensemble cost less compute than a (2+1)D ResNet of the same width?",
              "even the ensemble costs less compute than (2+1)D ResNet",
              ("(2+1)D ResNet FLOPs", "ensemble FLOPs"), unit="x", kind="ratio_at_least", margin=1.0),
    _question("evanet_ensemble_vs_r2plus1d_width",
              "Is the ensemble more accurate than a (2+1)D ResNet of the same width?",
              "the ensemble is more accurate than (2+1)D ResNet", ("ensemble", "R(2+1)D-18 at the members' width")),
    _question("evanet_ensemble_vs_r2plus1d_flops",
              "Is the ensemble more accurate than a (2+1)D ResNet of the same FLOPs?",
              "the ensemble is more accurate than (2+1)D ResNet at no more compute",
              ("ensemble", "R(2+1)D-18 at the ensemble's FLOPs")),
    _question("tvn_frames_scene_flat", "On scene classes, do more frames leave accuracy flat?",
              "on scene-based data (Moments in Time) a few frames suffice: within 5 points",
              ("many frames", "few frames"), kind="equivalent", margin=5.0),
    _question("tvn_frames_motion_rising", "On motion classes, do more frames raise accuracy?",
              "on motion-based data (Charades) the search picks more frames", ("many frames", "few frames")),
    # Non-superiority: "hardly more accurate" bounds what 16 frames can add; a forced search that does worse than the
    # free one supports the claim rather than breaking a two-sided band.
    _question("tvn_frames_forced16", "Does forcing a TVN search to 16 frames buy accuracy?",
              "TVN-16 frames is slower and hardly more accurate than the free search (MiT): at most 5 points better",
              ("free search", "search forced to 16 frames"), kind="greater", margin=-5.0),
    _question("tvn_scaling_width_vs_depth", "Does scaling width beat scaling depth at equal FLOPs?",
              "width helps more than depth, as EfficientNet found", ("width-scaled", "depth-scaled")),
    _question("tvn_scaling_compound", "Does compound scaling beat the best single-dimension scaling?",
              "scaling resolution, width and depth together (TVN EN) works best",
              ("compound-scaled", "best of resolution, width and depth per seed")),
    _question("tvn_speed", "Is a TVN much faster than a large video network on the same CPU?",
              "TVNs run in 37-100 ms on a CPU where prior models need 2000+ ms: at least 10x faster",
              ("large network latency", "TVN latency"), unit="x", kind="ratio_at_least", margin=10.0),
    # Non-inferiority, not equivalence: "competitive" is a floor, so a TVN far more accurate than the baseline
    # supports the claim rather than breaking a "within 3 points" band.
    _question("tvn_accuracy_vs_big", "Is a TVN at least about as accurate as a large video network?",
              "TVNs reach competitive accuracy: at most 3 points below", ("TVN", "large network"), kind="greater",
              margin=-3.0),
    # The tabulated benchmark (search_strategies): hundreds of simulated searches per arm at one training budget.
    _question("table_evolution_vs_random",
              "On the tabulated benchmark, does the TVN schedule (mutate the best so far) find better TVNs than "
              "random search at the same training budget?",
              "evolution finds good TVNs more efficiently than random search (TVN paper, arXiv 1910.06961)",
              ("TVN schedule: winner's test top-1 per seed", "random search: winner's test top-1 per seed")),
    _question("table_regularized_vs_random",
              "On the tabulated benchmark, does regularized evolution find better TVNs than random search at the "
              "same training budget?",
              "regularized (aging) evolution finds better architectures than random search at equal compute (Real "
              "et al. 2019, arXiv 1802.01548; on a tabulated benchmark: NAS-Bench-101, arXiv 1902.09635)",
              ("regularized evolution: winner's test top-1 per seed", "random search: winner's test top-1 per seed")),
    _question("table_rungs_vs_none",
              "On the tabulated benchmark, do rungs (successive halving) find better TVNs than training every "
              "candidate fully, at the same training budget?",
              "training many candidates briefly and only the best to the end finds better configurations for the "
              "same budget (successive halving and Hyperband, Li et al. 2018, arXiv 1603.06560)",
              ("with rungs: winner's test top-1 per seed", "without rungs: winner's test top-1 per seed")),
)}


def get(key: str) -> Question:
    if key not in QUESTIONS:
        raise ValueError(f"question must be one of {sorted(QUESTIONS)}, got {key!r}")
    return QUESTIONS[key]


def ask(key: str, *, a: Sequence[float | None] | Mapping[Any, float | None],
        b: Sequence[float | None] | Mapping[Any, float | None], paired: bool = True,
        noise_floor: float | None = None, seed: int = 0) -> Verdict:
    """The verdict on question ``key`` from per-seed values of its two arms (see ``Question.arms``)."""
    question = get(key)
    return compare(question=question.question, claim=question.claim, a=a, b=b, paired=paired, unit=question.unit,
                   noise_floor=noise_floor, seed=seed)


def ask_scores(key: str, *, a: Mapping[Any, float | None], b: Mapping[Any, float | None],
               noise_floor: float | None = None) -> Verdict:
    """``ask`` for per-seed scores given as fractions (top-1, mAP): they become points where the question's unit is
    points, and so does the noise floor."""
    scale = 100.0 if get(key).unit == "points" else 1.0

    def scaled(values: Mapping[Any, float | None]) -> dict[Any, float | None]:
        return {seed: None if value is None else scale * value for seed, value in values.items()}

    return ask(key, a=scaled(a), b=scaled(b), noise_floor=None if noise_floor is None else scale * noise_floor)


def ask_exact(key: str, *, a: float, b: float) -> Verdict:
    """The verdict on question ``key`` from two deterministic figures (parameter counts, FLOPs)."""
    question = get(key)
    kind = "ratio" if question.claim.kind == "ratio_at_least" else "difference"
    return judge(question.claim, stats.exact(a, b, kind=kind), question=question.question, unit=question.unit)

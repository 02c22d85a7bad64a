"""What the paper experiments compute, so that a notebook only runs, calls and shows: comparisons of two arms over
seeds with intervals (``stats``), verdicts on claims (``verdicts``), the papers' questions as claims (``claims``),
their wording (``prose``) and headline rows (``answers``), best-so-far curves (``curves``), search summaries
(``summaries``), searches run as arms over seeds, selected on val and reported on test (``arms``), fixed networks
trained over seeds (``variants``, ``retrain``), the shape of an experiment (``experiment``), and each paper
experiment, one module per notebook with its ``Config`` and ``run`` (``tvn_search``, ``tvn_frames_ablation``,
``tvn_scaling_ablation`` with ``tvn_common``, ``published``, ``evanet_search``, ``evanet_ensembles``,
``assemblenet_search``, ``search_strategies`` on the tabulated benchmark with ``table_searches`` and ``landscape``;
the search and arms fields they share are parsed by ``fields``). No Keras import at
module level."""

from __future__ import annotations

from videonas.experiments.arms import Arm, ArmRuns, first_round, first_rounds, held_out_score, run_arms
from videonas.experiments.claims import QUESTIONS, Question, ask, ask_exact
from videonas.experiments.curves import (
    best_so_far,
    final_best,
    fitness_by_epoch,
    fitness_sequence,
    mean_best,
    seed_band,
)
from videonas.experiments.answers import verdict_rows
from videonas.experiments.prose import conclusion, describe, format_quantity
from videonas.experiments.stats import Estimate, exact, paired, spread, unpaired
from videonas.experiments.summaries import (
    best_by_seed,
    best_trial,
    chance_note,
    dataset_value,
    output_folder,
    overall_best,
    search_summary,
    summary_rows,
)
from videonas.experiments.variants import Variant, VariantRuns, train_variants
from videonas.experiments.verdicts import Claim, Verdict, compare, judge

__all__ = [
    "Arm", "ArmRuns", "Claim", "Estimate", "QUESTIONS", "Question", "Variant", "VariantRuns", "Verdict", "ask",
    "ask_exact", "best_by_seed", "best_so_far", "best_trial", "chance_note", "compare", "conclusion", "dataset_value",
    "describe", "exact", "final_best", "first_round", "first_rounds", "fitness_by_epoch", "fitness_sequence",
    "format_quantity", "held_out_score", "judge", "mean_best", "output_folder", "overall_best", "paired", "run_arms",
    "search_summary", "seed_band", "spread", "summary_rows", "train_variants", "unpaired", "verdict_rows",
]

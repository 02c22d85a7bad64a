"""What a table build costs before it runs: wall seconds per training predicted from the genome alone, fitted to the
trainings the rank-fidelity bench (``videonas.bench.rungs``) timed at the table's own budget.

A training's wall time (build, first step, 732 steps, scoring; on its worker, two workers sharing two cores) is
modelled as ``a + b * MACs + c * MACs * activations``: a fixed part, the arithmetic, and a part that grows with the
arithmetic times the memory it sweeps (large, unstrided activation maps leave the cache and run several times slower
per MAC). MACs and activations per clip come from the TVN cost estimate (``videonas.families.Family.estimate_cost``),
so no model is built. The fit minimises the log of the ratio (every training weighs the same, whatever its size).

``COEFFICIENTS`` is the fit of 2026-12-06 to the 24 trainings the bench had finished (replicate 0, random genomes of
its space, 0.5 to 218 MMACs, 10 s to 4818 s): leave-one-out, the median training is predicted within 35% and the
sum of the 24 predictions is 0.83 of the measured sum, or 1.07 without the two trainings over 500 s (96 and 218
MMACs at 4 to 12 million activations, beyond every network of the default menu, whose predictions stay under
130 s). So a predicted build time is good to about a third either way; ``fit`` refits from a store as more
trainings finish (``python -m videonas table cost --fit reports/bench/rungs/search.sqlite``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Mapping, Sequence

import numpy

from videonas import families
from videonas.genome import tvn
from videonas.genome.tvn_genome import TVNGenome, network_key

NUM_CLASSES = 13  # the default embedded dataset's classes (the output layer is a negligible share of the cost)
# seconds = a + b * MMACs + c * MMACs * M activations (per clip); fitted 2026-12-06 (see the module docstring)
COEFFICIENTS = (48.00, 0.4817, 1.500)
LATENCY_S_PER_NETWORK = 10.0  # building, ONNX conversion and 23 batch-1 runs of one network (an allowance)


@dataclasses.dataclass(frozen=True)
class Fit:
    """A fitted cost model and its leave-one-out errors over the trainings it was fitted to."""

    coefficients: tuple[float, float, float]
    trainings: int
    median_error: float  # median |measured / predicted - 1|, leave-one-out
    sum_ratio: float  # sum of the leave-one-out predictions / sum of the measured seconds


def features(genome: TVNGenome) -> tuple[float, float]:
    """(MMACs, million activation elements) per clip of ``genome``, from the cost estimate (nothing is built)."""
    estimate = families.get("tvn").estimate_cost(genome, num_classes=NUM_CLASSES, batch_size=1)
    activations = estimate["train_memory_bytes"] / 4 - 4 * estimate["params"]
    return estimate["flops"] / 1e6, activations / 1e6


def predicted_seconds(genome: TVNGenome, coefficients: Sequence[float] = COEFFICIENTS) -> float:
    """Predicted wall seconds of one top-rung training of ``genome`` on one of two workers."""
    macs, activations = features(genome)
    return _model(coefficients, numpy.array([[macs, activations]]))[0]


def predicted_build(menu: bool | Mapping[str, Any] = True, *, replicates: int = 2, workers: int = 2,
                    coefficients: Sequence[float] = COEFFICIENTS) -> dict[str, Any]:
    """The predicted wall time of building the table of ``menu``: every distinct network trained ``replicates``
    times on ``workers`` workers, then the latency pass (one worker)."""
    space = tvn.TVNSpace(table=True if menu is True else dict(menu))
    networks: dict[str, TVNGenome] = {}
    for genome in space.genomes():
        networks.setdefault(network_key(genome), genome)
    seconds = [predicted_seconds(genome, coefficients) for genome in networks.values()]
    train_hours = replicates * sum(seconds) / workers / 3600
    latency_hours = len(networks) * LATENCY_S_PER_NETWORK / 3600
    return {"genomes": len(space), "networks": len(networks), "train_hours": train_hours,
            "latency_hours": latency_hours, "hours": train_hours + latency_hours,
            "slowest_s": max(seconds), "median_s": float(numpy.median(seconds))}


def fit(store: str | os.PathLike, experiment: str = "replicate-0") -> Fit:
    """Fit the cost model to the finished trainings of ``experiment`` in ``store`` (a TVN search whose trials
    record their start and finish, as the bench's do); copies of a duplicate network's result are not trainings."""
    from scipy import optimize  # SciPy only for fitting
    from videonas.search import loop  # the store and its experiment

    rows, seconds = [], []
    for trial in loop.Experiment(experiment, store).trials():
        copied = "reused_from" in (trial.metrics or {})  # a duplicate network's result, not a training
        if trial.status == "done" and not copied and trial.started is not None and trial.finished is not None:
            rows.append(features(TVNGenome.from_dict(json.loads(trial.genome))))
            seconds.append(trial.finished - trial.started)
    if len(rows) < 4:
        raise ValueError(f"experiment {experiment!r} in {str(store)!r} has {len(rows)} finished trainings; the cost "
                         f"model needs at least 4")
    features_array, seconds_array = numpy.array(rows), numpy.array(seconds)

    def solve(x: numpy.ndarray, y: numpy.ndarray) -> numpy.ndarray:
        residual = lambda c: numpy.log(numpy.maximum(_model(c, x), 1e-3) / y)  # noqa: E731
        return optimize.least_squares(residual, x0=[30.0, 1.0, 1.0], bounds=(0, numpy.inf)).x

    everything = numpy.arange(len(seconds_array))
    held_out = numpy.array([_model(solve(features_array[everything != i], seconds_array[everything != i]),
                                   features_array[i:i + 1])[0] for i in everything])
    return Fit(coefficients=tuple(float(c) for c in solve(features_array, seconds_array)), trainings=len(rows),
               median_error=float(numpy.median(numpy.abs(seconds_array / held_out - 1))),
               sum_ratio=float(held_out.sum() / seconds_array.sum()))


def _model(coefficients: Sequence[float], x: numpy.ndarray) -> numpy.ndarray:
    a, b, c = coefficients
    return a + b * x[:, 0] + c * x[:, 0] * x[:, 1]


def hours_text(prediction: Mapping[str, Any]) -> str:
    """One line of a prediction, for the command line and the README."""
    return (f"{prediction['genomes']} genomes, {prediction['networks']} distinct networks: predicted "
            f"{prediction['train_hours']:.1f} h of training + {prediction['latency_hours']:.1f} h of latency = "
            f"{prediction['hours']:.1f} h (median training {prediction['median_s']:.0f} s, slowest "
            f"{prediction['slowest_s']:.0f} s; good to about a third either way)")


__all__ = ["COEFFICIENTS", "Fit", "LATENCY_S_PER_NETWORK", "features", "fit", "hours_text", "predicted_build",
           "predicted_seconds"]

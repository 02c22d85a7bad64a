"""Multi-fidelity search inside the one loop: synchronous successive halving, one round at a time.

Every trained candidate of a round first trains ``rungs.epochs[0]`` epochs; the best ``keep`` of those that reached a
rung (at least one) continue from their checkpoints to the next rung's epochs, until the top rung. A candidate's
stored fitness is its fitness at the highest rung it reached, and its ``metrics["rungs"]`` keeps the fitness at
every rung. Promotions depend only on stored fitnesses, ranked in one fixed order (fitness, then trial index), so a
resumed round promotes exactly what an uninterrupted one would (a promotion killed half-way runs again from the
checkpoint it started from). Checkpoints are deleted once nothing can promote them or inherit from them.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from videonas.search.store import Trial
from videonas.task import Fidelity


STARTED = ("inherited_layers",)  # first-rung metrics that describe the candidate at every rung


def checkpoint_path(folder: Path, index: int, rung: int) -> str:
    """Where trial ``index``'s checkpoint after ``rung`` lives (a file or folder: the trial function decides)."""
    return str(folder / f"trial{index}-rung{rung}")


def history(trial: Trial) -> list[dict]:
    """The trial's evaluations so far: ``[{"rung", "epochs", "fitness"}, ...]`` (empty before its first)."""
    return list((trial.metrics or {}).get("rungs") or [])


def fitness_at(trial: Trial, rung: int) -> float | None:
    return next((entry["fitness"] for entry in history(trial) if entry["rung"] == rung), None)


def first_fidelity(epochs: Sequence[int], folder: Path, trial: Trial, parent: Trial | None,
                   inherit: bool) -> Fidelity:
    """Rung 0 of a new candidate: from scratch, or from its parent's latest checkpoint where ``inherit``."""
    inherited = None
    if inherit and parent is not None:
        path = (parent.metrics or {}).get("checkpoint")
        inherited = path if path and Path(path).exists() else None
    return Fidelity(epochs=epochs[0], save_to=checkpoint_path(folder, trial.index, 0), inherit_from=inherited)


def promotions(round_trials: Iterable[Trial], rung: int, keep: float) -> list[Trial]:
    """The trials of a round that rung ``rung`` trains: the best ``keep`` (at least one) of the trained candidates
    that reached rung ``rung - 1``, by their fitness there (ties: the earlier trial)."""
    # Reached: a fitness at the rung below, whatever happened after (a candidate that failed at a later rung still
    # took its place there, so a resumed round promotes what the uninterrupted one did).
    reached = [t for t in round_trials if _trained(t) and fitness_at(t, rung - 1) is not None]
    if not reached:
        return []
    count = max(1, math.ceil(len(reached) * keep))
    return sorted(reached, key=lambda t: (-fitness_at(t, rung - 1), t.index))[:count]


def climbed(round_trials: Sequence[Trial], epochs: Sequence[int], keep: float) -> bool:
    """Whether every promotion of the round has been evaluated (a killed driver may have stopped half-way)."""
    return all((t.rung or 0) >= rung for rung in range(1, len(epochs))
               for t in promotions(round_trials, rung, keep))


def next_fidelity(epochs: Sequence[int], folder: Path, trial: Trial, rung: int) -> Fidelity:
    """Rung ``rung`` of a promoted candidate: continue from its checkpoint after the rung below."""
    return Fidelity(epochs=epochs[rung], start_epochs=epochs[rung - 1],
                    resume_from=checkpoint_path(folder, trial.index, rung - 1),
                    save_to=checkpoint_path(folder, trial.index, rung))


def with_fidelity(options: Any, fidelity: Fidelity) -> Any:
    """A job's options for one evaluation: typed options (the default trial function's) get ``fidelity`` as a
    field, another trial function's keyword options as the ``fidelity`` keyword."""
    if isinstance(options, Mapping):
        return {**options, "fidelity": fidelity}
    return dataclasses.replace(options, fidelity=fidelity)


def with_history(metrics: dict, trial: Trial, rung: int, epochs: int, fitness: float | None) -> dict:
    """``metrics`` of an evaluation at ``rung``, with the trial's earlier evaluations kept beside it."""
    earlier = [entry for entry in history(trial) if entry["rung"] < rung]
    # How the candidate started (weights inherited from its parent) stays true at every later rung.
    started = {key: trial.metrics[key] for key in STARTED if key in (trial.metrics or {}) and key not in metrics}
    return {**metrics, **started, "rungs": [*earlier, {"rung": rung, "epochs": epochs, "fitness": fitness}]}


def spent_epochs(trials: Iterable[Trial]) -> int:
    """Training epochs the search has used: each trained candidate's epochs; rejected proposals and copies of a
    duplicate's result cost nothing."""
    return sum(t.epochs or 0 for t in trials if "reused_from" not in (t.metrics or {}))


def remove_checkpoints(folder: Path, keep: set[int]) -> None:
    """Delete every checkpoint in ``folder`` except the latest one of each trial in ``keep``."""
    if not folder.is_dir():
        return
    latest: dict[int, Path] = {}
    entries = []
    for path in folder.iterdir():
        index, _, rung = path.name.removeprefix("trial").partition("-rung")
        if not (index.isdigit() and rung.isdigit()):
            continue
        entries.append((int(index), int(rung), path))
    for index, rung, path in sorted(entries):
        latest[index] = path
    for index, rung, path in entries:
        if index in keep and latest[index] == path:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _trained(trial: Trial) -> bool:
    """Trained itself, not a copy of a duplicate's result."""
    return "reused_from" not in (trial.metrics or {})


__all__ = ["checkpoint_path", "climbed", "first_fidelity", "fitness_at", "history", "next_fidelity", "promotions",
           "remove_checkpoints", "spent_epochs", "with_fidelity", "with_history"]

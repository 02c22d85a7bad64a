"""The found TVN against hand-made networks (``tvn_search``), each side trained so that it could have won.

Every network (the found TVN, each baseline at the width the budget allows) follows ``videonas.experiments.protocol``:
its learning rate is chosen on validation from a grid once (one selection seed), then it trains over the comparison
seeds at that rate with one shared budget (with ``patience``: until validation stops improving), and
``protocol.check_steps`` refuses a comparison where a baseline's budget allowed fewer steps than the found TVN trained.
The networks are compared at two inputs: the found TVN's own, where P and R hold, and a common one where motion
matters, with the TVN rebuilt there; the baselines may exceed P, so the second is a Pareto picture of accuracy
against latency, not a constrained comparison. Each input carries the task's ceiling (``embedded.input_ceiling``),
and each network is timed several times, independently, so that a latency ratio can carry its run-to-run spread.
"""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any, Mapping, Sequence

from videonas.data import embedded, spec as data_spec
from videonas.experiments import comparison, protocol, retrain, tvn_common
from videonas.experiments.variants import Variant, VariantRuns
from videonas.genome import published
from videonas.genome.tvn import TVNGenome
from videonas.task import TrainTask

FOUND = "found TVN"
FOUND_INPUT = "found TVN's input"
COMMON_INPUT = "common input"


@dataclasses.dataclass(frozen=True)
class Input:
    """A clip input the networks are compared at, and the task's ceiling there (``None``: unknown, not the
    embedded data)."""

    name: str
    num_frames: int
    image_size: int
    frame_stride: int
    ceiling: Mapping[str, float | None] | None = None

    @property
    def label(self) -> str:
        return f"{self.name}, {self.num_frames}x{self.image_size}px"

    @property
    def prose(self) -> str:
        return f"{self.name} ({self.num_frames}x{self.image_size}px)"

    @property
    def clip(self) -> tuple[int, int, int]:
        return self.num_frames, self.image_size, self.frame_stride

    def task(self, task: Mapping[str, Any]) -> dict[str, Any]:
        """``task`` (plain form) at this input, for the baselines (a TVN brings its own input)."""
        return {**task, "num_frames": self.num_frames, "image_size": self.image_size, "frame_stride": self.frame_stride}

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ceiling": None if self.ceiling is None else dict(self.ceiling)}


def ceiling(task: Mapping[str, Any], num_frames: int) -> dict[str, float | None] | None:
    """``embedded.input_ceiling`` of ``task``'s classes at ``num_frames``; ``None`` where the task is not the
    single-label embedded data, whose generator alone says what is reachable."""
    typed = TrainTask.from_dict(task)
    if data_spec.DatasetSpec.from_value(typed.dataset).format != "embedded" or typed.multi_label:
        return None
    return embedded.input_ceiling(num_frames, typed.classes)


def inputs_of(found: TVNGenome, common: Mapping[str, int] | None, *, task: Mapping[str, Any]) -> list[Input]:
    """The found TVN's input, then ``common`` (``{"num_frames", "image_size", "frame_stride"}``) unless it is
    ``None`` or the same clip."""
    own = Input(FOUND_INPUT, found.num_frames, found.image_size, found.frame_stride,
                ceiling(task, found.num_frames))
    if common is None or (common["num_frames"], common["image_size"], common["frame_stride"]) == own.clip:
        return [own]
    return [own, Input(COMMON_INPUT, common["num_frames"], common["image_size"], common["frame_stride"],
                       ceiling(task, common["num_frames"]))]


def networks_at(found: TVNGenome, where: Input, *, baselines: Sequence[str], width: float
                ) -> tuple[dict[str, Any], str]:
    """``({label: genome or retrain.Baseline}, note)``: the found TVN rebuilt at ``where`` (left out, with a note
    saying why, where its strides do not fit that input), then each baseline at ``width``."""
    networks: dict[str, Any] = {}
    note = ""
    try:
        networks[FOUND] = dataclasses.replace(found, num_frames=where.num_frames, image_size=where.image_size,
                                              frame_stride=where.frame_stride)
    except ValueError as error:
        note = f"The found TVN cannot be built at the {where.prose}: {error}, so only the baselines train there."
    for name in baselines:
        baseline = retrain.Baseline(name, width)
        networks[baseline.label] = baseline
    return networks, note


def train_networks(networks: Mapping[str, Any], *, task: Mapping[str, Any], budget: Mapping[str, Any],
                   seeds: Sequence[int], rates: Sequence[float], selection_seed: int, executor: Any
                   ) -> tuple[dict[str, Any], dict[str, dict[int, Any]], dict[str, int]]:
    """Each network's learning rate chosen on validation from ``rates`` with declared seed ``selection_seed``
    (``protocol.choose_learning_rate``), then trained over ``seeds`` at that rate (``protocol.train_at``), all with
    ``task`` and ``budget``; then ``protocol.check_steps`` against the found TVN where it is among them, which raises
    ``ValueError`` when a baseline's budget allowed fewer steps than the found TVN trained. Returns the choices,
    ``{label: {seed: TrialResult}}`` and the fewest steps each baseline's budget allowed."""
    options = {"task": dict(task), "budget": dict(budget)}
    choices = comparison.rate_choices(networks, learning_rates=rates, executor=executor, options=options,
                                      seed=selection_seed)
    results = {label: protocol.train_at(model, choices[label], seeds=seeds, executor=executor, options=options)
               for label, model in networks.items()}
    allowed = protocol.check_steps(results, reference=FOUND) if FOUND in results else {}
    return choices, results, allowed


def speed_ratio(baseline: Mapping[str, Any], tvn: Mapping[str, Any]) -> float | None:
    """How many times slower ``baseline`` runs than ``tvn`` (two cost rows; geometric means of their independent
    timings where there are several), ``None`` where either was not timed. A description: at one input the
    baselines are not the paper's "prior models" at theirs, so no verdict rests on it (``published`` judges the
    paper's speed claim at published inputs)."""
    slow, fast = (row.get("latency_repeats_ms") or ([row["latency_ms"]] if row.get("latency_ms") else [])
                  for row in (baseline, tvn))
    if not slow or not fast:
        return None
    return statistics.geometric_mean(slow) / statistics.geometric_mean(fast)


@dataclasses.dataclass
class HandMade:
    """The networks trained at each of ``inputs`` (``runs``: ``VariantRuns`` keyed by label, input name and seed) and
    their costs (``latency``: one row per network and input, with ``"compared at"``; then the published presets,
    timed at the embedded input and not trained, ``"compared at"`` ``None``)."""

    runs: VariantRuns
    latency: list[dict[str, Any]]
    inputs: list[Input]
    baselines: list[str]
    presets: list[str]
    learning_rates: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # input -> label -> choice
    steps_allowed: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)  # check_steps per input
    width: float = 1.0
    notes: list[str] = dataclasses.field(default_factory=list)
    tvn_label: str = FOUND

    def cost(self, label: str, where: Input | None) -> dict[str, Any]:
        """The cost row of ``label`` compared at ``where`` (``None``: a preset)."""
        name = None if where is None else where.name
        for row in self.latency:
            if (row["variant"], row.get("compared at")) == (label, name):
                return row
        raise ValueError(f"no cost row for {label!r} at {name!r}")

    def networks(self, where: Input) -> dict[str, dict[int, Any]]:
        """The trainings at ``where`` by network: ``{label: {seed: TrialResult}}``."""
        trained: dict[str, dict[int, Any]] = {}
        for (label, name, seed), result in self.runs.results.items():
            if name == where.name:
                trained.setdefault(label, {})[seed] = result
        return trained

    def trained(self, label: str, where: Input) -> bool:
        return any(key[:2] == (label, where.name) for key in self.runs.results)

    def table(self) -> Any:
        """One row per network and input: cost, chosen learning rate, mean test accuracy and the input's ceiling;
        then the presets (timed, not trained)."""
        import pandas  # deferred: heavy start-up

        scores = {(row["variant"], row["task"]): row for row in self.runs.table()}
        places = {where.name: where for where in self.inputs}
        rows = []
        for row in self.latency:
            where = places.get(row.get("compared at"))
            repeats = row.get("latency_repeats_ms") or []
            trained = scores.get((row["variant"], None if where is None else where.name), {})
            chosen = {} if where is None else self.learning_rates.get(where.name, {}).get(row["variant"], {})
            rows.append({"compared at": "timed only" if where is None else where.label, "variant": row["variant"],
                         "input": row.get("input"), "params": row.get("params"), "MFLOPs": row.get("MFLOPs"),
                         "latency_ms": row.get("latency_ms"),
                         "latency range": max(repeats) - min(repeats) if repeats else None,
                         "learning rate": chosen.get("learning_rate"), "seeds": trained.get("seeds"),
                         "mean test": trained.get("mean test"), "spread": trained.get("spread"),
                         "ceiling": None if where is None or where.ceiling is None else where.ceiling["overall"]})
        return pandas.DataFrame(rows)

    def points(self, where: Input | None) -> list[dict[str, Any]]:
        """The timed networks at ``where`` (``None``: the presets) as ``{"label", "latency_ms", "accuracy",
        "group"}`` (accuracy: mean test over seeds; ``None`` for a preset)."""
        name = None if where is None else where.name
        scores = {(row["variant"], row["task"]): row["mean test"] for row in self.runs.table()}
        group = "TVN presets" if where is None else f"retrained at the {where.name}, mean test"
        return [{"label": row["variant"], "latency_ms": row["latency_ms"],
                 "accuracy": scores.get((row["variant"], name)), "group": group}
                for row in self.latency if row.get("compared at") == name and row.get("latency_ms") is not None]

    def references(self) -> list[dict[str, Any]]:
        """The networks at the found TVN's input and the presets, as labelled points of the search's
        accuracy-latency plot (``plots.pareto.plot_pareto``): the input its trials are at."""
        return [*self.points(self.inputs[0]), *self.points(None)]

    def verdicts(self) -> list[Any]:
        """Per input where the found TVN trained, per baseline: is the TVN about as accurate (test scores paired by
        seed)? Each question names the baseline and the input. Speed at one input is a description
        (``speed_notes``)."""
        verdicts = []
        for where in self.inputs:
            if not self.trained(self.tvn_label, where):
                continue
            for name in self.baselines:
                verdict = self.runs.verdict("tvn_accuracy_vs_big", a=(self.tvn_label, where.name), b=(name, where.name))
                verdicts.append(dataclasses.replace(verdict, question=f"{verdict.question[:-1]} ({name}, "
                                                                      f"{where.label})?"))
        return verdicts

    def speed_notes(self, *, runtime: str) -> list[str]:
        """Per input where the found TVN was timed: how many times slower each baseline ran there (``speed_ratio``),
        as description."""
        notes = []
        for where in self.inputs:
            try:
                tvn = self.cost(self.tvn_label, where)
            except ValueError:
                continue
            ratios = [(name, speed_ratio(self.cost(name, where), tvn)) for name in self.baselines]
            described = [f"{name} {ratio:.2f}x" for name, ratio in ratios if ratio is not None]
            if described and tvn.get("latency_ms") is not None:
                notes.append(f"At the {where.prose} the found TVN runs in {tvn['latency_ms']:.2f} ms on {runtime}; "
                             f"the baselines take, as multiples of that: {', '.join(described)} (a description: the "
                             f"paper's speed claim sets networks at their own inputs side by side, and "
                             f"published_architectures judges it there).")
        return notes

    def conclusion_notes(self, *, max_params: int | None = None) -> list[str]:
        """Sentences for the conclusion: the width the baselines trained at, the ceiling at each input, and why the
        common input is a Pareto picture."""
        notes = list(self.notes)
        if self.width != 1.0:
            notes.append(f"The baselines train at {self.width:g} of their width: full width costs more than this "
                         f"profile's budget.")
        for where in self.inputs:
            if where.ceiling is None:
                continue
            bound = where.ceiling
            kinds = [f"{kind} classes at most {bound[kind]:.3f}" for kind in ("scene", "motion") if bound[kind]]
            why = "one frame shows no motion" if where.num_frames == 1 else "an upper bound"
            notes.append(f"At the {where.prose} no network can beat {bound['overall']:.3f} test top-1 "
                         f"({', '.join(kinds)}: {why}, from how the embedded data is generated).")
        for where in self.inputs:
            text = comparison.still_improving_text(self.networks(where))
            if text:
                notes.append(f"At the {where.prose}: {text[0].lower()}{text[1:]}")
        common = [where for where in self.inputs if where.name == COMMON_INPUT]
        if common:
            over = [f"{row['variant']} ({row['params']:,})" for row in self.latency
                    if row.get("compared at") == COMMON_INPUT and max_params is not None
                    and row.get("params") is not None and row["params"] > max_params]
            limit = "" if max_params is None else f" (P = {max_params:,} parameters" + (
                f"; over it: {', '.join(over)})" if over else ")")
            notes.append(f"At the {common[0].prose} P and R do not apply{limit}: that comparison is a Pareto picture "
                         f"of accuracy against latency (inputs.png), not a constrained one.")
        return notes

    def extra(self) -> dict[str, Any]:
        """What ``results.json`` keeps: every cost row (with each timing), the retrained networks at the found TVN's
        input (``retrained``, as the bench reads it) and at every input, each input with its ceiling, the learning
        rates chosen, the steps each baseline's budget allowed and how many trainings the epoch cap stopped while they
        still improved."""
        table = self.runs.table()
        return {"latency": self.latency, "retrained": [row for row in table if row["task"] == self.inputs[0].name],
                "retrained_by_input": table, "inputs": [where.to_dict() for where in self.inputs],
                "learning_rates": self.learning_rates, "steps_allowed": self.steps_allowed,
                "still_improving": {where.name: comparison.still_improving(self.networks(where))
                                    for where in self.inputs}}

    def figure(self, *, runtime: str) -> Any:
        """Test accuracy against latency at each input, with the input's ceiling: one panel per input."""
        import matplotlib.pyplot  # deferred: heavy start-up

        from videonas.plots.curves import plot_runtime_accuracy

        figure, axes = matplotlib.pyplot.subplots(1, len(self.inputs), figsize=(6.5 * len(self.inputs), 4.5),
                                                  squeeze=False)
        for ax, where in zip(axes[0], self.inputs):
            points = [{**point, "runtime_ms": point["latency_ms"]} for point in self.points(where)]
            title = f"{where.label}" + ("" if where.name == FOUND_INPUT else ": a Pareto picture (P does not apply)")
            if points:
                plot_runtime_accuracy(points, ax=ax, xlabel=f"latency on {runtime} (ms, batch 1)",
                                      ylabel="test top-1 (mean over seeds)", title=title)
            if where.ceiling is not None:
                ax.axhline(where.ceiling["overall"], color="grey", linestyle=":", linewidth=1,
                           label=f"ceiling {where.ceiling['overall']:.3f}")
                ax.legend(loc="best", fontsize=8)
        figure.tight_layout()
        return figure


def variant(label: str, model: Any) -> Variant:
    """A network of ``networks_at`` as the ``Variant`` that ``tvn_common.costs`` times."""
    if isinstance(model, retrain.Baseline):
        return Variant(label, model=model.name, model_options={"width_multiplier": model.width_multiplier})
    return Variant(label, genome=model)


def against_hand_made(found: TVNGenome, *, task: Mapping[str, Any], inputs: Sequence[Input], seeds: Sequence[int],
                      budget: Mapping[str, Any], rates: Sequence[float], selection_seed: int,
                      baselines: Sequence[str], width: float, presets: Sequence[str], preset_image_size: int,
                      num_classes: int, runtime: str, runs: int, repeats: int, threads: int | None,
                      executor: Any) -> HandMade:
    """``found`` and each baseline (at ``width``) trained at each of ``inputs`` by ``train_networks`` (every input
    trained and its steps checked before anything is timed), then each timed ``repeats`` times on ``runtime`` at that
    input; the ``presets`` timed at ``preset_image_size``."""
    trained: dict[tuple[str, str, int], Any] = {}
    chosen: dict[str, dict[str, Any]] = {}
    allowed: dict[str, dict[str, int]] = {}
    networks: dict[str, dict[str, Any]] = {}
    notes = []
    for where in inputs:
        networks[where.name], note = networks_at(found, where, baselines=baselines, width=width)
        notes += [note] if note else []
        choices, results, allowed[where.name] = train_networks(
            networks[where.name], task=where.task(task), budget=budget, seeds=seeds, rates=rates,
            selection_seed=selection_seed, executor=executor)
        chosen[where.name] = {label: choice.to_dict() for label, choice in choices.items()}
        trained.update({(label, where.name, seed): result for label, by_seed in results.items()
                        for seed, result in by_seed.items()})
    timing = {"num_classes": num_classes, "runtime": runtime, "runs": runs, "threads": threads, "repeats": repeats}
    latency = []
    for where in inputs:
        rows = tvn_common.costs([variant(label, model) for label, model in networks[where.name].items()],
                                num_frames=where.num_frames, image_size=where.image_size, **timing)
        latency += [{"compared at": where.name, **row} for row in rows]
    latency += [{"compared at": None, **row} for row in tvn_common.costs(
        [Variant(name, genome=tvn_common.at_input(published.load(name), image_size=preset_image_size))
         for name in presets], **timing)]
    return HandMade(runs=VariantRuns(trained), latency=latency, inputs=list(inputs),
                    baselines=[retrain.Baseline(name, width).label for name in baselines], presets=list(presets),
                    learning_rates=chosen, steps_allowed=allowed, width=width, notes=notes)

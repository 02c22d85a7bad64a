"""Export a network to the runtimes it can ship on, checked against Keras on the same clips.

``export_model`` writes ``<name>.keras``, ``<name>.onnx`` and ``<name>.tflite`` into a folder, reloads each file on its
runtime, runs it on the same clips as the Keras model and records the largest absolute logit difference against the
allowed one (``allowed_difference``) and, if asked, the latency on each runtime with its setup, in
``<name>.manifest.json`` beside them, with the runtime versions.
The manifest also describes the network to whoever runs it (``videonas.deploy.manifest``): its input streams
(layout, shape, dtype) and the preprocessing from a video file to them (frames, stride or fps, image size, resize,
scale, mean, std) as the network was trained, its class names and output activation, its genome, the data it was
trained on and its metrics, and the package version; a JSON copy goes into the ``.onnx``, ``.tflite`` and ``.keras``
files too, and ``videonas.deploy.predict`` runs an export on a video from that description alone.
``export_trial`` does it for a search's trial (the best by default): with the weights the trial saved (the run
configuration's ``save_weights``) or, when none were kept, after retraining the genome with the search's own task,
budget and trial seed through the one recipe (``videonas.train.fit_and_score``). ``export_preset`` does it for a
named model of the registry (``videonas.models.create_model``), untrained unless a task is given.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy

import videonas
from videonas import jsonio, models, selected, train
from videonas import runtimes as runtime_names
from videonas.deploy import manifest as manifests
from videonas.deploy import runtimes as rt

# A runtime's logits may differ from Keras' on the same clips by at most TOLERANCE x max(1, largest |Keras logit|):
# relative to the logits' scale, because float32 rounding is (the runtimes fuse and reorder convolutions and
# reductions). Measured on random genomes of the three default spaces at 32 px with unit-scale heads
# (tests/test_deploy_spaces.py): at most 2e-7 relative for TVNs and AssembleNets and 1.1e-6 for EvaNets, whose logits
# reach 160 (1.8e-4 absolute, over an absolute 1e-4); a wrong conversion (a pooling window one cell off) is off by
# 1e-1 and more. So 1e-4 leaves ~100x headroom for rounding and still catches a wrong graph.
TOLERANCE = 1e-4
CHECK_CLIPS = 4


def allowed_difference(reference_max_abs_logit: float, tolerance: float = TOLERANCE) -> float:
    """The largest |runtime logit - Keras logit| accepted for logits whose largest magnitude is the one given."""
    return tolerance * max(1.0, float(reference_max_abs_logit))


def export_model(model, *, folder: str | Path, name: str, clips: Any = None,
                 runtimes: Sequence[str] = runtime_names.RUNTIMES, latency_runs: int = 0, threads: int | None = None,
                 tolerance: float = TOLERANCE, source: dict[str, Any] | None = None,
                 preprocessing: dict[str, Any] | None = None, class_names: Sequence[str] | None = None,
                 multi_label: bool = False, genome=None, training: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``model`` for each of ``runtimes`` and check it; returns the manifest (also written as JSON).

    ``clips`` are the check inputs (an array or ``{input name: array}``); by default ``CHECK_CLIPS`` seeded uniform
    clips. ``tolerance`` is relative to the logits' scale (``allowed_difference``). ``latency_runs`` > 0 also times
    batch 1 on each runtime with ``threads`` threads. The description of the network
    (``manifest.describe_preprocessing``'s ``preprocessing``, ``class_names``, ``multi_label``, ``genome``,
    ``training``: the data and metrics) goes into the manifest as given (``None``: not known).
    """
    from videonas import measure  # Keras: deferred

    for index, runtime in enumerate(runtimes):
        runtime_names.check_installed(f"runtimes[{index}]", runtime)
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"name must be a file name without '/', got {name!r}")
    folder = Path(folder)
    feed = rt.as_feed(model, measure.random_inputs(model, batch_size=CHECK_CLIPS) if clips is None else clips)
    reference = numpy.asarray(model.predict_on_batch(feed if len(feed) > 1 else next(iter(feed.values()))))
    allowed = allowed_difference(numpy.max(numpy.abs(reference)), tolerance)
    files, checks, latency = {}, {}, {}
    for runtime in runtimes:
        started = time.perf_counter()
        path = rt.convert(model, runtime=runtime, path=folder / f"{name}{rt.SUFFIXES[runtime]}")
        runner = rt.load(path, runtime=runtime, threads=threads)
        difference = float(numpy.max(numpy.abs(numpy.asarray(runner(feed)) - reference)))
        files[runtime] = path.name
        checks[runtime] = {"max_abs_diff": difference, "within_tolerance": difference <= allowed,
                           "convert_s": time.perf_counter() - started}
        if latency_runs:
            one = {key: value[:1] for key, value in feed.items()}
            latency[runtime] = {**measure.time_calls(lambda: runner(one), runs=latency_runs, warmup=3),
                                "batch_size": 1, "threads": runner.threads}
    manifest = {
        "name": name, "source": source or {}, "files": files,
        "inputs": {key: list(value.shape[1:]) for key, value in feed.items()},
        "num_classes": int(reference.shape[-1]), "params": measure.count_params(model),
        "flops": measure.count_flops(model),
        "check": {"clips": int(reference.shape[0]), "clip_source": "given" if clips is not None else "uniform random",
                  "tolerance": tolerance, "allowed_max_abs_diff": allowed,
                  "reference_max_abs_logit": float(numpy.max(numpy.abs(reference))),
                  **checks},
        "latency": latency, "versions": {"videonas": videonas.__version__, **rt.versions()},
    }
    manifest["ok"] = all(check["within_tolerance"] for check in checks.values())
    manifest.update(_description(manifest, preprocessing=preprocessing, class_names=class_names,
                                 multi_label=multi_label, genome=genome, training=training))
    manifest["embedded"] = manifests.embed(manifest, folder)
    jsonio.dump(manifest, folder / f"{name}.manifest.json")
    return manifest


def _description(manifest: dict[str, Any], *, preprocessing, class_names, multi_label: bool, genome,
                 training) -> dict[str, Any]:
    """The manifest's self-description, checked against the network: the streams are its inputs at its shapes and
    there is one class name per logit."""
    if preprocessing is not None:
        manifests.check_against_inputs(preprocessing, manifest["inputs"])
    if class_names is not None and len(class_names) != manifest["num_classes"]:
        raise ValueError(f"class_names has {len(class_names)} names, the network gives {manifest['num_classes']} "
                         "logits")
    return {"videonas_version": videonas.__version__,
            "output": {"kind": "logits", "activation": "sigmoid" if multi_label else "softmax",
                       "multi_label": bool(multi_label)},
            "class_names": None if class_names is None else list(class_names),
            "preprocessing": preprocessing,
            "genome": None if genome is None else {"family": genome.to_dict()["family"], "json": genome.to_json(),
                                                   "key": genome.key},
            "training": training}


def export_trial(experiment, *, folder: str | Path, trial: int | None = None, epochs: int | None = None,
                 latency_runs: int = 0, threads: int | None = None) -> dict[str, Any]:
    """Export ``experiment``'s trial ``trial`` (default: the best finished one), checked on its validation clips.

    Weights come from the trial's saved file when it exists; otherwise the genome is retrained with the search's
    task and budget (``epochs`` overrides the budget's epochs) and the trial's seed: the manifest states the recipe.
    """
    chosen = _trial(experiment, trial)
    genome = experiment.genome(chosen)
    task = experiment.trial_options().task
    dataset = task.open_dataset()
    model, weights = selected.trained_model(experiment, chosen, dataset=dataset, epochs=epochs, score_test=True)
    scored = weights.pop("metrics", None) or chosen.metrics
    source: dict[str, Any] = {"experiment": experiment.name, "store": str(experiment.store.path),
                              "trial": chosen.index, "genome": genome.to_dict(), "stored_fitness": chosen.fitness,
                              **weights}
    clips = _validation_feed(model, task=task, genome=genome, dataset=dataset)
    inputs = train.model_inputs(model)
    clip_spec = task.clip_spec(inputs=inputs, genome=genome)
    training = {"dataset": {"spec": task.dataset, "name": dataset.name, "fingerprint": dataset.fingerprint(),
                            "splits": {split: len(dataset.records(split)) for split in dataset.splits}},
                "task": task.to_dict(), "metrics": _metrics(scored),
                "metrics_of": "the trial as stored" if source["weights"] else "the retrained weights exported",
                "search_latency": {"latency_ms": chosen.latency_ms, **(chosen.metrics.get("latency") or {})}}
    return export_model(model, folder=folder, name=f"{experiment.name}-trial{chosen.index}", clips=clips,
                        latency_runs=latency_runs, threads=threads, source=source,
                        preprocessing=manifests.describe_preprocessing(clip_spec, inputs=inputs),
                        class_names=dataset.class_names, multi_label=task.multi_label, genome=genome,
                        training=training)


def export_preset(name: str, *, folder: str | Path, num_classes: int = 10, num_frames: int | None = None,
                  image_size: int | None = None, width_multiplier: float = 1.0, seed: int = 0,
                  latency_runs: int = 0, threads: int | None = None) -> dict[str, Any]:
    """Export the registry model ``name`` (seeded initial weights) at its published input or the one given."""
    import keras  # Keras: deferred

    from videonas import data  # PyAV/OpenCV: deferred

    info = models.model_info(name)
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = models.create_model(info.name, num_classes=num_classes, num_frames=num_frames, image_size=image_size,
                                width_multiplier=width_multiplier)
    source = {"preset": info.display_name, "seed": seed, "weights": None, "width_multiplier": width_multiplier}
    frames, size = (int(n) for n in model.inputs[0].shape[1:3])
    inputs = train.model_inputs(model)
    clip_spec = data.ClipSpec(num_frames=frames, image_size=size, rgb="rgb" in inputs, flow="flow" in inputs)
    return export_model(model, folder=folder, name=info.name, latency_runs=latency_runs, threads=threads,
                        source=source, preprocessing=manifests.describe_preprocessing(clip_spec, inputs=inputs))


def _metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The scores of the exported weights: validation (what the search selected on) and test when it was scored."""
    val = {key: metrics[key] for key in ("accuracy", "mAP", "accuracy_by_kind", "num_val_clips") if key in metrics}
    return {"val": val or None, "test": metrics.get("test")}


def _trial(experiment, index: int | None):
    if index is None:
        best = experiment.best(1)
        if not best:
            raise ValueError(f"experiment {experiment.name!r} has no finished trial to export")
        return best[0]
    trials = {trial.index: trial for trial in experiment.trials()}
    if index not in trials:
        raise ValueError(f"trial must be one of {sorted(trials)} of experiment {experiment.name!r}, got {index!r}")
    if trials[index].status != "done":
        raise ValueError(f"trial {index} of experiment {experiment.name!r} is {trials[index].status}, not done")
    return trials[index]


def _validation_feed(model, *, task, genome, dataset) -> dict[str, numpy.ndarray]:
    """The first ``CHECK_CLIPS`` validation clips as the model eats them (the check runs on real data)."""
    from videonas import data  # PyAV/OpenCV: deferred

    inputs = train.model_inputs(model)
    clips = task.load(dataset, "val", task.clip_spec(inputs=inputs, genome=genome))
    features, _ = data.ClipBatches(clips, batch_size=CHECK_CLIPS, shuffle=False, seed=0, inputs=inputs)[0]
    return features if isinstance(features, dict) else {inputs[0]: features}

"""The family registry: a fourth family from outside the package, registered by hand or found through the
``videonas.families`` entry-point group (in worker processes too), runs a search end to end; the package's own
families come through the same group; run options are checked on the driver before anything is stored."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from tiny_family import TINY, TinyGenome, TinySpace
from videonas import families, genome, models
from videonas.search import Experiment, TrialStore, run_search

TESTS = Path(__file__).resolve().parent

TASK = {"dataset": "embedded:smoke", "num_frames": 2, "image_size": 16, "batch_size": 8, "max_train_clips": 32,
        "max_val_clips": 16}
OPTIONS = {"task": TASK, "budget": {"epochs": 1}}


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(families.FAMILIES, "tiny", TINY)
    return TINY


@pytest.fixture
def registry(monkeypatch):
    """An empty registry, as a fresh process starts with (the test runs discovery); afterwards the real one, discovered
    again."""
    monkeypatch.setattr(families, "FAMILIES", {})
    yield monkeypatch
    monkeypatch.undo()
    families.discover(again=True)


def _install(site: Path, name: str, entry_points: str) -> None:
    """A distribution as pip leaves it in site-packages, reduced to what entry-point discovery reads."""
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{families.ENTRY_POINT_GROUP}]\n{entry_points}\n")


def test_builtin_families_are_registered_with_their_input_policy():
    assert list(families.registered())[:4] == ["tvn", "assemblenet", "evanet", "toy"]
    assert families.get("tvn").genome_input and not families.get("evanet").genome_input
    with pytest.raises(ValueError, match="family must be one of"):
        families.get("resnet")
    with pytest.raises(ValueError, match="videonas.families.Family"):
        families.register("tiny")


def test_builtin_families_come_through_the_entry_point_group(registry):
    declared = tomllib.loads((TESTS.parent / "pyproject.toml").read_text())["project"]["entry-points"]
    assert declared[families.ENTRY_POINT_GROUP] == families.BUILTIN_ENTRY_POINTS
    points = families.entry_points()
    assert [(p.name, p.value, p.group) for p in points[:4]] == [
        (name, value, families.ENTRY_POINT_GROUP) for name, value in families.BUILTIN_ENTRY_POINTS.items()]
    assert len({(p.name, p.value) for p in points}) == len(points)  # a reinstalled package's own are not loaded twice
    families.discover(again=True)
    assert families.get("evanet") is families.EVANET
    assert list(families.FAMILIES)[:4] == ["tvn", "assemblenet", "evanet", "toy"]
    assert families.get("toy").space_type.__module__ == "videonas.search.synthetic"


def test_a_broken_entry_point_costs_only_its_own_family(registry, tmp_path):
    _install(tmp_path, "broken_family", "broken = no_such_module_here:FAMILY")
    registry.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="'broken' failed to load from its entry point .*no_such_module_here"):
        families.get("broken")
    assert families.get("tvn") is families.TVN


@pytest.mark.slow
def test_a_family_declared_only_as_an_entry_point_searches_on_worker_processes(registry, tmp_path):
    """Nothing registers ``tiny``: the driver and a fresh worker process each find it through discovery."""
    _install(tmp_path, "tiny_family", "tiny = tiny_family:TINY")
    registry.syspath_prepend(str(tmp_path))
    registry.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(tmp_path), str(TESTS),
                                                                os.environ.get("PYTHONPATH")) if p))
    assert "tiny" not in families.FAMILIES
    experiment = run_search("tiny", space={"family": "tiny", "options": {"max_units": 8}},
                            store=tmp_path / "tiny.sqlite", num_trials=4,
                            strategy={"name": "mutate-best", "options": {"population_size": 2}}, batch_size=2, seed=0,
                            evaluate="tiny_family:evaluate_by_name",
                            executor={"kind": "subprocess", "options": {"max_workers": 1}}, progress=False)
    trials = experiment.trials()
    assert [t.status for t in trials] == ["done"] * 4, [t.error for t in trials]
    assert all(t.metrics["family"] == "tiny" and t.metrics["pid"] != os.getpid() for t in trials)
    assert trials[2].parent in (0, 1) and isinstance(experiment.best_genome(), TinyGenome)
    assert families.get("tiny") is TINY


def test_a_registered_family_decodes_builds_and_opens_its_space(tiny):
    assert genome.decode('{"family": "tiny", "units": 3}') == TinyGenome(3)
    assert isinstance(genome.search_space("tiny", max_units=4), TinySpace)
    model = models.build_model(TinyGenome(3), num_classes=5, num_frames=2, image_size=8)
    assert model.outputs[0].shape[-1] == 5
    with pytest.raises(ValueError, match="needs num_frames and image_size"):
        models.build_model(TinyGenome(3), num_classes=5)


@pytest.mark.slow
def test_a_fourth_family_runs_a_search_end_to_end_and_resumes(tiny, tmp_path):
    store = tmp_path / "tiny.sqlite"
    common = dict(space={"family": "tiny", "options": {"max_units": 8}}, store=store,
                  strategy={"name": "guided-tournament", "options": {"population_size": 2}}, batch_size=2, seed=0,
                  **OPTIONS, executor="inprocess", progress=False)
    first = run_search("tiny", num_trials=2, **common)
    assert [t.status for t in first.trials()] == ["done", "done"]
    assert all(t.learned["step"] in (1, 2, 3) for t in first.trials())  # the family's learned-context hook ran
    resumed = run_search("tiny", num_trials=4, **common)  # a second run resumes the stored experiment
    trials = resumed.trials()
    assert [t.index for t in trials] == [0, 1, 2, 3] and all(t.status == "done" for t in trials)
    assert trials[2].parent in (0, 1) and trials[3].parent in (0, 1)
    assert all(0.0 <= t.fitness <= 1.0 and t.params > 0 for t in trials)
    reopened = Experiment("tiny", TrialStore(store))
    assert isinstance(reopened.best_genome(), TinyGenome)
    assert reopened.config["space"] == {"family": "tiny", "options": {"max_units": 8}}


@pytest.mark.parametrize("options, field", [
    ({"task": {**TASK, "batchsize": 8}, "budget": {"epochs": 1}}, "task has unknown keys"),
    ({"task": TASK, "budgt": {"epochs": 1}}, "unknown key budgt"),
    ({"task": TASK, "budget": {"epochs": -1}}, "budget.epochs"),
    ({"task": {**TASK, "dataset": "embedded:huge"}}, "task.dataset"),
    ({"task": {**TASK, "dataset": "/no/such/folder"}}, "no/such/folder"),
    ({"task": TASK, "constraints": {"max_params": 0}}, "max_params"),
])
def test_bad_run_options_raise_one_value_error_before_anything_is_stored(tiny, tmp_path, options, field):
    store = tmp_path / "bad.sqlite"
    with pytest.raises(ValueError, match=field):
        run_search("bad", space={"family": "tiny"}, store=store, num_trials=2, **options, executor="inprocess",
                   progress=False)
    assert not store.exists()


def test_a_store_naming_an_unregistered_family_or_class_is_refused(tmp_path):
    from videonas.search.loop import space_from_config

    with pytest.raises(ValueError, match="family must be one of"):
        space_from_config({"family": "os", "options": {}})
    with pytest.raises(ValueError, match="registered family's space"):
        space_from_config({"class": "subprocess:run", "options": {"args": ["true"]}})
    legacy = space_from_config({"class": "videonas.genome.tvn:TVNSpace", "options": {"max_blocks": 3}})
    assert legacy.max_blocks == 3
    with pytest.raises(ValueError, match="evaluate.function must name an importable"):
        run_search("x", space={"family": "tvn"}, store=tmp_path / "s.sqlite", num_trials=1,
                   evaluate="videonas.nothing:here", executor="inprocess", progress=False)

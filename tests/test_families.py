"""The family registry: a fourth family registered from outside the package runs a search end to end, and run
options are checked on the driver before anything is stored."""

from __future__ import annotations

import pytest

from tiny_family import TINY, TinyGenome, TinySpace
from videonas import families, genome, models
from videonas.search import Experiment, TrialStore, run_search

TASK = {"dataset": "embedded:smoke", "num_frames": 2, "image_size": 16, "batch_size": 8, "max_train_clips": 32,
        "max_val_clips": 16}
OPTIONS = {"task": TASK, "budget": {"epochs": 1}}


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setitem(families.FAMILIES, "tiny", TINY)
    return TINY


def test_builtin_families_are_registered_with_their_input_policy():
    assert list(families.FAMILIES)[:3] == ["tvn", "assemblenet", "evanet"]
    assert families.get("tvn").genome_input and not families.get("evanet").genome_input
    with pytest.raises(ValueError, match="family must be one of"):
        families.get("resnet")
    with pytest.raises(ValueError, match="videonas.families.Family"):
        families.register("tiny")


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
                  strategy={"name": "assemblenet", "options": {"population_size": 2}}, batch_size=2, seed=0,
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

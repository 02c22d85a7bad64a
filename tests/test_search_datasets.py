"""A search runs on every supported dataset format, from the command line and from the tvn_search notebook.

Each dataset is a few generated videos (``videonas.data.samples``) laid out as the format's readers expect; the
search is a tiny TVN space with a one-epoch budget, so what is checked is that every format reaches a finished trial
(multi-label Charades scored with mAP), not what is learned.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from videonas.__main__ import main
from videonas.data.samples import indexed_frames, write_video
from videonas.experiments import summaries
from videonas.search import Experiment, TrialStore

SPACE = {"family": "tvn", "options": {"image_sizes": [32], "frame_counts": [2], "frame_strides": [1], "min_blocks": 2,
                                      "max_blocks": 2, "filters": [16], "max_repeats": 1, "allow_non_local": False}}


def _videos(folder: Path, names, offset: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        frames = indexed_frames(12, size=(32, 32))
        frames[:, 16:, 16:] = (40 * (index + offset)) % 256  # some difference between videos
        write_video(folder / name, frames, fps=6)


def _folder(root: Path) -> dict:
    for label in ("jump", "run"):
        _videos(root / label, [f"{label}{i}.mp4" for i in range(5)], offset=len(label))
    return {"format": "folder", "path": str(root)}


def _split_lists(root: Path) -> dict:
    for label in ("Jump", "Run"):
        _videos(root / label, [f"v_{label}_{i}.mp4" for i in range(4)], offset=len(label))
    (root / "trainlist.txt").write_text("".join(f"{label}/v_{label}_{i}.mp4\n" for label in ("Jump", "Run")
                                                for i in range(3)))
    (root / "testlist.txt").write_text("Jump/v_Jump_3.mp4\nRun/v_Run_3.mp4\n")
    return {"format": "split-lists", "path": str(root),
            "lists": {"train": "trainlist.txt", "test": "testlist.txt"}}


def _csv(root: Path) -> dict:
    rows = ["label,youtube_id,time_start,time_end,split"]
    for split, count in (("train", 3), ("val", 1), ("test", 1)):
        for label in ("abseiling", "zumba"):
            names = []
            for index in range(count):
                video_id = f"{label[:3]}{split}{index}"
                rows.append(f"{label},{video_id},0,2,{split}")
                names.append(f"{video_id}_000000_000002.mp4")
            _videos(root / split, names, offset=len(label))
    (root / "kinetics.csv").write_text("\n".join(rows) + "\n")
    return {"format": "csv", "path": str(root / "kinetics.csv")}


def _charades(root: Path) -> dict:
    header = "id,subject,scene,actions,length\n"
    ids = [f"V{i}" for i in range(8)]
    _videos(root / "videos", [f"{video}.mp4" for video in ids])
    actions = ['"c001 0.0 2.0"', '"c002 0.0 2.0;c001 0.0 1.0"']
    (root / "Charades_v1_train.csv").write_text(header + "".join(
        f"{video},s,k,{actions[i % 2]},2.0\n" for i, video in enumerate(ids)))
    return {"format": "charades", "path": str(root), "val_fraction": 0.25}


FORMATS = {"folder": _folder, "split-lists": _split_lists, "csv": _csv, "charades": _charades}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FORMATS))
def test_a_search_on_each_format_runs_from_the_command_line(name, tmp_path):
    dataset = FORMATS[name](tmp_path / "data")
    config = {"name": name, "store": str(tmp_path / "search.sqlite"), "space": SPACE, "num_trials": 2,
              "batch_size": 2, "strategy": "random", "executor": "inprocess",
              "task": {"dataset": dataset, "batch_size": 4}, "budget": {"epochs": 1}}
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["search", "--config", str(path), "--no-progress"]) == 0
    trials = Experiment(name, TrialStore(tmp_path / "search.sqlite")).trials()
    assert [t.status for t in trials] == ["done", "done"], [t.error for t in trials]
    metric = "mAP" if name == "charades" else "accuracy"
    assert all(0.0 <= t.metrics[metric] <= 1.0 and t.metrics["num_val_clips"] > 0 for t in trials)


@pytest.mark.slow
def test_tvn_search_notebook_takes_a_dataset_parameter(tmp_path):
    import nbformat
    import papermill

    dataset = _csv(tmp_path / "data")
    notebooks = Path(__file__).resolve().parent.parent / "notebooks"
    shutil.copytree(notebooks, tmp_path / "notebooks", ignore=shutil.ignore_patterns("*.ipynb_checkpoints"))
    parameters = next(cell.source for cell in nbformat.read(str(notebooks / "tvn_search.ipynb"), as_version=4).cells
                      if "parameters" in cell.metadata.get("tags", []))
    namespace: dict = {}
    exec(parameters, namespace)  # the smoke profile, given another dataset
    config = namespace["config"]
    config["search"]["task"]["dataset"] = dataset
    # The dataset is what is checked (nbval runs the whole smoke profile): one search, one comparison training a net.
    config.update(seeds=[0], presets=[], arms={"evolution": config["arms"]["evolution"]}, common_input=None,
                  comparison_seeds=[0], learning_rates=[0.003], latency_repeats=1)
    papermill.execute_notebook(str(tmp_path / "notebooks" / "tvn_search.ipynb"), str(tmp_path / "out.ipynb"),
                               parameters={"config": config, "output_dir": str(tmp_path / "out")},
                               kernel_name="videonas", cwd=str(tmp_path / "notebooks"), progress_bar=False)
    stores = [path for path in (tmp_path / "out").glob("*.sqlite") if path.name != summaries.TRAININGS]
    trials = [t for store in stores for e in TrialStore(store).experiments()
              for t in Experiment(e, TrialStore(store)).trials()]
    assert trials and any(t.status == "done" for t in trials)


def test_an_experiment_that_reports_test_refuses_a_dataset_without_one(tmp_path):
    from videonas.task import TrainTask

    dataset = TrainTask.from_dict({"dataset": _folder(tmp_path / "data")}).open_dataset()  # train and val only
    with pytest.raises(ValueError, match=r"tvn_search compares .* has only the splits \['train', 'val'\]"):
        summaries.require_test_split(dataset, experiment="tvn_search")

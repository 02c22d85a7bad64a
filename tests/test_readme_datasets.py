"""Every dataset example of the README's "Real datasets" section runs as written: each one's layout is generated in
tmp_path (small videos written with PyAV, frame folders of JPEGs), its `/data/...` paths pointed there, and the spec
opened and every split loaded with nothing skipped. A README example without a layout here fails the test."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import cv2
import pytest
import yaml

from videonas.data import ClipSpec, DatasetSpec, load_clips
from videonas.data.samples import indexed_frames, write_video

ROOT = Path(__file__).resolve().parents[1]
SPEC = ClipSpec(num_frames=2, image_size=16, fps=3.0)
CODECS = {".webm": "libvpx", ".flv": "flv", ".avi": "mpeg4"}


def _section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Real datasets")
    return readme[start:readme.index("### Sampling clips", start)]  # the formats; sampling options follow them


def _examples() -> list:
    """The dataset value of every yaml block of the section, and the Python block's DatasetSpec.from_value argument."""
    section = _section()
    values = [yaml.safe_load(block)["dataset"] for block in re.findall(r"```yaml\n(.*?)```", section, re.S)]
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        values += [ast.literal_eval(node.args[0]) for node in ast.walk(ast.parse(block))
                   if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "from_value"]
    return values


def _path(value) -> str:
    return value if isinstance(value, str) else value["path"]


def _video(path: Path, index: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = indexed_frames(12, size=(32, 32))
    frames[:, 16:, 16:] = 40 * index % 256
    write_video(path, frames, fps=6, codec=CODECS.get(path.suffix, "libx264"))


def _frames(folder: Path, index: int, name: str = "{:05d}.jpg") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number, frame in enumerate(indexed_frames(12, size=(32, 32)), start=1):
        frame[16:, 16:] = 40 * index % 256
        cv2.imwrite(str(folder / name.format(number)), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))


def _my_actions(data: Path) -> None:
    for label, names in (("jump", ["clip001.mp4", "clip002.mp4", "clip003.mp4"]),
                         ("run", ["a.mov", "b.flv", "c.mp4"])):
        for index, name in enumerate(names):
            _video(data / "my_actions" / label / name, index)


def _ucf(data: Path) -> None:
    lists = {"train": [], "test": []}
    for label in ("ApplyEyeMakeup", "Archery"):
        for group in (1, 2, 8, 9):
            for clip in (1, 2):
                name = f"{label}/v_{label}_g{group:02d}_c{clip:02d}.avi"
                _video(data / "UCF101" / name, group + clip)
                lists["test" if group < 8 and clip == 1 else "train"].append(name)
    (data / "ucfTrainTestlist").mkdir()
    (data / "ucfTrainTestlist" / "trainlist01.txt").write_text("".join(f"{n} 1\n" for n in lists["train"]))
    (data / "ucfTrainTestlist" / "testlist01.txt").write_text("".join(f"{n}\n" for n in lists["test"]))


def _hmdb(data: Path) -> None:
    splits = data / "hmdb51" / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True)
    for label in ("brush_hair", "cartwheel"):
        lines = []
        for source, use in (("April_09", "1"), ("Aussie", "1"), ("Blonde", "1"), ("Brushing", "2"), ("Other", "0")):
            for clip in (0, 1):
                name = f"{source}_{label}_u_nm_np1_ba_goo_{clip}.avi"
                _video(data / "hmdb51" / label / name, clip + len(source))
                lines.append(f"{name} {use} \n")
        (splits / f"{label}_test_split1.txt").write_text("".join(lines))


def _kinetics_csv(data: Path) -> None:
    rows = ["label,youtube_id,time_start,time_end,split"]
    for split, count in (("train", 3), ("val", 1)):
        for label in ("abseiling", "zumba"):
            for index in range(count):
                video_id = f"{label[:3]}{split}{index}"
                rows.append(f"{label},{video_id},0,2,{split}")
                _video(data / "k400" / split / f"{video_id}_000000_000002.mp4", index)
                _video(data / "videos" / "k400" / split / f"{video_id}.mp4", index)
    (data / "k400" / "k400.csv").write_text("\n".join(rows) + "\n")


def _kinetics_release(data: Path) -> None:
    root = data / "kinetics400"
    for split, count in (("train", 3), ("validate", 1), ("test", 1)):
        rows = ["label,youtube_id,time_start,time_end,split"]
        for label in ("abseiling", "zumba"):
            for index in range(count):
                video_id = f"{label[:3]}{split}{index}"
                rows.append(f"{label},{video_id},0,2,{split}")
                _video(root / split / label / f"{video_id}_000000_000002.mp4", index)
        (root / f"{split}.csv").write_text("\n".join(rows) + "\n")


def _charades(data: Path) -> None:
    root = data / "charades"
    header = "id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length\n"
    actions = ['"c001 0.0 2.0"', '"c002 0.0 2.0;c001 0.0 1.0"']
    for split, ids in (("train", [f"TR{i}" for i in range(6)]), ("test", ["TE0", "TE1"])):
        for index, video in enumerate(ids):
            _video(root / "Charades_v1_480" / f"{video}.mp4", index)
            _frames(root / "Charades_v1_rgb" / video, index, name=video + "-{:06d}.jpg")
        (root / f"Charades_v1_{split}.csv").write_text(header + "".join(
            f"{video},s,k,7,7,Yes,x,y,z,{actions[i % 2]},2.0\n" for i, video in enumerate(ids)))


def _something_v2(data: Path) -> None:
    root = data / "something-v2"
    templates = ["Holding [something] next to [something]", "Pushing [something] from left to right"]
    labels = {template.replace("[", "").replace("]", ""): str(index) for index, template in enumerate(templates)}
    root.mkdir(parents=True)
    (root / "something-something-v2-labels.json").write_text(json.dumps(labels))
    number = 0
    for split, count in (("train", 3), ("validation", 1), ("test", 1)):
        entries = []
        for template in templates:
            for _ in range(count):
                number += 1
                _video(root / "20bn-something-something-v2" / f"{number}.webm", number)
                entry = {"id": str(number), "label": "a label", "template": template, "placeholders": ["a", "b"]}
                entries.append(entry if split != "test" else {"id": str(number)})
        (root / f"something-something-v2-{split}.json").write_text(json.dumps(entries))


def _something_v1(data: Path) -> None:
    root = data / "something-v1"
    classes = ["Holding something", "Pushing something from left to right"]
    root.mkdir(parents=True)
    (root / "something-something-v1-labels.csv").write_text("\n".join(classes) + "\n")
    number = 0
    for split, count in (("train", 3), ("validation", 1)):
        lines = []
        for label in classes:
            for _ in range(count):
                number += 1
                _frames(root / "20bn-something-something-v1" / str(number), number)
                lines.append(f"{number};{label}\n")
        (root / f"something-something-v1-{split}.csv").write_text("".join(lines))


LAYOUTS = {"my_actions": _my_actions, "/data/my_actions": _my_actions, "/data/UCF101": _ucf, "/data/hmdb51": _hmdb,
           "/data/k400/k400.csv": _kinetics_csv, "/data/kinetics400": _kinetics_release, "/data/charades": _charades,
           "/data/something-v2": _something_v2, "/data/something-v1": _something_v1}


def _local(value, data: Path):
    """The README's value with /data/ pointing into the test's folder."""
    if isinstance(value, str):
        return value.replace("/data/", f"{data}/")
    return {key: _local(item, data) for key, item in value.items()} if isinstance(value, dict) else value


def test_every_readme_example_has_a_layout_here():
    examples = _examples()
    assert len(examples) >= 10
    assert {_path(value) for value in examples} <= set(LAYOUTS), {_path(value) for value in examples} - set(LAYOUTS)


@pytest.mark.parametrize("value", _examples(), ids=lambda value: json.dumps(value)[:70])
def test_readme_dataset_example_opens_and_loads(value, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    LAYOUTS[_path(value)](data if _path(value).startswith("/data/") else tmp_path)
    monkeypatch.chdir(tmp_path)
    dataset = DatasetSpec.from_value(_local(value, data)).open()
    assert {"train", "val"} <= set(dataset.splits) and dataset.num_classes == 2
    text, report = dataset.load_report()
    assert text.startswith(f"dataset {dataset.name!r}: 2 classes") and report["classes"] == dataset.class_names
    for split in dataset.splits:
        records = dataset.records(split)
        assert all(report["splits"][split]["per_class"].values()) or split != "train"
        clips = load_clips(dataset, split, SPEC, cache_dir=tmp_path / "cache")
        assert clips.report.loaded == len(records) > 0 and not clips.report.skipped, clips.report.summary()
        assert clips.rgb.shape[1:] == (2, 16, 16, 3)
        assert clips.labels.shape == ((len(records), 2) if dataset.multi_label else (len(records),))

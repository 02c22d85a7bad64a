"""Something-Something: v2 as released (JSON lists, webm videos) and v1 (semicolon CSVs, JPEG frame folders).

v2: `something-something-v2-labels.json` maps each class (a template without brackets) to its official index;
`...-train.json` and `...-validation.json` list `{"id", "label", "template", "placeholders"}`; the class of an entry is
its template without brackets (or its `label` when there is no template). `...-test.json` has ids only: without
labels those videos cannot be scored, so they are counted as skipped. Videos: `<video_root>/<id>.webm`.
v1: `something-something-v1-labels.csv` (one class a line, official order), `...-train.csv` and
`...-validation.csv` (`id;class`); videos are frame folders `<video_root>/<id>/00001.jpg` at 12 fps.
Class indices follow the official label order, so they match published outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

from videonas.data.records import Dataset, VideoRecord

FRAME_RATE = 12.0  # both versions were released at 12 fps
SPLIT_WORDS = {"train": "train", "validation": "val", "test": "test"}
VIDEO_FOLDERS = ("20bn-something-something-v2", "20bn-something-something-v1", "videos")


def _find(folder: Path, word: str, suffixes: tuple[str, ...]) -> Path | None:
    """The file of `folder` with `word` among the words of its name, preferring the earlier suffix (a v2 folder may
    also hold test-answers.csv: the split files are those of the labels file's kind)."""
    matches = sorted((suffixes.index(path.suffix), path) for path in folder.iterdir() if path.suffix in suffixes
                     and word in path.stem.lower().replace("_", "-").split("-"))
    return matches[0][1] if matches else None


def default_video_root(folder: str | Path) -> Path:
    """The first of the release's video folders present under `folder`, else `folder`."""
    folder = Path(folder)
    return next((folder / name for name in VIDEO_FOLDERS if (folder / name).is_dir()), folder)


def _labels(path: Path) -> list[str]:
    """Class names in official index order."""
    if path.suffix == ".csv":
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    mapping = json.loads(path.read_text())
    if not isinstance(mapping, dict):
        raise ValueError(f"Something-Something labels {str(path)!r}: expected a JSON object class -> index")
    try:
        order = sorted(mapping, key=lambda name: int(mapping[name]))
    except (TypeError, ValueError) as error:
        raise ValueError(f"Something-Something labels {str(path)!r}: indices must be integers ({error})") from error
    return order


def _entries(path: Path) -> list[tuple[str, str | None]]:
    """(id, class or None) per video of a split file."""
    if path.suffix == ".csv":
        entries = []
        for line in path.read_text().splitlines():
            if line.strip():
                video_id, _, label = line.strip().partition(";")
                entries.append((video_id, label or None))
        return entries
    items = json.loads(path.read_text())
    entries = []
    for number, item in enumerate(items if isinstance(items, list) else [items]):
        if not isinstance(item, dict) or "id" not in item:
            raise ValueError(f"Something-Something file {str(path)!r} entry {number}: needs an 'id', got {item!r}")
        template = item.get("template")
        label = template.replace("[", "").replace("]", "") if template else item.get("label")
        entries.append((str(item["id"]), label))
    return entries


def something_dataset(folder: str | Path, *, video_root: str | Path | None = None, extension: str = ".webm",
                      frame_rate: float = FRAME_RATE, name: str | None = None) -> Dataset:
    """Something-Something v1 or v2 from the folder holding its label and split files (see the module docstring).
    A video is `<video_root>/<id><extension>`, or the frame folder `<video_root>/<id>/` when that exists."""
    folder = Path(folder)
    labels_path = _find(folder, "labels", (".json", ".csv"))
    if labels_path is None:
        raise ValueError(f"Something-Something folder {str(folder)!r}: no labels file "
                         f"(something-something-v2-labels.json or something-something-v1-labels.csv)")
    class_names = _labels(labels_path)
    index = {name: position for position, name in enumerate(class_names)}
    root = Path(video_root) if video_root is not None else default_video_root(folder)
    splits, skipped = {}, []
    for word, split in SPLIT_WORDS.items():
        path = _find(folder, word, (labels_path.suffix,))
        if path is None:
            continue
        records = []
        for video_id, label in _entries(path):
            frames = root / video_id
            video = frames if frames.is_dir() else root / f"{video_id}{extension}"
            if label is None:
                skipped.append((str(video), f"{split} video without a label"))
                continue
            if label not in index:
                raise ValueError(f"Something-Something file {str(path)!r} video {video_id!r}: class {label!r} is "
                                 f"not in {str(labels_path)!r}")
            records.append(VideoRecord(str(video), (index[label],),
                                       frame_rate=float(frame_rate) if frames.is_dir() else None))
        if records:
            splits[split] = records
    if "train" not in splits:
        raise ValueError(f"Something-Something folder {str(folder)!r}: no labelled train file "
                         f"(something-something-v2-train.json)")
    return Dataset(name=name or folder.name, class_names=class_names, splits=splits, root=str(root), skipped=skipped)

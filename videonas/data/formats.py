"""Dataset formats: folder-per-class (UCF/HMDB), CSV lists (Kinetics/MiT) and Charades-style multi-label CSV.

A Dataset is only an index (records per split + a sorted class list); decoding happens in `cache.load_clips`.
Class indices are the position in the sorted class list, so they are stable across machines and runs.
Files that are missing, broken links or unreadable stay in the index: `load_clips` skips them and counts them with
their reason in its load report (`DatasetSpec.open` raises at start-up when none of a split's files exist).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".ogv")
SPLIT_NAMES = ("train", "val", "validation", "test")
SPLIT_FOLDERS = {"val": ("val", "validation", "validate"), "validation": ("validation", "val", "validate"),
                 "validate": ("validate", "val", "validation")}  # a CSV's split name -> folders that may hold it


@dataclasses.dataclass(frozen=True)
class VideoRecord:
    """One video. `labels` are class indices; `segments` (class, start_s, end_s) restrict multi-label targets to the
    sampled window; `start`/`end` bound the usable part of an untrimmed file (None = whole file)."""

    path: str
    labels: tuple[int, ...]
    start: float | None = None
    end: float | None = None
    segments: tuple[tuple[int, float, float], ...] = ()

    def target(self, num_classes: int, window: tuple[float, float] | None = None) -> np.ndarray:
        """Multi-hot float32 (num_classes,): segments overlapping `window` when there are segments, else `labels`."""
        multi_hot = np.zeros(num_classes, np.float32)
        if self.segments and window is not None:
            for label, start, end in self.segments:
                if start < window[1] and end > window[0]:
                    multi_hot[label] = 1.0
        else:
            multi_hot[list(self.labels)] = 1.0
        return multi_hot


class Dataset:
    """Records per split plus class names. `class_kinds` maps class -> "scene" | "motion" where known; `notes` maps
    a split to how it was made when the data did not have it (shown in the load report)."""

    def __init__(self, *, name: str, class_names: Iterable[str], splits: Mapping[str, list[VideoRecord]],
                 multi_label: bool = False, class_kinds: Mapping[str, str] | None = None, root: str | None = None,
                 notes: Mapping[str, str] | None = None):
        self.name = name
        self.class_names = list(class_names)
        self.multi_label = multi_label
        self.class_kinds = dict(class_kinds or {})
        self.root = root
        self.notes = dict(notes or {})
        self._splits = {split: list(records) for split, records in splits.items()}

    @property
    def splits(self) -> list[str]:
        return sorted(self._splits)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def records(self, split: str) -> list[VideoRecord]:
        if split not in self._splits:
            raise ValueError(f"split {split!r} not in dataset {self.name!r} (has {self.splits})")
        return list(self._splits[split])

    def subset(self, class_names: Iterable[str]) -> "Dataset":
        """The same dataset restricted to some classes (re-indexed in sorted order); records left without a label are
        dropped, multi-label targets keep only the chosen classes. For quick experiments on a few classes."""
        chosen = sorted(set(class_names))
        unknown = [name for name in chosen if name not in self.class_names]
        if not chosen or unknown:
            raise ValueError(f"classes must be a non-empty subset of dataset {self.name!r}'s classes, got unknown "
                             f"{unknown or chosen!r}")
        new_index = {self.class_names.index(name): index for index, name in enumerate(chosen)}
        splits = {}
        for split, records in self._splits.items():
            kept = []
            for record in records:
                labels = tuple(new_index[label] for label in record.labels if label in new_index)
                if labels:
                    segments = tuple((new_index[c], start, end) for c, start, end in record.segments if c in new_index)
                    kept.append(dataclasses.replace(record, labels=labels, segments=segments))
            splits[split] = kept
        return Dataset(name=f"{self.name}[{','.join(chosen)}]", class_names=chosen, splits=splits,
                       multi_label=self.multi_label, root=self.root, notes=self.notes,
                       class_kinds={name: kind for name, kind in self.class_kinds.items() if name in chosen})

    def save_classes(self, path: str | Path) -> None:
        """Write the class index mapping as JSON ({"class_names": [...], "class_kinds": {...}})."""
        Path(path).write_text(json.dumps({"class_names": self.class_names, "class_kinds": self.class_kinds}, indent=1))

    def fingerprint(self) -> str:
        """Hash of classes, records and file sizes/mtimes: changes whenever the cached clips would."""
        digest = hashlib.sha256(json.dumps([self.name, self.class_names, self.multi_label]).encode())
        for split in self.splits:
            for record in self._splits[split]:
                try:
                    stat = Path(record.path).stat()
                    file_key = [stat.st_size, stat.st_mtime_ns]
                except OSError:
                    file_key = None
                digest.update(json.dumps([split, dataclasses.asdict(record), file_key]).encode())
        return digest.hexdigest()[:16]

    def __repr__(self) -> str:
        sizes = {split: len(records) for split, records in self._splits.items()}
        return f"Dataset(name={self.name!r}, classes={self.num_classes}, multi_label={self.multi_label}, splits={sizes})"


def _videos(folder: Path) -> list[Path]:
    """Video files, broken symbolic links included (so that the load report counts them rather than losing them)."""
    return sorted(p for p in folder.iterdir()
                  if (p.is_file() or (p.is_symlink() and not p.exists())) and p.suffix.lower() in VIDEO_EXTENSIONS)


def _class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def folder_dataset(root: str | Path, *, split_lists: Mapping[str, str | Path] | None = None,
                   name: str | None = None) -> Dataset:
    """Folder-per-class dataset. Layouts: `root/<split>/<class>/<video>` (when every subfolder is a split name), or
    `root/<class>/<video>` with optional UCF-style list files per split (lines "Class/video.avi [label]"; without
    lists everything is split "all"). A listed video that is not on disk stays a record (the load report counts it
    as missing). Empty class folders keep their class index and log a warning."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"dataset root {str(root)!r}: folder does not exist")
    top = _class_folders(root)
    if not top:
        raise ValueError(f"dataset root {str(root)!r}: has no class folders")
    if all(folder.name in SPLIT_NAMES for folder in top) and split_lists is None:
        class_names = sorted({c.name for split_folder in top for c in _class_folders(split_folder)})
        index = {c: i for i, c in enumerate(class_names)}
        splits = {}
        for split_folder in top:
            splits[split_folder.name] = [VideoRecord(str(video), (index[c.name],))
                                         for c in _class_folders(split_folder) for video in _videos(c)]
            for class_folder in _class_folders(split_folder):
                if not _videos(class_folder):
                    logger.warning("class folder %s has no videos", class_folder)
        return Dataset(name=name or root.name, class_names=class_names, splits=splits, root=str(root))
    class_names = [folder.name for folder in top]
    index = {c: i for i, c in enumerate(class_names)}
    everything = {}
    for class_folder in top:
        videos = _videos(class_folder)
        if not videos:
            logger.warning("class folder %s has no videos", class_folder)
        for video in videos:
            everything[f"{class_folder.name}/{video.name}"] = VideoRecord(str(video), (index[class_folder.name],))
    if split_lists is None:
        return Dataset(name=name or root.name, class_names=class_names, splits={"all": list(everything.values())},
                       root=str(root))
    splits = {}
    for split, list_path in split_lists.items():
        records = []
        for line_number, line in enumerate(Path(list_path).read_text().splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.strip().rsplit(maxsplit=1)  # "Class/video.avi [label]"; names may contain spaces
            relative = (fields[0] if len(fields) == 2 and fields[1].isdigit() else line.strip()).replace("\\", "/")
            if relative not in everything:
                class_name = relative.split("/", 1)[0]
                if "/" not in relative or class_name not in index:
                    raise ValueError(f"split list {str(list_path)!r} line {line_number}: {relative!r} is not "
                                     f"'<class folder>/<video>' with a class folder of {str(root)!r}")
                everything[relative] = VideoRecord(str(root / relative), (index[class_name],))
            records.append(everything[relative])
        splits[split] = records
    return Dataset(name=name or root.name, class_names=class_names, splits=splits, root=str(root))


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise ValueError(f"CSV file {str(path)!r}: does not exist")
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _class_index(path: Path, rows_labels: list[tuple[int, str]], classes: Iterable[str] | None) -> dict[str, int]:
    names = sorted(set(classes)) if classes is not None else sorted({label for _, label in rows_labels})
    index = {c: i for i, c in enumerate(names)}
    for row_number, label in rows_labels:
        if label not in index:
            raise ValueError(f"CSV file {str(path)!r} row {row_number}: unknown label {label!r}")
    return index


def _has_extension(name: str) -> bool:
    return Path(name).suffix.lower() in VIDEO_EXTENSIONS


def _locate(root: Path, file_name: str, split: str | None, label: str) -> Path:
    """The first existing of root/<split>/<file>, root/<split>/<label>/<file>, root/<label>/<file>, root/<file>
    (the layouts Kinetics downloaders write); the first candidate when none exists, for the load report."""
    folders = [root / name for name in SPLIT_FOLDERS.get(split, (split,))] if split else []
    candidates = [*(folder / file_name for folder in folders), *(folder / label / file_name for folder in folders),
                  root / label / file_name, root / file_name]
    return next((path for path in candidates if path.is_file()), candidates[0])


def csv_dataset(csv_path: str | Path, *, video_root: str | Path | None = None, classes: Iterable[str] | None = None,
                file_template: str = "{youtube_id}_{time_start:06d}_{time_end:06d}.mp4", trimmed: bool = True,
                name: str | None = None) -> Dataset:
    """Kinetics/MiT-style CSV: columns label, youtube_id (or id) or file (or path), time_start, time_end, split.

    The file is the `file`/`path` column if present, else the id when it already ends in a video extension, else
    `file_template` filled from the row ({youtube_id}/{id}, {label}, {time_start}, {time_end} as ints: the name of a
    downloaded, trimmed Kinetics clip, `abc_000010_000020.mp4`). It is looked up under `video_root` (default: the
    CSV's folder) in `<split>/`, `<split>/<label>/`, `<label>/`, then `video_root` itself; the split folder of "val"
    may also be named validation/validate. `trimmed=False` means files are full videos: time_start/time_end then
    bound the decoded window. Classes come from `classes` (a row with another label raises ValueError) or the CSV.
    Rows without a split go to split "all"."""
    csv_path = Path(csv_path)
    root = Path(video_root) if video_root is not None else csv_path.parent
    rows = _read_csv(csv_path)
    if rows and "label" not in rows[0]:
        raise ValueError(f"CSV file {str(csv_path)!r}: needs a 'label' column, has {list(rows[0])}")
    index = _class_index(csv_path, [(n, row["label"]) for n, row in enumerate(rows, start=2)], classes)
    splits: dict[str, list[VideoRecord]] = {}
    for row_number, row in enumerate(rows, start=2):
        start = float(row["time_start"]) if row.get("time_start") not in (None, "") else None
        end = float(row["time_end"]) if row.get("time_end") not in (None, "") else None
        video_id = row.get("youtube_id") or row.get("id") or ""
        if row.get("file") or row.get("path"):
            file_name = row.get("file") or row["path"]
        elif _has_extension(video_id):
            file_name = video_id
        elif video_id:
            file_name = file_template.format(youtube_id=video_id, id=video_id, label=row["label"],
                                             time_start=int(start or 0), time_end=int(end or 0))
        else:
            raise ValueError(f"CSV file {str(csv_path)!r} row {row_number}: needs a file, path, youtube_id or id")
        split = row.get("split") or None
        record = VideoRecord(str(_locate(root, file_name, split, row["label"])), (index[row["label"]],),
                             None if trimmed else start, None if trimmed else end)
        splits.setdefault(split or "all", []).append(record)
    return Dataset(name=name or csv_path.stem, class_names=sorted(index, key=index.get), splits=splits,
                   root=str(root))


def parse_actions(text: str) -> list[tuple[str, float, float]]:
    """Charades actions field: "c012 1.2 5.0;c045 0.0 3.1" -> [("c012", 1.2, 5.0), ("c045", 0.0, 3.1)]."""
    actions = []
    for item in filter(None, (part.strip() for part in (text or "").split(";"))):
        fields = item.split()
        if len(fields) != 3:
            raise ValueError(f"action {item!r}: expected 'class start end'")
        actions.append((fields[0], float(fields[1]), float(fields[2])))
    return actions


def charades_dataset(csv_paths: Mapping[str, str | Path], *, video_root: str | Path,
                     classes: Iterable[str] | None = None, extension: str = ".mp4", name: str = "charades",
                     class_kinds: Mapping[str, str] | None = None) -> Dataset:
    """Charades-style multi-label CSVs, one per split (columns id, actions, length); the video of a row is
    `video_root/<id><extension>` (an id that already ends in a video extension is used as it is). Targets are
    multi-hot over the actions whose time segment overlaps the sampled window (see VideoRecord.target)."""
    parsed = {}
    for split, path in csv_paths.items():
        path = Path(path)
        rows = _read_csv(path)
        parsed[split] = (path, [(n, row["id"], parse_actions(row.get("actions", ""))) for n, row in
                                enumerate(rows, start=2)])
    labels = [(n, action[0]) for path, rows in parsed.values() for n, _, actions in rows for action in actions]
    index = {}
    for path, rows in parsed.values():
        index = _class_index(path, [(n, a[0]) for n, _, actions in rows for a in actions],
                             classes if classes is not None else sorted({label for _, label in labels}))
    splits = {}
    for split, (path, rows) in parsed.items():
        splits[split] = [VideoRecord(str(Path(video_root) / (video_id if _has_extension(video_id)
                                                             else f"{video_id}{extension}")),
                                     tuple(sorted({index[a[0]] for a in actions})),
                                     segments=tuple((index[a[0]], a[1], a[2]) for a in actions))
                         for _, video_id, actions in rows]
    return Dataset(name=name, class_names=sorted(index, key=index.get), splits=splits, multi_label=True,
                   class_kinds=class_kinds, root=str(video_root))

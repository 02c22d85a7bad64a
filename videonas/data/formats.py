"""Dataset formats of class folders: folder-per-class (UCF/HMDB layout, your own videos), UCF-style split lists and
HMDB-51 split files. The CSV and JSON formats (Kinetics, Charades, Something-Something) are in `tables` and
`something`; the index types (Dataset, VideoRecord) in `records`. All are importable from here.

A Dataset is only an index (records per split + a class list); decoding happens in `cache.load_clips`.
Class indices are the position in the sorted class list, so they are stable across machines and runs.
Files that are missing, broken links or unreadable stay in the index: `load_clips` skips them and counts them with
their reason in its load report; what a reader finds but does not index (a file FFmpeg does not read as a video, an
unused line of a split file) is in the dataset's own `load_report()`. `DatasetSpec.open` checks classes and files at
start-up (`checks`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Mapping

from videonas.data import files
from videonas.data.records import Dataset, VideoRecord
from videonas.data.something import something_dataset
from videonas.data.tables import charades_dataset, csv_dataset, csv_folder_dataset, parse_actions

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = files.VIDEO_EXTENSIONS
SPLIT_NAMES = ("train", "val", "validation", "test")
HMDB_SPLIT_FILE = re.compile(r"^(.+)_test_split(\d+)\.txt$")  # brush_hair_test_split1.txt
HMDB_USES = {"1": "train", "2": "test"}  # "0": not used in this split
_HMDB_CLIP = re.compile(r"^(.+)_\d+$")  # April_09_brush_hair_u_nm_np1_ba_goo_0: clips of one source video share all
# but the last number

__all__ = ["Dataset", "VideoRecord", "charades_dataset", "csv_dataset", "csv_folder_dataset", "folder_dataset",
           "hmdb_dataset", "parse_actions", "something_dataset"]


def _class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _rate(frame_rate: float | None, example: Path) -> float:
    if frame_rate is None:
        raise ValueError(f"frame folder {str(example)!r} (a video as numbered images) needs a frame rate: give "
                         f"options.frame_rate (e.g. 12 for Something-Something v1, 24 for Charades RGB frames)")
    return float(frame_rate)


def _class_videos(class_folder: Path, label: int, frame_rate: float | None,
                  skipped: list) -> dict[str, VideoRecord]:
    """The class folder's videos by name ('clip.mp4', or a frame folder's name), adding what is not one to `skipped`."""
    videos, frame_folders, not_videos = files.scan(class_folder)
    skipped.extend(not_videos)
    records = {path.name: VideoRecord(str(path), (label,), group=files.ucf_group(path.name)) for path in videos}
    for path in frame_folders:
        records[path.name] = VideoRecord(str(path), (label,), frame_rate=_rate(frame_rate, path),
                                         group=files.ucf_group(path.name))
    if not records:
        logger.warning("class folder %s has no videos", class_folder)
    return records


def folder_dataset(root: str | Path, *, split_lists: Mapping[str, str | Path] | None = None,
                   name: str | None = None, frame_rate: float | None = None) -> Dataset:
    """Folder-per-class dataset. Layouts: `root/<split>/<class>/<video>` (when every subfolder is a split name), or
    `root/<class>/<video>` with optional UCF-style list files per split (lines "Class/video.avi [label]"; without
    lists everything is split "all"). A video is a file FFmpeg reads (see `files.scan`) or a folder of numbered
    images read at `frame_rate`; a listed `Class/v_X_g01_c01.avi` may be the frame folder `Class/v_X_g01_c01/`.
    A listed video that is not on disk stays a record (the load report counts it as missing). Empty class folders
    keep their class index and log a warning (`DatasetSpec.open` stops on them)."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"dataset root {str(root)!r}: folder does not exist")
    top = _class_folders(root)
    if not top:
        raise ValueError(f"dataset root {str(root)!r}: has no class folders")
    skipped: list[tuple[str, str]] = []
    if all(folder.name in SPLIT_NAMES for folder in top) and split_lists is None:
        class_names = sorted({c.name for split_folder in top for c in _class_folders(split_folder)})
        index = {c: i for i, c in enumerate(class_names)}
        splits = {split_folder.name: [record for c in _class_folders(split_folder)
                                      for record in _class_videos(c, index[c.name], frame_rate, skipped).values()]
                  for split_folder in top}
        return Dataset(name=name or root.name, class_names=class_names, splits=splits, root=str(root),
                       skipped=skipped)
    class_names = [folder.name for folder in top]
    index = {c: i for i, c in enumerate(class_names)}
    everything = {f"{class_folder.name}/{video}": record for class_folder in top
                  for video, record in _class_videos(class_folder, index[class_folder.name], frame_rate,
                                                     skipped).items()}
    if split_lists is None:
        return Dataset(name=name or root.name, class_names=class_names, splits={"all": list(everything.values())},
                       root=str(root), skipped=skipped)
    splits = {}
    for split, list_path in split_lists.items():
        records = []
        for line_number, line in enumerate(Path(list_path).read_text().splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.strip().rsplit(maxsplit=1)  # "Class/video.avi [label]"; names may contain spaces
            relative = (fields[0] if len(fields) == 2 and fields[1].isdigit() else line.strip()).replace("\\", "/")
            if relative not in everything and str(Path(relative).with_suffix("")) in everything:
                relative = str(Path(relative).with_suffix(""))  # the video extracted to a frame folder
            if relative not in everything:
                class_name = relative.split("/", 1)[0]
                if "/" not in relative or class_name not in index:
                    raise ValueError(f"split list {str(list_path)!r} line {line_number}: {relative!r} is not "
                                     f"'<class folder>/<video>' with a class folder of {str(root)!r}")
                everything[relative] = VideoRecord(str(root / relative), (index[class_name],),
                                                   group=files.ucf_group(relative))
            records.append(everything[relative])
        splits[split] = records
    return Dataset(name=name or root.name, class_names=class_names, splits=splits, root=str(root), skipped=skipped)


def hmdb_dataset(root: str | Path, splits_folder: str | Path, *, split: int = 1, name: str | None = None,
                 frame_rate: float | None = None) -> Dataset:
    """HMDB-51: videos in `root/<class>/<name>` (or frame folders `root/<class>/<name without extension>/`), the
    official splits in `splits_folder` (testTrainMulti_7030_splits: `<class>_test_split<N>.txt`, lines
    `<name> 1|2|0`: 1 train, 2 test, 0 not used in split N, counted as skipped). Each record's group is its source
    video (the name without its last number), so a validation split carved from train keeps a source video whole."""
    root, splits_folder = Path(root), Path(splits_folder)
    if not root.is_dir():
        raise ValueError(f"dataset root {str(root)!r}: folder does not exist")
    if isinstance(split, bool) or split not in (1, 2, 3):
        raise ValueError(f"HMDB-51 split must be 1, 2 or 3, got {split!r}")
    lists = {}
    for path in sorted(splits_folder.glob("*_test_split*.txt")):
        match = HMDB_SPLIT_FILE.match(path.name)
        if match and int(match.group(2)) == split:
            lists[match.group(1)] = path
    if not lists:
        raise ValueError(f"HMDB-51 splits folder {str(splits_folder)!r}: no '<class>_test_split{split}.txt' files")
    class_names = sorted(lists)
    splits: dict[str, list[VideoRecord]] = {"train": [], "test": []}
    skipped = []
    for label, class_name in enumerate(class_names):
        for line_number, line in enumerate(lists[class_name].read_text().splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                raise ValueError(f"HMDB-51 split file {str(lists[class_name])!r} line {line_number}: expected "
                                 f"'<video name> 0|1|2', got {line.strip()!r}")
            path = root / class_name / fields[0]
            if fields[1] == "0":
                skipped.append((str(path), f"not used in split {split} (0)"))
                continue
            stem = Path(fields[0]).stem
            match = _HMDB_CLIP.match(stem)
            group = match.group(1) if match else stem
            folder = root / class_name / stem
            if folder.is_dir():  # extracted to frames
                record = VideoRecord(str(folder), (label,), frame_rate=_rate(frame_rate, folder), group=group)
            else:
                record = VideoRecord(str(path), (label,), group=group)
            splits[HMDB_USES[fields[1]]].append(record)
    return Dataset(name=name or f"{root.name}_split{split}", class_names=class_names, splits=splits, root=str(root),
                   skipped=skipped)

"""Dataset formats from tables: Kinetics/MiT-style CSV lists (one CSV with a split column, or one CSV per split in a
folder: train.csv, validate.csv, test.csv) and Charades-style multi-label CSVs.

Class indices are positions in the sorted class list. A CSV that lacks a column the format needs, or a file template
with an unknown key, is a ValueError naming them; a val/test-only label stops `DatasetSpec.open` (`checks`).
"""

from __future__ import annotations

import csv
import string
from pathlib import Path
from typing import Iterable, Mapping

from videonas.data import files
from videonas.data.records import Dataset, VideoRecord

SPLIT_FOLDERS = {"val": ("val", "validation", "validate"), "validation": ("validation", "val", "validate"),
                 "validate": ("validate", "val", "validation")}  # a CSV's split name -> folders that may hold it
SPLIT_WORDS = {"train": "train", "val": "val", "validation": "val", "validate": "val", "test": "test"}
TEMPLATE_KEYS = ("id", "label", "time_end", "time_start", "youtube_id")
CHARADES_FRAME_RATE = 24.0  # Charades_v1_rgb: frames extracted at 24 fps


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(column names, rows)."""
    if not path.is_file():
        raise ValueError(f"CSV file {str(path)!r}: does not exist")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _class_index(path: Path, rows_labels: list[tuple[int, str]], classes: Iterable[str] | None) -> dict[str, int]:
    names = sorted(set(classes)) if classes is not None else sorted({label for _, label in rows_labels})
    index = {c: i for i, c in enumerate(names)}
    for row_number, label in rows_labels:
        if label not in index:
            raise ValueError(f"CSV file {str(path)!r} row {row_number}: unknown label {label!r}")
    return index


def check_template(template: str) -> None:
    """ValueError naming an unknown key of a file template (and the keys there are), or another template error."""
    for _, field, _, _ in string.Formatter().parse(template):
        key = None if field is None else field.split(".")[0].split("[")[0]
        if key is not None and key not in TEMPLATE_KEYS:
            raise ValueError(f"file_template {template!r}: unknown key {key or '{}'!r}; available keys: "
                             f"{', '.join(TEMPLATE_KEYS)}")
    try:
        template.format(youtube_id="x", id="x", label="x", time_start=0, time_end=0)
    except (ValueError, IndexError, KeyError, AttributeError) as error:
        raise ValueError(f"file_template {template!r}: {error}") from error


def _locate(root: Path, file_name: str, split: str | None, label: str) -> Path:
    """The first existing of root/<split>/<file>, root/<split>/<label>/<file>, root/<label>/<file>, root/<file>
    (the layouts Kinetics downloaders write); the first candidate when none exists, for the load report."""
    folders = [root / name for name in SPLIT_FOLDERS.get(split, (split,))] if split else []
    candidates = [*(folder / file_name for folder in folders), *(folder / label / file_name for folder in folders),
                  root / label / file_name, root / file_name]
    return next((path for path in candidates if path.is_file()), candidates[0])


def _records(path: Path, rows: list[dict[str, str]], index: dict[str, int], *, root: Path, file_template: str,
             trimmed: bool, split: str | None) -> dict[str, list[VideoRecord]]:
    """Records by split (the row's split column unless `split` is given; rows without one go to "all")."""
    splits: dict[str, list[VideoRecord]] = {}
    for row_number, row in enumerate(rows, start=2):
        start = float(row["time_start"]) if row.get("time_start") not in (None, "") else None
        end = float(row["time_end"]) if row.get("time_end") not in (None, "") else None
        video_id = row.get("youtube_id") or row.get("id") or ""
        if row.get("file") or row.get("path"):
            file_name = row.get("file") or row["path"]
        elif files.has_video_extension(video_id):
            file_name = video_id
        elif video_id:
            file_name = file_template.format(youtube_id=video_id, id=video_id, label=row["label"],
                                             time_start=int(start or 0), time_end=int(end or 0))
        else:
            raise ValueError(f"CSV file {str(path)!r} row {row_number}: needs a file, path, youtube_id or id")
        row_split = split or row.get("split") or None
        record = VideoRecord(str(_locate(root, file_name, row_split, row["label"])), (index[row["label"]],),
                             None if trimmed else start, None if trimmed else end)
        splits.setdefault(SPLIT_WORDS.get(row_split, row_split) if split else row_split or "all", []).append(record)
    return splits


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
    check_template(file_template)
    csv_path = Path(csv_path)
    root = Path(video_root) if video_root is not None else csv_path.parent
    columns, rows = _read_csv(csv_path)
    if "label" not in columns:
        raise ValueError(f"CSV file {str(csv_path)!r}: needs a 'label' column, has {columns}")
    index = _class_index(csv_path, [(n, row["label"]) for n, row in enumerate(rows, start=2)], classes)
    splits = _records(csv_path, rows, index, root=root, file_template=file_template, trimmed=trimmed, split=None)
    return Dataset(name=name or csv_path.stem, class_names=sorted(index, key=index.get), splits=splits,
                   root=str(root))


def split_csvs(folder: str | Path) -> dict[str, Path]:
    """The per-split CSVs of a folder by the split word of their name (train.csv, validate.csv, kinetics_test.csv)."""
    found = {}
    for path in sorted(Path(folder).glob("*.csv")):
        words = path.stem.lower().replace("-", "_").split("_")
        word = next((word for word in SPLIT_WORDS if word in words), None)
        if word is not None:
            found.setdefault(word, path)
    return found


def csv_folder_dataset(folder: str | Path, *, video_root: str | Path | None = None,
                       classes: Iterable[str] | None = None,
                       file_template: str = "{youtube_id}_{time_start:06d}_{time_end:06d}.mp4", trimmed: bool = True,
                       name: str | None = None) -> Dataset:
    """Kinetics as released: one CSV per split in `folder` (train.csv, validate.csv, test.csv; columns
    label,youtube_id,time_start,time_end,split), read as `csv_dataset` reads one; the split is the file's (validate
    -> val). A test CSV without a label column (some releases) is not used: its rows are counted as skipped."""
    check_template(file_template)
    folder = Path(folder)
    root = Path(video_root) if video_root is not None else folder
    found = split_csvs(folder)
    if "train" not in found:
        raise ValueError(f"CSV folder {str(folder)!r}: no train CSV (train.csv) among {sorted(found.values())}")
    tables, skipped = {}, []
    for word, path in found.items():
        columns, rows = _read_csv(path)
        if "label" in columns:
            tables[word] = (path, rows)
        elif word == "test":
            skipped.extend((str(path), "test row without a label") for _ in rows)
        else:
            raise ValueError(f"CSV file {str(path)!r}: needs a 'label' column, has {columns}")
    labels = [(n, row["label"]) for path, rows in tables.values() for n, row in enumerate(rows, start=2)]
    index = _class_index(found["train"], labels, classes) if classes is not None else {
        c: i for i, c in enumerate(sorted({label for _, label in labels}))}
    splits: dict[str, list[VideoRecord]] = {}
    for word, (path, rows) in tables.items():
        for split, records in _records(path, rows, index, root=root, file_template=file_template, trimmed=trimmed,
                                       split=word).items():
            splits.setdefault(split, []).extend(records)
    return Dataset(name=name or folder.name, class_names=sorted(index, key=index.get), splits=splits,
                   root=str(root), skipped=skipped)


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
                     class_kinds: Mapping[str, str] | None = None,
                     frame_rate: float = CHARADES_FRAME_RATE) -> Dataset:
    """Charades-style multi-label CSVs, one per split (columns id and actions; length and others are not read); the
    video of a row is `video_root/<id><extension>` (an id that already ends in a video extension is used as it is),
    or the frame folder `video_root/<id>/` (Charades_v1_rgb) read at `frame_rate`. Targets are multi-hot over the
    actions whose time segment overlaps the sampled window (see VideoRecord.target)."""
    parsed = {}
    for split, path in csv_paths.items():
        path = Path(path)
        columns, rows = _read_csv(path)
        missing = [column for column in ("id", "actions") if column not in columns]
        if missing:
            raise ValueError(f"Charades CSV {str(path)!r}: missing column{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(map(repr, missing))} (has {columns})")
        parsed[split] = (path, [(n, row["id"], parse_actions(row["actions"])) for n, row in enumerate(rows, start=2)])
    labels = sorted({a[0] for _, rows in parsed.values() for _, _, actions in rows for a in actions})
    index = {}
    for path, rows in parsed.values():
        index = _class_index(path, [(n, a[0]) for n, _, actions in rows for a in actions],
                             classes if classes is not None else labels)
    root, splits = Path(video_root), {}
    for split, (path, rows) in parsed.items():
        splits[split] = []
        for _, video_id, actions in rows:
            folder = root / video_id
            is_folder = not files.has_video_extension(video_id) and folder.is_dir()
            file = folder if is_folder or files.has_video_extension(video_id) else root / f"{video_id}{extension}"
            splits[split].append(VideoRecord(str(file), tuple(sorted({index[a[0]] for a in actions})),
                                             segments=tuple((index[a[0]], a[1], a[2]) for a in actions),
                                             frame_rate=float(frame_rate) if is_folder else None))
    return Dataset(name=name, class_names=sorted(index, key=index.get), splits=splits, multi_label=True,
                   class_kinds=class_kinds, root=str(video_root))

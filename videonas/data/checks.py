"""Start-up checks of an opened dataset (`DatasetSpec.open` runs them), so that a mistake stops the run before any
trial trains instead of failing in every trial or training on fewer outputs than the data has.

- every class has train videos: an empty class, or one found only in val/test, is a ValueError naming it;
- every split has a video that gives a frame: none existing, or all broken, is a ValueError naming the split, the
  first files and their reasons (a healthy split costs one probe: checking stops at the first readable video).
"""

from __future__ import annotations

from pathlib import Path

from videonas.data import files
from videonas.data.records import Dataset

HINTS = {"csv": "; check options.video_root and options.file_template",
         "charades": "; check options.video_root and options.extension",
         "something": "; check options.video_root and options.extension"}


def check_classes(dataset: Dataset) -> None:
    """ValueError naming the first class without train videos (and where it does have videos, if anywhere)."""
    train = dataset.class_counts("train")
    for name, count in train.items():
        if count:
            continue
        elsewhere = {split: dataset.class_counts(split)[name] for split in dataset.splits if split != "train"}
        elsewhere = {split: count for split, count in elsewhere.items() if count}
        empty = [other for other, count in train.items() if not count]
        more = f" ({len(empty)} classes without train videos: {empty[:5]})" if len(empty) > 1 else ""
        if elsewhere:
            found = ", ".join(f"{count} in {split}" for split, count in elsewhere.items())
            raise ValueError(f"dataset {dataset.name!r}: class {name!r} has no train videos but {found}: a model "
                             f"cannot learn it; add train videos or drop the class{more}")
        raise ValueError(f"dataset {dataset.name!r}: class {name!r} has no videos (an empty class folder, or a "
                         f"class listed with no video): the model would have an output it never trains{more}")


def check_files(dataset: Dataset, fmt: str) -> None:
    """ValueError when none of a split's files exist, or none of them gives a frame (all broken)."""
    hint = HINTS.get(fmt, "")
    for split in dataset.splits:
        records = dataset.records(split)
        if not records:
            continue
        if not any(Path(record.path).exists() for record in records):
            first = ", ".join(repr(record.path) for record in records[:3])
            raise ValueError(f"dataset {dataset.name!r} split {split!r}: none of its {len(records)} video files "
                             f"exist (first: {first}){hint}")
        readable, problems = files.first_readable(records)
        if not readable:
            reasons: dict[str, int] = {}
            for _, reason, _ in problems:
                reasons[reason] = reasons.get(reason, 0) + 1
            first = "; ".join(message for _, _, message in problems[:3])
            raise ValueError(f"dataset {dataset.name!r} split {split!r}: none of its {len(records)} videos gives a "
                             f"frame ({', '.join(f'{n} {r}' for r, n in sorted(reasons.items()))}); first: {first}")

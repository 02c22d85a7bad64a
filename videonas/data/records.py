"""The dataset index every format reader builds: VideoRecord (one video) and Dataset (records per split, classes and
the load report of what the reader found).

A Dataset is only an index; decoding happens in `cache.load_clips`. Class indices are positions in `class_names`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np


@dataclasses.dataclass(frozen=True)
class VideoRecord:
    """One video. `labels` are class indices; `segments` (class, start_s, end_s) restrict multi-label targets to the
    sampled window; `start`/`end` bound the usable part of an untrimmed file (None = whole file). `frame_rate` is set
    for a folder of numbered images (a frame folder: read as a video at that rate); `group` names the source video
    that clips cut from it share (UCF-101 `v_<Class>_g<group>`, HMDB-51), so a validation split keeps it whole."""

    path: str
    labels: tuple[int, ...]
    start: float | None = None
    end: float | None = None
    segments: tuple[tuple[int, float, float], ...] = ()
    frame_rate: float | None = None
    group: str | None = None

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

    def key(self) -> dict:
        """What decides the record's clips (the fingerprint's part): `group` never does, `frame_rate` only when set,
        so that records of video files keep the fingerprints (and caches) they had before frame folders existed."""
        fields = dataclasses.asdict(self)
        fields.pop("group")
        if self.frame_rate is None:
            fields.pop("frame_rate")
        return fields


class Dataset:
    """Records per split plus class names. `class_kinds` maps class -> "scene" | "motion" where known; `notes` maps
    a split to how it was made when the data did not have it; `skipped` lists (path, reason) for what the reader
    found but did not index (not a video, an unused entry of the split file, a test video without a label): both are
    in the load report."""

    def __init__(self, *, name: str, class_names: Iterable[str], splits: Mapping[str, list[VideoRecord]],
                 multi_label: bool = False, class_kinds: Mapping[str, str] | None = None, root: str | None = None,
                 notes: Mapping[str, str] | None = None, skipped: Iterable[tuple[str, str]] = ()):
        self.name = name
        self.class_names = list(class_names)
        self.multi_label = multi_label
        self.class_kinds = dict(class_kinds or {})
        self.root = root
        self.notes = dict(notes or {})
        self.skipped = [tuple(item) for item in skipped]
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

    def with_splits(self, splits: Mapping[str, list[VideoRecord]], notes: Mapping[str, str]) -> "Dataset":
        """The same dataset (classes, kinds, skipped files) with other splits and notes."""
        return Dataset(name=self.name, class_names=self.class_names, splits=splits, multi_label=self.multi_label,
                       class_kinds=self.class_kinds, root=self.root, notes=notes, skipped=self.skipped)

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
                       multi_label=self.multi_label, root=self.root, notes=self.notes, skipped=self.skipped,
                       class_kinds={name: kind for name, kind in self.class_kinds.items() if name in chosen})

    def class_counts(self, split: str) -> dict[str, int]:
        """Videos per class in `split` (every class listed; a multi-label video counts for each of its classes)."""
        counts = dict.fromkeys(self.class_names, 0)
        for record in self._splits.get(split, []):
            for label in {*record.labels, *(segment[0] for segment in record.segments)}:
                counts[self.class_names[label]] += 1
        return counts

    def load_report(self) -> tuple[str, dict]:
        """What the reader found, as (text, plain JSON): videos per split and per class, how a split was made,
        what was skipped with its reason, and multi-label videos without any action (all-zero targets).
        Files that exist but give no clip are found when loading: see `load_clips(...).report`."""
        reasons: dict[str, int] = {}
        for _, reason in self.skipped:
            reasons[reason] = reasons.get(reason, 0) + 1
        splits = {}
        for split in self.splits:
            records = self._splits[split]
            splits[split] = {"videos": len(records), "per_class": self.class_counts(split),
                             "note": self.notes.get(split, "")}
            if self.multi_label:
                splits[split]["without_actions"] = sum(1 for r in records if not r.labels and not r.segments)
        data = {"name": self.name, "multi_label": self.multi_label, "classes": list(self.class_names),
                "splits": splits, "skipped": [list(item) for item in self.skipped],
                "skipped_by_reason": dict(sorted(reasons.items()))}
        kind = "multi-label (mAP)" if self.multi_label else "single-label (top-1)"
        lines = [f"dataset {self.name!r}: {self.num_classes} classes, {kind}"]
        for split, info in splits.items():
            counts = list(info["per_class"].values())
            line = f"  {split}: {info['videos']} videos, {min(counts, default=0)}-{max(counts, default=0)} per class"
            if info.get("without_actions"):
                line += f", {info['without_actions']} without actions (all-zero targets)"
            lines.append(line + (f" ({info['note']})" if info["note"] and split != "train" else ""))
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)}: " + ", ".join(f"{count} {reason}" for reason, count in
                                                                        data["skipped_by_reason"].items()))
        return "\n".join(lines), data

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
                digest.update(json.dumps([split, record.key(), file_key]).encode())
        return digest.hexdigest()[:16]

    def __repr__(self) -> str:
        sizes = {split: len(records) for split, records in self._splits.items()}
        return (f"Dataset(name={self.name!r}, classes={self.num_classes}, multi_label={self.multi_label}, "
                f"splits={sizes})")

"""Clip cache: each (dataset fingerprint, split, ClipSpec) is decoded once into .npy files and memory-mapped after.

Files are written under a temporary name and moved into place with os.replace, metadata last, so concurrent
processes can fill the same cache and a killed process never leaves an entry that looks complete. A video that
cannot be read is skipped with a warning and listed in the LoadReport attached to the clips.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import uuid
from pathlib import Path

import numpy as np

from videonas.data.decode import ClipSpec, decode_clip, resize_clip
from videonas.data.flow import compute_flow
from videonas.data.formats import Dataset

logger = logging.getLogger(__name__)

CACHE_VERSION = 1


def data_root(root: str | Path | None = None) -> Path:
    """`root`, else $VIDEONAS_DATA, else ~/.cache/videonas."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("VIDEONAS_DATA") or Path.home() / ".cache" / "videonas")


@dataclasses.dataclass
class LoadReport:
    loaded: int = 0
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Clips:
    """Decoded clips of one split. rgb uint8 (N,T,H,W,3) and flow float16 (N,T,H,W,2) are memory-mapped or None;
    labels are int64 (N,) or float32 multi-hot (N,C)."""

    rgb: np.ndarray | None
    flow: np.ndarray | None
    labels: np.ndarray
    class_names: list[str]
    multi_label: bool
    report: LoadReport
    spec: ClipSpec
    paths: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def _decode_one(record, spec: ClipSpec, num_classes: int, multi_label: bool):
    decoded = decode_clip(record.path, num_frames=spec.num_frames, frame_stride=spec.frame_stride, fps=spec.fps,
                          start=spec.start, window=(record.start, record.end), with_next=spec.flow)
    rgb = resize_clip(decoded.frames, spec.image_size)
    flow = None
    if spec.flow:
        flow = compute_flow(rgb, resize_clip(decoded.next_frames, spec.image_size), method=spec.flow_method)
    label = record.target(num_classes, decoded.window) if multi_label else record.labels[0]
    return rgb, flow, label


def _save(path: Path, array: np.ndarray) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp.npy")
    np.save(temporary, array)
    os.replace(temporary, path)


def cache_key(ds: Dataset, split: str, spec: ClipSpec) -> str:
    payload = json.dumps([CACHE_VERSION, ds.fingerprint(), split, spec.to_dict()], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def load_clips(ds: Dataset, split: str, spec: ClipSpec, *, cache_dir: str | Path | None = None) -> Clips:
    """Clips of `split` cut by `spec` (centre crops), decoded on first use and memory-mapped from the cache after.
    cache_dir defaults to <data root>/clip_cache."""
    records = ds.records(split)
    folder = (Path(cache_dir) if cache_dir is not None else data_root() / "clip_cache") / cache_key(ds, split, spec)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        _fill(folder, ds, split, records, spec)
    meta = json.loads(meta_path.read_text())
    report = LoadReport(meta["loaded"], [tuple(item) for item in meta["skipped"]])
    return Clips(rgb=np.load(folder / "rgb.npy", mmap_mode="r") if spec.rgb else None,
                 flow=np.load(folder / "flow.npy", mmap_mode="r") if spec.flow else None,
                 labels=np.load(folder / "labels.npy"), class_names=list(ds.class_names),
                 multi_label=ds.multi_label, report=report, spec=spec, paths=meta["paths"])


def _fill(folder: Path, ds: Dataset, split: str, records, spec: ClipSpec) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    size, frames, rows = spec.image_size, spec.num_frames, max(1, len(records))
    # Decode straight into memory-mapped temporary files so a large split never has to fit in RAM.
    token = uuid.uuid4().hex
    arrays = {}
    for name, wanted, dtype, channels in (("rgb", spec.rgb, np.uint8, 3), ("flow", spec.flow, np.float16, 2)):
        if wanted:
            temporary = folder / f".{name}.{token}.tmp.npy"
            arrays[name] = (temporary, np.lib.format.open_memmap(temporary, "w+", dtype,
                                                                 (rows, frames, size, size, channels)))
    labels, paths, skipped = [], [], []
    for record in records:
        try:
            clip, clip_flow, label = _decode_one(record, spec, ds.num_classes, ds.multi_label)
        except ValueError as error:
            logger.warning("skipping %s: %s", record.path, error)
            skipped.append((record.path, str(error)))
            continue
        for name, value in (("rgb", clip), ("flow", clip_flow)):
            if name in arrays:
                arrays[name][1][len(labels)] = value
        labels.append(label)
        paths.append(record.path)
    count = len(labels)
    for name, (temporary, array) in arrays.items():
        array.flush()
        if count == len(array):
            del array
            os.replace(temporary, folder / f"{name}.npy")
        else:  # some files were skipped (or the split is empty): keep only the decoded rows
            _save(folder / f"{name}.npy", np.array(array[:count]))
            del array
            temporary.unlink()
    arrays.clear()
    label_array = (np.array(labels, np.float32).reshape(count, ds.num_classes) if ds.multi_label
                   else np.array(labels, np.int64))
    _save(folder / "labels.npy", label_array)
    meta = {"loaded": count, "skipped": skipped, "paths": paths, "spec": spec.to_dict(), "dataset": ds.name}
    temporary = folder / f".meta.{token}.tmp"
    temporary.write_text(json.dumps(meta))
    os.replace(temporary, folder / "meta.json")
    if skipped:
        logger.warning("%s/%s: loaded %d clips, skipped %d unreadable files", ds.name, split, count, len(skipped))

"""Clip cache: each (dataset fingerprint, split, ClipSpec) is decoded once into .npy files and memory-mapped after.

Files are written under a temporary name and moved into place with os.replace, metadata last, so concurrent
processes can fill the same cache and a killed process never leaves an entry that looks complete. A video that
gives no clip is skipped with a warning and listed with its reason in the LoadReport attached to the clips; one that
gives a clip despite a problem (packets that fail to decode, content shorter than its header) is loaded and listed
too. A split where nothing loads raises ValueError naming the dataset and the first files with their reasons.

A missing entry is cut from the split's source cache (`source.py`: every video decoded once at native resolution)
when its frames fit `source_budget_mib` (argument, else $VIDEONAS_SOURCE_BUDGET_MIB, else 2048; 0 turns it off):
a new input (frames, size, stride, fps) then costs a resize instead of a decode, with identical clips. Over the
budget (long real videos) each entry is decoded per spec. Entries opened once stay open in the process (bounded,
keyed by entry folder), so a worker training many candidates shares one set of memory maps.

An entry is filled by `loader_workers` processes (`loader.py`: in record order, a bounded number of clips ahead, so
the content is the same with any count and the split never sits in memory); the entries together stay within
`clip_cache_budget_mib`, the least recently used evicted first, and with `derive_from_largest` a smaller RGB input is
cut from the largest cached entry of its split instead of decoded (`entries.py`: close to, not equal to, decoding).
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

from videonas.data import entries, loader, source
from videonas.data.decode import ClipSpec
from videonas.data.formats import Dataset
from videonas.data.images import resize_clip

logger = logging.getLogger(__name__)

CACHE_VERSION = 3  # 2: timestamp sampling (frame on screen at each target), rotation, clamping to the content;
# 3: an explicit start honoured, short videos padded with their last frame, half-millisecond tolerance
SOURCE_BUDGET_MIB = 2048  # largest split (native frames, bytes) kept in a source cache
OPENED_LIMIT = 32  # clip cache entries kept open per process


def data_root(root: str | Path | None = None) -> Path:
    """`root`, else $VIDEONAS_DATA, else ~/.cache/videonas."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("VIDEONAS_DATA") or Path.home() / ".cache" / "videonas")


@dataclasses.dataclass
class LoadReport:
    """What loading a split did. `skipped`: (path, reason, message) for files that gave no clip, `reason` being the
    short category of VideoError ("does not exist", "broken link", "too few frames decode", ...); `damaged`:
    (path, problem) for files loaded despite a problem; `split`: how the split was made when the data had none."""

    loaded: int = 0
    skipped: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    damaged: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    split: str = ""

    def reasons(self) -> dict[str, int]:
        """Skipped files counted by reason."""
        counts: dict[str, int] = {}
        for _, reason, _ in self.skipped:
            counts[reason] = counts.get(reason, 0) + 1
        return dict(sorted(counts.items()))

    def summary(self) -> str:
        text = f"loaded {self.loaded} of {self.loaded + len(self.skipped)}"
        if self.skipped:
            text += "; skipped " + ", ".join(f"{count} {reason}" for reason, count in self.reasons().items())
        if self.damaged:
            text += f"; {len(self.damaged)} loaded with problems"
        return text + (f"; {self.split}" if self.split else "")


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


def _save(path: Path, array: np.ndarray) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp.npy")
    np.save(temporary, array)
    os.replace(temporary, path)


def cache_key(ds: Dataset, split: str, spec: ClipSpec, *, fingerprint: str | None = None) -> str:
    """The entry's folder name; `fingerprint` (of `ds`) when the caller has it already."""
    fingerprint = ds.fingerprint() if fingerprint is None else fingerprint
    payload = json.dumps([CACHE_VERSION, fingerprint, split, spec.to_dict()], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def source_budget(value: float | None = None) -> int:
    """The source cache budget in bytes: `value` MiB, else $VIDEONAS_SOURCE_BUDGET_MIB, else SOURCE_BUDGET_MIB."""
    return entries.mib_budget(value, field="source_budget_mib", variable="VIDEONAS_SOURCE_BUDGET_MIB",
                              default=SOURCE_BUDGET_MIB, zero="0: no source cache")


def open_source(ds: Dataset, split: str, *, cache_dir: str | Path | None = None,
                source_budget_mib: float | None = None, fingerprint: str | None = None) -> source.Source | None:
    """The split's source cache (built on first use), or None when it is off or the split does not fit its budget."""
    records = ds.records(split)
    budget = source_budget(source_budget_mib)
    if not budget or not records:
        return None
    root = Path(cache_dir) if cache_dir is not None else data_root() / "clip_cache"
    folder = source_folder(root, ds.fingerprint() if fingerprint is None else fingerprint, split)
    return source.open_source(folder, records, budget_bytes=budget)


def source_folder(root: Path, fingerprint: str, split: str) -> Path:
    """Where the split's source cache lives under the clip cache `root`."""
    return root / "source" / source.source_key(fingerprint, split)


_opened = source.Opened(OPENED_LIMIT)  # meta, rgb, flow, labels of clip cache entries


def group_key(fingerprint: str, split: str) -> str:
    """What the entries of one split share, whatever their spec: where a smaller input may be derived from."""
    return hashlib.sha256(json.dumps([CACHE_VERSION, fingerprint, split]).encode()).hexdigest()[:20]


def load_clips(ds: Dataset, split: str, spec: ClipSpec, *, cache_dir: str | Path | None = None,
               source_budget_mib: float | None = None, loader_workers: int | None = None,
               clip_cache_budget_mib: float | None = None, derive_from_largest: bool = False) -> Clips:
    """Clips of `split` cut by `spec` (centre crops), made on first use (from the split's source cache when it fits
    `source_budget_mib`, see the module docstring) by `loader_workers` processes and memory-mapped from the cache
    after. cache_dir defaults to <data root>/clip_cache."""
    workers = loader.check_workers(loader_workers)
    budget = entries.clip_cache_budget(clip_cache_budget_mib)
    if not isinstance(derive_from_largest, bool):
        raise ValueError(f"derive_from_largest must be true or false, got {derive_from_largest!r}")
    root = Path(cache_dir) if cache_dir is not None else data_root() / "clip_cache"
    fingerprint = ds.fingerprint()
    folder = root / cache_key(ds, split, spec, fingerprint=fingerprint)

    def ensure() -> None:
        if not (folder / "meta.json").is_file():
            _make(folder, ds, split, spec, root=root, fingerprint=fingerprint, workers=workers,
                  source_budget_mib=source_budget_mib, derive=derive_from_largest)
            entries.evict(root, budget, keep=folder)

    ensure()
    try:
        return _open(folder, ds, split, spec)
    except FileNotFoundError:  # evicted by another process between the check and the open: make it again
        ensure()
        return _open(folder, ds, split, spec)


def _make(folder: Path, ds: Dataset, split: str, spec: ClipSpec, *, root: Path, fingerprint: str, workers: int,
          source_budget_mib: float | None, derive: bool) -> None:
    """Fill the entry: derived from a larger one when asked and possible, else from the source cache or the files."""
    records, group = ds.records(split), group_key(fingerprint, split)
    larger = entries.largest_source(root, group, spec.to_dict()) if derive and not ds.multi_label else None
    if larger is not None:
        try:
            _fill(folder, ds, split, records, spec, _derived_cuts(larger, records, spec),
                  {"group": group, "derived_from": larger.name})
            return
        except FileNotFoundError:  # the larger entry was evicted meanwhile: decode instead
            logger.info("%s was evicted while deriving from it: decoding %s/%s", larger, ds.name, split)
    # The source cache holds each video's frames around its centre; sparse segments need the whole video.
    opened = None if spec.sampling != "clip" else open_source(ds, split, cache_dir=root,
                                                              source_budget_mib=source_budget_mib,
                                                              fingerprint=fingerprint)
    job = loader.Job(records, spec, ds.num_classes, ds.multi_label)
    if opened is not None:
        job.source_folder = str(source_folder(root, fingerprint, split))
        job.source_budget = source_budget(source_budget_mib)
    _fill(folder, ds, split, records, spec, loader.stream(job, workers=workers), {"group": group})


def _derived_cuts(larger: Path, records, spec: ClipSpec):
    """The Cuts of `records` taken from the larger entry in `larger`: its centred frames resized to `spec`."""
    meta = json.loads((larger / "meta.json").read_text())
    rgb, labels = np.load(larger / "rgb.npy", mmap_mode="r"), np.load(larger / "labels.npy", mmap_mode="r")
    rows = {path: row for row, path in enumerate(meta["paths"])}
    errors = {path: (reason, message) for path, reason, message in meta["skipped"]}
    problems: dict[str, list[str]] = {}
    for path, problem in meta["damaged"]:
        problems.setdefault(path, []).append(problem)
    first = (meta["spec"]["num_frames"] - spec.num_frames) // 2
    for index, record in enumerate(records):
        row = rows.get(record.path)
        if row is None:
            yield loader.Cut(index, error=errors.get(record.path, ("unreadable", f"{record.path}: not in {larger}")))
            continue
        yield loader.Cut(index, resize_clip(np.asarray(rgb[row, first:first + spec.num_frames]), spec.image_size),
                         None, labels[row], tuple(problems.get(record.path, ())))


def _open(folder: Path, ds: Dataset, split: str, spec: ClipSpec) -> Clips:
    meta_path = folder / "meta.json"

    def make() -> tuple:
        labels = np.load(folder / "labels.npy")
        labels.flags.writeable = False  # shared by every load of this entry in the process
        return (json.loads(meta_path.read_text()), np.load(folder / "rgb.npy", mmap_mode="r") if spec.rgb else None,
                np.load(folder / "flow.npy", mmap_mode="r") if spec.flow else None, labels)

    meta, rgb, flow, labels = _opened.get((str(folder), meta_path.stat().st_mtime_ns), make)
    entries.touch(folder)
    report = LoadReport(meta["loaded"], [tuple(item) for item in meta["skipped"]],
                        [tuple(item) for item in meta["damaged"]], ds.notes.get(split, ""))
    return Clips(rgb=rgb, flow=flow, labels=labels, class_names=list(ds.class_names), multi_label=ds.multi_label,
                 report=report, spec=spec, paths=list(meta["paths"]))


def _fill(folder: Path, ds: Dataset, split: str, records, spec: ClipSpec, cuts, extra: dict) -> None:
    """Write the entry from `cuts` (one `loader.Cut` per record, in record order); `extra` goes into its meta."""
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
    labels, paths, skipped, damaged = [], [], [], []
    for record, cut in zip(records, cuts):
        if cut.error is not None:
            logger.warning("skipping %s: %s", record.path, cut.error[1])
            skipped.append((record.path, *cut.error))
            continue
        damaged.extend((record.path, problem) for problem in cut.problems)
        for name, value in (("rgb", cut.rgb), ("flow", cut.flow)):
            if name in arrays:
                arrays[name][1][len(labels)] = value
        labels.append(cut.label)
        paths.append(record.path)
    count = len(labels)
    if records and not count:
        temporaries = [temporary for temporary, _ in arrays.values()]
        arrays.clear()
        for temporary in temporaries:
            temporary.unlink()
        first = "; ".join(f"{path} ({reason})" for path, reason, _ in skipped[:3])
        raise ValueError(f"dataset {ds.name!r} split {split!r}: none of its {len(records)} videos loaded "
                         f"({', '.join(f'{n} {r}' for r, n in LoadReport(0, skipped).reasons().items())}); "
                         f"first: {first}")
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
    meta = {"loaded": count, "skipped": skipped, "damaged": damaged, "paths": paths, "spec": spec.to_dict(),
            "dataset": ds.name, **extra}
    temporary = folder / f".meta.{token}.tmp"
    temporary.write_text(json.dumps(meta))
    os.replace(temporary, folder / "meta.json")
    if skipped or damaged:
        report = LoadReport(count, skipped, damaged, ds.notes.get(split, ""))
        logger.warning("%s/%s: %s", ds.name, split, report.summary())

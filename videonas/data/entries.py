"""Clip cache entries as a whole: their last use, a byte budget kept by evicting the least recently used, and the
larger entry of the same split a smaller input can be derived from.

An entry is a folder `<cache>/<key>/` (meta.json, rgb.npy, flow.npy, labels.npy); its last use is the time of its
`used` file, touched by every load. After a new entry is written, the least recently used others are removed until
the entries' total fits `clip_cache_budget_mib` (argument, else $VIDEONAS_CLIP_CACHE_BUDGET_MIB, else
CLIP_CACHE_BUDGET_MIB); the newest entry always stays, even alone over the budget (a training needs it). An evicted
entry is first renamed away, so no process sees half of one; a process that has it memory-mapped keeps reading it
(the files go when their last map closes). The split's source cache (`<cache>/source/`) has its own budget.

Derivation (`derive_from_largest`, off by default): a single-label RGB input at a smaller image size, or with fewer
frames at the same stride, rate and placement, is cut from the largest such entry already cached instead of decoding
the split again. It is close to, not the same as, decoding directly: the frames are resized twice (the bench reports
the mean difference), and a multi-label target or optical flow would depend on what is not stored, so those decode.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from pathlib import Path

logger = logging.getLogger(__name__)

CLIP_CACHE_BUDGET_MIB = 16384  # clip cache entries kept on disk (source caches apart)
_ENTRY = re.compile(r"[0-9a-f]{20}")
DERIVABLE_FIELDS = ("frame_stride", "fps", "start", "sampling", "flow_method")  # must match between the two specs


def clip_cache_budget(value: float | None = None) -> int:
    """The entries' budget in bytes: `value` MiB, else $VIDEONAS_CLIP_CACHE_BUDGET_MIB, else CLIP_CACHE_BUDGET_MIB."""
    return mib_budget(value, field="clip_cache_budget_mib", variable="VIDEONAS_CLIP_CACHE_BUDGET_MIB",
                      default=CLIP_CACHE_BUDGET_MIB)


def mib_budget(value: float | None, *, field: str, variable: str, default: float, zero: str = "") -> int:
    """A cache budget in bytes: `value` MiB, else the environment `variable`, else `default`. `zero`, when given,
    says what 0 means (then 0 is allowed); errors name `field`, or `$variable` for a value from the environment."""
    name = field
    if value is None:
        text = os.environ.get(variable)
        name, value = f"${variable}", default if not text else text
    try:
        mib = float(value)
    except (TypeError, ValueError):
        mib = -1.0
    if not (mib >= 0 if zero else mib > 0):
        bound = f">= 0 ({zero})" if zero else "> 0"
        raise ValueError(f"{name} must be a number of MiB {bound}, got {value!r}")
    return int(mib * 2**20)


def touch(folder: Path) -> None:
    """Mark the entry used now (its meta.json is left alone: its time keys the opened memory maps)."""
    used = folder / "used"
    try:
        os.utime(used)
    except FileNotFoundError:
        used.touch()


def _entries(root: Path) -> list[tuple[float, int, Path]]:
    """(last use, bytes, folder) of every complete entry under `root`."""
    found = []
    for folder in root.iterdir() if root.is_dir() else ():
        meta = folder / "meta.json"
        if not _ENTRY.fullmatch(folder.name) or not meta.is_file():
            continue
        try:
            used = (folder / "used").stat().st_mtime if (folder / "used").exists() else meta.stat().st_mtime
            size = sum(path.stat().st_size for path in folder.iterdir() if path.is_file())
        except FileNotFoundError:  # evicted by another process meanwhile
            continue
        found.append((used, size, folder))
    return sorted(found)


def evict(root: Path, budget_bytes: int, *, keep: Path) -> list[Path]:
    """Remove the least recently used entries (never `keep`) until the entries fit `budget_bytes`; those removed."""
    entries = _entries(Path(root))
    total = sum(size for _, size, _ in entries)
    removed = []
    for _, size, folder in entries:
        if total <= budget_bytes:
            break
        if folder == keep:
            continue
        away = folder.with_name(f".evicted.{folder.name}.{uuid.uuid4().hex}")
        try:
            os.replace(folder, away)
        except FileNotFoundError:
            continue
        shutil.rmtree(away, ignore_errors=True)
        total -= size
        removed.append(folder)
    if removed:
        logger.info("clip cache %s: evicted %d least recently used entries to fit %.0f MiB", root, len(removed),
                    budget_bytes / 2**20)
    return removed


def derivable(spec_dict: dict, wanted: dict) -> bool:
    """Whether an entry cut at `spec_dict` holds the input `wanted` (both ClipSpec.to_dict()): RGB, no flow, the same
    sampling, at least as large and as long, longer by an even number of frames (so that centring keeps the targets)."""
    if wanted["flow"] or not wanted["rgb"] or not spec_dict["rgb"] or wanted["sampling"] != "clip":
        return False
    if any(spec_dict[field] != wanted[field] for field in DERIVABLE_FIELDS):
        return False
    extra = spec_dict["num_frames"] - wanted["num_frames"]
    return spec_dict["image_size"] >= wanted["image_size"] and extra >= 0 and extra % 2 == 0 and spec_dict != wanted


def largest_source(root: Path, group: str, wanted: dict) -> Path | None:
    """The largest (size, then frames) complete entry of split `group` that `wanted` can be derived from, or None."""
    best, best_size = None, None
    for _, _, folder in _entries(Path(root)):
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError):
            continue
        if meta.get("group") != group or meta.get("derived_from") or not derivable(meta["spec"], wanted):
            continue
        size = (meta["spec"]["image_size"], meta["spec"]["num_frames"])
        if best_size is None or size > best_size:
            best, best_size = folder, size
    return best

"""Data-path benchmark on the embedded dataset: raw PyAV decode vs decode+sample+resize vs a new input cut from the
split's source cache (the split decoded once before, timed apart) vs the memory-mapped cache, and
decode+sample+resize on re-encoded copies of the same clips at a constant (1/16 s) and a variable frame rate (each
frame shown for 1/32-1/8 s): the timestamp path on VFR timing against the same encoder at constant rate.

The loader part (`loader_bench`): a synthetic folder dataset of LOADER_FILES small videos (64x64, 2 s at 16 fps,
generated once under <data root>/bench and reused) loaded into a fresh clip cache with 1 and 2 loader processes, each
run in its own spawned driver process: streamed fill (every file decoded, as for a split past the source cache's
budget, written in record order into the memory-mapped entry) and one epoch of seeded batches read from it as
ClipBatches reads them (without Keras), in clips per second, and the peak memory of the driver and its loader
processes together, sampled every 50 ms: resident (file pages of the memory maps included) and anonymous (what
materialising the split would grow)."""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import av
import numpy as np

from videonas import data
from videonas.data.samples import write_video

PATHS = ("raw_decode", "decode_sample_resize", "source", "cfr_copy_decode_sample_resize",
         "vfr_copy_decode_sample_resize", "cached")
LABELS = {"source": "new input from the source cache"}
LOADER_FILES = 2000
QUICK_LOADER_FILES = 50
LOADER_WORKERS = (1, 2)
LOADER_CLASSES = 10
LOADER_SPEC = {"num_frames": 8, "image_size": 32}
LOADER_BATCH = 16
SAMPLE_S = 0.05  # memory sampling period


def _copies(paths: list[str], folder: Path, *, variable: bool) -> list[str]:
    """The same frames re-encoded, at 16 fps or with seeded variable frame durations (millisecond timestamps)."""
    rng = np.random.default_rng(0)
    copies = []
    for index, path in enumerate(paths):
        with av.open(path) as container:
            frames = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
        steps = rng.uniform(1 / 32, 1 / 8, len(frames) - 1) if variable else np.full(len(frames) - 1, 1 / 16)
        times = np.round(np.cumsum(np.r_[0.0, steps]), 3)
        name = f"{'vfr' if variable else 'cfr'}_{index:04d}.mp4"
        copies.append(str(write_video(folder / name, frames, times=times, fps=16)))
    return copies


def _clips_per_s(paths: list[str], spec: data.ClipSpec) -> float:
    start = time.perf_counter()
    for path in paths:
        data.load_clip(path, spec)
    return len(paths) / (time.perf_counter() - start)


def synthetic_folder(count: int, *, root: str | Path | None = None) -> Path:
    """`root`/loader_<count> (default root: <data root>/bench): `count` 64x64 videos of 2 s at 16 fps in
    LOADER_CLASSES class folders (a square moving over a gradient, seeded per file), generated once and reused."""
    folder = Path(root if root is not None else data.data_root() / "bench") / f"loader_{count}"
    if (folder / "complete.json").is_file():
        return folder
    building = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}")
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 160, 64, dtype=np.float32)
    for index in range(count):
        label = index % LOADER_CLASSES
        frames = np.empty((32, 64, 64, 3), np.uint8)
        frames[...] = (ramp[None, :, None, None] + ramp[None, None, :, None] * rng.uniform(0, 1, 3)).astype(np.uint8)
        y, x, dy, dx = rng.integers(0, 48, 2).tolist() + rng.integers(-2, 3, 2).tolist()
        for time_index in range(32):
            top, left = (y + dy * time_index) % 48, (x + dx * time_index) % 48
            frames[time_index, top:top + 16, left:left + 16] = 40 + 20 * label
        (building / "train" / f"class_{label}").mkdir(parents=True, exist_ok=True)
        write_video(building / "train" / f"class_{label}" / f"video_{index:05d}.mp4", frames, fps=16)
    (building / "complete.json").write_text(json.dumps({"files": count, "size": 64, "frames": 32, "fps": 16}))
    try:
        os.replace(building, folder)
    except OSError:  # another process finished the same folder first
        shutil.rmtree(building, ignore_errors=True)
    return folder


def _drive_loader(folder: str, cache_dir: str, workers: int, results) -> None:
    """One measured run (the spawned driver): fill a fresh cache streamed by `workers` processes, read one epoch."""
    dataset = data.folder_dataset(folder)
    started = time.perf_counter()
    clips = data.load_clips(dataset, "train", data.ClipSpec(**LOADER_SPEC), cache_dir=cache_dir,
                            loader_workers=workers, source_budget_mib=0)
    fill_s = time.perf_counter() - started
    order = np.random.default_rng([0, 0]).permutation(len(clips))
    started = time.perf_counter()
    for first in range(0, len(clips), LOADER_BATCH):
        rows = np.sort(order[first:first + LOADER_BATCH])
        np.asarray(clips.rgb[rows], np.float32) / 255.0
    results.put({"clips": len(clips), "fill_s": fill_s, "epoch_s": time.perf_counter() - started})


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (psutil when installed, else /proc)."""
    try:
        import psutil  # optional: only to list a process tree
    except ImportError:
        parents = {}
        for entry in Path("/proc").iterdir():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (ValueError, OSError, IndexError):
                continue
        found, frontier = [pid], [pid]
        while frontier:
            frontier = [child for child, parent in parents.items() if parent in frontier]
            found += frontier
        return found
    try:
        return [pid] + [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _memory(pids: list[int]) -> tuple[int, int]:
    """(resident, anonymous resident) bytes of `pids` summed, from /proc/<pid>/status."""
    resident = anonymous = 0
    for pid in pids:
        try:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if ":" in line)
        except OSError:
            continue
        resident += int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
        anonymous += int(fields.get("RssAnon", "0 kB").split()[0]) * 1024
    return resident, anonymous


def loader_bench(files: int = LOADER_FILES, *, workers: tuple[int, ...] = LOADER_WORKERS,
                 root: str | Path | None = None) -> dict:
    """Streamed clips per second and peak memory with each loader process count, on `files` synthetic videos."""
    folder = synthetic_folder(files, root=root)
    context = multiprocessing.get_context("spawn")
    rows = []
    for count in workers:
        with tempfile.TemporaryDirectory() as cache_dir:
            results = context.Queue()
            driver = context.Process(target=_drive_loader, args=(str(folder), cache_dir, count, results))
            driver.start()
            peak_resident = peak_anonymous = 0
            while driver.is_alive() and results.empty():
                resident, anonymous = _memory(_tree(driver.pid))
                peak_resident, peak_anonymous = max(peak_resident, resident), max(peak_anonymous, anonymous)
                time.sleep(SAMPLE_S)
            try:
                measured = results.get(timeout=60)
            except queue.Empty:
                raise RuntimeError(f"loader bench driver ({count} loader processes) exited with code "
                                   f"{driver.exitcode} before reporting") from None
            driver.join()
        rows.append({"workers": count, "files": files, "clips": measured["clips"],
                     "fill_clips_per_s": measured["clips"] / measured["fill_s"],
                     "epoch_clips_per_s": measured["clips"] / measured["epoch_s"],
                     "peak_rss_mib": peak_resident / 2**20, "peak_anon_mib": peak_anonymous / 2**20})
    return {"files": files, "spec": dict(LOADER_SPEC), "cores": os.cpu_count(), "rows": rows}


def derivation(ds, cache_dir: str | Path, larger: data.ClipSpec, smaller: data.ClipSpec) -> dict:
    """How far `smaller` derived from the cached `larger` entry (`derive_from_largest`) is from decoding it (cut
    from the source cache, which equals decoding): mean and largest absolute difference in uint8 levels, and speed.
    Every entry in `cache_dir` but the source cache is removed first: `larger` must be the largest there."""
    for entry in Path(cache_dir).iterdir():
        if entry.name != "source":
            shutil.rmtree(entry)
    data.load_clips(ds, "train", larger, cache_dir=cache_dir)
    exact = np.array(data.load_clips(ds, "train", smaller, cache_dir=cache_dir).rgb, np.int16)
    shutil.rmtree(Path(cache_dir) / data.cache_key(ds, "train", smaller))
    start = time.perf_counter()
    derived = data.load_clips(ds, "train", smaller, cache_dir=cache_dir, derive_from_largest=True)
    seconds = time.perf_counter() - start
    meta = json.loads((Path(cache_dir) / data.cache_key(ds, "train", smaller) / "meta.json").read_text())
    if meta.get("derived_from") != data.cache_key(ds, "train", larger):
        raise RuntimeError(f"derivation bench: {smaller} was not derived from the cached {larger}")
    difference = np.abs(np.asarray(derived.rgb, np.int16) - exact)
    return {"derived_clips_per_s": len(derived) / seconds, "derived_mean_abs_difference": float(difference.mean()),
            "derived_max_abs_difference": int(difference.max()),
            "derived": f"{smaller.num_frames}x{smaller.image_size} from {larger.num_frames}x{larger.image_size}"}


def run(*, profile: str = "smoke", quick: bool = False) -> dict:
    """clips/s per path; `quick` forces the smoke profile. Returns the bench report schema plus the raw figures."""
    profile = "smoke" if quick else profile
    ds = data.embedded_dataset(profile)
    records = ds.records("train")
    spec = data.ClipSpec(num_frames=8, image_size=64)
    start = time.perf_counter()
    for record in records:
        with av.open(record.path) as container:
            [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    raw = len(records) / (time.perf_counter() - start)
    sampled = _clips_per_s([record.path for record in records], spec)
    sources = [record.path for record in records[:32 if quick else 200]]
    with tempfile.TemporaryDirectory() as folder:
        cfr_copy = _clips_per_s(_copies(sources, Path(folder), variable=False), spec)
        vfr_copy = _clips_per_s(_copies(sources, Path(folder), variable=True), spec)
    with tempfile.TemporaryDirectory() as cache_dir:
        start = time.perf_counter()
        data.open_source(ds, "train", cache_dir=cache_dir)
        source_build_s = time.perf_counter() - start
        start = time.perf_counter()
        clips = data.load_clips(ds, "train", spec, cache_dir=cache_dir)
        from_source = len(records) / (time.perf_counter() - start)
        clips = data.load_clips(ds, "train", spec, cache_dir=cache_dir)
        start = time.perf_counter()
        for index in range(len(clips)):
            np.array(clips.rgb[index])
        cached = len(clips) / (time.perf_counter() - start)
        # 48 px: not the videos' native 64, so the derived frames are resized twice
        derived = derivation(ds, cache_dir, data.ClipSpec(num_frames=8, image_size=48),
                             data.ClipSpec(num_frames=4, image_size=32))
    loaded = loader_bench(QUICK_LOADER_FILES if quick else LOADER_FILES)
    results = {"profile": profile, "clips": len(records), "copied_clips": len(sources), "raw_decode_clips_per_s": raw,
               "decode_sample_resize_clips_per_s": sampled, "source_clips_per_s": from_source,
               "source_build_s": source_build_s, "cfr_copy_decode_sample_resize_clips_per_s": cfr_copy,
               "vfr_copy_decode_sample_resize_clips_per_s": vfr_copy, "cached_clips_per_s": cached, **derived}
    print(f"{'path':<34}{'clips/s':>12}")
    for name in PATHS:
        print(f"{LABELS.get(name, name):<34}{results[name + '_clips_per_s']:>12.1f}")
    headline = [{"label": f"{LABELS.get(name, name.replace('_', ' ').replace('vfr', 'VFR').replace('cfr', 'CFR'))} "
                          "(clips/s)",
                 "value": round(results[name + "_clips_per_s"], 1), "paper": None} for name in PATHS]
    for row in loaded["rows"]:
        where = f"{row['files']} files, {row['workers']} loader process{'es' if row['workers'] > 1 else ''}"
        print(f"loader, {where}: {row['fill_clips_per_s']:.1f} clips/s streamed into the cache, "
              f"{row['epoch_clips_per_s']:.0f} clips/s read, peak {row['peak_rss_mib']:.0f} MiB resident "
              f"({row['peak_anon_mib']:.0f} MiB anonymous)")
        headline += [{"label": f"streamed fill, {where} (clips/s)", "value": round(row["fill_clips_per_s"], 1),
                      "paper": None},
                     {"label": f"peak memory, {where} (MiB)", "value": round(row["peak_rss_mib"]), "paper": None}]
    speedup = loaded["rows"][-1]["fill_clips_per_s"] / loaded["rows"][0]["fill_clips_per_s"]
    print(f"derived {derived['derived']}: {derived['derived_clips_per_s']:.0f} clips/s, "
          f"{derived['derived_mean_abs_difference']:.2f} levels from decoding on average "
          f"(at most {derived['derived_max_abs_difference']})")
    return {"title": "Data path throughput", "headline": headline,
            "conclusion": f"cache is {cached / sampled:.0f}x faster than decoding; a new input from the source cache "
                          f"is {from_source / sampled:.0f}x faster than decoding it (after a {source_build_s:.0f} s "
                          f"decode of the split, once); variable frame rate decodes at "
                          f"{vfr_copy / cfr_copy:.2f}x the speed of the same encoder at constant rate; "
                          f"{loaded['rows'][-1]['workers']} loader processes stream {speedup:.2f}x the clips of one "
                          f"on {loaded['files']} files ({loaded['cores']} cores); an input derived from a larger "
                          f"cached one differs from decoding it by {derived['derived_mean_abs_difference']:.2f} "
                          f"levels on average",
            "extra": {**results, "loader": loaded}}


if __name__ == "__main__":
    run()

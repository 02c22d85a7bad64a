"""Data-path benchmark on the embedded dataset: raw PyAV decode vs decode+sample+resize vs a new input cut from the
split's source cache (the split decoded once before, timed apart) vs the memory-mapped cache, and
decode+sample+resize on re-encoded copies of the same clips at a constant (1/16 s) and a variable frame rate (each
frame shown for 1/32-1/8 s): the timestamp path on VFR timing against the same encoder at constant rate."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import av
import numpy as np

from videonas import data
from videonas.data.samples import write_video

PATHS = ("raw_decode", "decode_sample_resize", "source", "cfr_copy_decode_sample_resize",
         "vfr_copy_decode_sample_resize", "cached")
LABELS = {"source": "new input from the source cache"}


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
    results = {"profile": profile, "clips": len(records), "copied_clips": len(sources), "raw_decode_clips_per_s": raw,
               "decode_sample_resize_clips_per_s": sampled, "source_clips_per_s": from_source,
               "source_build_s": source_build_s, "cfr_copy_decode_sample_resize_clips_per_s": cfr_copy,
               "vfr_copy_decode_sample_resize_clips_per_s": vfr_copy, "cached_clips_per_s": cached}
    print(f"{'path':<34}{'clips/s':>12}")
    for name in PATHS:
        print(f"{LABELS.get(name, name):<34}{results[name + '_clips_per_s']:>12.1f}")
    headline = [{"label": f"{LABELS.get(name, name.replace('_', ' ').replace('vfr', 'VFR').replace('cfr', 'CFR'))} "
                          "(clips/s)",
                 "value": round(results[name + "_clips_per_s"], 1), "paper": None} for name in PATHS]
    return {"title": "Data path throughput", "headline": headline,
            "conclusion": f"cache is {cached / sampled:.0f}x faster than decoding; a new input from the source cache "
                          f"is {from_source / sampled:.0f}x faster than decoding it (after a {source_build_s:.0f} s "
                          f"decode of the split, once); variable frame rate decodes at "
                          f"{vfr_copy / cfr_copy:.2f}x the speed of the same encoder at constant rate",
            "extra": dict(results)}


if __name__ == "__main__":
    run()

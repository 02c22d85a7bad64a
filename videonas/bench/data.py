"""Data-path benchmark on the embedded dataset: raw PyAV decode vs decode+sample+resize vs the memory-mapped cache."""

from __future__ import annotations

import tempfile
import time

import av
import numpy as np

from videonas import data


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
    start = time.perf_counter()
    for record in records:
        data.load_clip(record.path, spec)
    sampled = len(records) / (time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as cache_dir:
        clips = data.load_clips(ds, "train", spec, cache_dir=cache_dir)
        clips = data.load_clips(ds, "train", spec, cache_dir=cache_dir)
        start = time.perf_counter()
        for index in range(len(clips)):
            np.array(clips.rgb[index])
        cached = len(clips) / (time.perf_counter() - start)
    results = {"profile": profile, "clips": len(records), "raw_decode_clips_per_s": raw,
               "decode_sample_resize_clips_per_s": sampled, "cached_clips_per_s": cached}
    print(f"{'path':<24}{'clips/s':>12}")
    for name in ("raw_decode", "decode_sample_resize", "cached"):
        print(f"{name:<24}{results[name + '_clips_per_s']:>12.1f}")
    headline = [{"label": f"{name.replace('_', ' ')} (clips/s)", "value": round(results[name + "_clips_per_s"], 1),
                 "paper": None} for name in ("raw_decode", "decode_sample_resize", "cached")]
    return {**results, "title": "Data path throughput", "headline": headline,
            "conclusion": f"cache is {cached / sampled:.0f}x faster than decoding", "extra": dict(results)}


if __name__ == "__main__":
    run()

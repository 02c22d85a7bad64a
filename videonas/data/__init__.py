"""Video data: decoding (PyAV), dataset formats, the embedded synthetic dataset, optical flow, clip cache (cut from
a per-split source cache of every video decoded once), batches.

    ds = DatasetSpec.from_value("embedded:smoke").open()   # or {"format": "csv", "path": ...}, a folder path
    text, report = ds.load_report()                         # videos per split and class, what was skipped and why
    clips = load_clips(ds, "train", ClipSpec(num_frames=8, image_size=64))
    batches = ClipBatches(clips, batch_size=16, shuffle=True, seed=0)

Importing this package does not import Keras; `ClipBatches` loads it on first use.
"""

from __future__ import annotations

from videonas.data.cache import Clips, LoadReport, cache_key, data_root, load_clips, open_source
from videonas.data.decode import ClipSpec, DecodedClip, VideoError, decode_clip, load_clip, probe
from videonas.data.embedded import MOTION_CLASSES, SCENE_CLASSES, embedded_dataset, render_clip, write_mp4
from videonas.data.flow import FLOW_SCALE, compute_flow
from videonas.data.images import flip_clip, resize_clip
from videonas.data.formats import (Dataset, VideoRecord, charades_dataset, csv_dataset, csv_folder_dataset,
                                   folder_dataset, hmdb_dataset, parse_actions, something_dataset)
from videonas.data.spec import DatasetSpec, with_train_val

__all__ = [
    "ClipBatches", "ClipSpec", "Clips", "Dataset", "DatasetSpec", "DecodedClip", "FLOW_SCALE", "LoadReport",
    "MOTION_CLASSES", "SCENE_CLASSES", "VideoError", "VideoRecord", "cache_key", "charades_dataset", "compute_flow",
    "csv_dataset", "csv_folder_dataset", "data_root", "decode_clip", "embedded_dataset", "flip_clip",
    "folder_dataset", "hmdb_dataset", "load_clip", "load_clips", "open_source", "parse_actions", "probe",
    "render_clip", "resize_clip", "something_dataset", "with_train_val", "write_mp4",
]


def __getattr__(name: str):
    if name == "ClipBatches":  # imports keras: keep it out of `import videonas.data`
        from videonas.data.batches import ClipBatches  # Keras: deferred

        return ClipBatches
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The embedded "synthetic actions" dataset: deterministic, generated in seconds, written as real h264 mp4 files.

Two kinds of class make the papers' frame-count questions answerable on a CPU:
- *scene* classes differ in appearance (background texture, object shape and colour); their object drifts with the
  same random motion in every scene class, so one frame is enough and extra frames add nothing (MiT-like). Each cue
  misleads in 20% of the clips, which caps scene accuracy at 80% (``scene_ceiling``): version 4's scenes were at 100%
  for any net and any frame count, a ceiling rather than a finding;
- *motion* classes share ONE appearance distribution (background, actor shape, colour, size, position) and differ
  only in how the actor moves: left vs right, clockwise vs anticlockwise rotation, horizontal oscillation, and
  vertical deceleration vs acceleration (the same trajectory played backwards). Positions live on a torus (the actor
  wraps around the frame) and start uniformly, so every single frame has the same distribution in every motion class
  (Charades-like). Actors are always brighter than their background: version 3 drew them at any brightness, and the
  small TVN of the frames ablation then stayed at chance on motion classes for any frame count.
Every profile has train, val and test splits. Camera jitter, pixel noise and a moving distractor dot are added
everywhere. The multi-label variant puts 1-3 actors
with distinct motion actions in each clip and is stored as a Charades-style CSV (labels = actions present, mAP).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import uuid
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import cv2
import numpy as np

from videonas.data.cache import data_root
from videonas.data.formats import Dataset, charades_dataset, folder_dataset

GENERATOR_VERSION = 5  # 5: a test split; scene cues agree with the class only with probability SCENE_CUE_RELIABILITY
FRAME_SIZE = 64
NUM_FRAMES = 24
FPS = 16
MARGIN = 4  # camera jitter range in pixels; frames are cropped from a (FRAME_SIZE + 2 * MARGIN) canvas
# Clips per class and split. Searches select on val; reports score the held-out test split, which nothing selects on.
PROFILES = {"smoke": {"train": 16, "val": 6, "test": 6}, "default": {"train": 150, "val": 40, "test": 40}}
# A scene clip's background and its object (shape and colour) each come from the clip's class with this probability,
# else from another scene class chosen uniformly. With K classes the Bayes-optimal accuracy from the two cues is then
# p^2 + p(1 - p) = p whatever K is (agreeing cues name the class; disagreeing ones leave a coin toss between two), so
# scene accuracy has a known ceiling below 100% that more frames cannot raise: see ``scene_ceiling``.
SCENE_CUE_RELIABILITY = 0.8

# name: (background, object shape, object RGB colour)
SCENE_CLASSES = {
    "scene_beach": ("beach", "disc", (250, 140, 30)),
    "scene_brick": ("brick", "triangle", (170, 170, 175)),
    "scene_checker": ("checker", "disc", (40, 220, 230)),
    "scene_forest": ("forest", "square", (120, 70, 30)),
    "scene_night": ("night", "ring", (245, 245, 245)),
    "scene_stripes": ("stripes", "square", (220, 30, 40)),
}
MOTION_CLASSES = ("motion_accelerate", "motion_decelerate", "motion_left", "motion_oscillate", "motion_right",
                  "motion_rotate_ccw", "motion_rotate_cw")
ACTOR_SHAPES = {  # asymmetric polygons (unit size) so that rotation sense is visible
    "arrow": [(-1, -0.35), (0.2, -0.35), (0.2, -0.9), (1, 0), (0.2, 0.9), (0.2, 0.35), (-1, 0.35)],
    "ell": [(-1, -1), (-0.3, -1), (-0.3, 0.4), (1, 0.4), (1, 1), (-1, 1)],
    "tee": [(-1, -1), (1, -1), (1, -0.4), (0.3, -0.4), (0.3, 1), (-0.3, 1), (-0.3, -0.4), (-1, -0.4)],
}
SCENE_SHAPES = {"square": [(-1, -1), (1, -1), (1, 1), (-1, 1)], "triangle": [(0, -1), (1, 0.8), (-1, 0.8)]}
SHIFT = 4  # fixed-point bits for sub-pixel OpenCV drawing


def _background(kind: str, rng: np.random.Generator) -> np.ndarray:
    size = FRAME_SIZE + 2 * MARGIN
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    tint = rng.uniform(-20, 20, 3)
    if kind == "beach":
        sky = np.array([110, 170, 235]) + tint
        sand = np.array([225, 200, 140]) + tint
        horizon = size * rng.uniform(0.4, 0.6)
        image = np.where((y > horizon)[..., None], sand, sky)
    elif kind == "brick":
        row = (y // 8).astype(int)
        mortar = ((y % 8) < 1.5) | (((x + 6 * (row % 2)) % 14) < 1.5)
        image = np.where(mortar[..., None], np.array([200, 200, 190]) + tint, np.array([150, 60, 45]) + tint)
    elif kind == "checker":
        phase = rng.integers(0, 10, 2)
        cells = (((x + phase[0]) // 10 + (y + phase[1]) // 10) % 2).astype(bool)
        image = np.where(cells[..., None], np.array([235, 235, 235]) + tint, np.array([60, 60, 80]) + tint)
    elif kind == "forest":
        blobs = cv2.GaussianBlur(rng.uniform(0, 1, (size, size)).astype(np.float32), (0, 0), 3)
        blobs = (blobs - blobs.min()) / (np.ptp(blobs) + 1e-6)
        image = np.array([30, 80, 30]) + blobs[..., None] * np.array([40, 110, 40]) + tint
    elif kind == "night":
        image = np.broadcast_to(np.array([15, 15, 40]) + tint / 2, (size, size, 3)).copy()
        stars = rng.uniform(0, 1, (size, size)) < 0.03
        image[stars] = 230
    elif kind == "stripes":
        angle, period = rng.uniform(0, np.pi), rng.uniform(7, 11)
        band = (np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / period) > 0)[..., None]
        image = np.where(band, np.array([240, 220, 60]) + tint, np.array([50, 50, 50]) + tint)
    else:  # "neutral": the one background distribution shared by every motion class
        base = rng.uniform(40, 110, 3)
        blobs = cv2.GaussianBlur(rng.uniform(-1, 1, (size, size, 3)).astype(np.float32), (0, 0), 6)
        image = base + blobs * (30 / (np.abs(blobs).max() + 1e-6))
    return np.clip(image, 0, 255).astype(np.uint8)


def _draw_polygon(frame: np.ndarray, vertices: np.ndarray, colour) -> None:
    """Fill a polygon and its torus copies (period FRAME_SIZE) wherever they touch the canvas."""
    size = frame.shape[0]
    for dx in (-FRAME_SIZE, 0, FRAME_SIZE):
        for dy in (-FRAME_SIZE, 0, FRAME_SIZE):
            moved = vertices + (dx, dy)
            if moved[:, 0].max() < 0 or moved[:, 0].min() >= size or moved[:, 1].max() < 0 or moved[:, 1].min() >= size:
                continue
            points = np.round(moved * (1 << SHIFT)).astype(np.int32)
            cv2.fillPoly(frame, [points], colour, lineType=cv2.LINE_AA, shift=SHIFT)


def _shape_vertices(shape: str, centre: np.ndarray, size: float, angle: float) -> np.ndarray:
    if shape in ("disc", "ring"):
        theta = np.linspace(0, 2 * np.pi, 20, endpoint=False)
        template = np.stack([np.cos(theta), np.sin(theta)], 1)
    else:
        template = np.array({**ACTOR_SHAPES, **SCENE_SHAPES}[shape], np.float64)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return template @ rotation.T * size / 2 + centre + MARGIN


def _motion_track(action: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Positions (T, 2) on the torus and angles (T,) for one motion action; start position and angle uniform."""
    t = np.arange(NUM_FRAMES, dtype=np.float64)
    start = rng.uniform(0, FRAME_SIZE, 2)
    angle0 = rng.uniform(0, 2 * np.pi)
    sign = rng.choice([-1.0, 1.0])
    offset = np.zeros((NUM_FRAMES, 2))
    angles = np.full(NUM_FRAMES, angle0)
    if action in ("motion_left", "motion_right"):
        speed = rng.uniform(2.5, 3.5) * (-1 if action == "motion_left" else 1)
        offset[:, 0] = speed * t
        offset[:, 1] = np.cumsum(rng.normal(0, 0.3, NUM_FRAMES))
    elif action in ("motion_rotate_cw", "motion_rotate_ccw"):
        # Image y points down, so a positive angle step turns clockwise on screen.
        angles = angle0 + rng.uniform(0.25, 0.4) * t * (1 if action == "motion_rotate_cw" else -1)
        offset = np.cumsum(rng.normal(0, 0.3, (NUM_FRAMES, 2)), axis=0)
    elif action == "motion_oscillate":
        amplitude, period = rng.uniform(9, 13), rng.uniform(7, 11)
        offset[:, 0] = sign * amplitude * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    elif action in ("motion_decelerate", "motion_accelerate"):
        # Decelerate: speed falls linearly from v0 to 0 over the clip; accelerate is that track played backwards.
        # Vertical, so that the pair differs from left/right by more than the change of speed.
        v0 = rng.uniform(4.5, 6.5)
        offset[:, 1] = sign * v0 * (t - t ** 2 / (2 * (NUM_FRAMES - 1)))
        if action == "motion_accelerate":
            offset = offset[::-1]
    else:
        raise ValueError(f"unknown motion action {action!r}")
    return (start + offset - offset.mean(axis=0)) % FRAME_SIZE, angles


def _finish(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Distractor dot, camera jitter (random walk crop) and pixel noise, shared by every class."""
    position = rng.uniform(0, FRAME_SIZE, 2)
    velocity = rng.normal(0, 1.5, 2)
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    for frame in frames:
        position = (position + velocity + rng.normal(0, 0.5, 2)) % FRAME_SIZE
        _draw_polygon(frame, _shape_vertices("disc", position, 5, 0.0), colour)
    jitter = np.clip(np.cumsum(rng.integers(-1, 2, (NUM_FRAMES, 2)), axis=0), -MARGIN, MARGIN) + MARGIN
    cropped = np.stack([frame[y:y + FRAME_SIZE, x:x + FRAME_SIZE] for frame, (x, y) in zip(frames, jitter)])
    noise = rng.normal(0, 5, cropped.shape).astype(np.float32)
    return np.clip(cropped + noise, 0, 255).astype(np.uint8)


def _actor_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """Any hue, always brighter than the neutral background, so that motion has one contrast polarity."""
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(0, 140), rng.integers(225, 256)]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def _draw_actor(frames: np.ndarray, action: str, rng: np.random.Generator, size_range=(11.0, 16.0)) -> None:
    shape = sorted(ACTOR_SHAPES)[rng.integers(len(ACTOR_SHAPES))]
    colour, size = _actor_colour(rng), rng.uniform(*size_range)
    positions, angles = _motion_track(action, rng)
    for frame, position, angle in zip(frames, positions, angles):
        _draw_polygon(frame, _shape_vertices(shape, position, size, angle), colour)


def scene_ceiling() -> float:
    """The Bayes-optimal top-1 accuracy on scene classes (see ``SCENE_CUE_RELIABILITY``)."""
    p = SCENE_CUE_RELIABILITY
    return p * p + p * (1 - p)


def input_ceiling(num_frames: int, classes: Sequence[str] | None = None) -> dict[str, float | None]:
    """The best expected test top-1 that any network can reach on the single-label data from clips of
    ``num_frames`` frames, over ``classes`` (default: all of them): ``{"overall", "scene", "motion"}``, ``None`` for
    a kind with no class there. It follows from how ``render_clip`` draws a clip:

    - a scene clip's class shows only in its two cues (background, object shape and colour), which stay the same in
      every frame: more frames add nothing, and the Bayes rule over the cues reaches ``scene_ceiling`` (for a subset
      of the scene classes, a cue may name a class outside it: see ``_subset_scene_ceiling``);
    - every single frame of a motion clip has the same distribution in each motion class, so from one frame any
      classifier's accuracy, summed over the m motion classes, is sum_c P(predict c) <= 1: at most 1/m on average.
      With two frames or more the classes differ in how the actor moves, and 1 is the bound (an upper bound there:
      no network is shown to reach it);
    - scene and motion clips differ in one frame (textured vs neutral backgrounds), and every class has the same
      clips per split, so ``overall`` is the mean over the classes of their kind's figure.
    """
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise ValueError(f"num_frames must be a positive int, got {num_frames!r}")
    names = sorted([*SCENE_CLASSES, *MOTION_CLASSES]) if classes is None else list(classes)
    unknown = [name for name in names if name not in SCENE_CLASSES and name not in MOTION_CLASSES]
    if isinstance(classes, str) or not names or unknown or len(set(names)) != len(names):
        raise ValueError(f"classes must be distinct single-label embedded classes, got {classes!r}")
    scenes = sum(name in SCENE_CLASSES for name in names)
    motions = len(names) - scenes
    scene = _subset_scene_ceiling(scenes) if scenes else None
    motion = (1.0 if num_frames > 1 else 1.0 / motions) if motions else None
    overall = (scenes * (scene or 0.0) + motions * (motion or 0.0)) / len(names)
    return {"overall": overall, "scene": scene, "motion": motion}


def _subset_scene_ceiling(k: int) -> float:
    """The Bayes-optimal scene accuracy among ``k`` of the scene classes. A misleading cue names one of the other
    ``n - 1`` scene classes (n = all scene classes), in or out of the subset: agreeing correct cues name the class
    (p^2); one correct cue wins outright when the other names a class outside the subset, else ties (1/2); two
    misleading cues that both name classes outside the subset leave a guess among the k (1/k). For k = n this is p."""
    p, others = SCENE_CUE_RELIABILITY, len(SCENE_CLASSES) - 1
    outside = (len(SCENE_CLASSES) - k) / others
    return p * p + 2 * p * (1 - p) * ((k - 1) / others / 2 + outside) + (1 - p) ** 2 * outside ** 2 / k


def _scene_cue(class_name: str, rng: np.random.Generator) -> str:
    """The scene class a cue is drawn from: ``class_name`` with probability ``SCENE_CUE_RELIABILITY``."""
    if rng.random() < SCENE_CUE_RELIABILITY:
        return class_name
    others = sorted(name for name in SCENE_CLASSES if name != class_name)
    return others[int(rng.integers(len(others)))]


def render_clip(class_name: str, rng: np.random.Generator) -> np.ndarray:
    """One single-label clip, uint8 (NUM_FRAMES, FRAME_SIZE, FRAME_SIZE, 3)."""
    if class_name in SCENE_CLASSES:
        background = SCENE_CLASSES[_scene_cue(class_name, rng)][0]
        _, shape, base_colour = SCENE_CLASSES[_scene_cue(class_name, rng)]
        frames = np.repeat(_background(background, rng)[None], NUM_FRAMES, axis=0)
        colour = tuple(int(c) for c in np.clip(np.array(base_colour) + rng.integers(-20, 21, 3), 0, 255))
        size, angle = rng.uniform(14, 20), rng.uniform(0, 2 * np.pi)
        positions = (rng.uniform(0, FRAME_SIZE, 2) + np.cumsum(rng.normal(0, 1.0, (NUM_FRAMES, 2)), 0)) % FRAME_SIZE
        for frame, position in zip(frames, positions):
            _draw_polygon(frame, _shape_vertices(shape, position, size, angle), colour)
            if shape == "ring":
                _draw_polygon(frame, _shape_vertices("disc", position, size * 0.55, angle), (15, 15, 40))
    elif class_name in MOTION_CLASSES:
        frames = np.repeat(_background("neutral", rng)[None], NUM_FRAMES, axis=0)
        _draw_actor(frames, class_name, rng)
    else:
        raise ValueError(f"class_name must be one of the embedded classes, got {class_name!r}")
    return _finish(frames, rng)


def render_multi_label_clip(rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """1-3 actors with distinct motion actions on one neutral background; returns (frames, sorted actions)."""
    count = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
    actions = sorted(str(a) for a in rng.choice(MOTION_CLASSES, size=count, replace=False))
    frames = np.repeat(_background("neutral", rng)[None], NUM_FRAMES, axis=0)
    for action in actions:
        _draw_actor(frames, action, rng, size_range=(9.0, 13.0))
    return _finish(frames, rng), actions


def write_mp4(path: str | Path, frames: np.ndarray, *, fps: int = FPS) -> None:
    """h264 / yuv420p, single-threaded so that the bytes depend only on the frames."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps),
                                      options={"crf": "18", "preset": "veryfast", "threads": "1", "x264-params": "threads=1:lookahead-threads=1:rc-lookahead=0:mbtree=0"})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.codec_context.thread_count = 1
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)  # explicit: x264 rate control reads timestamps
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def _parameters(profile: str, seed: int, multi_label: bool) -> dict:
    return {"generator_version": GENERATOR_VERSION, "profile": profile, "clips_per_class": PROFILES[profile],
            "seed": seed, "multi_label": multi_label, "frame_size": FRAME_SIZE, "num_frames": NUM_FRAMES, "fps": FPS,
            "classes": list(MOTION_CLASSES) if multi_label else sorted([*SCENE_CLASSES, *MOTION_CLASSES])}


def _generate(folder: Path, parameters: dict) -> None:
    seed, classes = parameters["seed"], parameters["classes"]
    for split_index, (split, per_class) in enumerate(parameters["clips_per_class"].items()):
        if parameters["multi_label"]:
            (folder / "videos").mkdir(parents=True, exist_ok=True)
            with (folder / f"{split}.csv").open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["id", "actions", "length"])
                for index in range(per_class * len(classes)):
                    frames, actions = render_multi_label_clip(np.random.default_rng([seed, split_index, 99, index]))
                    video_id = f"{split}_{index:05d}"
                    write_mp4(folder / "videos" / f"{video_id}.mp4", frames)
                    length = NUM_FRAMES / FPS
                    writer.writerow([video_id, ";".join(f"{a} 0.00 {length:.2f}" for a in actions), f"{length:.2f}"])
            continue
        for class_index, class_name in enumerate(classes):
            class_folder = folder / split / class_name
            class_folder.mkdir(parents=True, exist_ok=True)
            for index in range(per_class):
                frames = render_clip(class_name, np.random.default_rng([seed, split_index, class_index, index]))
                write_mp4(class_folder / f"{class_name}_{index:05d}.mp4", frames)


def embedded_dataset(profile: str = "smoke", *, seed: int = 0, multi_label: bool = False,
                     root: str | Path | None = None) -> Dataset:
    """The synthetic actions dataset under <root>/<name>/, generated on first use and whenever its parameters change.

    Generation writes into a temporary folder and renames it into place with the manifest inside, so an
    interrupted run never leaves a folder that looks complete."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    parameters = _parameters(profile, seed, multi_label)
    digest = hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()[:16]
    # The version is in the name, so checkouts of different generators never regenerate each other's copy.
    name = f"synthetic_actions_v{GENERATOR_VERSION}{'_multilabel' if multi_label else ''}_{profile}_seed{seed}"
    base = data_root(root)
    folder = base / name
    if not _manifest_matches(folder, digest):
        base.mkdir(parents=True, exist_ok=True)
        temporary = base / f".{name}.{uuid.uuid4().hex}.tmp"
        try:
            _generate(temporary, parameters)
            (temporary / "manifest.json").write_text(json.dumps({"hash": digest, "parameters": parameters}, indent=1))
            if folder.exists() and not _manifest_matches(folder, digest):
                stale = base / f".{name}.{uuid.uuid4().hex}.stale"
                os.replace(folder, stale)
                shutil.rmtree(stale, ignore_errors=True)
            try:
                os.replace(temporary, folder)
            except OSError:  # another process finished first; its copy is identical
                if not _manifest_matches(folder, digest):
                    raise
        finally:
            shutil.rmtree(temporary, ignore_errors=True)
    kinds = {c: "scene" if c in SCENE_CLASSES else "motion" for c in parameters["classes"]}
    if multi_label:
        return charades_dataset({split: folder / f"{split}.csv" for split in parameters["clips_per_class"]},
                                video_root=folder / "videos", classes=parameters["classes"], name=name,
                                class_kinds=kinds)
    dataset = folder_dataset(folder, name=name)
    if dataset.class_names != parameters["classes"]:
        raise ValueError(f"embedded dataset {str(folder)!r}: class folders {dataset.class_names} do not match")
    dataset.class_kinds = kinds
    return dataset


def _manifest_matches(folder: Path, digest: str) -> bool:
    try:
        return json.loads((folder / "manifest.json").read_text())["hash"] == digest
    except (OSError, ValueError, KeyError):
        return False

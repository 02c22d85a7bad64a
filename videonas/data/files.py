"""Which files of a dataset folder are videos, and whether a split has any video that decodes.

A class folder's entries: a file with a common video extension is a video without a look inside (thousands of them
must not cost an FFmpeg open each at start-up; one that does not decode is skipped and counted when clips are
loaded). Any other file is probed: what FFmpeg opens as a video is used (`.flv`, `.ts`, a file without extension),
the rest is skipped with the reason (an image, a text file, audio) in the dataset's load report. A sub-folder of
images is a frame folder (a video at the dataset's `frame_rate`). Hidden files (`.DS_Store`) are counted as skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import av

from videonas.data import decode, frames

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".m4v", ".mpg", ".mpeg", ".ogv", ".flv", ".f4v", ".ts",
                    ".m2ts", ".mts", ".3gp", ".3g2", ".wmv", ".asf", ".vob", ".mxf", ".nut", ".y4m", ".divx", ".rm",
                    ".rmvb", ".mjpeg")
ATTACHED_PICTURE = 0x400  # FFmpeg's AV_DISPOSITION_ATTACHED_PIC: an audio file's cover image, not a video
_UCF_NAME = re.compile(r"^(v_.+_g\d+)_c\d+$")  # v_ApplyEyeMakeup_g08_c01: clips of group g08 share a source video


def has_video_extension(name: str) -> bool:
    return Path(name).suffix.lower() in VIDEO_EXTENSIONS


def not_a_video(path: str | Path) -> str | None:
    """None when FFmpeg opens `path` as a video; else why not (the load report's reason)."""
    try:
        with av.open(str(path)) as container:
            streams = [s for s in container.streams.video if not int(s.disposition) & ATTACHED_PICTURE]
            name = container.format.name
    except (av.FFmpegError, UnicodeDecodeError, OSError):
        return "not a video (FFmpeg cannot open it)"
    if not streams:
        return "not a video (no video stream)"
    if name.endswith("_pipe") or name in ("image2", "tty"):
        return f"not a video (FFmpeg reads it as {name.split('_')[0]})"
    return None


def scan(folder: Path) -> tuple[list[Path], list[Path], list[tuple[str, str]]]:
    """(video files, frame folders, skipped (path, reason)) among the entries of `folder`, each list sorted. Broken
    links with a video extension are videos, so that the load report counts them rather than losing them."""
    videos, frame_folders, skipped = [], [], []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            skipped.append((str(path), "hidden file"))
        elif path.is_dir():
            if frames.is_frame_folder(path):
                frame_folders.append(path)
            else:
                skipped.append((str(path), "folder without images"))
        elif has_video_extension(path.name) and (path.is_file() or path.is_symlink()):
            videos.append(path)
        elif path.is_file():
            reason = not_a_video(path)
            if reason is None:
                videos.append(path)
            else:
                skipped.append((str(path), reason))
        else:
            skipped.append((str(path), "broken link"))
    return videos, frame_folders, skipped


def ucf_group(name: str) -> str | None:
    """The UCF-101 source-video group of a clip name (`v_Run_g08_c01.avi` -> `v_Run_g08`), else None."""
    match = _UCF_NAME.match(Path(name).stem)
    return match.group(1) if match else None


def problem(record) -> tuple[str, str] | None:
    """None when the record gives at least one frame; else (reason, message), as the load report would say."""
    try:
        if record.frame_rate is not None:
            files = frames.frame_files(record.path) if Path(record.path).is_dir() else []
            if not files:
                raise decode.VideoError(record.path, "no frames" if Path(record.path).is_dir() else "does not exist")
            frames.read_image(files[0], record.path)
            return None
        with decode.open_video(record.path) as container:
            stream = container.streams.video[0]
            for packet in container.demux(stream):
                try:
                    if packet.decode():
                        return None
                except av.FFmpegError:
                    continue  # a damaged packet: the next keyframe may decode
        raise decode.VideoError(record.path, "no decodable frames")
    except (ValueError, av.FFmpegError) as error:
        return getattr(error, "reason", "decoding failed"), str(error)


def first_readable(records, limit: int | None = None) -> tuple[bool, list[tuple[str, str, str]]]:
    """(whether some record gives a frame, (path, reason, message) of those checked before it). Stops at the first
    readable record, so a healthy split costs one probe; `limit` caps the records checked."""
    problems = []
    for record in records[:limit]:
        found = problem(record)
        if found is None:
            return True, problems
        problems.append((record.path, *found))
    return False, problems

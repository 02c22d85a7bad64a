"""Shared data fixtures: tiny videos written with PyAV whose frame i is a flat grey of level 16 + 8 i."""

from fractions import Fraction

import av
import numpy as np
import pytest


def write_video(path, *, codec="libx264", pix_fmt="yuv420p", size=(32, 32), frames=20, fps=10, pts=None):
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], pix_fmt
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), 16 + 8 * index, np.uint8), "rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[index], Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    write_video(root / "h264.mp4")
    write_video(root / "vp9.webm", codec="libvpx-vp9")
    write_video(root / "mpeg4.avi", codec="mpeg4")
    write_video(root / "mjpeg.mkv", codec="mjpeg", pix_fmt="yuvj420p")
    write_video(root / "h264.mov")
    write_video(root / "odd.mkv", codec="libx264", pix_fmt="yuv444p", size=(63, 47))
    write_video(root / "short.mp4", frames=3)
    (root / "zero.mp4").write_bytes(b"")
    (root / "random.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4000, np.uint8).tobytes())
    full = (root / "h264.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(full[: len(full) // 2])
    with av.open(str(root / "audio.mp4"), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return root

import numpy as np
import pytest

from videonas.data import ClipSpec, decode_clip, flip_clip, load_clip, resize_clip


def levels(frames):
    return np.round((frames.reshape(len(frames), -1).mean(axis=1) - 16) / 8).astype(int).tolist()


@pytest.mark.parametrize("name", ["h264.mp4", "vp9.webm", "mpeg4.avi", "mjpeg.mkv", "h264.mov", "odd.mkv"])
def test_every_container_decodes_centre_window_with_stride(video_dir, name):
    clip = decode_clip(video_dir / name, num_frames=4, frame_stride=2)
    found = levels(clip.frames)
    assert found[0] in (6, 7) and np.diff(found).tolist() == [2, 2, 2]  # 13 spare frames: centre start 6.5


def test_fps_resampling_and_start(video_dir):
    clip = decode_clip(video_dir / "h264.mp4", num_frames=3, fps=5, start=0.0)
    assert levels(clip.frames) == [0, 2, 4]


def test_short_clip_repeats_last_frame(video_dir):
    clip = decode_clip(video_dir / "short.mp4", num_frames=5)
    assert levels(clip.frames) == [0, 1, 2, 2, 2]


@pytest.mark.parametrize("name,problem", [("zero.mp4", "empty"), ("random.mp4", "cannot be opened"),
                                          ("truncated.mp4", "cannot be opened"), ("audio.mp4", "no video stream"),
                                          ("missing.mp4", "does not exist")])
def test_bad_files_raise_value_error_naming_file(video_dir, name, problem):
    with pytest.raises(ValueError, match=problem) as info:
        decode_clip(video_dir / name, num_frames=2)
    assert name in str(info.value)


def test_resize_crop_flip_odd_size(video_dir):
    clip, _ = load_clip(video_dir / "odd.mkv", ClipSpec(num_frames=2, image_size=16))
    assert clip.shape == (2, 16, 16, 3)
    frames = np.arange(2 * 4 * 6 * 2, dtype=np.float32).reshape(2, 4, 6, 2)
    assert resize_clip(frames, 4).shape == (2, 4, 4, 2)
    flipped = flip_clip(frames, is_flow=True)
    assert flipped[0, 0, 0, 0] == -frames[0, 0, -1, 0] and flipped[0, 0, 0, 1] == frames[0, 0, -1, 1]

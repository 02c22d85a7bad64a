"""Views cut from cached windows: evenly spaced evaluation positions, seeded jitter and random resized crops, flow
vectors scaled with the crop, and the same cut for every stream of a clip."""

from __future__ import annotations

import numpy as np
import pytest

from videonas.data import views


def _window(count=3, frames=6, size=6):
    """uint8 clips whose channel 0 is the frame index, channel 1 the column and channel 2 the row."""
    array = np.zeros((count, frames, size, size, 3), np.uint8)
    array[..., 0] = np.arange(frames)[None, :, None, None]
    array[..., 1] = np.arange(size)[None, None, None, :]
    array[..., 2] = np.arange(size)[None, None, :, None]
    return array


def test_spaced_offsets_are_the_centre_for_one_view_and_span_the_window_for_several():
    assert views.spaced_offsets(10, 4, 1).tolist() == [3]
    assert views.spaced_offsets(10, 4, 3).tolist() == [0, 3, 6]
    assert views.spaced_offsets(4, 4, 2).tolist() == [0, 0]
    with pytest.raises(ValueError, match="a span of 5 does not fit in 4"):
        views.spaced_offsets(4, 5, 1)


def test_take_frames_starts_each_row_at_its_offset():
    taken = views.take_frames(_window(), np.array([0, 2, 4]), 2)
    assert taken.shape == (3, 2, 6, 6, 3)
    assert taken[:, :, 0, 0, 0].tolist() == [[0, 1], [2, 3], [4, 5]]


def test_random_resized_boxes_fit_draw_the_scale_and_repeat_per_seed():
    boxes = views.random_resized_boxes(np.random.default_rng(0), 200, 40, 50, (0.2, 0.6), (0.75, 4 / 3))
    top, left, height, width = boxes.T
    assert (top >= 0).all() and (left >= 0).all() and (top + height <= 40).all() and (left + width <= 50).all()
    fractions = height * width / (40 * 50)
    assert fractions.min() > 0.17 and fractions.max() < 0.64 and fractions.std() > 0.05  # rounding aside, in scale
    again = views.random_resized_boxes(np.random.default_rng(0), 200, 40, 50, (0.2, 0.6), (0.75, 4 / 3))
    other = views.random_resized_boxes(np.random.default_rng(1), 200, 40, 50, (0.2, 0.6), (0.75, 4 / 3))
    assert np.array_equal(boxes, again) and not np.array_equal(boxes, other)
    # A ratio no box of that area can have: the largest centred box at the nearest allowed ratio.
    assert views.random_resized_boxes(np.random.default_rng(0), 1, 8, 8, (0.9, 1.0), (4.0, 4.0)).tolist() == [
        [3, 0, 2, 8]]


def test_resize_boxes_scales_flow_vectors_with_the_box():
    flow = np.ones((1, 2, 8, 8, 2), np.float16)
    resized = views.resize_boxes(flow, np.array([[0, 0, 2, 4]]), 8, is_flow=True)
    assert resized.dtype == np.float32 and resized.shape == (1, 2, 8, 8, 2)
    assert np.allclose(resized[..., 0], 2.0) and np.allclose(resized[..., 1], 4.0)
    rgb = views.resize_boxes(_window(1), np.array([[1, 2, 4, 4]]), 4)
    assert rgb.dtype == np.uint8 and rgb[0, 3, 0, :, 1].tolist() == [2, 3, 4, 5] and rgb[0, 3, :, 0, 2].tolist() == [
        1, 2, 3, 4]


def test_evaluation_views_are_fixed_positions_over_the_window_and_across_the_width():
    window = {"rgb": _window()}
    cuts = [views.Sampler(2, 4, clip=clip, clips=3, crop=crop, crops=2).cut(window, rng=None)["rgb"]
            for clip in range(3) for crop in range(2)]
    assert [cut.shape for cut in cuts] == [(3, 2, 4, 4, 3)] * 6
    assert [int(cut[0, 0, 0, 0, 0]) for cut in cuts] == [0, 0, 2, 2, 4, 4]  # first frame: clips over the window
    assert [int(cut[0, 0, 0, 0, 1]) for cut in cuts] == [0, 2] * 3  # first column: crops across the width
    assert {int(cut[0, 0, 0, 0, 2]) for cut in cuts} == {1}  # rows: centred
    centre = views.Sampler(2, 4).cut(window, rng=None)["rgb"]
    assert int(centre[0, 0, 0, 0, 0]) == 2 and int(centre[0, 0, 0, 0, 1]) == 1


def test_jitter_draws_an_offset_per_clip_the_same_for_every_stream():
    window = {"rgb": _window(count=64), "flow": _window(count=64)[..., :2].astype(np.float16)}
    sampler = views.Sampler(2, 6, jitter=True)
    first = sampler.cut(window, np.random.default_rng([3, 0, 0, 2]))
    again = sampler.cut(window, np.random.default_rng([3, 0, 0, 2]))
    later = sampler.cut(window, np.random.default_rng([3, 1, 0, 2]))
    starts = first["rgb"][:, 0, 0, 0, 0]
    assert set(starts.tolist()) == {0, 1, 2, 3, 4}  # every offset of a 2-frame clip in a 6-frame window
    assert np.array_equal(first["flow"][:, 0, 0, 0, 0], starts.astype(np.float16))
    assert np.array_equal(first["rgb"], again["rgb"]) and not np.array_equal(first["rgb"], later["rgb"])
    assert (first["rgb"][:, 1, 0, 0, 0] == starts + 1).all()  # consecutive frames from the offset


def test_random_resized_crops_cut_the_same_box_from_every_stream():
    window = {"rgb": _window(count=8, frames=2, size=32), "flow": np.zeros((8, 2, 32, 32, 2), np.float16)}
    window["flow"][..., 0] = np.arange(32)[None, None, None, :]
    cut = views.Sampler(2, 8, crop_scale=(0.1, 0.5)).cut(window, np.random.default_rng(0))
    assert cut["rgb"].shape == (8, 2, 8, 8, 3) and cut["flow"].shape == (8, 2, 8, 8, 2)
    # The flow's x channel holds the column too, scaled by 8 / box width: the same columns, the same box.
    columns = cut["rgb"][:, 0, 0, :, 1].astype(np.float32)
    box_widths = 8 * columns[:, -1] / np.maximum(cut["flow"][:, 0, 0, -1, 0], 1e-6)
    assert np.allclose(cut["flow"][:, 0, 0, :, 0] * (box_widths[:, None] / 8), columns, atol=1.0)
    assert len({tuple(row) for row in columns.tolist()}) > 1  # boxes differ between clips


def test_a_sampler_refuses_clips_smaller_than_its_input():
    with pytest.raises(ValueError, match="cached clips of 4 frames at 6x6 cannot give 8 frames at 4x4"):
        views.Sampler(8, 4).check((1, 4, 6, 6, 3))

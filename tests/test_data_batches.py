import hashlib

import numpy as np
import pytest

from videonas.data import ClipBatches, ClipSpec, Clips, LoadReport, views


def make_clips(multi_label=False):
    rgb = np.arange(5 * 2 * 8 * 8 * 3, dtype=np.uint8).reshape(5, 2, 8, 8, 3)
    flow = np.ones((5, 2, 8, 8, 2), np.float16)
    labels = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1]] if multi_label else np.array([0, 1, 2, 0, 1])
    return Clips(rgb, flow, labels, ["a", "b", "c"], multi_label, LoadReport(5), ClipSpec(), [""] * 5)


def test_batches_seeded_shuffle_and_augmentation():
    first = ClipBatches(make_clips(), batch_size=2, seed=3, inputs=("rgb", "flow"), augment=True)
    second = ClipBatches(make_clips(), batch_size=2, seed=3, inputs=("rgb", "flow"), augment=True)
    assert len(first) == 3
    x, y = first[0]
    x2, y2 = second[0]
    assert x["rgb"].dtype == np.float32 and x["rgb"].max() <= 1.0 and y.dtype == np.int32
    assert np.array_equal(x["rgb"], x2["rgb"]) and np.array_equal(y, y2)
    assert set(np.abs(x["flow"]).ravel().tolist()) == {1.0}


def test_one_input_is_a_bare_array_several_are_named():
    x, _ = ClipBatches(make_clips(), batch_size=2, shuffle=False)[0]
    flow_only, _ = ClipBatches(make_clips(), batch_size=2, shuffle=False, inputs=("flow",))[0]
    assert isinstance(x, np.ndarray) and x.shape == (2, 2, 8, 8, 3)
    assert isinstance(flow_only, np.ndarray) and flow_only.shape == (2, 2, 8, 8, 2)


def test_multi_label_targets_are_float_multi_hot():
    x, y = ClipBatches(make_clips(True), batch_size=5, shuffle=False)[0]
    assert y.shape == (5, 3) and y.dtype == np.float32 and y.sum() == 5


def _epochs(batches, count):
    """The batches of ``count`` epochs, called as Keras calls them (``on_epoch_end`` once before the first epoch)."""
    batches.on_epoch_end()
    served = []
    for _ in range(count):
        batches.on_epoch_begin()
        served.append([batches[index] for index in range(len(batches))])
        batches.on_epoch_end()
    return served


def test_a_later_start_epoch_serves_what_an_uninterrupted_run_serves_then():
    """Continuing a training run after two epochs sees the third epoch's order and augmentation, not the first's."""
    def make(start_epoch=0):
        return ClipBatches(make_clips(), batch_size=2, seed=3, inputs=("rgb", "flow"), augment=True,
                           start_epoch=start_epoch)

    whole = _epochs(make(), 3)
    continued = _epochs(make(start_epoch=2), 1)
    assert [[list(y) for _, y in epoch] for epoch in whole[2:]] == [[list(y) for _, y in epoch] for epoch in continued]
    assert all(np.array_equal(x["rgb"], x2["rgb"]) for (x, _), (x2, _) in zip(whole[2], continued[0]))
    assert [list(y) for _, y in whole[0]] != [list(y) for _, y in whole[1]]  # each epoch has its own order
    with pytest.raises(ValueError, match="start_epoch must be a non-negative int, got -1"):
        make(start_epoch=-1)


def test_without_a_sampler_batches_are_the_arrays_served_before_samplers_existed():
    """Bit-identical to the batches of the code before ``sampler`` (digest recorded from it): sampling off changes no
    embedded result."""
    clips = make_clips()
    clips.flow = ((np.arange(clips.flow.size) % 7 - 3) / 4).astype(np.float16).reshape(clips.flow.shape)
    digest = hashlib.sha256()
    for augment in (False, True):
        batches = ClipBatches(clips, batch_size=2, seed=3, inputs=("rgb", "flow"), augment=augment, start_epoch=1)
        for index in range(len(batches)):
            x, y = batches[index]
            for array in (x["rgb"], x["flow"], y):
                digest.update(array.tobytes())
    assert digest.hexdigest() == "b53d82f9a14b9c080e0506fc28853f64990dc062e3a20b29ad79890c00a4f783"


def _window_clips():
    """Six-frame windows at 10x10 whose rgb channel 0 is the frame index."""
    rgb = np.zeros((5, 6, 10, 10, 3), np.uint8)
    rgb[..., 0] = np.arange(6)[None, :, None, None]
    return Clips(rgb, None, np.array([0, 1, 2, 0, 1]), ["a", "b", "c"], False, LoadReport(5),
                 ClipSpec(num_frames=6, image_size=10), [""] * 5)


def test_jittered_training_clips_differ_per_epoch_repeat_per_seed_and_replay_when_continued():
    def make(seed=3, start_epoch=0):
        sampler = views.Sampler(2, 8, jitter=True, crop_scale=(0.3, 1.0))
        return ClipBatches(_window_clips(), batch_size=5, shuffle=False, seed=seed, sampler=sampler,
                           start_epoch=start_epoch)

    def starts(epochs):
        return [[(x[:, 0, 0, 0, 0] * 255).round().astype(int).tolist() for x, _ in epoch] for epoch in epochs]

    whole, again, other = _epochs(make(), 3), _epochs(make(), 3), _epochs(make(seed=4), 3)
    assert whole[0][0][0].shape == (5, 2, 8, 8, 3)
    assert starts(whole) == starts(again) and starts(whole) != starts(other)
    assert len({str(epoch) for epoch in starts(whole)}) == 3  # a new clip of each video every epoch
    assert all(np.array_equal(x, x2) for (x, _), (x2, _) in zip(whole[2], _epochs(make(start_epoch=2), 1)[0]))


def test_a_sampler_needs_clips_as_large_as_its_input():
    with pytest.raises(ValueError, match="cached clips of 6 frames at 10x10 cannot give 8 frames at 8x8"):
        ClipBatches(_window_clips(), sampler=views.Sampler(8, 8))

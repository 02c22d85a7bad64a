"""ClipBatches: a keras.utils.PyDataset over cached clips, with seeded shuffling and augmentation.

Randomness comes from numpy Generators seeded by (seed, epoch, batch index), so batches are reproducible whatever
the worker order. Augmentation: random horizontal flip (flow x negated) and a random translation (edge pad + crop).
The epoch index counts the epochs Keras begins (``on_epoch_begin``), from ``start_epoch``: a training run continued
from a checkpoint after ``start_epoch`` epochs sees the batches an uninterrupted run would (fit it with
``shuffle=False``: Keras's own batch shuffle draws from Python's global random state, not from (seed, epoch)).
Batches are ``(inputs, labels)``: the bare array for one input, a dict by input name (``rgb``, ``flow``) for several.
A ``sampler`` (``videonas.data.views.Sampler``) cuts the input out of clips cached longer and larger than it (temporal
jitter, random resized crops, fixed evaluation views), drawing from (seed, epoch, batch index, 2); without one the
cached clips are the input, exactly as before samplers existed.
"""

from __future__ import annotations

import keras
import numpy as np

from videonas.data.cache import Clips
from videonas.data.views import Sampler

PAD = 4


class ClipBatches(keras.utils.PyDataset):
    def __init__(self, clips: Clips, batch_size: int = 16, *, shuffle: bool = True, seed: int = 0,
                 inputs: tuple[str, ...] = ("rgb",), augment: bool = False, start_epoch: int = 0,
                 sampler: Sampler | None = None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        for name in inputs:
            if name not in ("rgb", "flow") or getattr(clips, name) is None:
                raise ValueError(f"input {name!r} is not available in these clips (spec {clips.spec})")
        if not isinstance(start_epoch, int) or isinstance(start_epoch, bool) or start_epoch < 0:
            raise ValueError(f"start_epoch must be a non-negative int, got {start_epoch!r}")
        if len(clips) == 0:
            raise ValueError("clips are empty: nothing to batch")
        if sampler is not None:
            sampler.check(getattr(clips, inputs[0]).shape)
        self.clips, self.batch_size, self.shuffle, self.seed = clips, batch_size, shuffle, seed
        self.inputs, self.augment, self.epoch, self.sampler = tuple(inputs), augment, start_epoch, sampler
        self._begun = False
        self._order = self._permutation()

    def _permutation(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.clips))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.clips))

    def __len__(self) -> int:
        return -(-len(self.clips) // self.batch_size)

    def on_epoch_begin(self) -> None:
        """Advance at every epoch but the first. Counted at the beginnings because Keras also calls ``on_epoch_end``
        once before the first epoch (when it resets its iterator), after reading two batches for the input spec."""
        if self._begun:
            self.epoch += 1
            self._order = self._permutation()
        self._begun = True

    def __getitem__(self, index: int):
        rows = np.sort(self._order[index * self.batch_size:(index + 1) * self.batch_size])
        cached = {name: getattr(self.clips, name)[rows] for name in self.inputs}
        if self.sampler is not None:
            cached = self.sampler.cut(cached, np.random.default_rng([self.seed, self.epoch, index, 2]))
        features = {}
        for name, array in cached.items():
            array = np.asarray(array, np.float32)
            features[name] = array / 255.0 if name == "rgb" else array
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index, 1])
            flips = rng.random(len(rows)) < 0.5
            shifts = rng.integers(0, 2 * PAD + 1, (len(rows), 2))
            for name, array in features.items():
                height, width = array.shape[2:4]
                padded = np.pad(array, ((0, 0), (0, 0), (PAD, PAD), (PAD, PAD), (0, 0)), mode="edge")
                for i, (dy, dx) in enumerate(shifts):
                    array[i] = padded[i, :, dy:dy + height, dx:dx + width]
                array[flips] = array[flips][..., ::-1, :]
                if name == "flow":
                    array[flips, ..., 0] *= -1
        labels = self.clips.labels[rows]
        labels = labels.astype(np.float32) if self.clips.multi_label else labels.astype(np.int32)
        # One input goes in bare: a one-key dict into a one-input functional model makes Keras warn every batch.
        return (features[self.inputs[0]] if len(self.inputs) == 1 else features), labels

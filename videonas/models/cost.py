"""What a model costs to train, from its genome before anything is built: the tally every family's estimator fills.

Each family's ``cost`` function (``videonas.families.Family.cost``) walks its genome the way its builder lays out
layers and adds every layer here: trainable parameters and FLOPs exactly as ``videonas.measure`` counts them on the
built model (FLOPs = multiply-adds of the matrix work at batch 1, as in the papers), and the elements of every layer's
output. Those give the training memory a search limits (``videonas.search.constraints.MaxTrainMemory``) before a
weight is allocated: a valid genome can hold 10^10 parameters, and building it first is how a search dies of an
out-of-memory error instead of rejecting it.

Training memory, float32 (``train_memory_bytes``):

- counted: the weights, their gradients and Adam's two moment slots (4 x params x 4 bytes); and the activations kept
  for the backward pass at the training batch size: the output of every layer of the model's graph (the inputs
  included: Keras keeps each layer's output, BN and ReLU included), plus the large tensors inside composite layers,
  the middle map of a (2+1)D conv (its conv, BN and ReLU outputs) and a non-local block's embeddings (3 N x inner),
  affinities and their softmax (2 N^2), attention output (N x inner) and projection (N x C), at N = T x H x W.
- not counted: batch-norm moving statistics and the optimizer's step counter (a few numbers per channel), the small
  tensors inside other layers (squeeze-excitation's pooled vector, iTGM's inflated kernel, the per-frame reshapes of a
  depthwise conv, a fusion's pooled and gated inputs), the backend's workspace (cuDNN or XLA scratch, gradient buffers
  that live only during the backward pass), the data pipeline's batches and the framework's own footprint. A backend
  may also free or fuse some outputs (an in-place ReLU), so the figure is what the graph keeps, not a measurement.

``model_activations`` applies the same definition to a built Keras model, so a test holds the two equal and a family
without an estimator still has its built model held to the ceiling.
"""

from __future__ import annotations

import dataclasses
import math

from videonas.checks import check_int

BYTES_PER_VALUE = 4  # float32
# Copies of every weight while training with Adam: the weight, its gradient, and the first and second moments.
TRAINING_COPIES = 4
COST_KEYS = ("params", "flops", "train_memory_bytes")


def train_memory_bytes(*, params: int, activations: int, batch_size: int) -> int:
    """Bytes a training step keeps: ``TRAINING_COPIES`` copies of the weights and ``activations`` (elements per clip)
    for each clip of the batch (see the module docstring for what is and is not counted)."""
    check_int("batch_size", batch_size, 1, 10**6)
    return BYTES_PER_VALUE * (TRAINING_COPIES * int(params) + batch_size * int(activations))


@dataclasses.dataclass
class Tally:
    """Running totals while an estimator walks a genome's layers: trainable parameters, FLOPs (multiply-adds) at
    batch 1 and activation elements per clip."""

    params: int = 0
    flops: int = 0
    activations: int = 0

    def output(self, *shape: int) -> None:
        """A layer's output of ``shape`` (batch excluded) is kept for the backward pass."""
        self.activations += math.prod(shape)

    def conv(self, c_in: int, c_out: int, taps: int, positions: int, *, bias: bool = False) -> None:
        """A dense conv (``taps`` kernel taps) to ``positions`` output positions; its output is added separately."""
        self.params += taps * c_in * c_out + (c_out if bias else 0)
        self.flops += taps * c_in * c_out * positions

    def batch_norm(self, channels: int, positions: int) -> None:
        """A batch norm (gamma and beta learned) and its output."""
        self.params += 2 * channels
        self.output(positions, channels)

    def dense(self, c_in: int, c_out: int) -> None:
        """A dense layer with bias on a pooled vector, and its output."""
        self.conv(c_in, c_out, 1, 1, bias=True)
        self.output(c_out)

    def result(self, batch_size: int) -> dict[str, int]:
        """``{"params", "flops", "train_memory_bytes"}`` at ``batch_size`` clips per training step."""
        memory = train_memory_bytes(params=self.params, activations=self.activations, batch_size=batch_size)
        return {"params": self.params, "flops": self.flops, "train_memory_bytes": memory}


def model_activations(model) -> int:
    """Activation elements per clip of a built Keras model, as the estimators count them: every layer's output (the
    inputs included), a (2+1)D conv's middle map three times, a non-local block's inner tensors."""
    from videonas import layers as video_layers  # Keras: only callers holding a built model get here

    total = 0
    for layer in model.layers:
        outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        total += sum(math.prod(int(n) for n in tensor.shape[1:]) for tensor in outputs)
        if isinstance(layer, video_layers.Conv2Plus1D) and layer.temporal is not None:
            first = layer.temporal if layer.temporal_first else layer.spatial
            middle = first.compute_output_shape(tuple(layer.input.shape))
            total += 3 * math.prod(int(n) for n in middle[1:])
        elif isinstance(layer, video_layers.NonLocal):
            *positions, channels = (int(n) for n in layer.input.shape[1:])
            count, inner = math.prod(positions), layer.theta.filters
            total += 4 * count * inner + 2 * count * count + count * channels
    return total


def model_train_memory_bytes(model, *, batch_size: int) -> int:
    """``train_memory_bytes`` of a built Keras model (for a family that has no genome estimator)."""
    from videonas import measure  # Keras: only callers holding a built model get here

    return train_memory_bytes(params=measure.count_params(model), activations=model_activations(model),
                              batch_size=batch_size)


__all__ = ["BYTES_PER_VALUE", "COST_KEYS", "TRAINING_COPIES", "Tally", "model_activations",
           "model_train_memory_bytes", "train_memory_bytes"]

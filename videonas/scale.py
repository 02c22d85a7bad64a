"""Resolution, width, depth and compound (EfficientNet-style) scaling of a Tiny Video Network genome.

The TVN paper scales its found networks up in input resolution, width and depth, alone and together ("TVN-1 EN" uses
EfficientNet's compound coefficients). Scaling a *genome* rather than a built model keeps the result searchable,
storable and buildable like any other TVN: every scaled value is rounded back into the genome's valid range.

Our reading of the mapping (the paper gives no code): resolution scales ``image_size``; width scales every block's
``filters`` (so the block output ``filters * expand`` scales too), rounded to multiples of 8 as EfficientNet does;
depth scales every block's ``repeats`` (rounded up, as EfficientNet rounds layer counts). The number of frames and the
frame stride are left alone: the frame-count question is a separate ablation.

Nominal FLOP growth (``flops_factor``) is not what the rounding delivers (a width step of 8 channels, a whole repeat),
so a comparison "at equal FLOPs" picks each dimension's factor by the FLOPs its genome really has: ``match_factor``
searches the factor whose genome's FLOPs (counted by the caller, e.g. on the built model) are closest to a target.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

from videonas.checks import check_choice, check_float, check_int, check_type
from videonas.genome.tvn import BLOCK_INT_RANGES, IMAGE_SIZE_RANGE, TVNGenome

# EfficientNet's grid-searched coefficients (depth alpha, width beta, resolution gamma): alpha * beta^2 * gamma^2 ~ 2,
# so each step of phi roughly doubles the FLOPs.
EFFICIENTNET_ALPHA = 1.2
EFFICIENTNET_BETA = 1.1
EFFICIENTNET_GAMMA = 1.15
FILTER_DIVISOR = 8
DIMENSIONS = ("resolution", "width", "depth")


def compound(
    phi: float,
    *,
    alpha: float = EFFICIENTNET_ALPHA,
    beta: float = EFFICIENTNET_BETA,
    gamma: float = EFFICIENTNET_GAMMA,
) -> dict[str, float]:
    """Compound coefficients ``{"depth": alpha**phi, "width": beta**phi, "resolution": gamma**phi}``.

    The dict unpacks straight into ``scale_tvn(genome, **compound(phi))``; ``compound(0)`` is the identity.
    """
    check_float("phi", phi, -10.0, 10.0)
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        check_float(name, value, 1e-3, 100.0)
    return {"depth": alpha**phi, "width": beta**phi, "resolution": gamma**phi}


def flops_factor(*, resolution: float = 1.0, width: float = 1.0, depth: float = 1.0) -> float:
    """Nominal FLOP growth of a conv net scaled so: depth * width^2 * resolution^2 (EfficientNet's rule)."""
    return depth * width**2 * resolution**2


def round_filters(filters: int, width: float, divisor: int = FILTER_DIVISOR) -> int:
    """``filters * width`` to a multiple of ``divisor`` (8: never below 8 nor more than 10% under the exact value, as
    EfficientNet; a smaller divisor gives finer steps, for matching FLOPs).

    ``width == 1`` keeps the value as it is, so released genomes with odd widths (TVN-2's 348) scale to themselves.
    """
    if width == 1.0:
        return filters
    low, high = BLOCK_INT_RANGES["filters"]
    exact = filters * width
    check_int("divisor", divisor, 1, 64)
    rounded = max(divisor, int(exact + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * exact:
        rounded += divisor
    return int(min(max(rounded, low), high))


def round_repeats(repeats: int, depth: float) -> int:
    """``ceil(repeats * depth)`` within the genome's 1-8 repeats."""
    low, high = BLOCK_INT_RANGES["repeats"]
    return int(min(max(math.ceil(repeats * depth - 1e-9), low), high))


def round_image_size(image_size: int, resolution: float) -> int:
    """``image_size * resolution`` to the nearest pixel within the genome's 32-320 px."""
    low, high = IMAGE_SIZE_RANGE
    return int(min(max(round(image_size * resolution), low), high))


def scale_tvn(genome: TVNGenome, *, resolution: float = 1.0, width: float = 1.0, depth: float = 1.0,
              filter_divisor: int = FILTER_DIVISOR) -> TVNGenome:
    """A TVN genome scaled in input resolution, block width (filters to multiples of ``filter_divisor``) and block
    depth; factors of 1 change nothing.

    Raises ``ValueError`` if a factor is not positive, or if a smaller resolution leaves a block less pixels than its
    spatial stride (the genome's own feasibility check, which names the block).
    """
    check_type("genome", genome, TVNGenome)
    for name, value in (("resolution", resolution), ("width", width), ("depth", depth)):
        check_float(name, value, 1e-3, 100.0)
    blocks = tuple(
        dataclasses.replace(block, filters=round_filters(block.filters, width, filter_divisor),
                            repeats=round_repeats(block.repeats, depth))
        for block in genome.blocks
    )
    return dataclasses.replace(genome, image_size=round_image_size(genome.image_size, resolution), blocks=blocks)


def scaling_variants(
    genome: TVNGenome,
    *,
    phi: float = 1.0,
    alpha: float = EFFICIENTNET_ALPHA,
    beta: float = EFFICIENTNET_BETA,
    gamma: float = EFFICIENTNET_GAMMA,
) -> dict[str, tuple[dict[str, float], TVNGenome]]:
    """The scaling ablation at one FLOP budget: ``{label: (factors, genome)}`` for base, resolution, width, depth, EN.

    Every single-dimension variant gets the whole nominal FLOP growth of the compound step
    (``(alpha * beta^2 * gamma^2) ** phi``), as in EfficientNet's single-dimension comparison, so the variants compare
    at about equal FLOPs: resolution and width by its square root, depth by all of it.
    """
    factors = compound(phi, alpha=alpha, beta=beta, gamma=gamma)
    growth = flops_factor(**factors)
    plans = {
        "base": {"resolution": 1.0, "width": 1.0, "depth": 1.0},
        "resolution": {"resolution": math.sqrt(growth), "width": 1.0, "depth": 1.0},
        "width": {"resolution": 1.0, "width": math.sqrt(growth), "depth": 1.0},
        "depth": {"resolution": 1.0, "width": 1.0, "depth": growth},
        "compound": factors,
    }
    return {label: (plan, scale_tvn(genome, **plan)) for label, plan in plans.items()}


def factor_limit(genome: TVNGenome, dimension: str) -> float:
    """The largest factor of ``dimension`` that can still change ``genome`` (beyond it every scaled value is clipped
    to the genome's range: 320 px, the widest filters, 8 repeats), at most 100 (``scale_tvn``'s limit)."""
    check_choice("dimension", dimension, DIMENSIONS)
    if dimension == "resolution":
        return min(100.0, IMAGE_SIZE_RANGE[1] / genome.image_size)
    field = "filters" if dimension == "width" else "repeats"
    return min(100.0, BLOCK_INT_RANGES[field][1] / min(getattr(block, field) for block in genome.blocks))


def match_factor(genome: TVNGenome, dimension: str, *, target_flops: float, flops: Callable[[TVNGenome], float],
                 steps: int = 12, filter_divisor: int = FILTER_DIVISOR) -> tuple[float, TVNGenome, float]:
    """``(factor, scaled genome, its FLOPs)``: the factor (at least 1) of ``dimension`` alone whose genome's FLOPs
    (``flops(genome)``, e.g. counted on the built model) are closest to ``target_flops``.

    FLOPs never fall as one factor grows, and rounding makes them step, so a bisection on the log factor (``steps``
    halvings up to ``factor_limit``) ends at the step nearest the target; the closest genome tried wins (ties: the
    smaller factor). Each distinct genome is counted once; widths round to multiples of ``filter_divisor``. The caller
    holds the result to its tolerance (e.g. ``videonas.experiments.protocol.check_flops``): a target beyond the
    dimension's reach returns its end."""
    check_type("genome", genome, TVNGenome)
    check_choice("dimension", dimension, DIMENSIONS)
    check_float("target_flops", target_flops, 1.0, 1e18)
    check_int("steps", steps, 1, 64)
    counted: dict[str, float] = {}
    tried: dict[float, tuple[TVNGenome, float]] = {}

    def count(log_factor: float) -> float:
        factor = min(math.exp(log_factor), 100.0)  # exp(log(100)) may round above it
        scaled = scale_tvn(genome, **{dimension: factor}, filter_divisor=filter_divisor)
        if scaled.key not in counted:
            counted[scaled.key] = float(flops(scaled))
        tried[factor] = (scaled, counted[scaled.key])
        return counted[scaled.key]

    lower, upper = 0.0, math.log(max(1.0, factor_limit(genome, dimension)))
    if count(lower) < target_flops < count(upper):
        for _ in range(steps):
            middle = (lower + upper) / 2
            lower, upper = (middle, upper) if count(middle) < target_flops else (lower, middle)
    factor = min(tried, key=lambda f: (abs(math.log(tried[f][1] / target_flops)), f))
    return (factor, *tried[factor])


__all__ = [
    "DIMENSIONS", "EFFICIENTNET_ALPHA", "EFFICIENTNET_BETA", "EFFICIENTNET_GAMMA", "compound", "factor_limit",
    "flops_factor", "match_factor", "round_filters", "round_image_size", "round_repeats", "scale_tvn",
    "scaling_variants",
]

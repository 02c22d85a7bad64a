"""Runtime against FLOPs for the published and baseline architectures, coloured by family, both axes logarithmic."""

from __future__ import annotations

import itertools
from typing import Any

import adjustText
import matplotlib.pyplot as plt
import matplotlib.ticker

from videonas import families

BASELINE_COLOUR = "tab:blue"
SPARE_COLOURS = ("tab:red", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray")


def family_colours(names: Any) -> dict[str, str]:
    """A colour per family in ``names`` (registry order, ``"baseline"`` last): the family's own ``colour``, else a
    spare one that no other family of the figure uses, so a new family needs no edit here."""
    present = set(names)
    ordered = [name for name in families.registered() if name in present]
    ordered += sorted(present - set(ordered) - {"baseline"})
    colours = {name: families.get(name).colour for name in ordered}
    spare = itertools.cycle([colour for colour in SPARE_COLOURS if colour not in colours.values()] or SPARE_COLOURS)
    colours = {name: colour or next(spare) for name, colour in colours.items()}
    if "baseline" in present:
        colours["baseline"] = BASELINE_COLOUR
    return colours


def plot_runtime_vs_flops(timed: Any, *, backend: str, same_input: tuple[int, int] | None = None, ax: Any = None):
    """``timed`` (``videonas.bench.table.architecture_table`` with latency) as labelled points; ``same_input``
    (frames, pixels) names the one clip every model was timed at, ``None`` meaning each at its published input."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5))
    texts = []
    colours = family_colours(timed["family"])
    for row in timed.itertuples(index=False):
        ax.scatter(row.gflops, row.latency_ms, color=colours[row.family], s=60)
        texts.append(ax.text(row.gflops, row.latency_ms, f"{row.model} ({row.frames}x{row.image_size}x{row.image_size})",
                             fontsize=8))
    for family, colour in colours.items():
        ax.scatter([], [], color=colour, label=family)
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.margins(x=0.3, y=0.2)
    ax.legend(loc="lower right")
    ax.set_xlabel("GFLOPs per clip (multiply-adds)")
    ax.set_ylabel(f"CPU latency, batch 1 (ms, {backend})")
    clip = "published inputs" if same_input is None else f"all at {same_input[0]}x{same_input[1]}x{same_input[1]}"
    ax.set_title(f"Runtime vs FLOPs on this CPU ({clip})")
    ax.grid(True, which="both", alpha=0.3)
    ax.figure.tight_layout()
    # Models of similar cost sit on top of each other (TVN-2, R3D-18 and two-stream near 80 GFLOPs): move the labels
    # apart, once the axes are final, with a line back to each point.
    adjustText.adjust_text(texts, x=list(timed["gflops"]), y=list(timed["latency_ms"]), ax=ax,
                           arrowprops={"arrowstyle": "-", "color": "grey", "linewidth": 0.5})
    return ax

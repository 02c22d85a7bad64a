"""Runtime against FLOPs for the published and baseline architectures, coloured by family, both axes logarithmic."""

from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import matplotlib.pyplot as plt
import matplotlib.text
import matplotlib.ticker
import matplotlib.transforms

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
        _, ax = plt.subplots(figsize=(9, 6))
    colours = family_colours(timed["family"])
    rows = list(timed.itertuples(index=False))
    for row in rows:
        ax.scatter(row.gflops, row.latency_ms, color=colours[row.family], s=60, zorder=3)
    for family, colour in colours.items():
        ax.scatter([], [], color=colour, label=family)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.margins(x=0.35, y=0.25)
    for axis, values in ((ax.xaxis, timed["gflops"]), (ax.yaxis, timed["latency_ms"])):
        # 1-2-5 ticks over a few decades; over more, one per decade, else the labels run into each other.
        decades = math.log10(max(values) / min(values)) if min(values) > 0 else 0
        axis.set_major_locator(matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 2 else (1.0,)))
        axis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.legend(loc="lower right")
    ax.set_xlabel("GFLOPs per clip (multiply-adds)")
    ax.set_ylabel(f"CPU latency, batch 1 (ms, {backend})")
    clip = "published inputs" if same_input is None else f"all at {same_input[0]}x{same_input[1]}x{same_input[1]}"
    ax.set_title(f"Runtime vs FLOPs on this CPU ({clip})")
    ax.grid(True, which="both", alpha=0.3)
    ax.figure.tight_layout()
    # Models of similar cost sit on top of each other (TVN-2, R3D-18 and two-stream near 80 GFLOPs): each label
    # takes the nearest free place around its point, once the axes are final, with a line back to the point.
    place_labels(ax, [(row.gflops, row.latency_ms) for row in rows],
                 [f"{row.model} ({row.frames}x{row.image_size}x{row.image_size})" for row in rows])
    return ax


def place_labels(ax: Any, points: Sequence[tuple[float, float]], labels: Sequence[str], *, fontsize: int = 8) -> list:
    """Write ``labels[i]`` next to ``points[i]`` where it overlaps no other label, no point, no legend and stays inside
    the axes: the first free place of a ring of candidates at growing distances (right, left, above, below, then the
    diagonals), the farther ones with a grey line back to the point. Deterministic; returns the annotations."""
    renderer = ax.figure.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    taken = [ax.get_legend().get_window_extent(renderer)] if ax.get_legend() is not None else []
    marker = 5 * ax.figure.dpi / 72  # a scatter point of s=60 is about 8 points across
    centres = [ax.transData.transform(point) for point in points]
    taken += [matplotlib.transforms.Bbox([[x - marker, y - marker], [x + marker, y + marker]]) for x, y in centres]
    annotations = []
    for point, label in zip(points, labels):
        for distance, angle in _CANDIDATES:
            dx, dy = distance * math.cos(math.radians(angle)), distance * math.sin(math.radians(angle))
            ha = "left" if dx > 1 else "right" if dx < -1 else "center"
            va = "bottom" if dy > 1 else "top" if dy < -1 else "center"
            arrow = {"arrowstyle": "-", "color": "grey", "linewidth": 0.5} if distance > _CANDIDATES[0][0] else None
            text = ax.annotate(label, point, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                               fontsize=fontsize, arrowprops=arrow)
            box = label_box(text, renderer)
            if _contains(inside, box) and not any(box.overlaps(other) for other in taken):
                break
            text.remove()
        else:  # nowhere free: on the point's right, as before
            text = ax.annotate(label, point, xytext=(6, 0), textcoords="offset points", va="center", fontsize=fontsize)
            box = label_box(text, renderer)
        taken.append(box)
        annotations.append(text)
    return annotations


# (distance in points, angle in degrees) around a point, nearest first.
_CANDIDATES = [(distance, angle) for distance in (7, 16, 28, 42, 60, 80)
               for angle in (0, 180, 90, 270, 30, 150, 330, 210, 60, 120, 300, 240)]


def label_box(text: Any, renderer: Any) -> Any:
    """The window extent of an annotation's text alone (``Annotation.get_window_extent`` adds its line, which
    reaches back to the point and would always overlap it)."""
    if isinstance(text, matplotlib.text.Annotation):
        text.update_positions(renderer)  # what Annotation.get_window_extent does before measuring
    return matplotlib.text.Text.get_window_extent(text, renderer)


def _contains(outer: Any, inner: Any) -> bool:
    return outer.x0 <= inner.x0 and inner.x1 <= outer.x1 and outer.y0 <= inner.y0 and inner.y1 <= outer.y1

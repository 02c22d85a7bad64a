"""Resource constraints checked on the built model *before* training (TVN: |theta| < P and R(N) < R).

Checks run cheapest first (parameters, then FLOPs, then measured latency), so a candidate that is too big never pays
for a latency measurement, and one that breaks any limit costs no training at all: it is stored as *rejected* with
the figure that broke the limit.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from videonas.genome.base import check_int, check_keys


@dataclasses.dataclass(frozen=True)
class Constraints:
    """Limits (``None`` = no limit). Latency is the median of ``latency_runs`` timed runs on this machine."""

    max_params: int | None = None
    max_flops: int | None = None
    max_latency_ms: float | None = None
    latency_runs: int = 20
    latency_warmup: int = 3

    def __post_init__(self) -> None:
        for field in ("max_params", "max_flops"):
            value = getattr(self, field)
            if value is not None:
                check_int(field, value, 1, 10**18)
        if self.max_latency_ms is not None and not (isinstance(self.max_latency_ms, (int, float))
                                                    and self.max_latency_ms > 0):
            raise ValueError(f"max_latency_ms must be a positive number or None, got {self.max_latency_ms!r}")
        check_int("latency_runs", self.latency_runs, 1, 10_000)
        check_int("latency_warmup", self.latency_warmup, 0, 10_000)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Constraints":
        if data is None:
            return cls()
        check_keys("constraints", data, (), [f.name for f in dataclasses.fields(cls)])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def violation(self, figures: Mapping[str, float | None]) -> str | None:
        """The first broken limit as text (naming the measured figure), or ``None`` if all hold."""
        limits = (("params", self.max_params), ("flops", self.max_flops), ("latency_ms", self.max_latency_ms))
        for name, limit in limits:
            value = figures.get(name)
            if limit is not None and value is not None and value > limit:
                return f"{name} {value:g} > limit {limit:g}"
        return None

    def check(self, model: Any, *, latency: bool = False) -> tuple[dict[str, float | None], str | None]:
        """Measure ``model`` (cheapest first) and return ``(figures, violation or None)``.

        Uses ``videonas.measure``; latency is measured only when a latency limit is set or ``latency`` is true,
        because it costs ``latency_runs`` forward passes.
        """
        measure = _measure_module()
        figures: dict[str, float | None] = {"params": None, "flops": None, "latency_ms": None}
        figures["params"] = measure.count_params(model) if measure else int(model.count_params())
        if (problem := self.violation(figures)) is not None:
            return figures, problem
        if measure is not None:
            figures["flops"] = measure.count_flops(model)
            if (problem := self.violation(figures)) is not None:
                return figures, problem
        if self.max_latency_ms is not None or latency:
            if measure is None:
                raise ValueError("latency measurement needs videonas.measure.measure_latency, which is not available")
            latency = measure.measure_latency(model, runs=self.latency_runs, warmup=self.latency_warmup)
            figures["latency_ms"] = float(latency["median_ms"])
        return figures, self.violation(figures)


def _measure_module():
    try:
        from videonas import measure
    except ImportError:
        return None
    return measure

from __future__ import annotations

import math

import pytest

from videonas.bench import table
from videonas.genome import published


def test_model_names_cover_published_and_baselines():
    names = table.model_names()
    assert names[: len(published.names())] == published.names()
    assert {"R(2+1)D-18", "R3D-18", "X3D-XS", "two-stream"} <= set(names)
    assert len(set(names)) == len(names)


def test_published_input_of_tvn_is_its_genome_input():
    for name in ("TVN-1", "TVN-3"):
        genome = published.load(name)
        assert table.published_input(name) == (genome.num_frames, genome.image_size)
    assert table.published_input("X3D-XS") == (4, 160)
    assert table.family_of("X3D-XS") == "baseline" and table.family_of("EvaNet-B") == "evanet"


@pytest.mark.parametrize("bad", ["TVN-9", "resnet", ""])
def test_unknown_name_raises(bad):
    with pytest.raises(ValueError, match="name must be one of"):
        table.published_input(bad)
    with pytest.raises(ValueError, match="name must be one of"):
        table.architecture_table([bad], latency=False)


@pytest.mark.parametrize("bad", [(0, 32), (2,), (2.0, 32), "2x32", (True, 32)])
def test_bad_input_override_raises(bad):
    with pytest.raises(ValueError, match="input_override"):
        table.build_named("TVN-1", input_override=bad)


def test_runs_for_is_bounded_and_decreasing():
    values = [table.runs_for(g) for g in (0.01, 0.5, 1.0, 5.0, 40.0, 400.0)]
    assert values[0] == 20 and values[-1] == 3
    assert values == sorted(values, reverse=True)


@pytest.mark.slow
def test_counts_follow_the_model_and_the_input():
    from videonas import measure

    small = table.architecture_table(["TVN-1", "R(2+1)D-18"], input_override=(2, 32), latency=False)
    larger = table.architecture_table(["TVN-1", "R(2+1)D-18"], input_override=(2, 64), latency=False)
    assert list(small.columns) == list(table.COLUMNS)
    assert list(small["model"]) == ["TVN-1", "R(2+1)D-18"]
    assert small["latency_ms"].isna().all()
    model = table.build_named("TVN-1", input_override=(2, 32))
    assert small.loc[0, "params_m"] == pytest.approx(measure.count_params(model) / 1e6)
    assert small.loc[0, "gflops"] == pytest.approx(measure.count_flops(model) / 1e9)
    # A 3D ResNet's weights do not depend on the clip size (TVN's can: kernels are clipped to tiny maps); the
    # arithmetic of both grows with the pixels.
    assert small.loc[1, "params_m"] == pytest.approx(larger.loc[1, "params_m"])
    assert all(b > 3 * a for a, b in zip(small["gflops"], larger["gflops"]))
    text = table.format_counts(small)
    lines = text.splitlines()
    assert len(lines) == 3 and lines[1].startswith("TVN-1") and "2x32x32" in lines[1]
    assert f"{small.loc[1, 'params_m']:.2f}" in lines[2]


@pytest.mark.slow
def test_latency_columns_are_measured():
    timed = table.architecture_table(["TVN-1"], input_override=(1, 32), runs=3, warmup=1)
    assert timed.loc[0, "latency_ms"] > 0 and math.isfinite(timed.loc[0, "latency_cv"])
    assert timed.loc[0, "threads"] is not None

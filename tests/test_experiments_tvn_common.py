"""What the TVN experiments share: base network choice (a declared input when "found"), config checks, costs, the
first round of a search from its exact SearchConfig."""

from __future__ import annotations

import pytest

from videonas import models
from videonas.experiments import fields, tvn_common, tvn_search
from videonas.experiments.tvn_frames_ablation import frame_variants


def test_base_genome_choices_and_found_as_a_declared_input(tmp_path):
    assert tvn_common.base_genome(None, default=tvn_common.FRAMES_TVN) == (tvn_common.FRAMES_TVN, "hand-picked")
    folder = tmp_path / "reports" / "tvn_scaling_ablation"
    with pytest.raises(ValueError, match="run tvn_search first"):
        tvn_common.base_genome("found", default=tvn_common.SCALING_TVN, folder=folder)
    (tmp_path / "reports" / "tvn_search").mkdir(parents=True)
    tvn_search.save_genome(tvn_common.FRAMES_TVN, tmp_path / "reports" / "tvn_search" / tvn_common.FOUND_GENOME)
    genome, source = tvn_common.base_genome("found", default=tvn_common.SCALING_TVN, folder=folder)
    assert genome == tvn_common.FRAMES_TVN and source == "found by tvn_search (tvn_search)"
    assert tvn_common.base_genome("TVN-1", default=tvn_common.FRAMES_TVN)[0].num_frames == 2
    given = tvn_common.base_genome(tvn_common.FRAMES_TVN.to_dict(), default=tvn_common.SCALING_TVN)
    assert given == (tvn_common.FRAMES_TVN, "given")
    with pytest.raises(ValueError, match="genome must be"):
        tvn_common.base_genome(3, default=tvn_common.FRAMES_TVN)


def test_genome_choice_seeds_and_search_checks_name_the_path():
    assert tvn_common.check_genome_choice("found", "config.genome") == "found"
    with pytest.raises(ValueError, match="config.genome must be None, 'found', a published TVN"):
        tvn_common.check_genome_choice("EvaNet-A", "config.genome")
    with pytest.raises(ValueError, match="config.genome"):
        tvn_common.check_genome_choice({"blocks": "x"}, "config.genome")
    assert fields.parse_seeds([2, 0], "config.seeds") == (2, 0)
    for bad in ([], [0, 0], [-1], "01", [True]):
        with pytest.raises(ValueError, match="config.seeds"):
            fields.parse_seeds(bad, "config.seeds")
    search = {"space": {"family": "tvn"}, "num_trials": 2, "max_epochs": 2}
    assert tvn_common.check_search(search, "config.search") == search
    with pytest.raises(ValueError, match=r"config\.search\.seed"):  # set per search, from the experiment's seeds
        tvn_common.check_search({**search, "seed": 3}, "config.search")
    with pytest.raises(ValueError, match=r"config\.search\.budget\.epoch"):
        tvn_common.check_search({**search, "budget": {"epoch": 1}}, "config.search")


def test_costs_are_the_built_models_counts_and_print_as_a_table():
    rows = tvn_common.costs(frame_variants(tvn_common.FRAMES_TVN, [1, 8]), num_classes=13)
    # One frame skips the temporal convs (as released), so it has fewer parameters as well as fewer FLOPs.
    assert rows[1]["params"] > rows[0]["params"] > 0 and rows[1]["MFLOPs"] > rows[0]["MFLOPs"] > 0
    assert "latency_ms" not in rows[0]
    lines = tvn_common.costs_text(rows).splitlines()
    assert lines[0].split() == ["variant", "input", "params", "MFLOPs"] and lines[1].split()[:2] == ["1", "frames"]
    assert tvn_common.latency_text({"latency_ms": 2.434}) == "2.43 ms"
    assert tvn_common.latency_text({"latency_ms": None}) == "not measured"


def test_costs_give_a_reason_not_a_conversion_for_models_too_large_to_convert(monkeypatch):
    from videonas.deploy import runtimes

    monkeypatch.setattr(runtimes, "MAX_CONVERT_PARAMS", 1000)
    (row,) = tvn_common.costs(frame_variants(tvn_common.FRAMES_TVN, [2]), num_classes=13, runtime="onnxruntime")
    assert row["latency_ms"] is None and row["runtime"] == "onnxruntime" and "not converted" in row["note"]
    model = models.build_model(tvn_common.FRAMES_TVN, num_classes=13)
    with pytest.raises(ValueError, match="not converted"):
        runtimes.convert(model, runtime="onnxruntime", path="unused.onnx")


def test_at_input_and_shape():
    from videonas.genome import published

    assert tvn_common.at_input(published.load("TVN-1"), image_size=64).image_size >= 64
    assert tvn_common.shape(tvn_common.FRAMES_TVN) == "1x32px/3 blocks"

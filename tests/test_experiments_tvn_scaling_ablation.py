"""tvn_scaling_ablation: its Config, the found genome as a declared input, the scaled variants and the verdicts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from videonas.experiments import protocol, tvn_common, tvn_scaling_ablation as scaling, tvn_search
from videonas.scale import scale_tvn
from videonas.experiments.variants import VariantRuns
from videonas.search.store import TrialResult
from typos import assert_typo_named

ROOT = Path(__file__).resolve().parent.parent


def _default() -> dict:
    text = (ROOT / "notebooks" / "params" / "default" / "tvn_scaling_ablation.yaml").read_text()
    return yaml.safe_load(text)["config"]


def _runs(phi, *, seeds=10, steps=None):
    scores = {"resolution": 0.50, "width": 0.60, "depth": 0.40, "compound": 0.70}
    steps = steps or {}
    return VariantRuns({(f"{d} phi={phi:g}", "all", s): TrialResult(fitness=0.5, metrics={
        "steps": steps.get(d, 32), "test": {"accuracy": v + 0.01 * s}}) for d, v in scores.items()
        for s in range(seeds)})


def flops(genome):
    """A stand-in FLOP count (no Keras): pixels times each block's filters squared and repeats."""
    return genome.image_size ** 2 * sum(b.filters ** 2 * b.repeats for b in genome.blocks)


def test_the_default_profile_parses_and_starts_from_the_found_tvn():
    parsed = scaling.Config.from_dict(_default())
    assert parsed.base_genome == "found" and parsed.phis == (1.0,) and parsed.task.max_train_clips == 520
    assert len(parsed.seeds) >= 10
    assert parsed.executor.kind == "subprocess" and parsed.budget.epochs == 4


@pytest.mark.parametrize("path", ["phi", "task.batchsize", "budget.epoch", "executor.option",
                                  "executor.options.max_worker"])
def test_a_misspelled_key_at_each_level_names_its_dotted_path(path):
    assert_typo_named(scaling.Config.from_dict, _default(), path)


def test_found_is_read_from_tvn_search_beside_the_output_folder(tmp_path):
    parsed = scaling.Config.from_dict({**_default(), "task": {"dataset": "embedded:smoke"},
                                     "phis": [1.0, 2.0]})
    output_dir = tmp_path / "reports" / "tvn_scaling_ablation"
    with pytest.raises(ValueError, match="run tvn_search first"):
        scaling.plan(parsed, output_dir=output_dir)
    (tmp_path / "reports" / "tvn_search").mkdir(parents=True)
    tvn_search.save_genome(tvn_common.FRAMES_TVN, tmp_path / "reports" / "tvn_search" / "found_genome.json")
    chosen = scaling.plan(parsed, output_dir=output_dir)
    assert chosen.base == tvn_common.FRAMES_TVN and chosen.source == "found by tvn_search (tvn_search)"
    assert [v.label for v in chosen.variants][:2] == ["base", "resolution phi=1"] and len(chosen.variants) == 9
    for phi in ("1", "2"):  # the built models' FLOPs: width and resolution within 10% of depth
        for dimension in ("width", "resolution"):
            protocol.check_flops(chosen.flops[f"{dimension} phi={phi}"], chosen.flops[f"depth phi={phi}"])


def test_scaled_variants_match_measured_flops_not_nominal_growth():
    scaled, factors, counted = scaling.scaled_variants(tvn_common.SCALING_TVN, [1.0, 2.0], flops=flops)
    assert [v.label for v in scaled][:5] == ["base", "resolution phi=1", "width phi=1", "depth phi=1",
                                             "compound phi=1"] and len(scaled) == 9
    by_label = {v.label: v.genome for v in scaled}
    for phi in (1, 2):
        depth = counted[f"depth phi={phi}"]
        for dimension in ("width", "resolution"):
            assert abs(counted[f"{dimension} phi={phi}"] / depth - 1) <= 0.10  # fails if not matched within 10%
            assert counted[f"{dimension} phi={phi}"] == flops(by_label[f"{dimension} phi={phi}"])
    rows = {row["variant"]: row for row in factors}
    assert rows["width phi=1"]["matched to"] == "depth phi=1" and rows["depth phi=2"]["matched to"] == "compound phi=2"
    assert rows["width phi=1"]["width"] > 1.0 and rows["width phi=1"]["depth"] == 1.0
    assert by_label["width phi=1"] == scale_tvn(tvn_common.SCALING_TVN, width=rows["width phi=1"]["width"])
    assert scaling.scaling_chains([1, 2])["width"] == ["width phi=1", "width phi=2"]


def test_a_dimension_that_cannot_reach_equal_flops_is_refused():
    def width_blind(genome):  # width changes nothing: no width factor can match a deeper net
        return genome.image_size ** 2 * sum(b.repeats for b in genome.blocks)

    with pytest.raises(ValueError, match=r"width phi=1 has .* FLOPs and depth phi=1 .*: not FLOPs-matched within 10%"):
        scaling.scaled_variants(tvn_common.SCALING_TVN, [1.0], flops=width_blind)


def test_only_width_against_depth_is_judged_and_compound_is_described():
    (width,) = scaling.scaling_verdicts(_runs(2), phi=2)
    assert width.estimate == pytest.approx(20.0) and width.verdict == "supported" and width.n == 10
    text = scaling.compound_text(_runs(2), phi=2)
    assert text.startswith("Described, not judged") and "compound phi=2 mean test 0.745" in text


def test_width_and_depth_train_the_same_steps():
    assert scaling.check_steps(_runs(1), phi=1) == {"width phi=1": 32, "depth phi=1": 32}
    with pytest.raises(ValueError, match=r"arm 'depth phi=1' seed 0: its budget allowed 31 training steps"):
        scaling.check_steps(_runs(1, steps={"depth": 31}), phi=1)


def test_answers_name_the_base_show_both_flop_counts_and_warn_only_above_the_embedded_size():
    variants, _, counted = scaling.scaled_variants(tvn_common.SCALING_TVN, [1.0], flops=flops)
    verdicts, text = scaling.answers_of(_runs(1), variants, phi=1.0, source="hand-picked", num_classes=7,
                                        flops=counted)
    assert [v.verdict for v in verdicts] == ["supported"]
    assert "Base TVN: hand-picked." in text and "only interpolate" not in text
    assert f"width {counted['width phi=1'] / 1e6:.2f} and depth {counted['depth phi=1'] / 1e6:.2f} MFLOPs" in text
    assert "Described, not judged" in text
    big = [dataclasses.replace(variants[0], genome=dataclasses.replace(tvn_common.SCALING_TVN, image_size=96))]
    assert "only interpolate" in scaling.answers_of(_runs(1), big, phi=1.0, source="x", num_classes=7)[1]

"""tvn_scaling_ablation: its Config, the found genome as a declared input, the scaled variants and the verdicts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from videonas.experiments import tvn_common, tvn_scaling_ablation as scaling, tvn_search
from videonas.experiments.variants import VariantRuns
from videonas.search.store import TrialResult
from typos import assert_typo_named

ROOT = Path(__file__).resolve().parent.parent


def _default() -> dict:
    text = (ROOT / "notebooks" / "params" / "default" / "tvn_scaling_ablation.yaml").read_text()
    return yaml.safe_load(text)["config"]


def _runs(phi):
    scores = {"resolution": 0.50, "width": 0.60, "depth": 0.40, "compound": 0.70}
    return VariantRuns({(f"{d} phi={phi:g}", "all", s): TrialResult(fitness=0.5, metrics={"test": {
        "accuracy": v + 0.01 * s}}) for d, v in scores.items() for s in range(6)})


def test_the_default_profile_parses_and_starts_from_the_found_tvn():
    parsed = scaling.Config.from_dict(_default())
    assert parsed.base_genome == "found" and parsed.phis == (1.0, 2.0) and parsed.task.max_train_clips == 520
    assert parsed.executor.kind == "subprocess" and parsed.budget.epochs == 4


@pytest.mark.parametrize("path", ["phi", "task.batchsize", "budget.epoch", "executor.option",
                                  "executor.options.max_worker"])
def test_a_misspelled_key_at_each_level_names_its_dotted_path(path):
    assert_typo_named(scaling.Config.from_dict, _default(), path)


def test_found_is_read_from_tvn_search_beside_the_output_folder(tmp_path):
    parsed = scaling.Config.from_dict({**_default(), "task": {"dataset": "embedded:smoke"}})
    output_dir = tmp_path / "reports" / "tvn_scaling_ablation"
    with pytest.raises(ValueError, match="run tvn_search first"):
        scaling.plan(parsed, output_dir=output_dir)
    (tmp_path / "reports" / "tvn_search").mkdir(parents=True)
    tvn_search.save_genome(tvn_common.FRAMES_TVN, tmp_path / "reports" / "tvn_search" / "found_genome.json")
    chosen = scaling.plan(parsed, output_dir=output_dir)
    assert chosen.base == tvn_common.FRAMES_TVN and chosen.source == "found by tvn_search (tvn_search)"
    assert [v.label for v in chosen.variants][:2] == ["base", "resolution phi=1"] and len(chosen.variants) == 9


def test_scaled_variants_and_chains():
    scaled, factors = scaling.scaled_variants(tvn_common.SCALING_TVN, [1.0, 2.0])
    assert [v.label for v in scaled][:5] == ["base", "resolution phi=1", "width phi=1", "depth phi=1",
                                             "compound phi=1"] and len(scaled) == 9
    assert factors[2]["width"] > 1.0 and factors[2]["depth"] == 1.0
    assert scaling.scaling_chains([1, 2])["width"] == ["width phi=1", "width phi=2"]


def test_scaling_verdicts_compare_the_named_variants():
    width, compound = scaling.scaling_verdicts(_runs(2), phi=2)
    assert width.estimate == pytest.approx(20.0) and width.verdict == "supported"
    assert compound.estimate == pytest.approx(10.0) and compound.verdict == "supported"  # against width, the best


def test_answers_name_the_base_and_warn_only_above_the_embedded_size():
    variants, _ = scaling.scaled_variants(tvn_common.SCALING_TVN, [1.0])
    verdicts, text = scaling.answers_of(_runs(1), variants, phi=1.0, source="hand-picked", num_classes=7)
    assert [v.verdict for v in verdicts] == ["supported", "supported"]
    assert "Base TVN: hand-picked." in text and "only interpolate" not in text
    big = [dataclasses.replace(variants[0], genome=dataclasses.replace(tvn_common.SCALING_TVN, image_size=96))]
    assert "only interpolate" in scaling.answers_of(_runs(1), big, phi=1.0, source="x", num_classes=7)[1]

"""The published-architectures experiment: paper figures only beside the same quantity, and the GPU file's checks."""

import json
from pathlib import Path

import pandas
import pytest
import yaml

from videonas.experiments import prose, published


def _tables(same_clip: bool):
    counts = pandas.DataFrame({
        "model": ["TVN-1", "R(2+1)D-18", "X3D-XS"], "family": ["tvn", "baseline", "baseline"],
        "frames": [2, 16, 4], "image_size": [224, 112, 160], "params_m": [26.5, 33.4, 3.8],
        "gflops": [8.65, 83.0, 1.21]})
    timed = counts.assign(latency_ms=[40.0, 400.0, 20.0], latency_cv=0.1, threads=2)
    if same_clip:
        timed = timed.assign(frames=4, image_size=64)
    return counts, timed


def test_findings_sets_the_paper_figure_only_beside_tvn_latency_at_published_inputs():
    counts, timed = _tables(same_clip=False)
    headline, conclusion = published.findings(counts, timed, {}, same_input=False)
    rows = {row["label"]: row for row in headline}
    assert rows["TVN-1 CPU latency at 2x224x224 (ms)"]["paper"].startswith("37 ms")
    assert rows["R(2+1)D-18 / TVN-1 CPU latency"]["value"] == 10.0
    assert all(row["paper"] == "" for label, row in rows.items() if "/" in label and "TVN-1 CPU" in label)
    assert "10.0x faster than R(2+1)D-18" in conclusion
    assert "2.0x slower than X3D-XS" in conclusion  # X3D-XS at 20 ms against TVN-1's 40
    assert "GPU: not measured" in conclusion


def test_the_speed_claim_is_judged_at_published_inputs_from_every_timed_run():
    counts, timed = _tables(same_clip=False)
    timed = timed.assign(model=["TVN-1", "R(2+1)D-18", "AssembleNet-50"],
                         latency_runs_ms=[[40.0, 41.0, 39.0], [400.0, 410.0, 395.0], [300.0]])
    fast, single = published.speed_verdicts(timed, same_input=False)
    assert fast.question.endswith("(R(2+1)D-18 against TVN-1, each at its published input)?")
    assert fast.estimate == pytest.approx((400 * 410 * 395) ** (1 / 3) / (40 * 41 * 39) ** (1 / 3))
    assert fast.low < fast.estimate < fast.high and fast.verdict == "inconclusive"  # 10.0x against a 10x margin
    assert single.estimate == pytest.approx(300 / 40) and single.verdict == "contradicted"  # one run: exact
    assert "3 timed runs" in prose.result_text(fast) and "seeds" not in prose.result_text(fast)
    assert published.speed_verdicts(timed, same_input=True) == []  # one reduced clip is not the paper's setting
    assert published.speed_verdicts(timed.drop(columns="latency_runs_ms"), same_input=False) == []


def test_findings_at_one_reduced_clip_gives_no_paper_figure():
    counts, timed = _tables(same_clip=True)
    headline, conclusion = published.findings(counts, timed, {"TVN-1": 9.5}, same_input=True)
    assert [row["paper"] for row in headline if "CPU latency at" in row["label"]] == [""]
    assert "37 ms" not in conclusion and "reduced clip" in conclusion
    assert {"label": "TVN-1 GPU latency (ms)", "value": 9.5, "paper": "10 ms"} in headline


def test_gpu_latency_reads_published_rows_and_names_a_missing_file(tmp_path):
    path = tmp_path / "gpu_latency.json"
    path.write_text(json.dumps({"rows": [{"model": "TVN-1", "median_ms": 9.0},
                                         {"model": "TVN-1", "median_ms": 3.0, "input_name": "small"}]}))
    assert published.gpu_latency(path, default=tmp_path / "none.json") == {"TVN-1": 9.0}
    assert published.gpu_latency(None, default=tmp_path / "none.json") == {}
    with pytest.raises(ValueError, match="gpu_latency_file"):
        published.gpu_latency(tmp_path / "missing.json", default=path)


def test_format_released_flags_the_paper_parameter_limit():
    rows = [{"model": "TVN-2", "classes": 157, "clip": "2x256x256", "params_m": 109.06, "gflops": 34.61,
             "released_params_m": 109.06, "released_gflops": 34.61, "paper_p_m": 12.0, "within_paper_p": False},
            {"model": "TVN-1", "classes": 157, "clip": "2x224x224", "params_m": 26.04, "gflops": 4.33,
             "released_params_m": 26.04, "released_gflops": 4.33, "paper_p_m": None, "within_paper_p": None}]
    lines = published.format_released(rows).splitlines()
    assert lines[0].endswith("BREAKS the paper's P < 12M") and lines[0].startswith("TVN-2             2x256")
    assert lines[1].endswith("GFLOPs")
    assert lines[2] == "released code's counts: 2 of 2 within 2% params and 3% FLOPs"
    rows[1] = {**rows[1], "released_params_m": 28.0, "released_gflops": 4.40}
    assert published.format_released(rows).splitlines()[2].endswith("1 of 2 within 2% params and 3% FLOPs; "
                                                                     "outside: TVN-1 (-7.0% params, -1.6% FLOPs)")
    assert any(line.startswith("tvn: ") for line in lines)


def _default() -> dict:
    path = Path(__file__).resolve().parent.parent / "notebooks" / "params" / "default" / "published_architectures.yaml"
    return yaml.safe_load(path.read_text())["config"]


def test_the_default_profile_parses_and_misspelled_keys_name_their_path():
    parsed = published.Config.from_dict(_default())
    assert parsed.latency_input is None and parsed.latency_runs == 6 and parsed.latency_warmup == 1
    assert parsed.count_models == published.ALL_MODELS and "two-stream" in parsed.latency_models
    with pytest.raises(ValueError, match=r"config\.latency_run"):
        published.Config.from_dict({**_default(), "latency_run": 3})
    with pytest.raises(ValueError, match=r"config\.latency_models\[1\]"):
        published.Config.from_dict({**_default(), "latency_models": ["TVN-1", "TVN-9"]})
    with pytest.raises(ValueError, match=r"config\.latency_input"):
        published.Config.from_dict({**_default(), "latency_input": [4]})


def test_run_counts_times_plots_and_writes_results_beside_an_optional_gpu_file(tmp_path):
    config = published.Config.from_dict({"count_models": ["X3D-XS"], "latency_models": ["X3D-XS"],
                                         "latency_input": [2, 32], "latency_runs": 1, "latency_warmup": 0})
    assert published.counts_text(config).splitlines()[1].split()[:3] == ["X3D-XS", "baseline", "4x160x160"]
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "gpu_latency.json").write_text(json.dumps({"rows": [{"model": "X3D-XS", "median_ms": 2.0}]}))
    result = published.run(config, output_dir=tmp_path / "published_architectures")
    assert (result.folder / "runtime_vs_flops.png").is_file() and result.outputs["results"].is_file()
    written = json.loads(result.outputs["results"].read_text())
    assert written["extra"]["gpu_ms"] == {"X3D-XS": 2.0} and written["extra"]["latency_input"] == [2, 32]
    assert "X3D-XS 2.0 ms" in result.conclusion and list(result.figures) == ["runtime_vs_flops.png"]
    (overview,) = result.details.tables()
    assert list(overview["model"]) == ["X3D-XS"] and overview["gpu_ms"][0] == 2.0

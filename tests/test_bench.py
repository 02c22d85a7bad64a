from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

from videonas import bench, config
from videonas.bench import gpu, latency, search


def _row(model, input_name, backend, ms, clip="4x32x32"):
    return {"model": model, "input_name": input_name, "backend": backend, "median_ms": ms, "clip": clip}


def test_ratios_pair_each_baseline_with_tvns_at_same_or_published_input():
    rows = [_row("TVN-1", "published", "tensorflow", 10.0), _row("TVN-1", "common", "tensorflow", 20.0),
            _row("R3D-18", "common", "tensorflow", 500.0), _row("R3D-18", "embedded", "tensorflow", 100.0)]
    pairs = latency.ratios(rows, backend="tensorflow")
    got = {(p["baseline_input"], p["tvn_input"]): p["ratio"] for p in pairs}
    assert got == {("common", "published"): 50.0, ("common", "common"): 25.0, ("embedded", "published"): 10.0}


def test_untimed_rows_are_left_out_of_ratios():
    rows = [_row("TVN-2", "common", "tensorflow", None), _row("TVN-1", "common", "tensorflow", 20.0),
            _row("R3D-18", "common", "tensorflow", 500.0)]
    assert [p["tvn"] for p in latency.ratios(rows, backend="tensorflow")] == ["TVN-1"]
    with pytest.raises(ValueError, match="no latency row"):
        latency.find(rows, "TVN-2", "common", "tensorflow")


def test_backend_ratio_is_geometric_mean():
    rows = [_row("TVN-1", "quick", "tensorflow", 10.0), _row("TVN-1", "quick", "torch", 40.0),
            _row("R3D-18", "quick", "tensorflow", 100.0), _row("R3D-18", "quick", "torch", 100.0)]
    assert latency.backend_ratio(rows, other="torch") == pytest.approx(2.0)
    with pytest.raises(ValueError, match="no latency row"):
        latency.find(rows, "TVN-2", "quick", "torch")


def test_plan_cases():
    cases = latency.plan()
    assert {c.input_name for c in cases} == {"published", "common", "embedded"}
    assert all((c.num_frames, c.image_size) == latency.COMMON_INPUT for c in cases if c.input_name == "common")
    assert {c.model for c in cases if c.input_name == "common"} == set(latency.TVNS) | set(latency.BASELINES)
    assert [c.model for c in latency.plan(quick=True)] == ["TVN-1", "R(2+1)D-18"]


@pytest.mark.slow
def test_matmul_peak_is_the_best_library():
    peaks = latency.matmul_peak_gflops(sizes=(64, 128), repeats=2)
    assert peaks["numpy"] > 0 and peaks["backend"] > 0
    assert peaks["peak"] == max(peaks["numpy"], peaks["backend"])


def test_evaluations_to_reach():
    assert search.evaluations_to_reach([0.1, None, 0.3, 0.5], 0.3) == 3
    assert search.evaluations_to_reach([0.1, 0.2], 0.3) is None
    assert search.evaluations_to_reach([0.1], None) is None


def test_overhead_uses_wall_time_and_fit_time():
    def trial(started, finished, fit, first=0.0, status="done", **metrics):
        timings = {"fit_s": fit, "first_step_s": first, "build_s": 1.0}
        return SimpleNamespace(status=status, started=started, finished=finished,
                               metrics={"timings": timings, **metrics})

    trials = [trial(0.0, 10.0, 6.0, first=2.0), trial(5.0, 9.0, 3.0), trial(0.0, 4.0, 1.0, status="failed"),
              trial(0.0, 2.0, 1.0, reused_from=0)]
    summary = search.overhead(trials)
    assert summary["trials"] == 2
    assert summary["median_share_outside_fit"] == pytest.approx((0.4 + 0.25) / 2)
    assert summary["median_share_outside_steady_fit"] == pytest.approx((0.6 + 0.25) / 2)
    assert summary["median_wall_s"] == pytest.approx(7.0)


def test_gpu_section_without_and_with_measurements(tmp_path):
    empty = gpu.run(reports_dir=tmp_path)
    assert "not measured" in empty["headline"][0]["value"]
    (tmp_path / "bench").mkdir()
    rows = [{"model": "TVN-1", "clip": "2x224x224", "backend": "tensorflow", "median_ms": 3.21, "device": "H100",
             "input_name": "published"}]
    (tmp_path / "bench" / gpu.SOURCE).write_text(json.dumps({"rows": rows}))
    found = gpu.run(reports_dir=tmp_path)
    assert found["headline"][0]["value"] == 3.21 and "10 ms" in found["headline"][0]["paper"]
    assert "H100" in found["conclusion"]


def test_write_section_validates(tmp_path):
    with pytest.raises(ValueError, match="unknown keys"):
        bench.write_section(tmp_path, "x", {"title": "t", "headline": [], "conclusion": "", "clips": 3})
    with pytest.raises(ValueError, match="headline"):
        bench.write_section(tmp_path, "x", {"title": "t", "headline": [{"label": "a"}], "conclusion": "",
                                            "extra": {}})
    path = bench.write_section(tmp_path, "x", {"title": "t", "headline": [{"label": "a", "value": 1, "paper": ""}],
                                               "conclusion": "c", "extra": {"n": 2}})
    assert json.loads(path.read_text())["extra"] == {"n": 2}


@pytest.mark.slow
@pytest.mark.other_backend
def test_quick_latency_section_writes_consistent_figures(tmp_path):
    assert bench.main(["--quick", "--only", "latency", "--reports-dir", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "bench" / "latency.json").read_text())
    assert (tmp_path / "index.html").is_file() and payload["title"] in (tmp_path / "index.html").read_text()
    assert all(isinstance(row["value"], (int, float)) and row["value"] > 0 for row in payload["headline"])
    rows = payload["extra"]["rows"]
    assert {row["backend"] for row in rows} == {"tensorflow", "torch"}
    ratio_row = next(row for row in payload["headline"] if row["label"].startswith("R(2+1)D-18 / TVN-1"))
    backend = ratio_row["label"].rsplit(", ", 1)[1]
    expected = (latency.find(rows, "R(2+1)D-18", "quick", backend)["median_ms"]
                / latency.find(rows, "TVN-1", "quick", backend)["median_ms"])
    assert ratio_row["value"] == pytest.approx(expected, rel=1e-3, abs=1e-3)
    assert all(math.isclose(row["gflops_per_s"], row["flops"] / 1e6 / row["median_ms"]) for row in rows)
    assert {row["runtime"] for row in rows if row["backend"] == "tensorflow"} == set(latency.RUNTIMES)
    values = {row["label"]: row["value"] for row in payload["headline"]}
    for runtime in latency.RUNTIMES:  # the same-input ratio on every runtime, from that runtime's rows
        expected = (latency.find(rows, "R(2+1)D-18", "quick", "tensorflow", runtime)["median_ms"]
                    / latency.find(rows, "TVN-1", "quick", "tensorflow", runtime)["median_ms"])
        assert values[f"R(2+1)D-18 / TVN-1 latency, both at 4x32x32, {runtime}"] == pytest.approx(expected, rel=1e-2)
        assert all(row["runs"] == 3 and row["threads"] >= 1 and row["batch_size"] == 1 for row in rows)


@pytest.mark.slow
def test_search_benchmarks_on_the_toy_space(tmp_path):
    toy = {"family": "toy", "options": {"length": 6, "choices": 3, "target_seed": 0}}
    options = {"target_seed": 0}
    eff = search.efficiency(seeds=(0, 1), num_trials=12, batch_size=3, population_size=4, space=toy,
                            evaluate="videonas.search.synthetic:evaluate", evaluate_options=options,
                            executor="inprocess", store_dir=tmp_path)
    for record in eff["per_seed"]:
        assert record["random_best"] == max(record["random_curve"])
        # The same seed draws the same first population (4 candidates) for both strategies.
        assert record["evolution_curve"][:4] == record["random_curve"][:4]
        assert search.evaluations_to_reach(record["evolution_curve"], record["random_best"]) == \
            record["evolution_needed"]
    flat = {"family": "toy", **toy["options"]}  # the benches' own spaces are written flat (search.SPACE)
    scl = search.scale(workers=(1, 2), executors=("subprocess",), num_candidates=2, space=flat,
                       evaluate="videonas.search.synthetic:evaluate", evaluate_options=options, store_dir=tmp_path)
    assert [(r["workers"], r["done"]) for r in scl["runs"]] == [(1, 2), (2, 2)]
    assert all(r["candidates_per_min"] == pytest.approx(60 * 2 / r["wall_s"]) for r in scl["runs"])
    payload = search._summary(eff, scl, quick=True)
    assert any(row["label"].startswith("speed-up 2 vs 1 workers, subprocess") for row in payload["headline"])


def test_memory_section_samples_the_driver_at_each_checkpoint():
    from videonas.bench import memory

    payload = memory.run(quick=True)
    rows = payload["extra"]["rows"]
    assert [row["candidates"] for row in rows] == [0, 2, 4]
    assert all(row["rss_mib"] > 10 for row in rows)  # a Python process with numpy holds more than 10 MiB
    assert payload["extra"]["statuses"]["done"] == 4
    assert payload["headline"][2]["value"] == round(rows[-1]["rss_mib"], 1)
    with pytest.raises(ValueError, match="checkpoints must be increasing"):
        memory.driver_rss(checkpoints=(5, 5), store_dir=".")


def test_found_tvn_is_timed_from_its_genome_at_each_input(tmp_path):
    from videonas.genome.tvn import TVNBlock, TVNGenome

    genome = TVNGenome(image_size=48, num_frames=2, frame_stride=1, blocks=(
        TVNBlock(spatial_kernel=3, spatial_stride=2, temporal_kernel=1, filters=8),
        TVNBlock(spatial_kernel=3, spatial_stride=2, temporal_kernel=1, filters=16)))
    assert latency.found_genome(tmp_path) is None
    (tmp_path / "tvn_search").mkdir()
    (tmp_path / "tvn_search" / "found_genome.json").write_text(genome.to_json())
    found = latency.found_genome(tmp_path)
    cases = [c for c in latency.plan(found=found) if c.model == latency.FOUND]
    assert [(c.input_name, c.clip) for c in cases] == [("published", "2x48x48"), ("common", "16x112x112"),
                                                       ("embedded", "8x64x64")]
    assert [c.clip for c in latency.plan(found=found) if c.input_name == "found"] == ["2x48x48"]  # R(2+1)D-18
    (row,) = latency.measure_cases([latency.Case(latency.FOUND, "quick", 4, 32, found)], quick=True)
    assert row["model"] == latency.FOUND and row["clip"] == "4x32x32" and row["median_ms"] > 0
    baseline = _row("R(2+1)D-18", "common", "tensorflow", 300.0, clip="16x112x112")
    own = {**_row(latency.FOUND, "published", "tensorflow", 2.0, clip="2x48x48")}
    same = _row(latency.FOUND, "common", "tensorflow", 6.0, clip="16x112x112")
    at_found = _row("R(2+1)D-18", "found", "tensorflow", 40.0, clip="2x48x48")
    rows = [baseline, own, same, at_found]
    labels = {r["label"]: r["value"] for r in latency._found_rows(rows, latency.ratios(rows, backend="tensorflow"),
                                                                   "tensorflow")}
    assert labels["R(2+1)D-18 (16x112x112) / found TVN at its own input latency, tensorflow"] == 150.0
    assert labels["R(2+1)D-18 (16x112x112) / both at 16x112x112 latency, tensorflow"] == 50.0
    assert labels["R(2+1)D-18 / found TVN latency, both at the found TVN's input 2x48x48, tensorflow"] == 20.0


def test_same_input_ratios_pair_rows_on_each_runtime():
    from videonas.bench import deploy

    rows = [_row(latency.FOUND, "published", "tensorflow", 2.0, clip="2x48x48"),
            _row("R(2+1)D-18", "found", "tensorflow", 40.0, clip="2x48x48"),
            {**_row(latency.FOUND, "published", "tensorflow", 0.5, clip="2x48x48"), "runtime": "onnxruntime",
             "threads": 2},
            {**_row("R(2+1)D-18", "found", "tensorflow", 60.0, clip="2x48x48"), "runtime": "onnxruntime",
             "threads": 2},
            {**_row("R(2+1)D-18", "found", "tensorflow", None, clip="2x48x48"), "runtime": "litert"}]
    ratios = deploy.same_input_ratios(rows, tvn_models=latency.TVN_MODELS)
    pairs = {p["runtime"]: p["ratio"] for p in ratios}
    assert pairs == {"keras": 20.0, "onnxruntime": 120.0}  # litert: the baseline did not convert
    labels = {r["label"]: (r["value"], r["paper"]) for r in deploy.headline(rows, ratios)}
    assert labels["R(2+1)D-18 / found TVN latency, both at 2x48x48, onnxruntime"] == (120.0, "aim >= 100x: met")
    assert labels["R(2+1)D-18 / found TVN latency, both at 2x48x48, keras"] == (20.0, "aim >= 100x: missed")
    assert labels["found TVN latency at 2x48x48, onnxruntime (ms, 2 threads)"] == (0.5, "")
    assert latency.find(rows, latency.FOUND, "published", "tensorflow", "onnxruntime")["median_ms"] == 0.5
    assert latency.find(rows, latency.FOUND, "published", "tensorflow")["median_ms"] == 2.0


def test_found_accuracy_comes_from_the_tvn_search_report(tmp_path):
    assert latency.found_accuracy(tmp_path) == {}
    (tmp_path / "tvn_search").mkdir()
    reference = [{"model": "TVN-1", "top1": None}, {"model": latency.FOUND, "top1": 0.61},
                 {"model": "R(2+1)D-18 x1", "top1": 0.65}]
    (tmp_path / "tvn_search" / "results.json").write_text(json.dumps({"extra": {"reference": reference}}))
    accuracy = latency.found_accuracy(tmp_path)
    assert accuracy == {latency.FOUND: 0.61, "R(2+1)D-18 x1": 0.65}
    retrained = [{"variant": latency.FOUND, "mean test": 0.5}, {"variant": "X3D-XS x0.25", "mean test": None}]
    (tmp_path / "tvn_search" / "results.json").write_text(json.dumps({"extra": {"retrained": retrained}}))
    assert latency.found_accuracy(tmp_path) == {latency.FOUND: 0.5}
    (row,) = latency._accuracy_rows(accuracy)
    assert row["value"] == "0.610 vs 0.650 (-4.0 points)" and "3 points" in row["paper"]


def test_aims_section_judges_the_other_sections_figures(tmp_path):
    from videonas.bench import aims

    assert {row["value"] for row in aims.run(reports_dir=tmp_path)["headline"]} == {"not measured"}
    (tmp_path / "bench").mkdir()
    found = {"model": latency.FOUND, "input_name": "published", "backend": "tensorflow", "median_ms": 2.0,
             "flops": 1e7, "share_of_peak": 0.35, "clip": "8x48x48"}
    base = {"model": "R(2+1)D-18", "input_name": "found", "backend": "tensorflow", "median_ms": 100.0, "flops": 4e9,
            "share_of_peak": 0.5, "clip": "8x48x48"}
    accuracy = latency._accuracy_rows({latency.FOUND: 0.50, "R(2+1)D-18 x1": 0.55})
    on_ort = [{**found, "runtime": "onnxruntime", "median_ms": 0.5, "threads": 2},
              {**base, "runtime": "onnxruntime", "median_ms": 60.0, "threads": 2}]
    latency_payload = {"headline": accuracy, "extra": {"rows": [found, base, *on_ort]}}
    (tmp_path / "bench" / "latency.json").write_text(json.dumps(latency_payload))
    per_seed = [{"overhead": {"median_share_outside_fit": share}} for share in (0.02, 0.04, 0.5)]
    runs = [{"executor": "subprocess", "workers": workers, "candidates_per_min": rate}
            for workers, rate in ((1, 10.0), (2, 19.0))]
    search_payload = {"extra": {"efficiency": {"median_evolution_needed": 2, "num_trials": 6, "per_seed": per_seed},
                                "scale": {"runs": runs}}}
    (tmp_path / "bench" / "search.json").write_text(json.dumps(search_payload))
    rows = {row["label"]: row for row in aims.run(reports_dir=tmp_path)["headline"]}
    speed = next(row for label, row in rows.items() if label.startswith("found TVN >= 100x"))
    assert speed["value"] == "missed: 50x, 2.0x short of the aim" and "FLOP ratio is 400x" in speed["paper"]
    assert rows["found TVN >= 100x faster than R(2+1)D-18 at the same input (8x48x48, onnxruntime)"] == {
        "label": "found TVN >= 100x faster than R(2+1)D-18 at the same input (8x48x48, onnxruntime)",
        "value": "met: 120x", "paper": ""}
    assert rows["found TVN within 3 points of R(2+1)D-18's top-1 at that input"]["value"].startswith("missed: 0.500")
    assert rows["found TVN >= 30% of the measured matmul peak"] == {
        "label": "found TVN >= 30% of the measured matmul peak", "value": "met: 35.0%", "paper": ""}
    efficiency = rows["evolution reaches random search's final best in <= 40% of the evaluations"]
    assert efficiency["value"] == "met: 33% (2 of 6)"
    assert rows["framework overhead <= 5% of a candidate's wall time"]["value"] == "met: 4%"
    assert rows["2 workers >= 1.8x one (subprocess)"]["value"] == "met: 1.90x"


def test_data_bench_vfr_copies_keep_the_frames_with_variable_timing(tmp_path):
    import av
    import numpy as np

    from videonas.bench import data as data_bench
    from videonas.data import embedded_dataset

    source = embedded_dataset("smoke").records("train")[0].path
    copy, = data_bench._copies([source], tmp_path, variable=True)
    with av.open(copy) as container:
        times = [frame.time for frame in container.decode(video=0)]
    with av.open(source) as a, av.open(copy) as b:
        first = [next(c.decode(video=0)).to_ndarray(format="rgb24").astype(int) for c in (a, b)]
    steps = np.diff(times)
    assert len(times) == 24 and steps.min() >= 1 / 32 - 1e-3 and steps.max() <= 1 / 8 + 1e-3 and np.ptp(steps) > 0.02
    assert np.abs(first[0] - first[1]).mean() < 4  # same picture, re-encoded


@pytest.mark.slow
def test_data_bench_reports_vfr_clips_per_second(tmp_path):
    from videonas.bench import data as data_bench

    payload = data_bench.run(quick=True)
    labels = [row["label"] for row in payload["headline"]]
    assert "VFR copy decode sample resize (clips/s)" in labels and payload["extra"]["copied_clips"] == 32
    assert all(row["value"] > 0 for row in payload["headline"])
    written = json.loads(bench.write_section(tmp_path, "data", payload).read_text())
    assert written["extra"]["vfr_copy_decode_sample_resize_clips_per_s"] > 0
    assert [row["workers"] for row in written["extra"]["loader"]["rows"]] == [1, 2]
    assert "streamed fill, 50 files, 2 loader processes (clips/s)" in labels
    assert 0 < written["extra"]["derived_mean_abs_difference"] < 8  # close to decoding, not equal


@pytest.mark.slow
def test_data_bench_streams_the_quick_synthetic_set_with_one_and_two_loader_processes(tmp_path):
    from videonas.bench import data as data_bench

    loaded = data_bench.loader_bench(data_bench.QUICK_LOADER_FILES, root=tmp_path)
    folder = tmp_path / f"loader_{data_bench.QUICK_LOADER_FILES}"
    assert len(list(folder.rglob("*.mp4"))) == 50 and data_bench.synthetic_folder(50, root=tmp_path) == folder
    assert [row["workers"] for row in loaded["rows"]] == [1, 2]
    for row in loaded["rows"]:
        assert row["clips"] == 50 and row["fill_clips_per_s"] > 0 and row["epoch_clips_per_s"] > 0
        assert 0 < row["peak_anon_mib"] < row["peak_rss_mib"] < 2048
    # two loader processes beside the driver: more resident memory than the driver decoding alone
    assert loaded["rows"][1]["peak_rss_mib"] > loaded["rows"][0]["peak_rss_mib"]


def test_models_too_large_to_convert_are_listed_with_the_reason(monkeypatch):
    from videonas import models
    from videonas.bench import deploy
    from videonas.deploy import runtimes

    model = models.create_model("tvn-1", num_classes=3, num_frames=2, image_size=32)
    monkeypatch.setattr(runtimes, "MAX_CONVERT_PARAMS", 1000)
    rows = deploy.runtime_rows(model, {"model": "TVN-1", "clip": "2x32x32"}, runtimes=["onnxruntime", "litert"],
                               runs=1, threads=1, flops=1)
    assert [row["runtime"] for row in rows] == ["onnxruntime", "litert"]
    assert all(row["median_ms"] is None and "not converted" in row["error"] for row in rows)


def _throughput_run(executor, mode, workers, threads, per_hour, share=0.3):
    return {"executor": executor, "mode": mode, "workers": workers, "threads_per_worker": threads,
            "candidates_per_hour": per_hour, "share_outside_steady_training": share, "median_candidate_s": 3.0,
            "median_timings_s": {"first_step_s": 3.0, "eval_s": 2.0, "fit_s": 23.0}}


def test_throughput_summary_and_aims_compare_workers_modes_and_the_machine(tmp_path):
    from videonas.bench import aims, throughput

    smoke = [_throughput_run("process per candidate", "graph", 2, 1, 800.0),
             _throughput_run("persistent workers", "graph", 1, 2, 700.0),
             _throughput_run("persistent workers", "graph", 2, 1, 1000.0),
             _throughput_run("persistent workers", "graph", 1, 1, 500.0),
             _throughput_run("persistent workers", "torch", 2, 1, 3400.0)]
    default = [_throughput_run("persistent workers", "graph", 2, 1, 190.0, share=0.08)]
    payload = throughput.summary([{"profile": "smoke", "runs": smoke}, {"profile": "default", "runs": default}],
                                 ceiling={"speedup": 1.5})
    values = {row["label"]: row["value"] for row in payload["headline"]}
    assert values["smoke: persistent workers (torch) vs a process per candidate, 2 worker(s): candidates per hour"] \
        == "4.2x"
    assert values["smoke: 2 workers x 1 thread vs 1 worker x 1 thread(s) (persistent, graph)"] == "2.00x"
    assert values["smoke: 2 workers x 1 thread vs 1 worker x 2 thread(s) (persistent, graph)"] == "1.43x"
    assert values["machine: one single-thread kernel in 2 processes at once vs 1 (work per second)"] == "1.50x"
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "throughput.json").write_text(json.dumps(payload))
    rows = {row["label"]: row for row in aims.run(reports_dir=tmp_path)["headline"]}
    assert rows["smoke budget: >= 4x the candidates per hour of a process per candidate"]["value"] == \
        "met: 4.2x (torch on persistent workers)"
    assert rows["default budget: <= 10% of a candidate's time outside steady training"]["value"] == "met: 8%"
    two = rows["smoke budget: 2 workers >= 1.8x one (one thread each)"]
    assert two["value"] == "met: 2.00x" and "default budget: 2 workers >= 1.8x one (one thread each)" not in rows


def test_machine_ceiling_times_one_and_two_processes():
    from videonas.bench import throughput

    result = throughput.machine_ceiling(repeats=20, trials=1)
    assert len(result["alone_s"]) == len(result["pair_s"]) == 1 and 0 < result["speedup"] < 4


def test_the_benches_flat_spaces_are_what_a_search_accepts():
    from videonas.bench import throughput
    from videonas.search.loop import space_config, space_from_config

    for space in (search.SPACE, throughput.DEFAULT_SPACE):
        with pytest.raises(ValueError, match="unknown keys"):
            config.SpaceConfig.from_value(space)  # why the benches normalise before run_search
        parsed = config.SpaceConfig.from_value(space_config(space_from_config(space)))
        assert parsed.family == "tvn" and parsed.options["image_sizes"] == space["image_sizes"]

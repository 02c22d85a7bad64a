"""reports/index.html: the answers table first, verdicts adjusted within each paper, the README's tables
rendered from it, and an index that survives malformed run records."""

from __future__ import annotations

import json
import shutil

import pytest

from videonas import experiments, jsonio, report
from videonas.report import index as report_index
from videonas.report import readme as report_readme

from report_notebooks import Links, sample_verdicts, write_experiment


def test_index_survives_a_corrupt_run_record_and_refuses_unsafe_links(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{not json")
    odd = tmp_path / "javascript:alert(1)"
    odd.mkdir()
    (odd / "run.json").write_text(json.dumps({"status": "done", "html": "x.html", "wall_seconds": 1}))
    text = report.build_index(tmp_path, profile="smoke").read_text()
    assert "broken/run.json" in text  # the error names the file
    parser = Links()
    parser.feed(text)
    assert not any(target.startswith("javascript:") for target in parser.targets)
    assert report_index.safe_link("a", "b.html") == "a/b.html"
    assert report_index.safe_link("..", "b.html") is None and report_index.safe_link("javascript:x", "y") is None


def test_index_opens_with_the_answers_and_lists_experiments_without_verdicts(tmp_path):
    write_experiment(tmp_path, "tvn_search", question="Does evolution beat random?", verdicts=sample_verdicts())
    write_experiment(tmp_path, "tvn_scaling_ablation", question="Which scaling helps most?")
    text = report.build_index(tmp_path, profile="smoke").read_text()
    answers = text[text.index('<table class="answers">'):text.index("</table>")]
    assert text.index('<table class="answers">') < text.index("<h2>Experiments</h2>")
    rows = answers.split("<tr>")[2:]
    assert len(rows) == 3
    assert "TVN evolution beats random" in rows[0] and "verdict-supported" in rows[0] and "interval" in rows[0]
    assert "verdict-inconclusive" in rows[1] and "one seed" in rows[1]
    assert "Which scaling helps most?" in rows[2] and "measurements, no comparison" in rows[2]
    # Each verdict once on the page (the answers table); no filler where the paper gives no figure.
    assert text.count("TVN evolution beats random") == 1 and text.count("EvaNet evolution beats random") == 1
    assert "no paper figure for this quantity" not in text and "2 questions" in text
    parser = Links()
    parser.feed(answers)
    assert "tvn_search/tvn_search.html" in parser.targets
    assert all((tmp_path / target).exists() for target in parser.targets)
    assert "np.float" not in text


def test_the_index_adjusts_verdicts_within_each_paper_and_stores_them(tmp_path):
    """Holm within a paper's questions: two TVN questions decided at p = 1/64 each (6 seeds) do not survive
    (2 x 1/64 > 0.025), two at p = 1/128 (7 seeds) do; the EvaNet question is its own family."""
    def verdict(key, seeds):
        return experiments.ask(key, a={s: 60.0 + s % 2 for s in range(seeds)}, b={s: 50.0 for s in range(seeds)})

    write_experiment(tmp_path, "tvn_search", verdicts=[verdict("tvn_evolution_vs_random", 6),
                                                  verdict("tvn_scaling_width_vs_depth", 6)])
    write_experiment(tmp_path, "evanet_search", verdicts=[verdict("evanet_evolution_vs_random", 6)])
    text = report.build_index(tmp_path, profile="smoke").read_text()
    rows = json.loads((tmp_path / report_index.ANSWERS_FILE).read_text())["rows"]
    by_paper = {(row["paper"], row["question"]): row for row in rows}
    assert [row["verdict"] for row in rows] == ["supported"] * 3
    tvn = [row for (paper, _), row in by_paper.items() if paper == "TVN"]
    assert [row["adjusted_p"] for row in tvn] == [pytest.approx(2 / 64)] * 2
    assert [row["adjusted_verdict"] for row in tvn] == ["inconclusive"] * 2
    assert "Holm over 2 TVN questions: p = 0.031, not below 0.025" in tvn[0]["adjusted_reason"]
    evanet = [row for (paper, _), row in by_paper.items() if paper == "EvaNet"]
    assert evanet[0]["adjusted_p"] == pytest.approx(1 / 64) and evanet[0]["adjusted_verdict"] == "supported"
    assert "<th>adjusted verdict</th>" in text and "Holm over 2 TVN questions" in text
    shutil.rmtree(tmp_path / "tvn_search")
    write_experiment(tmp_path, "tvn_search", verdicts=[verdict("tvn_evolution_vs_random", 7),
                                                  verdict("tvn_scaling_width_vs_depth", 7)])
    rows = report_index.answer_rows(report_index.load_experiments(tmp_path))
    assert [row["adjusted_verdict"] for row in rows if row["paper"] == "TVN"] == ["supported"] * 2


def test_bench_figures_of_another_found_tvn_stay_out_of_the_answers(tmp_path):
    write_experiment(tmp_path, "tvn_search", verdicts=sample_verdicts())
    found = {"family": "tvn", "num_frames": 1, "image_size": 32, "blocks": []}
    jsonio.dump(found, tmp_path / "tvn_search" / "found_genome.json")
    other = json.dumps({**found, "num_frames": 2, "image_size": 48})
    latency_rows = [{"model": "found TVN", "input_name": "published", "genome": other, "params": 255616}]
    report.Results(title="CPU latency", headline=[{"label": "found TVN latency (ms)", "value": 6.3}], conclusion="",
                   extra={"rows": latency_rows}).write(tmp_path / "bench", file_name="latency.json")
    report.Results(title="Aims", headline=[{"label": "found TVN within 3 points", "value": "met: 0.540 vs 0.458"}],
                   conclusion="").write(tmp_path / "bench", file_name="aims.json")
    network = report_index.bench_network(tmp_path)
    assert network["same"] is False and network["clip"] == "2x48x48" and "(1x32x32)" in network["text"]
    text = report.build_index(tmp_path, profile="smoke").read_text()
    answers = text[text.index('<table class="answers">'):text.index("</table>")]
    assert "0.540" not in answers and len(answers.split("<tr>")) == 2 + 2
    assert text.count('In this section "found TVN" is the bench\'s network (2x48x48)') == 2
    jsonio.dump(json.loads(other), tmp_path / "tvn_search" / "found_genome.json")
    assert report_index.bench_network(tmp_path)["same"] is True
    assert "In this section" not in report.build_index(tmp_path, profile="smoke").read_text()


def test_the_readme_table_is_rendered_from_the_answers(tmp_path):
    write_experiment(tmp_path, "tvn_search", verdicts=sample_verdicts())
    table = report_index.readme_table(tmp_path)
    lines = table.splitlines()
    assert lines[0] == "| question | ours (95% interval) | verdict | adjusted (Holm, per paper) |"
    assert lines[2].startswith("| TVN: TVN evolution beats random (A \u2212 B > 0 points) | +10.7 points (+")
    assert lines[2].endswith("| supported | supported (p = 0.016) |") and "| inconclusive |" in lines[3]
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report_readme.VERDICTS_START}\nstale\n{report_readme.VERDICTS_END}\nmiddle\n"
                      f"{report_readme.TIMINGS_START}\nstale\n{report_readme.TIMINGS_END}\nrest\n")
    report_readme.refresh(readme, tmp_path)
    text = readme.read_text()
    assert report_readme.block_in(text, report_readme.VERDICTS_START, report_readme.VERDICTS_END) == table
    timings = report_readme.block_in(text, report_readme.TIMINGS_START, report_readme.TIMINGS_END).splitlines()
    assert timings[2].startswith("| `tvn_search` | done | ") and timings[-1].startswith("| **sum of the finished")
    assert text.startswith("intro\n") and "\nmiddle\n" in text and text.endswith("\nrest\n")
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="must hold the markers once each"):
        report_readme.refresh(readme, tmp_path)


def test_the_timings_sum_the_finished_notebooks_and_name_their_commits(tmp_path):
    for name, status, seconds, commit, date in (("evanet_search", "done", 1517.4, "abc1234", "2026-12-06 22:00 UTC"),
                                                ("tvn_search", "done", 3000, "def5678", "2026-12-07 01:00 UTC"),
                                                ("tvn_frames_ablation", "failed", 12, "def5678", "2026-12-07 02:00 UTC")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(json.dumps({"name": name, "status": status, "wall_seconds": seconds,
                                                              "commit": commit, "date": date}))
    lines = report_readme.timings_table(tmp_path).splitlines()
    assert lines[2] == "| `evanet_search` | done | 25 min 17 s | abc1234 | 2026-12-06 22:00 UTC |"
    assert lines[4] == "| `tvn_frames_ablation` | failed | 12 s | def5678 | 2026-12-07 02:00 UTC |"
    assert lines[5] == ("| **sum of the finished notebooks** | | **75 min 17 s** | abc1234, def5678 | "
                        "2026-12-06, 2026-12-07 |")  # the failed run is not in the sum


def test_committed_reports_still_build_an_index(tmp_path):
    shutil.copytree(report.project_root() / "reports", tmp_path / "reports")
    text = report.build_index(tmp_path / "reports", profile="default").read_text()
    folders = [path.parent for path in (tmp_path / "reports").glob("*/run.json")]
    with_results = [folder for folder in folders if (folder / "results.json").is_file()]
    unanswered = [folder for folder in with_results if not report.Results.read(folder / "results.json").verdicts]
    assert folders
    assert text.count("measurements, no comparison") == len(unanswered)
    assert text.count("no verdict yet") == len(folders) - len(with_results)


@pytest.mark.parametrize("seconds", [None, "abc", [1], float("nan"), -3, True])
def test_a_malformed_run_record_is_one_failed_entry_not_a_stopped_index(tmp_path, seconds):
    from videonas.report import index

    for name, value in (("good", 60), ("bad", seconds)):
        (tmp_path / name).mkdir()
        (tmp_path / name / index.RUN_FILE).write_text(json.dumps({"status": "done", "wall_seconds": value,
                                                                  "profile": 7}))
    page = index.build_index(tmp_path, profile="default").read_text()
    assert "good" in page and "bad" in page
    bad = index.load_experiment(tmp_path / "bad")
    assert bad["run"]["status"] == "failed" and "wall_seconds" in bad["run"]["error"]
    assert bad["run"]["wall_seconds"] == 0 and bad["run"]["profile"] == "7"

"""The report's Markdown, HTML and MLflow description from a hand-made table: a long table is cut to whole
rows under MLflow's tag limit, the HTML holds its plots, and text from run names is escaped."""

from __future__ import annotations

from collections import Counter

from sweep.report.assemble import Report
from sweep.report.collect import Cell, Table
from sweep.report.config import ReportConfig
from sweep.report.pareto import mark_fronts
from sweep.report.recommend import recommend
from sweep.report.render import html_page, markdown, note
from sweep.report.source import Source


def report_of(cells: list[Cell], limits: dict | None = None) -> Report:
    table = Table("rotten_tomatoes", "val/acc", "max", ["test/acc"], cells, runs=len(cells))
    mark_fronts(table.ranked, table.costs)
    config = ReportConfig(max_trainable_share=(limits or {}).get("share"))
    source = Source(None, "sqlite:///x.db", "1", "sweep", "abc", "sweep-1", "report.parent", "abc", [])
    return Report(source, config, table, recommend(table.ranked, "val/acc", "max", config.limits))


def many(n: int) -> list[Cell]:
    return [
        Cell(f"model_{i:03d}", "lora", 0.9 - i / 1000, 0.9 - i / 1000, {"test/acc": 0.5}, {"share": 0.01 + i / 1000, "time": 5.0},
             run_id=f"r{i}", run_name=f"model_{i:03d}-lora-{i}", states=Counter(finished=1))
        for i in range(n)
    ]  # fmt: skip


def test_a_long_table_is_cut_to_whole_rows_under_mlflows_limit():
    report = report_of(many(200))
    text = note(report, 7900)
    assert len(text) <= 7900
    assert text.startswith("**Which model, which strategy.** Best: lora on model_000 (val/acc 0.9000")
    kept = [line for line in text.splitlines() if line.startswith("| model_")]
    assert 10 < len(kept) < 200 and kept[-1].endswith(" |")  # whole rows
    assert f"(the first {len(kept)} of 200 rows; all of them in report/report.md)" in text
    assert sum(line.startswith("| model_") for line in markdown(report).splitlines()) == 200  # report.md keeps them all


def test_markdown_and_html_show_the_fronts_roles_and_plots():
    cells = many(3)
    cells[2].costs["share"] = 0.001  # the cheapest, 0.2 points below: on the share front
    report = report_of(cells)
    md = markdown(report, ["metric_vs_share.png"])
    assert "| model_000 | lora | 0.9000 |  | 0.5000 | 1.0 % | 5.0 s | 1 | share, time | best overall |" in md  # no interval
    assert "| model_002 | lora | 0.8980 |  | 0.5000 | 0.1 % | 5.0 s | 1 | share | cheapest near it |" in md
    assert "- trainable share: lora on model_002 (0.1 %, 0.8980) -> lora on model_000 (1.0 %, 0.9000)" in md
    assert "![metric vs share](metric_vs_share.png)" in md
    page = html_page(report, {"metric_vs_share.png": b"\x89PNG fake"})
    assert page.count('src="data:image/png;base64,iVBORyBmYWtl"') == 1
    assert '<tr class="front">' in page


def test_names_from_runs_are_escaped_in_html_and_markdown():
    cells = many(1)
    cells[0].run_name = "<b>x|y</b>"
    report = report_of(cells)
    assert "&lt;b&gt;x|y&lt;/b&gt;" in html_page(report, {}) and "<b>x" not in html_page(report, {})
    assert "<b>x\\|y</b>" in markdown(report)


def test_several_seeds_show_mean_sd_interval_and_a_row_per_seed():
    cells = many(2)
    seeded = cells[0]
    seeded.values, seeded.seeds, seeded.run_names, seeded.run_ids = [0.88, 0.92], ["0", "1"], ["a-0", "a-1"], ["ra", "rb"]
    seeded.interval, seeded.test_interval = (0.85, 0.95), (0.45, 0.55)
    md = markdown(report_of(cells))
    assert "| best val/acc (mean ± sd) | 95 % interval | test/acc |" in md
    assert "| model_000 | lora | 0.9000 ± 0.0283 | 0.8500 to 0.9500 | 0.5000 (0.4500 to 0.5500) |" in md
    assert "|  | seed 0 | 0.8800 |" in md and md.rstrip().count("| a-1 |") == 1
    assert '<tr class="seed">' in html_page(report_of(cells), {})

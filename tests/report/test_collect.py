"""Runs into cells: each model x strategy by its best finished run, every number from that run; unfinished
runs counted, never ranked; what cannot be compared is a ConfigError naming its key."""

from __future__ import annotations

import pytest

from sweep.config.errors import ConfigError
from sweep.report.collect import RunRecord, build_table

SCOPE = ("report.parent", "abc")


def run(name: str, strategy: str, value: float | None, state: str = "finished", start: int = 0, task: str = "rt", **metrics) -> RunRecord:
    logged = {"params_trainable_share": 0.5, "train_time_s": 3.0, "peak_memory_mb": 800.0, "test/acc": 0.5, **metrics}
    if value is not None:
        logged["best_val/acc"] = value
    return RunRecord(name, name, "m", strategy, task, state, start, "val/acc", "max", logged)


def test_each_cell_is_its_best_finished_run_with_that_runs_numbers():
    records = [
        run("a", "lora", 0.70, start=1, train_time_s=10.0),
        run("b", "lora", 0.75, start=2, train_time_s=20.0, **{"test/acc": 0.74}),
        run("c", "lora", 0.90, state="pruned", start=3),  # pruned: counted, not ranked, however good
        run("d", "full", 0.80, start=4),
        run("e", "full", None, state="failed", start=5),
    ]
    table = build_table(records, None, None, SCOPE)
    assert (table.metric, table.mode, table.task, table.runs) == ("val/acc", "max", "rt", 5)
    lora = next(cell for cell in table.cells if cell.strategy == "lora")
    assert (lora.run_name, lora.value, lora.tests["test/acc"], lora.cost("time")) == ("b", 0.75, 0.74, 20.0)
    assert lora.runs_text() == "3 (1 pruned)"
    assert [c.strategy for c in table.ranked] == ["full", "lora"]
    assert table.states() == {"finished": 3, "pruned": 1, "failed": 1}


def test_a_tie_between_runs_of_one_cell_keeps_the_earlier_run():
    table = build_table([run("late", "lora", 0.7, start=9), run("early", "lora", 0.7, start=1)], None, None, SCOPE)
    assert table.cells[0].run_name == "early"


def test_a_cell_with_no_finished_run_is_shown_unranked():
    table = build_table([run("a", "lora", 0.7), run("b", "prompt", None, state="failed")], None, None, SCOPE)
    assert [(c.strategy, c.ranked) for c in table.cells] == [("lora", True), ("prompt", False)]


@pytest.mark.parametrize(
    "records, task, metric, message",
    [
        ([run("a", "lora", None, state="failed"), run("b", "full", 0.7, state="pruned")], None, None,
         "report.parent=abc: no finished runs to compare (1 failed, 1 pruned)"),
        ([], None, None, "report.parent=abc: no finished runs to compare (no fine-tuning runs at all)"),
        ([run("a", "lora", 0.7, task="rt"), run("b", "lora", 0.7, task="imdb")], None, None,
         "report.task: the runs cover several tasks: choose one of imdb, rt"),
        ([run("a", "lora", 0.7)], "imdb", None, "report.task=imdb: no runs of this task here; tasks: rt"),
        ([run("a", "lora", 0.7)], None, "val/f1", "report.metric=val/f1: no finished run logs best_val/f1; they log best_val/acc"),
    ],
)  # fmt: skip
def test_nothing_to_compare_names_the_key(records, task, metric, message):
    with pytest.raises(ConfigError) as error:
        build_table(records, task, metric, SCOPE)
    assert str(error.value) == message


def test_several_tasks_are_told_apart_by_report_task():
    table = build_table([run("a", "lora", 0.7, task="rt"), run("b", "full", 0.9, task="imdb")], "rt", None, SCOPE)
    assert [c.run_name for c in table.cells] == ["a"]

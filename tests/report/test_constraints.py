"""The report's limits from a search's constraints (search.constraints, recorded on its parent run): they are the
defaults of report.max_*, each limit the user gives wins, and the report says where each came from."""

from __future__ import annotations

from types import SimpleNamespace

from sweep.report.assemble import build_report
from sweep.report.collect import RunRecord
from sweep.report.config import ReportConfig
from sweep.report.render import settings_line
from sweep.report.source import Source, recorded_limits


def record(strategy: str, value: float, share: float, seconds: float) -> RunRecord:
    metrics = {"best_val/acc": value, "params_trainable_share": share, "train_time_s": seconds, "peak_memory_mb": 800.0}
    return RunRecord(strategy, f"m-{strategy}", "m", strategy, "rt", "finished", 0, "val/acc", "max", metrics)


def source(search_limits: dict) -> Source:
    records = [record("full", 0.80, 1.0, 20.0), record("lora", 0.78, 0.003, 25.0), record("feature", 0.70, 0.0001, 2.0)]
    return Source(None, "sqlite:///x.db", "1", "sweep", "abc", "study-x", "report.study", "study-x", records,
                  search_limits, "the study's parent run abc")  # fmt: skip


def test_the_searchs_constraints_are_the_reports_limits_and_it_says_so():
    report = build_report(source({"trainable_share": 0.01}), ReportConfig(resamples=0))
    assert report.config.limits == {"share": 0.01}
    assert report.recommendation.pick.strategy == "lora"  # full is the best overall, but trains 100 %
    assert report.recommendation.text.startswith("With at most 1.0 % trainable parameters: lora on m")
    assert settings_line(report).startswith(
        "Constraints: at most 1.0 % trainable parameters (search.constraints.trainable_share of the study's parent run abc); "
    )


def test_a_limit_the_user_gives_wins_and_the_others_still_come_from_the_search():
    limits = {"trainable_share": 0.01, "train_s": 10.0}
    report = build_report(source(limits), ReportConfig(resamples=0, max_trainable_share=1.0))
    assert report.config.limits == {"share": 1.0, "time": 10.0}
    assert report.recommendation.pick.strategy == "feature"  # the only one under 10 s; the share limit is the user's 100 %
    assert settings_line(report).startswith(
        "Constraints: at most 100 % trainable parameters (report.max_trainable_share) and at most 10 s of training "
        "(search.constraints.train_s of the study's parent run abc); "
    )


def test_without_search_constraints_nothing_changes():
    report = build_report(source({}), ReportConfig(resamples=0))
    assert report.config.limits == {} and report.recommendation.pick.strategy == "full"
    assert settings_line(report).startswith("Constraints: none; ")


def test_the_parents_tag_is_read_and_a_bad_value_skipped():
    def run(tag):
        return SimpleNamespace(data=SimpleNamespace(tags={} if tag is None else {"search.constraints": tag}))

    assert recorded_limits(run('{"train_s": 60, "peak_memory_mb": 4000.0}')) == {"train_s": 60.0, "peak_memory_mb": 4000.0}
    assert recorded_limits(run('{"trainable_share": 2, "train_s": -1, "gpu": 1, "peak_memory_mb": "x"}')) == {}
    assert recorded_limits(run("not json")) == {} and recorded_limits(run(None)) == {}

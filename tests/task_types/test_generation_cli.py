"""The generation types end to end through the real CLI on real pairs (pip chatterbot-corpus's question ->
answer turns): a grid of encoder-decoder and decoder x strategies logs generation metrics, their cost and
generated examples, the report ranks it by ROUGE-L, a kept model regenerates its text exactly; instruction
tuning trains prompt tuning beside full fine-tuning and distils a kept decoder into another."""

import json
import subprocess
import sys

import pytest

from tests.conftest import run_cli
from tests.test_cli import all_runs

pytestmark = pytest.mark.slow
SMALL = [
    "task=chatterbot_qa", "task.train_size=48", "task.val_size=16", "task.test_size=16", "task.max_length=32",
    "task.max_target_length=16", "task.generate.max_new_tokens=12", "task.generate.val_rows=8", "trainer.val_check_interval=0.5",
    "trainer.precision=32-true", "optim.batch_size=16",
]  # fmt: skip


def generations(client, run_id: str, stage: str) -> list[list[str]]:
    """The rows of a run's last generations/<stage>-step*.json table."""
    names = sorted(a.path for a in client.list_artifacts(run_id, "generations") if a.path.rpartition("/")[2].startswith(stage))
    assert names, f"run {run_id} logged no generations/{stage}-*.json"
    return json.loads(open(client.download_artifacts(run_id, names[-1])).read())["data"]


def test_a_seq2seq_grid_logs_what_it_generates_ranks_by_rouge_and_a_kept_model_writes_the_same_text(tmp_path, cache_dir):
    grid = run_cli(
        "-m", "task.type=seq2seq", "model=tiny_t5,tiny_gpt2", "strategy=full,lora", "tracking.save_model=always", *SMALL,
        cwd=tmp_path, cache=cache_dir,
    )  # fmt: skip
    assert grid.returncode == 0, grid.stderr[-3000:]
    # the comparison table's columns and the recommendation: the grid's base config (the default encoder) is no job of
    # its own, but its monitor is the task type's (it was "best auto", and no recommendation)
    assert "| best val/rougeL" in grid.stdout and "test/rougeL" in grid.stdout and "best auto" not in grid.stdout
    assert "Best: " in grid.stdout and "No recommendation" not in grid.stdout
    client, runs = all_runs(tmp_path)
    jobs = {(run.data.tags["model"], run.data.tags["strategy"]): run for run in runs if "mlflow.parentRunId" in run.data.tags}
    assert sorted(jobs) == [("tiny_gpt2", "full"), ("tiny_gpt2", "lora"), ("tiny_t5", "full"), ("tiny_t5", "lora")]
    for run in jobs.values():
        assert run.data.tags["state"] == "finished" and run.data.params["trainer.monitor"] == "val/rougeL"
        metrics = run.data.metrics
        assert {"test/rougeL", "test/rouge1", "test/rouge2", "test/bleu", "test/chrf", "test/perplexity", "val/generate_s"} <= set(metrics)
        rows = [m.value for m in client.get_metric_history(run.info.run_id, "val/generated_rows")]
        assert rows == [8, 8]  # the same subset at every validation of the fit; every row at the test
        assert metrics["test/generated_rows"] == 16 and metrics["test/tokens_per_s"] > 0
        assert len(generations(client, run.info.run_id, "test")[0]) == 3  # source, reference, prediction

    ranked = subprocess.run([sys.executable, "-m", "sweep.report"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert ranked.returncode == 0, ranked.stderr[-2000:]
    assert "val/rougeL" in ranked.stdout

    kept = jobs[("tiny_gpt2", "full")]
    again = run_cli(
        "model=saved", f"model.source=runs:/{kept.info.run_id}/model", "task.type=seq2seq", "trainer.fit=false", *SMALL,
        cwd=tmp_path, cache=cache_dir,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    client, runs = all_runs(tmp_path)
    reloaded = next(run for run in runs if run.data.tags.get("model.source", "").startswith("runs:/"))
    # greedy decoding of the same weights: the very same text, row for row
    assert generations(client, reloaded.info.run_id, "test") == generations(client, kept.info.run_id, "test")
    assert reloaded.data.metrics["test/rougeL"] == kept.data.metrics["test/rougeL"]


def test_instruction_tuning_trains_full_and_prompt_and_distils_a_kept_decoder(tmp_path, cache_dir):
    grid = run_cli("-m", "model=tiny_gpt2", "strategy=full,prompt", "tracking.save_model=always", *SMALL, cwd=tmp_path, cache=cache_dir)
    assert grid.returncode == 0, grid.stderr[-3000:]
    client, runs = all_runs(tmp_path)
    jobs = {run.data.tags["strategy"]: run for run in runs if "mlflow.parentRunId" in run.data.tags}
    for run in jobs.values():
        assert run.data.tags["state"] == "finished"
        assert {"test/perplexity", "test/rougeL", "test/exact_match"} <= set(run.data.metrics)
    assert jobs["prompt"].data.metrics["params_trainable_share"] < 0.2  # the soft prompt alone trains

    teacher = jobs["full"].info.run_id
    student = run_cli(
        "model=tiny_llama", "strategy=distill", f"distill.teacher=runs:/{teacher}/model", *SMALL, cwd=tmp_path, cache=cache_dir
    )
    assert student.returncode == 0, student.stderr[-3000:]
    distilled = next(run for run in all_runs(tmp_path)[1] if run.data.tags.get("strategy") == "distill")
    assert distilled.data.tags["state"] == "finished" and "test/rougeL" in distilled.data.metrics
    assert distilled.data.metrics["teacher_val_perplexity"] > 1 and 0 < distilled.data.metrics["teacher_topk_mass"] <= 1

    # a teacher that reads rows otherwise (an encoder-decoder student), or a model that cannot generate: one line, exit 2
    refused = run_cli(
        "model=tiny_t5", "task.type=seq2seq", "strategy=distill", f"distill.teacher=runs:/{teacher}/model", *SMALL,
        cwd=tmp_path, cache=cache_dir,
    )  # fmt: skip
    assert refused.returncode == 2 and "the teacher is a decoder, the student an encoder-decoder" in refused.stderr
    encoder = run_cli("model=tiny_bert", *SMALL, cwd=tmp_path, cache=cache_dir)
    assert encoder.returncode == 2 and "cannot generate text" in encoder.stderr and len(encoder.stderr.strip().splitlines()) == 1


def test_two_generation_tasks_train_one_model_scored_per_task(tmp_path, cache_dir):
    from sweep.config.errors import ConfigError
    from sweep.zoo.assets import DEBIAN_DESCRIPTIONS

    try:  # built from apt's indexes on first use: a machine without a Debian mirror cannot
        DEBIAN_DESCRIPTIONS.locate("task.kind=debian_synopsis")
    except ConfigError as error:
        pytest.skip(str(error))
    sizes = [s for s in SMALL if not s.startswith("task=")]
    stack = ["task=multi", "task.type=seq2seq", "task.tasks=[debian_synopsis,chatterbot_qa]", "model=tiny_t5"]
    result = run_cli(*stack, *sizes, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    client, (run,) = all_runs(tmp_path)
    metrics = run.data.metrics
    for task in ("debian_synopsis", "chatterbot_qa"):
        assert f"test/{task}/rougeL" in metrics and f"val/{task}/bleu" in metrics
    assert metrics["test/rougeL"] == pytest.approx((metrics["test/debian_synopsis/rougeL"] + metrics["test/chatterbot_qa/rougeL"]) / 2)
    rows = [m.value for m in client.get_metric_history(run.info.run_id, "val/generated_rows")]
    assert rows == [16, 16] and metrics["test/generated_rows"] == 32  # 8 rows of each sub-task per validation; all at the test

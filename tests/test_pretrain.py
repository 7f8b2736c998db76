"""sweep.pretrain: the span-corruption collator by hand, every objective on a tiny model, the kept
backbone round trip per family, and the real CLI: pre-train, then sweep.run loads it (by run and by zoo name)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import CONF, TINY_DATA, run_cli
from tests.test_cli import all_runs

PRETRAIN_DATA = ["task.train_size=64", "task.val_size=32", "trainer.max_steps=3", "optim.batch_size=16", "trainer.precision=32-true"]


def compose_pretrain(*overrides: str):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("pretrain", overrides=list(overrides))


def run_pretrain_cli(*args: str, cwd: Path, cache: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "sweep.pretrain", *args, f"paths.cache_dir={cache}"]
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600)


# ------------------------------------------------------------------------------------ span corruption
def test_corrupt_replaces_each_span_by_a_sentinel_and_targets_list_them():
    from sweep.pretrain.span_corruption import corrupt

    ids = np.array([10, 11, 12, 13, 14, 15])  # "the cat sat on the mat"
    mask = np.array([0, 1, 1, 0, 0, 1], dtype=bool)
    inputs, targets = corrupt(ids, mask, sentinels=[99, 98, 97], eos_id=1)
    assert inputs == [10, 99, 13, 14, 98, 1]
    assert targets == [99, 11, 12, 98, 15, 1]
    inputs, targets = corrupt(ids, np.array([1, 0, 0, 0, 1, 1], dtype=bool), sentinels=[99, 98], eos_id=1)
    assert inputs == [99, 11, 12, 13, 98, 1] and targets == [99, 10, 98, 14, 15, 1]


def test_noise_mask_has_the_asked_density_in_alternating_spans():
    from sweep.pretrain.span_corruption import random_spans_noise_mask

    rng = np.random.default_rng(0)
    for length in (2, 5, 20, 64):
        mask = random_spans_noise_mask(length, 0.15, 3.0, rng)
        assert mask.sum() == min(max(round(length * 0.15), 1), length - 1)
        starts = int(mask[0]) + int(np.sum(mask[1:] & ~mask[:-1]))
        assert starts == max(1, min(round(mask.sum() / 3.0), mask.sum(), length - mask.sum()))
        assert not mask[0]  # T5's layout: a kept stretch first
    assert random_spans_noise_mask(1, 0.15, 3.0, rng).tolist() == [False]


def test_span_collator_strips_specials_pads_and_shifts_the_decoder_inputs():
    from sweep.pretrain.span_corruption import SpanCorruptionCollator

    collate = SpanCorruptionCollator([99, 98], eos_id=2, pad_id=0, special_ids={101, 102}, noise_density=0.3, mean_span_length=1.0, seed=0)
    rows = [np.array([101, 10, 11, 12, 13, 102]), np.array([101, 20, 21, 102])]
    batch = collate(rows)
    for i, row in enumerate(rows):
        body = row[1:-1].tolist()
        inputs = batch["input_ids"][i][batch["attention_mask"][i] == 1].tolist()
        labels = [t for t in batch["labels"][i].tolist() if t != -100]
        assert inputs[-1] == 2 and labels[-1] == 2 and 101 not in inputs + labels and 102 not in inputs + labels
        restored, spans = [], dict(zip(labels[0::2], labels[1::2]))  # mean span 1: sentinel, token, sentinel, token
        restored = [spans[t] if t in (99, 98) else t for t in inputs[:-1]]
        assert restored == body
        decoder = batch["decoder_input_ids"][i].tolist()
        assert decoder[0] == 0 and decoder[1 : len(labels)] == labels[:-1]


# ------------------------------------------------------------------------------------ every objective
CASES = [("mlm", "tiny_bert"), ("clm", "tiny_gpt2"), ("clm", "tiny_llama"), ("span", "tiny_t5"), ("image_classification", "tiny_vit")]
TASK_OF = {"tiny_vit": ["task=digits"]}  # an image model pre-trains on labelled images


@pytest.mark.parametrize("objective,model", CASES)
def test_each_objective_trains_a_few_steps_with_a_finite_loss_and_its_backbone_round_trips(objective, model, tmp_path, cache_dir):
    from sweep.data.pipelines import pipeline_for
    from sweep.models.families import FAMILIES
    from sweep.pretrain.pretrain_job import prepare
    from sweep.pretrain.pretrain_training import fit
    from sweep.tracking.saved_models import load_folder, write_backbone

    paths = [f"paths.output_dir={tmp_path}", f"paths.cache_dir={cache_dir}"]
    cfg = compose_pretrain(f"model={model}", f"pretrain.objective={objective}", *TASK_OF.get(model, []), *paths, *PRETRAIN_DATA)
    prepared, _ = prepare(cfg)
    result = fit(prepared)
    assert result.steps == 3 and np.isfinite(result.monitored) and np.isfinite(result.at_best["val/perplexity"])
    assert 0.0 <= result.at_best["val/acc"] <= 1.0

    family = FAMILIES.get(prepared.root.model.family)
    backbone = family.take_backbone(prepared.model.base_model)
    meta = {"objective": objective, "base": {}, "family": prepared.root.model.family, "pooling": family.pooling}
    vocab_size = pipeline_for(prepared.root.model.family).backbone_options(prepared.tokenizer).get("vocab_size")
    meta.update(hidden_size=backbone.config.hidden_size, dropout=0.1, seed=0, vocab_size=vocab_size)
    write_backbone(tmp_path / "kept", backbone, prepared.tokenizer, meta)
    loaded, processor, metadata = load_folder(tmp_path / "kept", None, cache_dir)
    assert metadata["headless"] is True
    if vocab_size is None:  # an image processor
        assert processor.to_dict() == prepared.tokenizer.to_dict()
    else:
        assert len(processor) == len(prepared.tokenizer)
    expected = backbone.state_dict()
    assert set(loaded.backbone.state_dict()) == set(expected)
    for key, value in loaded.backbone.state_dict().items():
        assert torch.equal(value, expected[key]), key


# ------------------------------------------------------------------------------------ the real CLI
def kept_tensor(client, run_id: str, tmp_path: Path, name: str) -> dict:
    from safetensors.torch import load_file

    folder = client.download_artifacts(run_id, "model", str(tmp_path / name))
    return load_file(str(Path(folder) / "model.safetensors"))


@pytest.mark.slow
def test_pretrain_cli_keeps_a_backbone_that_sweep_run_loads_by_run_and_by_zoo_name(tmp_path, cache_dir):
    pretrained = run_pretrain_cli("model=tiny_bert", "pretrain.save_as=my_tiny_bert", *PRETRAIN_DATA, cwd=tmp_path, cache=cache_dir)
    assert pretrained.returncode == 0, pretrained.stderr[-3000:]
    client, (run,) = all_runs(tmp_path)
    run_id = run.info.run_id
    assert run.info.status == "FINISHED" and run.data.tags["state"] == "finished"
    assert run.data.tags["sweep.kind"] == "pretrain" and run.data.tags["objective"] == "mlm" and run.data.tags["model.kept"] == "true"
    assert run.data.params["pretrain.objective"] == "mlm" and "val/loss" in run.data.metrics and "val/perplexity" in run.data.metrics
    assert f"model.source=runs:/{run_id}/model" in pretrained.stdout
    zoo = tmp_path / "outputs" / "zoo" / "model" / "my_tiny_bert.yaml"
    assert f"source: runs:/{run_id}/model" in zoo.read_text()
    meta = json.loads(Path(client.download_artifacts(run_id, "model/sweep_model.json", str(tmp_path))).read_text())
    assert meta["headless"] is True and meta["objective"] == "mlm" and meta["backbone"] == "full"
    from sweep.config.errors import ConfigError
    from sweep.tracking.saved_models import load_saved_classifier

    with pytest.raises(ConfigError, match="without a classification head"):  # e.g. as a teacher: it has no logits to give
        load_saved_classifier(f"runs:/{run_id}/model", f"sqlite:///{tmp_path / 'outputs' / 'mlflow.db'}", cache_dir)

    # by its zoo name (whose source is runs:/<id>/model): evaluated as loaded and kept, so its backbone can be
    # compared with the pre-trained one; and fine-tuned a few steps
    grid = ["-m", "model=my_tiny_bert", "trainer.fit=false,true", "tracking.save_model=always", "trainer.max_steps=2", *TINY_DATA]
    loaded = run_cli(*grid, cwd=tmp_path, cache=cache_dir)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert "warn" not in loaded.stderr.lower()
    client, runs = all_runs(tmp_path)
    jobs = [r for r in runs if r.data.tags.get("model") == "my_tiny_bert"]
    assert sorted(r.data.params["trainer.fit"] for r in jobs) == ["False", "True"]
    assert all(r.data.tags["state"] == "finished" and r.data.tags["model.source"] == f"runs:/{run_id}/model" for r in jobs)
    evaluated = next(r for r in jobs if r.data.params["trainer.fit"] == "False")
    assert next(r for r in jobs if r.data.params["trainer.fit"] == "True").data.metrics["optimizer_steps"] == 2
    pretrained_weights = kept_tensor(client, run_id, tmp_path, "pre")
    evaluated_weights = kept_tensor(client, evaluated.info.run_id, tmp_path, "eval")
    assert set(pretrained_weights) == set(evaluated_weights)
    for key, value in pretrained_weights.items():
        assert torch.equal(value, evaluated_weights[key]), key


@pytest.mark.slow
@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["pretrain.objective=clm", "model=minilm_l6"],
            "error: pretrain.objective=clm: model.family=encoder (model minilm_l6) supports: mlm\n",
        ),
        (["pretrain.objective=nope"], "error: pretrain.objective=nope: unknown name; known: clm, image_classification, mlm, span\n"),
        (
            ["pretrain.objective=image_classification", "model=tiny_vit"],
            "error: model=tiny_vit: model tiny_vit (family vision) reads image, task rotten_tomatoes has text rows; "
            "choose a model of family decoder or encoder or encoder_decoder\n",
        ),
        (
            ["pretrain.objective=mlm", "model=tiny_t5"],
            "error: pretrain.objective=mlm: model.family=encoder_decoder (model tiny_t5) supports: span\n",
        ),
        (["augment=tokens"], "error: augment=tokens: pretrain.objective=mlm corrupts its text itself: use augment=none\n"),
        (["pretrain.save_as=minilm_l6"], "error: pretrain.save_as=minilm_l6: is a model of conf/model/ already: choose another name\n"),
        (["model=nope"], None),
    ],
)
def test_bad_pretrain_input_exits_2_with_one_line_and_records_nothing(args, message, tmp_path, cache_dir):
    result = run_pretrain_cli(*args, cwd=tmp_path, cache=cache_dir)
    assert result.returncode == 2, result.stderr[-2000:]
    if message is not None:
        assert result.stderr == message
    else:
        assert result.stderr.startswith("error: model=nope: unknown; choose from ") and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "outputs" / "mlflow.db").exists()

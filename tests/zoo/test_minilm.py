"""The packaged checkpoints: MiniLM-L3 rebuilt from ONNX matches the ONNX graph, and both train offline."""

import numpy as np
import pytest
import torch

from tests.conftest import TINY_DATA


def test_minilm_l3_rebuild_matches_onnxruntime(cache_dir):
    ort = pytest.importorskip("onnxruntime")
    from transformers import AutoModel, AutoTokenizer

    from sweep.zoo.assets import CHECKPOINTS, MINILM_L3_ONNX

    folder = CHECKPOINTS.get("minilm_l3")("model.source", cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, add_pooling_layer=False).eval()
    batch = tokenizer(["a truly great film", "boring and far too long, I left early"], padding=True, return_tensors="np")
    session = ort.InferenceSession(str(MINILM_L3_ONNX.locate("model.source")))
    names = [output.name for output in session.get_outputs()]
    outputs = session.run(
        None, {"input_ids": batch["input_ids"].astype(np.int64), "attention_mask": batch["attention_mask"].astype(np.int64)}
    )
    token_states = next(o for o in outputs if o.ndim == 3)
    with torch.no_grad():
        ours = model(input_ids=torch.tensor(batch["input_ids"]), attention_mask=torch.tensor(batch["attention_mask"])).last_hidden_state
    assert names and np.abs(ours.numpy() - token_states).max() < 1e-4


def test_minilm_l3_converts_once(cache_dir):
    from sweep.zoo.assets import CHECKPOINTS

    folder = CHECKPOINTS.get("minilm_l3")("model.source", cache_dir)
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert CHECKPOINTS.get("minilm_l3")("model.source", cache_dir) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp


@pytest.mark.parametrize("model", ["minilm_l3", "minilm_l6"])
def test_packaged_checkpoint_loads_offline_and_trains(job_config, model):
    from sweep.pipeline.build import build
    from sweep.pipeline.train import train

    built = build(job_config(f"model={model}", *TINY_DATA, "trainer.max_steps=2"))
    assert built.total_params > 17_000_000 and built.trainable_share == 1.0
    embedding = built.model.backbone.get_input_embeddings().weight.detach().clone()
    result = train(built)
    assert result.steps == 2
    assert not torch.equal(embedding, built.model.backbone.get_input_embeddings().weight)
    assert 0.0 <= result.metrics["test/acc"] <= 1.0

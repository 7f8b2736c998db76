"""Kept models: what each strategy writes, and that loading it rebuilds the same classifier (in process)."""

import json

import pytest
import torch

from tests.conftest import TINY_DATA

CASES = [
    ("tiny_bert", "full", "full"),
    ("tiny_bert", "partial", "full"),
    ("tiny_bert", "lora", "adapter"),
    ("tiny_bert", "prompt", "adapter"),
    ("tiny_bert", "feature", "base"),
    ("tiny_gpt2", "full", "full"),
    ("tiny_t5", "full", "full"),
    ("tiny_t5", "lora", "adapter"),
]


def trained(job_config, model: str, strategy: str):
    """A built job whose trainable tensors moved (as training would move them), in eval mode."""
    from sweep.pipeline.build import build

    depth = ["strategy.freeze_depth=1"] if strategy == "partial" else []  # tiny models have 2 blocks (default: 2 frozen)
    built = build(job_config(f"model={model}", f"strategy={strategy}", *depth, *TINY_DATA))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in built.model.parameters():
            if param.requires_grad:
                param.add_(0.05 * torch.randn(param.shape, generator=generator))
    return built, built.model.eval()


def metadata_of(built) -> dict:
    model = built.job.root.model
    base = {"name": model.name, "source": model.source, "tokenizer": model.tokenizer, "config_overrides": dict(model.config_overrides)}
    return {
        "strategy": built.job.strategy.name,
        "base": base,
        "family": model.family,
        "label_names": list(built.label_names),
        "seed": built.job.root.seed,
        "vocab_size": len(built.tokenizer),
    }


@pytest.mark.parametrize("model_name, strategy, kind", CASES, ids=[f"{m}-{s}" for m, s, _ in CASES])
def test_a_saved_model_loads_back_the_same(job_config, cache_dir, tmp_path, model_name, strategy, kind):
    from sweep.tracking.saved_models import HEAD_FILE, METADATA_FILE, load_folder, write_model

    built, model = trained(job_config, model_name, strategy)
    folder = tmp_path / "model"
    write_model(folder, model, built.tokenizer, metadata_of(built))
    files = {p.name for p in folder.iterdir()}
    assert {METADATA_FILE, HEAD_FILE, "tokenizer.json"} <= files
    assert ("model.safetensors" in files) == (kind == "full")
    assert ("adapter_model.safetensors" in files) == (kind == "adapter")
    saved = json.loads((folder / METADATA_FILE).read_text())
    assert saved["backbone"] == kind and saved["num_labels"] == 2 and saved["label_names"] == built.label_names

    loaded, tokenizer, metadata = load_folder(folder, None, cache_dir)
    assert not loaded.training and metadata["strategy"] == strategy and len(tokenizer) == len(built.tokenizer)
    if strategy == "lora":  # merged: a plain backbone again
        assert type(loaded.backbone).__name__ == type(built.model.backbone.get_base_model()).__name__
    ids = torch.randint(5, 1000, (3, 9), generator=torch.Generator().manual_seed(2))
    mask = torch.ones_like(ids)
    mask[0, 6:] = 0
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids, mask), model(ids, mask), atol=1e-5, rtol=1e-5)


def test_the_head_state_is_everything_but_the_backbone(job_config):
    from sweep.tracking.saved_models import head_state

    built, model = trained(job_config, "tiny_bert", "lora")
    assert set(head_state(model)) == {"head.weight", "head.bias"}


def test_loading_leaves_the_callers_random_state_alone(job_config, cache_dir, tmp_path):
    from sweep.tracking.saved_models import load_folder, write_model

    built, model = trained(job_config, "tiny_bert", "feature")  # a random: base, rebuilt from the run's seed
    write_model(tmp_path / "model", model, built.tokenizer, metadata_of(built))
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_folder(tmp_path / "model", None, cache_dir)
    assert torch.equal(torch.rand(3), expected)

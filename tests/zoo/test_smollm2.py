"""SmolLM2-135M from its packaged GGUF: the converted folder computes what the GGUF model computes,
reloads fast, and a GGUF that cannot be converted is one clear error before anything is recorded."""

import shutil
import time

import pytest

from sweep.config.errors import ConfigError
from tests.conftest import run_cli
from tests.test_cli import assert_nothing_recorded

TEXTS = ["a truly great film", "boring and far too long, I left early", "ok"]


@pytest.fixture(scope="session")
def smollm2_folder(cache_dir):
    """Converted once per test session (~25 s on 2 cores), into the shared test cache."""
    from sweep.zoo.assets import CHECKPOINTS

    return CHECKPOINTS.get("smollm2_135m")("model.source", cache_dir)


@pytest.fixture
def truncated_gguf(tmp_path):
    from sweep.zoo.assets import SMOLLM2_135M_GGUF

    source = SMOLLM2_135M_GGUF.locate("model.source")
    path = tmp_path / "broken.gguf"
    with open(source, "rb") as full, open(path, "wb") as part:
        part.write(full.read(20_000_000))  # header and tokenizer intact, tensor data cut short
    return path


@pytest.mark.slow
def test_converted_model_matches_the_gguf_model(smollm2_folder):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sweep.zoo.assets import SMOLLM2_135M_GGUF

    gguf = SMOLLM2_135M_GGUF.locate("model.source")
    reference = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32).eval()
    converted = AutoModelForCausalLM.from_pretrained(smollm2_folder, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(smollm2_folder)
    assert tokenizer.get_vocab() == AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).get_vocab()
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected, got = reference(**batch).logits, converted(**batch).logits
    mask = batch["attention_mask"].bool()
    diff = (expected - got).abs()[mask].max().item()
    print(f"max abs logits difference, converted vs GGUF: {diff:.2e}")  # shown with -s
    assert diff < 1e-4, diff
    assert expected.abs().max() > 1  # real logits, not a degenerate model


@pytest.mark.slow
def test_converted_folder_reloads_fast_and_converts_once(smollm2_folder, cache_dir, job_config):
    from sweep.zoo.assets import CHECKPOINTS
    from sweep.zoo.loader import load_backbone, load_tokenizer

    stamp = (smollm2_folder / "model.safetensors").stat().st_mtime_ns
    assert CHECKPOINTS.get("smollm2_135m")("model.source", cache_dir) == smollm2_folder
    assert (smollm2_folder / "model.safetensors").stat().st_mtime_ns == stamp
    model = job_config("model=smollm2_135m").root.model
    start = time.perf_counter()
    tokenizer = load_tokenizer(model, cache_dir)
    backbone = load_backbone(model, cache_dir, vocab_size=len(tokenizer))
    seconds = time.perf_counter() - start
    assert seconds < 5, seconds  # ~0.3 s measured; generous for a busy CI machine
    assert tokenizer.padding_side == "right" and tokenizer.pad_token is not None
    assert sum(p.numel() for p in backbone.parameters()) == 134_515_008
    assert backbone.config.num_hidden_layers == 30 and "quantization_config" not in backbone.config.to_dict()


def test_a_truncated_gguf_is_a_config_error(truncated_gguf, tmp_path):
    from sweep.zoo.smollm2_gguf import convert_gguf

    with pytest.raises(ConfigError, match="not a readable GGUF file") as error:
        convert_gguf(truncated_gguf, tmp_path / "out")
    assert error.value.key == "model.source" and len(str(error.value).splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_missing_gguf_is_a_config_error(tmp_path):
    from sweep.zoo.smollm2_gguf import convert_gguf

    with pytest.raises(ConfigError, match="GGUF file not found"):
        convert_gguf(tmp_path / "nowhere.gguf", tmp_path / "out", source="gguf:nowhere.gguf")


def test_an_unknown_gguf_architecture_is_a_config_error(tmp_path):
    import numpy as np
    from gguf import GGUFWriter

    from sweep.zoo.smollm2_gguf import convert_gguf

    path = tmp_path / "odd.gguf"
    writer = GGUFWriter(str(path), "nonsense")
    writer.add_tensor("weight", np.zeros((2, 2), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(ConfigError, match="architecture 'nonsense' cannot be converted; transformers reads: .*llama"):
        convert_gguf(path, tmp_path / "out")


def test_a_half_written_folder_is_never_used(tmp_path):
    from sweep.zoo.smollm2_gguf import MARKER, _publish, is_converted

    target = tmp_path / "smollm2_135m"
    target.mkdir()
    (target / "model.safetensors").write_bytes(b"cut short")  # a crash before the marker was written
    assert not is_converted(target)
    staging = tmp_path / ".smollm2_135m-staging"
    staging.mkdir()
    for name in ("model.safetensors", MARKER):
        (staging / name).write_text("complete")
    _publish(staging, target)
    assert is_converted(target) and (target / "model.safetensors").read_text() == "complete"
    again = tmp_path / ".smollm2_135m-late"  # a concurrent job's conversion that lost the race
    shutil.copytree(target, again)
    _publish(again, target)
    assert is_converted(target)


@pytest.mark.slow
def test_cli_bad_gguf_fails_clearly_and_records_nothing(truncated_gguf, tmp_path, cache_dir):
    result = run_cli("model=smollm2_135m", f"model.source=gguf:{truncated_gguf}", cwd=tmp_path, cache=cache_dir, timeout=180)
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"error: model.source=gguf:{truncated_gguf}: not a readable GGUF file"), result.stderr
    assert_nothing_recorded(tmp_path)

"""The block finder and the poolers, across model families."""

import pytest
import torch

from tests.conftest import compose

LAYERS = {"tiny_bert": 2, "tiny_gpt2": 2, "tiny_llama": 2, "tiny_t5": 2}


@pytest.fixture(scope="module")
def backbones(cache_dir):
    from sweep.pipeline.validate import validate
    from sweep.zoo.loader import load_backbone

    out = {}
    for name in LAYERS:
        job = validate(compose(f"model={name}"))
        out[name] = load_backbone(job.root.model, cache_dir, vocab_size=1000)
    return out


@pytest.mark.parametrize("name", list(LAYERS))
def test_finds_the_transformer_blocks(backbones, name):
    from sweep.models.blocks import find_blocks, parameter_depths

    backbone = backbones[name]
    blocks = find_blocks(backbone)
    assert len(blocks) == LAYERS[name]
    depths = parameter_depths(backbone, blocks)
    embedding = backbone.get_input_embeddings().weight
    name_of = {id(p): n for n, p in backbone.named_parameters()}
    assert depths[name_of[id(embedding)]] == 0
    assert sorted(set(depths.values()))[:3] == [0, 1, 2]
    # every block's parameters sit at that block's depth
    for i, block in enumerate(blocks):
        assert {depths[name_of[id(p)]] for p in block.parameters()} == {i + 1}


def test_quick_block_count_reads_configs_without_loading(cache_dir):
    from sweep.pipeline.validate import validate
    from sweep.zoo.loader import quick_block_count

    assert quick_block_count(validate(compose("model=minilm_l6")).root.model, cache_dir) == 6
    assert quick_block_count(validate(compose("model=tiny_t5")).root.model, cache_dir) == 2
    assert quick_block_count(validate(compose("model=minilm_l6", "model.source=some-org/hub-model")).root.model, cache_dir) is None


def test_poolers_ignore_padding_and_prompt_positions():
    from sweep.models.classifier import POOLERS, SequenceClassifier

    hidden = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [100.0], [100.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert POOLERS.get("mean")(hidden, mask).flatten().tolist() == [2.0, 2.0]
    assert POOLERS.get("last")(hidden, mask).flatten().tolist() == [3.0, 2.0]
    assert POOLERS.get("cls")(hidden, mask).flatten().tolist() == [1.0, 2.0]

    class PrefixBackbone(torch.nn.Module):  # like PEFT prompt tuning: two virtual positions first
        def forward(self, input_ids, attention_mask):
            real = input_ids.float().unsqueeze(-1)
            prefix = torch.full((input_ids.size(0), 2, 1), -50.0)
            return type("Out", (), {"last_hidden_state": torch.cat([prefix, real], 1)})

    model = SequenceClassifier(PrefixBackbone(), 1, 2, "mean", 0.0)
    features = model.features(torch.tensor([[4, 6, 0]]), torch.tensor([[1, 1, 0]]))
    assert features.flatten().tolist() == [5.0]

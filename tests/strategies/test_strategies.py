"""Every strategy x every model family, on tiny random models through the real training path.

Frozen parameters must stay bit-identical, trainable ones must change, and the trainable count must
be what the strategy says it is.
"""

import pytest
import torch

from tests.conftest import TINY_DATA

FAMILIES = ["tiny_bert", "tiny_gpt2", "tiny_llama", "tiny_t5"]
STRATEGIES = ["full", "partial", "feature", "prompt", "lora"]
HIDDEN, LABELS, VIRTUAL_TOKENS, RANK = 32, 2, 5, 4


def expected_trainable(strategy: str, model) -> int:
    """What each strategy promises, computed from the model's own pieces."""
    from sweep.models.blocks import find_blocks

    head = HIDDEN * LABELS + LABELS
    total = sum(p.numel() for p in model.parameters())
    if strategy == "full":
        return total
    if strategy == "feature":
        return head
    if strategy == "prompt":
        return VIRTUAL_TOKENS * HIDDEN + head
    if strategy == "partial":  # freeze_depth=1: the top block, whatever follows it, and the head
        blocks = find_blocks(model.backbone)
        names = dict(model.backbone.named_parameters())
        first_top = next(iter(blocks[1].parameters()))
        start = [i for i, p in enumerate(names.values()) if p is first_top][0]
        return sum(p.numel() for p in list(names.values())[start:]) + head
    if strategy == "lora":  # rank r on PEFT's default attention projections, in each of the 2 blocks
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as TARGETS

        adapters = [m for n, m in model.named_modules() if n.endswith("lora_A.default")]
        assert len(adapters) == 2 * len(TARGETS[model.backbone.config.model_type])
        assert all(m.weight.shape[0] == RANK for m in adapters)
        lora_b = [m for n, m in model.named_modules() if n.endswith("lora_B.default")]
        return sum(m.weight.numel() for m in adapters + lora_b) + head
    raise AssertionError(strategy)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_trains_what_it_says(job_config, family, strategy):
    from sweep.build import build
    from sweep.train import train

    overrides = [f"model={family}", f"strategy={strategy}", *TINY_DATA, "trainer.max_steps=3", "trainer.max_epochs=2"]
    overrides += ["optim.lr=1e-2", "optim.warmup_ratio=0", "trainer.early_stopping_patience=null", "trainer.restore_best=false"]
    overrides += {
        "partial": ["strategy.freeze_depth=1"],
        "prompt": [f"strategy.num_virtual_tokens={VIRTUAL_TOKENS}"],
        "lora": [f"strategy.r={RANK}"],
    }.get(strategy, [])
    built = build(job_config(*overrides))
    model = built.model
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}

    assert built.trainable_params == expected_trainable(strategy, model)
    assert built.total_params == sum(p.numel() for p in model.parameters())

    result = train(built)
    assert result.steps == 3
    after = dict(model.named_parameters())
    for name, old in before.items():
        if name in trainable:
            continue
        assert torch.equal(old, after[name]), f"frozen parameter {name} changed"
    changed = [name for name in trainable if not torch.equal(before[name], after[name])]
    # every trainable tensor moves (LoRA's A only moves once B is non-zero, after the first step)
    assert set(changed) == trainable, sorted(trainable - set(changed))[:5]
    assert {"test/acc", "test/f1", "train_time_s"} <= set(result.metrics)

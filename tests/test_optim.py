"""Parameter groups: weight decay only on matrices, layer-wise learning-rate decay by depth."""

import pytest


def test_layer_decay_gives_lower_blocks_smaller_steps(job_config):
    from sweep.pipeline.build import build
    from sweep.pipeline.optim import param_groups

    job = job_config(
        "model=tiny_bert", "task.train_size=64", "task.val_size=32", "task.test_size=32", "optim.layer_decay=0.5", "optim.lr=1e-3"
    )
    built = build(job)
    groups = param_groups(built.model, job.root.optim)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    decay_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    backbone = built.model.backbone
    # 2 blocks: head and top side at depth 3 -> lr, block 1 -> lr/2, block 0 -> lr/4, embeddings -> lr/8
    assert lr_of[id(built.model.head.weight)] == pytest.approx(1e-3)
    assert lr_of[id(backbone.encoder.layer[1].attention.self.query.weight)] == pytest.approx(5e-4)
    assert lr_of[id(backbone.encoder.layer[0].attention.self.query.weight)] == pytest.approx(2.5e-4)
    assert lr_of[id(backbone.embeddings.word_embeddings.weight)] == pytest.approx(1.25e-4)
    assert decay_of[id(built.model.head.weight)] == pytest.approx(0.01)
    assert decay_of[id(built.model.head.bias)] == 0.0
    assert decay_of[id(backbone.embeddings.LayerNorm.weight)] == 0.0
    assert sum(len(g["params"]) for g in groups) == sum(1 for p in built.model.parameters() if p.requires_grad)


def test_without_layer_decay_one_lr_and_frozen_parameters_left_out(job_config):
    from sweep.pipeline.build import build
    from sweep.pipeline.optim import param_groups

    job = job_config("model=tiny_bert", "strategy=feature", "task.train_size=64", "task.val_size=32", "task.test_size=32")
    built = build(job)
    groups = param_groups(built.model, job.root.optim)
    assert {g["lr"] for g in groups} == {job.root.optim.lr}
    assert sum(p.numel() for g in groups for p in g["params"]) == built.trainable_params == 32 * 2 + 2


def test_layer_decay_reads_through_peft_wrappers(job_config):
    """The forward pass is traced through PEFT: LoRA adapters take their block's rate, a soft prompt the input side's."""
    from sweep.pipeline.build import build
    from sweep.pipeline.optim import param_groups

    for strategy, checks in {
        "lora": {
            "encoder.layer.1.attention.self.query.lora_A.default.weight": 0.5,
            "encoder.layer.0.attention.self.value.lora_B.default.weight": 0.25,
        },
        "prompt": {"prompt_encoder.default.embedding.weight": 0.125},
    }.items():
        job = job_config("model=tiny_bert", f"strategy={strategy}", "task.train_size=64", "task.val_size=32", "task.test_size=32",
                         "optim.layer_decay=0.5", "optim.lr=1.0")  # fmt: skip
        built = build(job)
        groups = param_groups(built.model, job.root.optim)
        lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
        named = {name.replace("base_model.model.", ""): p for name, p in built.model.backbone.named_parameters()}
        for name, multiplier in checks.items():
            assert lr_of[id(named[name])] == pytest.approx(multiplier), (strategy, name)
        assert lr_of[id(built.model.head.weight)] == 1.0
        assert sum(len(g["params"]) for g in groups) == sum(1 for p in built.model.parameters() if p.requires_grad)

"""`partial` and `optim.layer_decay` place parameters where the forward pass uses them.

The expectations are written out by hand per architecture (not computed with the block finder, which
could not catch its own mistakes). OPT registers `final_layer_norm` before its layers but applies it
after them; BART registers `layernorm_embedding` after its layers but applies it to the embeddings.
"""

from __future__ import annotations

import pytest

TINY = dict(hidden_size=16, num_attention_heads=2, intermediate_size=32)

# name -> (config class, config kwargs, what the classifier uses, hand-written placement for 2 blocks)
#   trainable: backbone parameter prefixes that train with freeze_depth=1 (the rest is frozen)
#   lr: parameter name -> lr multiplier with layer_decay=0.5 (head 1, top block 0.5, block 0 0.25, input side 0.125)
ARCHITECTURES = {
    "bert": (
        "BertConfig",
        dict(vocab_size=64, num_hidden_layers=2, max_position_embeddings=32, **TINY),
        "model",
        {
            "trainable": ("encoder.layer.1.",),
            "lr": {
                "embeddings.word_embeddings.weight": 0.125,
                "embeddings.LayerNorm.weight": 0.125,
                "encoder.layer.0.output.dense.weight": 0.25,
                "encoder.layer.1.attention.self.query.weight": 0.5,
            },
        },
    ),
    "gpt2": (
        "GPT2Config",
        dict(vocab_size=64, n_embd=16, n_layer=2, n_head=2, n_positions=32),
        "model",
        {
            "trainable": ("h.1.", "ln_f."),
            "lr": {
                "wte.weight": 0.125,
                "wpe.weight": 0.125,
                "h.0.attn.c_attn.weight": 0.25,
                "h.1.mlp.c_fc.weight": 0.5,
                "ln_f.weight": 1.0,
            },
        },
    ),
    "llama": (
        "LlamaConfig",
        dict(vocab_size=64, num_hidden_layers=2, num_key_value_heads=2, max_position_embeddings=32, **TINY),
        "model",
        {
            "trainable": ("layers.1.", "norm."),
            "lr": {
                "embed_tokens.weight": 0.125,
                "layers.0.self_attn.q_proj.weight": 0.25,
                "layers.1.mlp.up_proj.weight": 0.5,
                "norm.weight": 1.0,
            },
        },
    ),
    "opt": (
        "OPTConfig",
        dict(
            vocab_size=64,
            num_hidden_layers=2,
            ffn_dim=32,
            max_position_embeddings=32,
            word_embed_proj_dim=16,
            hidden_size=16,
            num_attention_heads=2,
        ),
        "model",
        {
            # registered before `layers`, applied after them: trains, at the top rate
            "trainable": ("decoder.layers.1.", "decoder.final_layer_norm."),
            "lr": {
                "decoder.embed_tokens.weight": 0.125,
                "decoder.embed_positions.weight": 0.125,
                "decoder.layers.0.fc1.weight": 0.25,
                "decoder.layers.1.fc1.weight": 0.5,
                "decoder.final_layer_norm.weight": 1.0,
            },
        },
    ),
    "bart": (
        "BartConfig",
        dict(
            vocab_size=64,
            d_model=16,
            encoder_layers=2,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=32,
            decoder_ffn_dim=32,
            max_position_embeddings=32,
        ),
        "encoder",
        {
            # registered after `layers`, applied to the embeddings: frozen, at the input-side rate
            "trainable": ("layers.1.",),
            "lr": {
                "embed_tokens.weight": 0.125,
                "layernorm_embedding.weight": 0.125,
                "layers.0.fc1.weight": 0.25,
                "layers.1.fc2.weight": 0.5,
            },
        },
    ),
    "t5": (
        "T5Config",
        dict(vocab_size=64, d_model=16, d_kv=8, d_ff=32, num_layers=2, num_decoder_layers=1, num_heads=2),
        "encoder",
        {
            "trainable": ("block.1.", "final_layer_norm."),
            "lr": {
                "embed_tokens.weight": 0.125,
                "block.0.layer.0.SelfAttention.relative_attention_bias.weight": 0.25,
                "block.1.layer.1.DenseReluDense.wi.weight": 0.5,
                "final_layer_norm.weight": 1.0,
            },
        },
    ),
    "vit": (
        "ViTConfig",
        dict(image_size=8, patch_size=4, num_channels=1, num_hidden_layers=2, **TINY),
        "model",
        {
            "trainable": ("layers.1.", "layernorm."),
            "lr": {
                "embeddings.cls_token": 0.125,
                "embeddings.position_embeddings": 0.125,
                "embeddings.patch_embeddings.projection.weight": 0.125,
                "layers.0.attention.q_proj.weight": 0.25,
                "layers.1.mlp.fc2.weight": 0.5,
                "layernorm.weight": 1.0,
            },
        },
    ),
}


def classifier(architecture: str):
    import torch
    import transformers

    from sweep.models.classifier import SequenceClassifier
    from sweep.zoo.loader import _no_pooler

    config_class, options, part, _ = ARCHITECTURES[architecture]
    config = getattr(transformers, config_class)(**options)
    torch.manual_seed(0)
    loaded = transformers.AutoModel.from_config(config, **_no_pooler(config))
    backbone = loaded.get_encoder() if part == "encoder" else loaded
    return SequenceClassifier(backbone, 16, 2, "mean", 0.0)


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_partial_freezes_what_runs_before_the_kept_blocks(architecture):
    from sweep.strategies import STRATEGIES

    model = classifier(architecture)
    strategy = STRATEGIES.get("partial")(STRATEGIES.get("partial").config_class(name="partial", freeze_depth=1))
    strategy.apply(model, tokenizer=None)
    expected = ARCHITECTURES[architecture][3]["trainable"]
    trainable = {name for name, p in model.backbone.named_parameters() if p.requires_grad}
    should = {name for name, _ in model.backbone.named_parameters() if name.startswith(expected)}
    assert trainable == should, f"extra: {sorted(trainable - should)[:5]}, missing: {sorted(should - trainable)[:5]}"
    assert model.head.weight.requires_grad


@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_layer_decay_follows_the_forward_pass(architecture):
    from sweep.config.schema import OptimConfig
    from sweep.pipeline.optim import param_groups

    model = classifier(architecture)
    groups = param_groups(model, OptimConfig(lr=1.0, layer_decay=0.5))
    lr_of = {id(p): group["lr"] for group in groups for p in group["params"]}
    named = dict(model.backbone.named_parameters())
    for name, multiplier in ARCHITECTURES[architecture][3]["lr"].items():
        assert lr_of[id(named[name])] == pytest.approx(multiplier), name
    assert lr_of[id(model.head.weight)] == 1.0
    assert sum(len(g["params"]) for g in groups) == sum(1 for p in model.parameters() if p.requires_grad)

"""model.attention_dropout: set under whatever name the model type reads (sweep/zoo/loader.py), refused where a
model type has none of its own or the model is a kept one."""

from __future__ import annotations

import pytest

from sweep.config.errors import ConfigError

SMALL = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}


@pytest.mark.parametrize(
    ("model_type", "overrides", "key"),
    [
        ("bert", SMALL, "attention_probs_dropout_prob"),
        ("gpt2", {"n_embd": 32, "n_layer": 1, "n_head": 2}, "attn_pdrop"),
        ("llama", SMALL, "attention_dropout"),
    ],
)
def test_the_attention_dropout_reaches_the_key_each_model_type_reads(tmp_path, model_type, overrides, key):
    from sweep.config.schema import ModelConfig
    from sweep.zoo.loader import load_backbone

    for value, expected in ((None, None), (0.0, 0.0), (0.25, 0.25)):
        model = ModelConfig(name="m", source=f"random:{model_type}", config_overrides=overrides, attention_dropout=value)
        backbone = load_backbone(model, tmp_path, vocab_size=64)
        default = getattr(type(backbone.config)(), key)  # the model type's own default
        assert getattr(backbone.config, key) == (default if expected is None else expected)


def test_a_model_type_without_one_and_a_kept_model_are_refused_naming_the_key(tmp_path):
    from sweep.config.schema import ModelConfig
    from sweep.zoo.loader import load_backbone

    t5 = ModelConfig(name="m", source="random:t5", config_overrides={"d_model": 32, "num_layers": 1, "num_heads": 2}, attention_dropout=0.0)
    with pytest.raises(ConfigError, match=r"model.attention_dropout=0.0: a t5 model has no attention dropout of its own"):
        load_backbone(t5, tmp_path, vocab_size=64)
    with pytest.raises(ConfigError, match=r"model.attention_dropout=0.0: a kept model"):
        ModelConfig(name="m", source="runs:/abc/model", attention_dropout=0.0)
    with pytest.raises(ConfigError, match=r"model.attention_dropout=1.0: must be in \[0, 1\)"):
        ModelConfig(name="m", source="asset:minilm_l6", attention_dropout=1.0)

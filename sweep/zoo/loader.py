"""Load a tokenizer or an image processor, and a backbone, from ``model.source``, for any model family.

Sources: ``asset:<name>`` (packaged checkpoints, sweep/zoo/assets.py), ``gguf:<file>`` (a GGUF decoder,
converted once into the cache, sweep/zoo/smollm2_gguf.py), ``random:<model_type>``
(randomly initialised from ``model.config_overrides``; tests), or anything ``from_pretrained`` takes
(a hub id, a local folder). Weights load as safetensors only and remote code is never trusted.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path

from sweep.config.errors import ConfigError
from sweep.config.schema import ModelConfig
from sweep.models.families import FAMILIES
from sweep.zoo.assets import CHECKPOINTS
from sweep.zoo.fingerprints import folder_fingerprint

LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "encoder_layers")  # encoder_layers: BART's encoder


def resolve_source(source: str, key: str, cache_dir: Path) -> str | None:
    """What ``from_pretrained`` should read for ``source``; None for a random initialisation."""
    scheme, _, name = source.partition(":")
    if scheme == "asset":
        return str(CHECKPOINTS.get(name)(key, cache_dir))
    if scheme == "gguf":  # the cache folder is keyed by the file's identity: an edited file converts again
        from sweep.zoo.smollm2_gguf import convert_gguf

        path = Path(name).expanduser().resolve()
        stat = path.stat() if path.is_file() else None
        identity = f"{path}|{stat.st_size}|{stat.st_mtime_ns}" if stat else str(path)
        folder = cache_dir / "zoo" / f"gguf-{hashlib.sha256(identity.encode()).hexdigest()[:16]}"
        return str(convert_gguf(path, folder, key, source))
    if scheme == "random":
        return None
    return source


def quick_block_count(model: ModelConfig, cache_dir: Path) -> int | None:
    """The number of transformer blocks, read from config.json without importing transformers.

    Lets ``strategy.freeze_depth`` be checked before any weights load; also fails early on a missing
    packaged asset. None when only loading the model can tell (a hub id).
    """
    for key in LAYER_KEYS:
        if key in model.config_overrides:
            return int(model.config_overrides[key])
    path = resolve_source(model.source, "model.source", cache_dir)
    folder = Path(path) if path is not None and Path(path).is_dir() else None
    if folder is not None and (folder / "config.json").exists():
        config = json.loads((folder / "config.json").read_text())
        for key in LAYER_KEYS:
            if key in config:
                return int(config[key])
    return None


def source_fingerprint(model: ModelConfig, seed: int) -> str:
    """Identifies the backbone's weights, for caches of what a frozen backbone computes."""
    scheme, _, _ = model.source.partition(":")
    parts = [model.source, json.dumps(model.config_overrides, sort_keys=True, default=str)]
    if scheme == "random":
        parts.append(f"seed={seed}")
    elif scheme == "gguf":  # a file edited under the same name is another model
        path = Path(model.source.partition(":")[2]).expanduser()
        parts.append(str(path.stat().st_mtime_ns) if path.is_file() else "missing")
    else:
        parts.append(folder_fingerprint(model.source))
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def load_tokenizer(model: ModelConfig, cache_dir: Path):
    from transformers import AutoTokenizer

    source = model.tokenizer or model.source
    key = "model.tokenizer" if model.tokenizer else "model.source"
    if source.startswith("random:"):
        raise ConfigError("model.tokenizer", "a random:<type> source needs a tokenizer (e.g. asset:minilm_l6)", model.tokenizer)
    path = resolve_source(source, key, cache_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError) as e:
        raise ConfigError(key, f"cannot load a tokenizer from it: {str(e).splitlines()[0]}", source) from None
    family = FAMILIES.get(model.family)
    if family.needs_pad_token and tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # decoders have no pad token; padding is masked anyway
    if family.padding_side is not None:
        # explicit, whatever the checkpoint's tokenizer_config says (GGUF/chat tokenizers often pad left):
        # our loaders pad on the right (PadCollator), and the `last` pooler finds the last real token
        # either way; this makes anything that calls the tokenizer with padding=True pad as training did,
        # so a row's position ids are the same batched or alone
        tokenizer.padding_side = family.padding_side
    return tokenizer


def load_image_processor(model: ModelConfig, cache_dir: Path):
    """The source's own image processor (preprocessor_config.json), else one sized from its config
    (``image_size``, ``num_channels``): random models and checkpoints saved without one."""
    from transformers import AutoConfig, AutoImageProcessor

    from sweep.zoo.loader import new_processor

    path = resolve_source(model.source, "model.source", cache_dir)
    try:
        if path is not None and (Path(path) / "preprocessor_config.json").exists():
            return AutoImageProcessor.from_pretrained(path)
        if path is None:
            config = AutoConfig.for_model(model.source.partition(":")[2], **model.config_overrides)
        else:
            config = AutoConfig.from_pretrained(path, trust_remote_code=False, **model.config_overrides)
    except (OSError, ValueError, KeyError) as e:
        message = f"cannot read an image processor or a config from it: {str(e).splitlines()[0]}"
        raise ConfigError("model.source", message, model.source) from None
    size = getattr(config, "image_size", None)
    if not isinstance(size, int):
        raise ConfigError("model.source", f"its config ({config.model_type}) has no square image_size: is it a vision model?", model.source)
    return new_processor(size, int(getattr(config, "num_channels", 3)))


def load_backbone(model: ModelConfig, cache_dir: Path, vocab_size: int | None = None, generates: bool = False):
    """The family's encoding part of the model, in float32, without the model's own pooler; ``generates``: the
    whole model with its language-model head instead (``Family.generates``: generation task types).

    ``vocab_size``: a random text model's vocabulary (its tokenizer's); vision models have none."""
    import transformers
    from transformers import AutoConfig

    family = FAMILIES.get(model.family)
    AutoModel = getattr(transformers, family.generates) if generates else transformers.AutoModel  # noqa: N806
    path = resolve_source(model.source, "model.source", cache_dir)
    try:
        if path is None:
            model_type = model.source.partition(":")[2]
            vocabulary = {"vocab_size": vocab_size} if vocab_size is not None else {}
            config = with_attention_dropout(AutoConfig.for_model(model_type, **{**vocabulary, **model.config_overrides}), model)
            loaded = AutoModel.from_config(config, **_no_pooler(config))
        else:
            config = with_attention_dropout(AutoConfig.from_pretrained(path, trust_remote_code=False, **model.config_overrides), model)
            loaded = AutoModel.from_pretrained(
                path, config=config, trust_remote_code=False, use_safetensors=True, dtype="float32", **_no_pooler(config)
            )
    except ConfigError:  # model.attention_dropout for a model type without one: its own key
        raise
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError("model.source", f"cannot load or build a model from it: {str(e).splitlines()[0]}", model.source) from None
    return loaded if generates else family.take_backbone(loaded)


# what each model type calls the dropout on its attention probabilities: BERT and ViT, Llama and BART, GPT-2
ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout", "attn_pdrop")


def with_attention_dropout(config, model: ModelConfig):
    """``model.attention_dropout`` set under the name the model type reads; one that has no such dropout of its own
    (T5's ``dropout_rate`` covers every layer alike) is refused, naming the types that have one."""
    if model.attention_dropout is None:
        return config
    keys = [key for key in ATTENTION_DROPOUT_KEYS if hasattr(config, key)]
    if not keys:
        names = ", ".join(ATTENTION_DROPOUT_KEYS)
        message = f"a {config.model_type} model has no attention dropout of its own: its config has none of {names}"
        raise ConfigError("model.attention_dropout", message, model.attention_dropout)
    for key in keys:
        setattr(config, key, float(model.attention_dropout))
    return config


def _no_pooler(config) -> dict:
    """``add_pooling_layer=False`` where the model class takes it: we pool ourselves (see classifier.py)."""
    from transformers import AutoModel

    model_class = AutoModel._model_mapping.get(type(config), None)
    if model_class is not None and "add_pooling_layer" in inspect.signature(model_class.__init__).parameters:
        return {"add_pooling_layer": False}
    return {}


def new_processor(image_size: int, num_channels: int):
    """A ViT image processor for square ``image_size`` inputs of ``num_channels`` channels (mean/std 0.5)."""
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

    return ViTImageProcessorPil(
        size={"height": image_size, "width": image_size}, image_mean=[0.5] * num_channels, image_std=[0.5] * num_channels
    )

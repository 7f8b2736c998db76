"""Model families by name (``model.family``): what inputs a family reads (its modality, and so its
preprocessing: sweep/data/pipelines.py), the pooling it classifies with, the part of the loaded model
that encodes the input, whether its tokenizer needs a pad token and on which side it pads, and the
strategies it cannot run (with the reason, said at compose time).

Light on purpose (no torch, no transformers): the config schema checks ``model.family`` against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from sweep.config.errors import ConfigError
from sweep.config.registry import Registry

if TYPE_CHECKING:
    from sweep.config.schema import TaskConfig


@dataclass(frozen=True)
class Family:
    pooling: str  # default pooling for the family
    take_backbone: Callable[[Any], Any]  # the part of the loaded model that encodes the input
    modality: str = "text"
    needs_pad_token: bool = False
    refuses: dict[str, str] = field(default_factory=dict)  # strategy name -> why this family cannot run it
    padding_side: str | None = None  # set on the tokenizer whatever the checkpoint says; None: as loaded
    # the transformers Auto class of the whole model with its language-model head (generation task types); None: cannot generate
    generates: str | None = None


FAMILIES: Registry[Family] = Registry("model.family")
FAMILIES.register("encoder")(Family(pooling="mean", take_backbone=lambda model: model))
# right: as our loaders pad (PadCollator); chat/GGUF tokenizers often say left (see zoo/loader.py)
FAMILIES.register("decoder")(
    Family(pooling="last", take_backbone=lambda model: model, needs_pad_token=True, padding_side="right", generates="AutoModelForCausalLM")
)
# T5/BART: classify from the encoder; the decoder would need target tokens we do not have
FAMILIES.register("encoder_decoder")(
    Family(
        pooling="mean",
        take_backbone=lambda model: model.get_encoder(),
        generates="AutoModelForSeq2SeqLM",
        refuses={
            # peft 0.21.2 hands the encoder alone (what a classifier reads) its prefix as past key values, which
            # T5's encoder attention does not mask for (a shape error in the forward pass)
            "prefix": "PEFT prefix tuning (strategy.method=prefix) cannot wrap the encoder alone: its attention mask "
            "does not cover the prefix; use strategy=prompt, ptuning or lora",
        },
    )
)
# ViT: the CLS token is what its pre-training (image classification) taught to summarise the image
FAMILIES.register("vision")(
    Family(
        pooling="cls",
        take_backbone=lambda model: model,
        modality="image",
        refuses={
            # PEFT's prompt tuning prepends virtual tokens to `inputs_embeds`; ViTModel takes only
            # pixel_values (peft 0.21.2 fails inside the forward pass), so it cannot reach a ViT
            "prompt": "PEFT prompt tuning feeds token embeddings (inputs_embeds), which a ViT does not take; "
            "use strategy=lora, partial, feature or full",
            # P-tuning feeds inputs_embeds as prompt tuning does, prefix tuning sizes its prefix from a vocabulary:
            # peft 0.21.2 reads the config's vocab_size, which a ViT has not
            "ptuning": "PEFT P-tuning (strategy.method=ptuning) feeds token embeddings (inputs_embeds), which a ViT does not take; "
            "use a weight method (lora, ia3, vera, ...)",
            "prefix": "PEFT prefix tuning (strategy.method=prefix) builds its prefix for a text model's vocabulary, which a "
            "ViT does not have; use a weight method (lora, ia3, vera, ...)",
            # the teacher's logits come from its tokenizer over the rows' text (sweep/pipeline/teacher.py); without
            # this entry the refusal of prompt offered distill, which the teacher check then refused
            "distill": "distillation runs a text teacher over the rows (supported on text tasks only); "
            "use strategy=full, lora, partial or feature",
        },
    )
)


# two towers, each a model of the families above (sweep/models/dual_encoder.py, built by sweep/pipeline/dual.py); each
# pools as its own family does
FAMILIES.register("dual_encoder")(
    Family(
        pooling="mean",
        take_backbone=lambda model: model,
        modality="image_text",
        refuses={
            # the vision tower takes pixels, never the token embeddings a soft prompt or prefix is made of
            "prompt": "soft prompts feed token embeddings, which the vision tower does not take",
            "ptuning": "P-tuning feeds token embeddings, which the vision tower does not take",
            "prefix": "prefix tuning is built for a text model's vocabulary, which the vision tower has not",
            # AdaLoRA's rank budget schedule (a training callback) is made for one wrapped backbone, not two
            "adalora": "AdaLoRA's rank schedule follows one backbone, and a dual encoder has two: use lora",
        },
    )
)


# strategies made for two towers (sweep/strategies/lit.py): every family of one model refuses them
TWO_TOWER_STRATEGIES = {"lit": "locked-image tuning locks a dual encoder's image tower: for model=dual_encoder only"}


def refusals(family_name: str) -> dict[str, str]:
    """The strategies the family cannot run, each with why."""
    family = FAMILIES.get(family_name)
    return dict(family.refuses) if family.modality == "image_text" else {**TWO_TOWER_STRATEGIES, **family.refuses}


def check_family(family_name: str, model_name: str, task: TaskConfig, strategy: str, strategies: list[str]) -> None:
    """The family reads the task's rows and can run the strategy (``strategies``: every known name, for the message)."""
    check_reads(family_name, model_name, task)
    refused = refusals(family_name)
    if strategy in refused:
        allowed = ", ".join(sorted(set(strategies) - set(refused)))
        raise ConfigError("strategy", f"family {family_name} cannot run it: {refused[strategy]} (allowed: {allowed})", strategy)


def check_reads(family_name: str, model_name: str, task: TaskConfig) -> None:
    """The family reads what the task's rows are (text or images); also for sweep.pretrain."""
    family = FAMILIES.get(family_name)
    if family.modality != task.modality:
        readers = [name for name in FAMILIES.names() if FAMILIES.get(name).modality == task.modality]
        raise ConfigError(
            "model",
            f"model {model_name} (family {family_name}) reads {family.modality}, task {task.name} has {task.modality} rows; "
            f"choose a model of family {' or '.join(readers)}",
            model_name,
        )

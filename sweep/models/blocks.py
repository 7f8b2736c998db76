"""Find a transformer's block list generically, and where each parameter sits relative to the blocks.

Blocks: BERT (encoder.layer), GPT-2 (h), Llama/OPT (layers), T5 (block), BART (layers) and ViT
(encoder.layer), also inside PEFT wrappers: the largest ``nn.ModuleList`` whose children share one class.

Depths come from the forward pass, not from the order modules were registered in: registration order
lies for OPT (``final_layer_norm`` is registered before ``layers`` but runs after them) and BART
(``layernorm_embedding`` is registered after ``layers`` but normalises the embeddings before them). One
forward pass on a tiny input records, for every parameter, the first place a torch function uses it:
before the first block (depth 0), inside block i (depth i + 1), or after the last block (len + 1).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from sweep.config.errors import ConfigError


@contextlib.contextmanager
def bypassed(backbone: nn.Module):
    """Within, ``backbone`` computes every block as if no cache were installed (the block finder's and the
    cost estimate's forward pass must see each parameter where it really runs)."""
    prefix = getattr(backbone, "_frozen_prefix", None)
    if prefix is None or prefix.computing:
        yield
        return
    prefix.computing = True
    try:
        yield
    finally:
        prefix.computing = False


def find_blocks(module: nn.Module) -> nn.ModuleList:
    candidates = [
        child
        for child in module.modules()
        if isinstance(child, nn.ModuleList) and len(child) > 0 and len({type(block) for block in child}) == 1
    ]
    if not candidates:
        raise ConfigError("model.source", f"no transformer block list found in {type(module).__name__}: partial and layer_decay need one")
    return max(candidates, key=lambda blocks: sum(p.numel() for p in blocks.parameters()))


class _FirstUse(TorchFunctionMode):
    """Records the position (depth) at which each parameter first enters a torch function."""

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.first: dict[int, int] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        for value in tree_flatten((args, kwargs))[0]:
            if isinstance(value, nn.Parameter):
                self.first.setdefault(id(value), self.depth)
        return func(*args, **kwargs)


def parameter_depths(module: nn.Module, blocks: nn.ModuleList | None = None) -> dict[str, int]:
    """Parameter name -> depth: 0 = input side, i + 1 = block i, len(blocks) + 1 = output side.

    Parameters the forward pass never uses (nothing can train them) are left out.
    """
    blocks = find_blocks(module) if blocks is None else blocks
    recorder = _FirstUse()
    after = len(blocks) + 1

    def entering(depth: int):
        def hook(*_):
            recorder.depth = depth

        return hook

    handles = []
    for i, block in enumerate(blocks):
        handles.append(block.register_forward_pre_hook(entering(i + 1)))
        handles.append(block.register_forward_hook(entering(after if i == len(blocks) - 1 else i + 1)))

    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), bypassed(module), recorder:  # every block computes, cached prefix or not
            module(**example_inputs(module))
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    return {name: recorder.first[id(param)] for name, param in module.named_parameters() if id(param) in recorder.first}


def example_inputs(module: nn.Module) -> dict[str, torch.Tensor]:
    """A one-row input the model accepts: a few token ids, or one blank image."""
    config = module.config
    device = next(module.parameters()).device
    if getattr(module, "main_input_name", "input_ids") == "pixel_values":
        size = config.image_size if isinstance(config.image_size, (list, tuple)) else (config.image_size, config.image_size)
        return {"pixel_values": torch.zeros(1, config.num_channels, *size, device=device)}
    ids = (torch.arange(4, 12, device=device) % config.vocab_size).unsqueeze(0)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if getattr(config, "is_encoder_decoder", False):  # a whole encoder-decoder (generation) decodes too
        inputs["decoder_input_ids"] = ids[:, :2]
    return inputs

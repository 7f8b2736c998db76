"""Find a transformer's block list generically, and the depth of every parameter.

Works for BERT (encoder.layer), GPT-2 (h), Llama (layers), T5 (block) and ViT (encoder.layer), also
inside PEFT wrappers: the blocks are the largest ``nn.ModuleList`` whose children share one class.
Parameters registered before the first block are the input side (embeddings); after the last block,
the output side (final norms, pooler, our head).
"""

from __future__ import annotations

from torch import nn


def find_blocks(module: nn.Module) -> nn.ModuleList:
    candidates = [
        child
        for child in module.modules()
        if isinstance(child, nn.ModuleList) and len(child) > 0 and len({type(block) for block in child}) == 1
    ]
    if not candidates:
        raise ValueError(f"no transformer block list found in {type(module).__name__}")
    return max(candidates, key=lambda blocks: sum(p.numel() for p in blocks.parameters()))


def parameter_depths(module: nn.Module, blocks: nn.ModuleList | None = None) -> dict[str, int]:
    """Parameter name -> depth: 0 = input side, i + 1 = block i, len(blocks) + 1 = output side."""
    blocks = find_blocks(module) if blocks is None else blocks
    in_block = {id(p): i + 1 for i, block in enumerate(blocks) for p in block.parameters()}
    depths, seen_blocks = {}, False
    for name, param in module.named_parameters():
        if id(param) in in_block:
            depths[name] = in_block[id(param)]
            seen_blocks = True
        else:
            depths[name] = len(blocks) + 1 if seen_blocks else 0
    return depths

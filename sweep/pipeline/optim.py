"""Optimizer parameter groups: weight decay where it belongs, and layer-wise learning-rate decay.

Only trainable parameters are grouped. Biases and norm weights (1-D tensors) get no weight decay.
With ``optim.layer_decay`` = d < 1 and L blocks: the head (and what runs after the blocks) gets lr, the
top block lr * d, the one below lr * d**2, ..., what runs before the blocks (the embeddings, and a
prompt-tuning soft prompt) lr * d**(L + 1). Depths come from the forward pass (sweep/models/blocks.py).
"""

from __future__ import annotations

from sweep.config.schema import OptimConfig


def param_groups(model, optim: OptimConfig) -> list[dict]:
    from sweep.models.blocks import find_blocks, parameter_depths

    backbone_depths = {}
    top = 0
    if optim.layer_decay < 1.0:
        blocks = find_blocks(model.backbone)
        top = len(blocks) + 1
        backbone_depths = {f"backbone.{name}": depth for name, depth in parameter_depths(model.backbone, blocks).items()}

    groups: dict[tuple[int, bool], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        depth = backbone_depths.get(name, top)  # outside the backbone (the head), or unused: the top
        decays = param.ndim > 1
        group = groups.setdefault(
            (depth, decays),
            {"params": [], "lr": optim.lr * optim.layer_decay ** (top - depth), "weight_decay": optim.weight_decay if decays else 0.0},
        )
        group["params"].append(param)
    return list(groups.values())


def dual_param_groups(model, optim: OptimConfig, lr_scale: dict[str, float]) -> list[dict]:
    """A dual encoder's groups: each tower's as a classifier's (its projection as the head), at ``optim.lr`` x the
    tower's ``model.lr_scale``; the temperature at ``optim.lr``, never decayed."""
    groups = []
    for name, tower in model.towers.items():
        for group in param_groups(tower, optim):
            groups.append({**group, "lr": group["lr"] * lr_scale.get(name, 1.0)})
    return [*groups, {"params": [model.logit_scale], "lr": optim.lr, "weight_decay": 0.0}]

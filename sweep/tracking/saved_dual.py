"""A kept dual encoder (task.type=image_text): two kept towers and the temperature, under the run's ``model`` artifact.

    model/vision/   the vision tower as a kept classifier (sweep/tracking/saved_models.py): its backbone as its
                    strategy left it (full weights, a PEFT adapter, or nothing when frozen), its projection as the
                    head, its image processor
    model/text/     the text tower alike, with its tokenizer
    model/sweep_model.json   family dual_encoder, the logit scale, the labels, strategy, task, seed

So a tower reloads as any kept model does (a LoRA adapter merged into its rebuilt base), and a job reads the whole
back with ``model=saved model.source=runs:/<id>/model``.
"""

from __future__ import annotations

import json
from pathlib import Path

from sweep.config.errors import ConfigError
from sweep.tracking.saved_models import FORMAT_VERSION, KEY, METADATA_FILE, fetch, load_folder, write_model

FAMILY = "dual_encoder"


def write_dual(folder: Path, model, processors: dict, configs: dict, metadata: dict) -> dict:
    """Write each tower, then the metadata; ``metadata`` as for ``write_model`` without base and family."""
    from sweep.data.pipelines import pipeline_for

    for name, tower in model.towers.items():
        config = configs[name]
        base = {
            "name": config.name,
            "source": config.source,
            "tokenizer": config.tokenizer,
            "config_overrides": dict(config.config_overrides),
        }
        vocabulary = pipeline_for(config.family).backbone_options(processors[name]).get("vocab_size")
        tower_metadata = {**metadata, "base": base, "family": config.family, "vocab_size": vocabulary, "head": "pooled"}  # a projection
        write_model(folder / name, tower, processors[name], tower_metadata)
    full = {
        "format": FORMAT_VERSION,
        **metadata,
        "family": FAMILY,
        "head": "dual",
        "towers": {name: configs[name].family for name in model.towers},
        "logit_scale": float(model.logit_scale.detach()),  # a float32 value: exact as a Python float
    }
    (folder / METADATA_FILE).write_text(json.dumps(full, indent=2, default=str))
    return full


def is_dual(metadata: dict) -> bool:
    return metadata.get("family") == FAMILY


def load_dual(source: str, tracking_uri: str, cache_dir: Path):
    """``runs:/<id>/model`` of a dual encoder -> (DualEncoder in eval mode, processors by tower, model configs by tower)."""
    import torch

    from sweep.config.schema import ModelConfig
    from sweep.models.dual_encoder import DualEncoder

    folder = fetch(source, tracking_uri, Path(cache_dir))
    metadata = json.loads((folder / METADATA_FILE).read_text())
    if not is_dual(metadata):
        family = metadata.get("family")
        raise ConfigError(KEY, f"a kept {family} model, not a dual encoder: give it as one tower (model.vision= or model.text=)", source)
    towers, processors, configs = {}, {}, {}
    for name in metadata["towers"]:
        towers[name], processors[name], saved = load_folder(folder / name, tracking_uri, Path(cache_dir), source)
        # the tower as kept (runs:/<id>/model/<tower>): a tower this job leaves frozen is kept as "base", rebuilt from it
        configs[name] = ModelConfig(name=f"{name} of {source}", source=f"{source.rstrip('/')}/{name}", family=saved["family"])
    model = DualEncoder(towers["vision"], towers["text"], temperature=1.0)
    with torch.no_grad():
        model.logit_scale.fill_(metadata["logit_scale"])
    return model.eval(), processors, configs

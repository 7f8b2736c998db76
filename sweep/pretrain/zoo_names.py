"""Zoo names: ``pretrain.save_as=<name>`` makes ``python -m sweep.run model=<name>`` load the kept backbone.

How: a model config file ``<zoo>/model/<name>.yaml`` (``source: runs:/<run_id>/model``) in a folder that
Hydra searches (``hydra.searchpath`` in conf/config.yaml). The zoo is ``$SWEEP_ZOO_DIR``, default
``outputs/zoo`` relative to where you run (Hydra 1.3 resolves a relative ``file://`` path against the
working directory, and resolves ``oc.env`` in the searchpath but not command-line overrides such as
``paths.output_dir=...``; hence an environment variable, read the same way here).

Why not MLflow's model registry: ``model=<name>`` is a Hydra config-group choice; a registered model
would need a second lookup path beside the group, and sweeps (``-m model=a,b``), ``--cfg job`` and the
group checks (sweep/config/groups.py) all know config files. A file is also readable and editable by hand.
The name resolves in the store the run was recorded in: run sweep.run with the same tracking settings.
"""

from __future__ import annotations

from pathlib import Path

from sweep.config.groups import zoo_dir  # where the names live: a folder on Hydra's searchpath


def write_zoo_name(name: str, run_id: str, root) -> Path:
    """Write (or replace: the latest pre-training of that name wins) the model file of ``name``."""
    from sweep.data.atomic import atomic_write

    model, source = root.model, f"runs:/{run_id}/model"
    text = (
        f"# Written by python -m sweep.pretrain (pretrain.save_as={name}): {model.name} pre-trained with\n"
        f"# pretrain.objective={root.pretrain.objective} on the texts of task {root.task.name}. Family, pooling,\n"
        f"# tokenizer and config come from the kept model's sweep_model.json.\n"
        f"name: {name}\nsource: {source}\ntokenizer: null\nfamily: {model.family}\npooling: {model.pooling or 'null'}\n"
        f"dropout: {model.dropout}\nattention_dropout: null\nconfig_overrides: {{}}\n"
    )
    path = zoo_dir() / "model" / f"{name}.yaml"
    atomic_write(path, lambda handle: handle.write(text.encode()))
    return path

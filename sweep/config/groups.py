"""Config-group choices on the command line, checked before Hydra composes anything.

Hydra reports an unknown option (``strategy=nope``) as a multi-line text with exit 1, and an unknown
value inside a sweep (``-m strategy=full,nope``, ``search.space.model=choice(minilm_l6,nope)``) only
when that job is launched, after the others ran. Here every value is checked against the group's
files in ``conf/`` (and ``--config-dir``) first: one line naming the key and the choices, exit 2.
"""

from __future__ import annotations

import os
from pathlib import Path

from sweep.config.errors import ConfigError

CONF = Path(__file__).resolve().parents[2] / "conf"
# the zoo: model names that sweep.pretrain saved (pretrain.save_as; sweep/pretrain/zoo_names.py), a second
# config root on Hydra's searchpath (conf/config.yaml); an environment variable, as Hydra reads it there
ZOO_ENV, ZOO_DEFAULT = "SWEEP_ZOO_DIR", "outputs/zoo"


def zoo_dir() -> Path:
    return Path(os.environ.get(ZOO_ENV) or ZOO_DEFAULT)


SPACE_PREFIX = "search.space."


def group_options(group: str, roots: list[Path]) -> list[str] | None:
    """The choices of a config group (None: not a group of ours)."""
    folders = [root / group for root in roots if (root / group).is_dir()]
    if not folders:
        return None
    return sorted({path.stem for folder in folders for path in folder.glob("*.yaml")})


def check_group_choices(argv: list[str]) -> None:
    """Raise ConfigError for a config-group value that has no file."""
    from hydra._internal.utils import get_args_parser  # Hydra's own command line: its flags take values
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep
    from hydra.errors import HydraException

    args, _ = get_args_parser().parse_known_args(argv)
    # the zoo: model names that sweep.pretrain saved (pretrain.save_as), on Hydra's searchpath too
    roots = [CONF, zoo_dir()] + ([Path(args.config_dir)] if args.config_dir else [])
    try:
        overrides = OverridesParser.create().parse_overrides(args.overrides)
    except HydraException:
        return  # Hydra reports its own syntax errors (in one line, see sweep/run.py)
    for override in overrides:
        key = override.key_or_group
        group = key[len(SPACE_PREFIX) :] if key.startswith(SPACE_PREFIX) else key
        if override.is_delete() or group.startswith("hydra") or "." in group:
            continue
        options = group_options(group, roots)
        if options is None:
            continue
        if override.is_sweep_override():
            if not isinstance(override.value(), ChoiceSweep):
                continue
            values = [str(value) for value in override.sweep_iterator()]
        else:
            values = [str(override.value())]
        for value in values:
            if value not in options and value != "null":
                raise ConfigError(key, f"unknown; choose from {', '.join(options)}", value)


def swept_keys(overrides: list[str]) -> set[str]:
    """The keys and groups a grid varies (``distill.teacher=a,b``, ``strategy=full,distill``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return {override.key_or_group for override in OverridesParser.create().parse_overrides(list(overrides)) if override.is_sweep_override()}


def varies_with_the_job(error: ConfigError, overrides: list[str]) -> bool:
    """Whether a grid's base config fails only on a key that its jobs set each their own way: then each
    job checks its own value (the base config has none of the swept values)."""
    return any(error.key == key or error.key.startswith(f"{key}.") for key in swept_keys(overrides))

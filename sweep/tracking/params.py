"""The resolved config as MLflow params: flattened dotted keys, secrets in URLs masked."""

from __future__ import annotations

from typing import Any

from sweep.config.secrets import mask_secrets

MAX_VALUE = 6000  # MLflow's limit on a param value


def masked(tree: Any) -> Any:
    """A copy of a config tree with every password in a URL masked (for artifacts)."""
    if isinstance(tree, dict):
        return {key: masked(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [masked(value) for value in tree]
    return mask_secrets(tree) if isinstance(tree, str) else tree


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(tree, dict):
        out: dict[str, str] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): mask_secrets(str(tree))[:MAX_VALUE]}


# params that differ between seeds of one configuration without changing what is trained: where it is recorded and
# written, which trial of a search ran it (a confirmation run is not a trial), how the search or night was set up
OUTSIDE_CONFIGURATION = ("paths.", "tracking.", "trial.", "hydra.", "cluster.", "search.", "nightly.")


def trained_params(params: dict[str, str]) -> dict[str, str]:
    """The params that change what a job computes, numbers written alike (``0`` and ``0.0``, ``1e-3`` and
    ``0.001``: a search's sampled value and a grid's typed one are one value)."""
    return {key: same_number(value) for key, value in params.items() if not key.startswith(OUTSIDE_CONFIGURATION)}


def same_number(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return repr(number) if value.strip().lower() not in ("nan", "inf", "-inf", "infinity", "-infinity") else value


def configuration_of(params: dict[str, str]) -> str:
    """A digest of the params that make a configuration: equal for runs that differ only in their seed."""
    import hashlib
    import json

    kept = {key: value for key, value in trained_params(params).items() if key != "seed"}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]

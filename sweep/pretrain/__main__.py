"""Entry point: ``python -m sweep.pretrain [overrides]``, a Hydra app on conf/pretrain.yaml.

Only Hydra is imported up front: ``--help``, ``--cfg job`` and config errors answer in about a second.
Exit codes as sweep.run's: 0 done (the kept model's ``runs:/<id>/model`` printed); 2 bad input, nothing
recorded; 1 training failed (the run says why); 130 / 143 interrupted, the run ended as interrupted.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../../conf", config_name="pretrain")
def main(cfg: DictConfig) -> None:
    from sweep.config.errors import ConfigError
    from sweep.config.secrets import mask_secrets
    from sweep.pretrain.pretrain_job import run_pretrain
    from sweep.runtime.memory import released
    from sweep.runtime.signals import interruptible

    with interruptible(), released():
        try:
            run_pretrain(cfg)
        except ConfigError as error:
            print(f"error: {mask_secrets(str(error))}", file=sys.stderr)
            sys.exit(2)
        except Exception as error:  # the traceback is kept on the run (tag `traceback`)
            print(f"error: pre-training failed: {mask_secrets(f'{type(error).__name__}: {error}')}", file=sys.stderr)
            sys.exit(1)


def cli() -> None:
    from sweep.run import cli as run_cli

    run_cli(main)


if __name__ == "__main__":
    cli()

"""Entry point: ``python -m sweep.select task=... candidates=[a,b,c] [scores=[logme,hscore,knn]]
[select.method=halving]``, a Hydra app on conf/select.yaml.

Only Hydra is imported up front: ``--help``, ``--cfg job`` and config errors answer in about a second.
Exit codes as sweep.run's: 0 done (the ranking printed and recorded); 2 bad input, nothing recorded;
1 a failure while featurising or recording (the traceback shows); 130 / 143 interrupted.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../../conf", config_name="select")
def main(cfg: DictConfig) -> None:
    from sweep.config.errors import ConfigError
    from sweep.config.secrets import mask_secrets
    from sweep.runtime.memory import released
    from sweep.runtime.signals import interruptible
    from sweep.select.select_job import prepare, run_select

    with interruptible(), released():
        try:
            prepared = prepare(cfg)
            if prepared[0].root.select.method == "halving":  # short fine-tunes, successive halving
                from sweep.select.halving_job import run_halving

                run_halving(cfg, *prepared)
            else:
                run_select(cfg, prepared)
        except ConfigError as error:
            print(f"error: {mask_secrets(str(error))}", file=sys.stderr)
            sys.exit(2)


def cli() -> None:
    from sweep.run import cli as run_cli

    run_cli(main)


if __name__ == "__main__":
    cli()

"""``python -m sweep.cluster up | down | status``: the single-node dev/CI cluster (standard library only
until a service is really started, so ``--help`` and ``status`` answer at once).

Exit codes: 0 every service runs and answers (``up``, ``status``) or all stopped (``down``); 1 a service
failed to start or does not answer (its log's last lines are shown) or, for ``status``, not all run;
2 it cannot be set up as asked (not root, packages missing, a port taken by another program).
"""

from __future__ import annotations

import argparse
import sys
import time

from sweep.cluster.settings import DEFAULT_ROOT, ROOT_ENV, SETTINGS

DESCRIPTION = """\
A single-node cluster on 127.0.0.1 for nightly sweeps in development and CI:
munged + slurmctld + slurmd (SLURM 22.05, partition `local`), PostgreSQL 15 (role `sweep`, databases
`optuna` and `mlflow`, trust authentication on loopback) and an MLflow server (PostgreSQL store,
artifacts served by the server). Each keeps its data under ROOT/<service>; `down` keeps them.
As root, `up` installs the missing Debian packages (munge slurmctld slurmd slurm-client postgresql-15)
and links /etc/slurm/slurm.conf to ROOT/slurm/slurm.conf when that path is free, so sbatch, squeue,
scancel and submitit reach this cluster without SLURM_CONF.

Settings (for `up`): a flag, else its environment variable, else what the last `up` in ROOT used, else
the default. `status` and `down` describe the cluster as the last `up` in ROOT started it."""


def parser() -> argparse.ArgumentParser:
    # on the main parser and on each command, so flags go before or after it; SUPPRESS: a flag not given
    # leaves no attribute, so the command's parser never overwrites one given before the command
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root", default=argparse.SUPPRESS, help=f"the cluster's folder (env {ROOT_ENV}; default {DEFAULT_ROOT} under the current folder)"
    )
    for name, setting in SETTINGS.items():
        common.add_argument(setting.flag, dest=name, type=int, default=argparse.SUPPRESS, metavar="N",
                            help=f"{setting.what} (env {setting.env}; default {setting.default})")  # fmt: skip
    main = argparse.ArgumentParser(
        prog="python -m sweep.cluster", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter, parents=[common]
    )
    commands = main.add_subparsers(dest="command", required=True, metavar="{up,down,status}")
    commands.add_parser("up", parents=[common], help="install what is missing (root), start what does not run, print the URLs")
    down = commands.add_parser("down", parents=[common], help="stop every service; the data folders stay")
    down.add_argument("--purge", action="store_true", help="also delete ROOT (all jobs' state, databases and artifacts)")
    commands.add_parser("status", parents=[common], help="one line per service; exit 0 only if all run")
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from sweep.cluster.cluster import Cluster
    from sweep.cluster.errors import ClusterError

    flags = {name: getattr(args, name, None) for name in SETTINGS}
    started = time.monotonic()
    try:
        cluster = Cluster(root=getattr(args, "root", None), running=args.command != "up", **flags)
        if args.command == "status":
            states = cluster.status()
            for state in states:
                print(state.line())
            return 0 if all(state.running for state in states) else 1
        if args.command == "down":
            cluster.down(purge=args.purge)
            print(f"cluster down in {time.monotonic() - started:.1f} s; data kept in {cluster.root}" if not args.purge else "cluster down")
            return 0
        cluster.up()
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    for state in cluster.status():
        print(state.line())
    print(f"cluster up in {time.monotonic() - started:.1f} s; SLURM partition `{cluster.partition}`, SLURM_CONF={cluster.slurm_conf}")
    print(cluster.overrides())
    return 0


if __name__ == "__main__":
    sys.exit(main())

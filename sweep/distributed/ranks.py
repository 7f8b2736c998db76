"""Which process of a distributed (DDP) job this is: its global rank and the world size.

Several processes train one job under DDP. Rank 0 owns the job's records (its MLflow run, its Optuna
trial, its kept model); the others train beside it and record nothing (sweep/pipeline/follower.py). Who started
the processes decides where the rank is written, and Lightning's cluster environments know each place:

- SLURM tasks (``srun``, submitit's ``tasks_per_node``): ``SLURMEnvironment`` (SLURM_PROCID, SLURM_NTASKS);
- ``torchrun``: ``TorchElasticEnvironment`` (RANK, WORLD_SIZE);
- Lightning's own subprocess launcher: ``LightningEnvironment`` (LOCAL_RANK, NODE_RANK, WORLD_SIZE), which
  Lightning sets in the child ranks it starts (ours: sweep/distributed/launcher.py) and in the main process itself.

With none of these variables set this is the only process: rank 0 of 1, known without importing torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# any of these set: some launcher may have started this process as one rank of several
RANK_VARIABLES = ("SLURM_NTASKS", "RANK", "LOCAL_RANK", "WORLD_SIZE")


@dataclass(frozen=True)
class Place:
    rank: int  # global rank: 0 owns the records
    world_size: int  # processes training the job

    @property
    def is_zero(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


ALONE = Place(0, 1)


def place_from_env() -> Place:
    """This process's place, from what the launcher that started it set in the environment."""
    if not any(name in os.environ for name in RANK_VARIABLES):
        return ALONE
    from lightning_fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment

    # SLURM first, as Lightning's accelerator connector does; detect() also skips interactive allocations
    # (srun --job-name=interactive / bash), where another launcher starts the ranks
    for environment in (SLURMEnvironment, TorchElasticEnvironment):
        if environment.detect():
            found = environment()
            return Place(found.global_rank(), found.world_size())
    if "LOCAL_RANK" in os.environ:  # Lightning's launcher: its global rank is only set at fit time
        local, node = int(os.environ["LOCAL_RANK"]), int(os.environ.get("NODE_RANK", os.environ.get("GROUP_RANK", 0)))
        world = int(os.environ.get("WORLD_SIZE", 1))
        # only "is it 0" matters: another node's exact rank (which needs the devices per node) is not used
        return Place(local if node == 0 else node * world + local, world)
    return ALONE


def is_rank_zero() -> bool:
    return place_from_env().is_zero


def place_of(trainer) -> Place:
    """The place of this process in the fit ``trainer`` is about to run, known before it starts.

    Lightning sets the global rank only when the fit starts; before it, the strategy knows how many
    processes it will run (nodes x devices) and its cluster environment where this one is."""
    from pytorch_lightning.strategies import ParallelStrategy

    strategy = trainer.strategy
    if not isinstance(strategy, ParallelStrategy) or strategy.cluster_environment is None:
        return ALONE
    world = trainer.num_nodes * trainer.num_devices
    environment = strategy.cluster_environment
    return Place(environment.node_rank() * trainer.num_devices + environment.local_rank(), world)

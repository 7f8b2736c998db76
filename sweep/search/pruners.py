"""Optuna pruners by name (``search.pruner``). Steps are optimizer steps: validation reports the
monitored metric at the global step, so several validations per epoch let a pruner act early."""

from __future__ import annotations

from typing import Any, Callable

from sweep.registry import Registry

PRUNERS: Registry[Callable[[dict], Any]] = Registry("search.pruner")


@PRUNERS.register("median")
def median(options):
    import optuna

    return optuna.pruners.MedianPruner(**{"n_startup_trials": 2, "n_warmup_steps": 0, **options})


@PRUNERS.register("hyperband")
def hyperband(options):
    import optuna

    return optuna.pruners.HyperbandPruner(**{"min_resource": 1, "reduction_factor": 3, **options})


@PRUNERS.register("successive_halving")
def successive_halving(options):
    import optuna

    return optuna.pruners.SuccessiveHalvingPruner(**{"min_resource": 1, "reduction_factor": 3, **options})


@PRUNERS.register("none")
def no_pruning(options):
    import optuna

    return optuna.pruners.NopPruner()

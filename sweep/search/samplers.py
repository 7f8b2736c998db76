"""Optuna samplers by name (``search.sampler``), each built from ``search.sampler_options``."""

from __future__ import annotations

from typing import Any, Callable

from sweep.config.registry import Registry

SAMPLERS: Registry[Callable[..., Any]] = Registry("search.sampler")
# those whose sampling uses a trial's constraints (search.constraints, sweep/search/constraints.py), as Optuna 5.0's
# source reads them: TPE models feasible and infeasible trials apart, NSGA-II ranks by constraint domination. random,
# grid and cmaes sample without them (cmaes warns on each trial that has some: sweep/search/sweeper.py silences that).
# The constraints reach them through Trial.set_constraint, not the constructors' constraints_func (deprecated in 5.0).
CONSTRAINED = ("tpe", "nsgaii")


@SAMPLERS.register("tpe")
def tpe(seed, options, grid):
    import optuna

    # multivariate + group: TPE models parameters jointly and handles conditional spaces
    # (a strategy's own parameters exist only in that strategy's trials)
    defaults = {"multivariate": True, "group": True, "n_startup_trials": 4}
    return optuna.samplers.TPESampler(seed=seed, **{**defaults, **options})


@SAMPLERS.register("random")
def random(seed, options, grid):
    import optuna

    return optuna.samplers.RandomSampler(seed=seed, **options)


@SAMPLERS.register("grid")
def grid_sampler(seed, options, grid):
    import optuna

    return optuna.samplers.GridSampler(grid(), seed=seed, **options)


@SAMPLERS.register("cmaes")
def cmaes(seed, options, grid):
    import optuna

    return optuna.samplers.CmaEsSampler(seed=seed, **options)


@SAMPLERS.register("nsgaii")
def nsgaii(seed, options, grid):
    import optuna

    return optuna.samplers.NSGAIISampler(seed=seed, **options)

"""Optuna pruners by name (``search.pruner``), with defaults chosen for fine-tuning.

Trials report on a common scale: the per mille of their training budget at each planned validation
(lightning_modules/validation.py), so a 1-epoch full fine-tuning and a 10-epoch feature run compare at
equal progress. ``first_report`` is where the study's first validation falls on that scale (250 for four
validations over the budget); it comes from the validation schedule when the study is created.

Why these defaults (tests/benchmarks/bench_search_vs_trainer.py): fine-tuning curves cross. A small
learning rate with warmup looks worst at the first validations and is often best at the end; a median
pruner allowed to act at the first validation after two trials stopped such trials there. So: no pruning
before half of a trial's budget, and not before TPE's random start-up trials have completed, which
also gives the median something to stand on.
"""

from __future__ import annotations

from typing import Any, Callable

from sweep.config.registry import Registry

PRUNERS: Registry[Callable[[dict, int], Any]] = Registry("search.pruner")
HALF_THE_BUDGET = 500  # per mille
FIRST_REPORT = "sweep:first_report"  # study user attr: fixed when the study is created, read by every job


def pruner_for(search, first_report: int):
    """The study's pruner; None for multi-objective studies, which Optuna cannot prune."""
    if search.multi_objective:
        return None
    pruner = PRUNERS.get(search.pruner)(dict(search.pruner_options), first_report)
    return within_groups(pruner, list(search.prune_within)) if search.prune_within else pruner


def within_groups(pruner, keys: list[str]):
    """``pruner``, comparing a trial only with the trials of equal ``keys`` params (``search.prune_within``).

    Why: a nightly study searches several models and strategies at once (sweep/nightly/); compared with
    all of them, every trial of a weaker model would be pruned, and the night would report its cell as
    missing. Optuna's pruners read the other trials through ``study.get_trials``; they get a view of
    the study that lists the trial's group only (Optuna's own HyperbandPruner narrows a study the same way).
    """
    import optuna

    class GroupView(optuna.study.Study):
        def __init__(self, study, group: tuple):
            super().__init__(study_name=study.study_name, storage=study._storage, sampler=study.sampler, pruner=study.pruner)
            self.group = group

        def get_trials(self, deepcopy: bool = True, states=None):
            return [t for t in super().get_trials(deepcopy=deepcopy, states=states) if group_of(t) == self.group]

        @property
        def trials(self):
            return self.get_trials()

    def group_of(trial) -> tuple:
        return tuple(trial.params.get(key) for key in keys)

    class WithinGroups(optuna.pruners.BasePruner):
        def prune(self, study, trial) -> bool:
            return pruner.prune(GroupView(study, group_of(trial)), trial)

    return WithinGroups()


@PRUNERS.register("median")
def median(options, first_report):
    import optuna

    return optuna.pruners.MedianPruner(**{"n_startup_trials": 4, "n_warmup_steps": HALF_THE_BUDGET, **options})


@PRUNERS.register("hyperband")
def hyperband(options, first_report):
    import optuna

    # rungs start at the first validation (not at step 1, which every report passes); the last is 1000
    return optuna.pruners.HyperbandPruner(**{"min_resource": first_report, "max_resource": 1000, "reduction_factor": 3, **options})


@PRUNERS.register("successive_halving")
def successive_halving(options, first_report):
    import optuna

    return optuna.pruners.SuccessiveHalvingPruner(**{"min_resource": first_report, "reduction_factor": 3, **options})


@PRUNERS.register("none")
def no_pruning(options, first_report):
    import optuna

    return optuna.pruners.NopPruner()

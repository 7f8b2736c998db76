"""search.prune_within: a trial is pruned against the trials of its own group only (sweep/search/pruners.py)."""

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from sweep.config.errors import ConfigError
from sweep.config.schema import SearchConfig
from sweep.search.pruners import pruner_for

MODELS = CategoricalDistribution(["weak", "strong"])


def finished(model: str, curve: list[float]):
    return create_trial(
        params={"model": model}, distributions={"model": MODELS}, value=curve[-1], intermediate_values=dict(enumerate(curve)),
        state=TrialState.COMPLETE,
    )  # fmt: skip


def running_trial(study, model: str, value: float, step: int = 1):
    study.add_trial(create_trial(params={"model": model}, distributions={"model": MODELS}, intermediate_values={step: value},
                                 state=TrialState.RUNNING))  # fmt: skip
    return study.trials[-1]


@pytest.fixture
def study():
    study = optuna.create_study(direction="maximize")
    study.add_trial(finished("strong", [0.8, 0.9]))
    study.add_trial(finished("strong", [0.82, 0.91]))
    study.add_trial(finished("weak", [0.5, 0.55]))
    return study


def pruner(within: list[str]):
    search = SearchConfig(pruner="median", pruner_options={"n_startup_trials": 1, "n_warmup_steps": 0}, prune_within=within)
    return pruner_for(search, 250)


def test_a_weak_model_is_pruned_against_all_trials_but_not_within_its_own_group(study):
    trial = running_trial(study, "weak", 0.6)  # better than the weak model's best so far, far below the strong one
    assert pruner([]).prune(study, trial)
    assert not pruner(["model"]).prune(study, trial)


def test_within_its_group_a_worse_trial_is_still_pruned(study):
    assert pruner(["model"]).prune(study, running_trial(study, "weak", 0.4))
    assert pruner(["model"]).prune(study, running_trial(study, "strong", 0.7))


def test_grouping_by_an_unsearched_key_is_refused(tmp_path):
    from sweep.search.plan import plan_search
    from tests.conftest import compose

    config = compose("search=optuna", "search.prune_within=[task]", f"paths.output_dir={tmp_path}")
    with pytest.raises(ConfigError, match="search.prune_within"):
        plan_search(config, ["strategy=full,lora"])

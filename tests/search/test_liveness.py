"""Whether a trial's owner is alive: pids only within one host, boot and PID namespace; heartbeats elsewhere."""

import os
import time
from datetime import datetime
from types import SimpleNamespace

import pytest


def test_an_owner_is_judged_by_pid_only_on_this_machine():
    from sweep.runtime.owners import alive, this_process

    me = this_process()
    assert alive(me) is True
    assert alive({**me, "pid": 2**22 + 7}) is False  # same host, boot and namespace: a dead pid is dead
    assert alive({**me, "started": me["started"] - 3600}) is False  # a recycled pid is another process
    # another container with the same hostname (another PID namespace), or this host before a reboot
    assert alive({**me, "pidns": "pid:[4026530000]", "pid": 2**22 + 7}) is None
    assert alive({**me, "boot": "another-boot", "pid": 2**22 + 7}) is None
    assert alive({"host": me["host"], "pid": 2**22 + 7, "started": 0.0}) is None  # recorded without boot and namespace


def trial_owned_by(owner: dict, beat: float | None):
    from sweep.search.liveness import HEARTBEAT, OWNER

    attrs = {OWNER: owner} | ({HEARTBEAT: beat} if beat is not None else {})
    return SimpleNamespace(system_attrs=attrs, datetime_start=datetime.fromtimestamp(time.time() - 3600))


def test_a_live_trial_of_another_pid_namespace_is_not_failed(tmp_path):
    """Regression: host + pid alone took a live trial of a container sharing the hostname for dead."""
    from sweep.runtime.owners import this_process
    from sweep.search.liveness import is_dead
    from sweep.search.storage import open_storage

    journal = open_storage(f"journal:{tmp_path / 'study.log'}")  # the storage where our own heartbeat judges
    elsewhere = {**this_process(), "pidns": "pid:[4026530000]", "pid": 2**22 + 7}
    assert not is_dead(trial_owned_by(elsewhere, beat=time.time()), 600, journal)
    assert is_dead(trial_owned_by(elsewhere, beat=time.time() - 601), 600, journal)
    assert is_dead(trial_owned_by({**this_process(), "pid": 2**22 + 7}, beat=time.time()), 600, journal)  # here: at once


def test_database_storages_use_optunas_heartbeat_and_its_failures_return_the_budget(tmp_path):
    import optuna

    from sweep.runtime.owners import this_process
    from sweep.search.liveness import OWNER, counts, is_dead, optuna_heartbeat
    from sweep.search.storage import open_storage

    stale = []
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}", heartbeat=(1, 2), on_stale=lambda study, trial: stale.append(trial.number))
    assert optuna_heartbeat(storage)
    study = optuna.create_study(storage=storage, study_name="s")
    with pytest.warns(UserWarning):
        trial = study.ask()
    elsewhere = {**this_process(), "host": "another-node", "pid": os.getpid()}
    storage.set_trial_system_attr(trial._trial_id, OWNER, elsewhere)
    storage.record_heartbeat(trial._trial_id)
    frozen = storage.get_trial(trial._trial_id)
    assert not is_dead(frozen, 2, storage)  # another node: Optuna's heartbeat decides, not our attributes
    time.sleep(3.5)
    optuna.storages.fail_stale_trials(study)
    frozen = storage.get_trial(trial._trial_id)
    assert stale == [trial.number] and frozen.state == optuna.trial.TrialState.FAIL
    assert not counts(frozen)  # failed by the heartbeat check, not by its own doing: the budget returns


def test_only_failures_of_the_trials_own_making_use_the_budget():
    import optuna

    from sweep.search.liveness import FAILED_BY_TRIAL, RETURNED, counts

    state = optuna.trial.TrialState

    def trial(s, **attrs):
        return SimpleNamespace(state=s, system_attrs=attrs)

    assert counts(trial(state.COMPLETE)) and counts(trial(state.PRUNED)) and counts(trial(state.RUNNING))
    assert not counts(trial(state.WAITING))  # enqueued, not yet asked (a nightly cell): a point to run, not a run
    assert counts(trial(state.FAIL, **{FAILED_BY_TRIAL: True}))  # its job raised, its loss was NaN
    assert not counts(trial(state.FAIL))  # interrupted, a dead worker's, failed by Optuna's heartbeat, a surplus ask
    assert not counts(trial(state.FAIL, **{FAILED_BY_TRIAL: True, RETURNED: "interrupted"}))  # a return outranks a race

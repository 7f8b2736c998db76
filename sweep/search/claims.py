"""Who runs which confirmation run (sweep/search/confirm.py): a claim per (trial, seed) in the study's system attributes.

Why there and not as Optuna trials: a confirmation must not be a trial the sampler learns from (it would see
one configuration several times, with values that differ by the seed alone) nor one that uses the budget
(``search.n_trials``, sweep/search/liveness.py ``counts``). The study's system attributes travel with the study
(sqlite, journal, PostgreSQL alike), so every worker, node and the nightly report reads the same claims.

A claim, key ``sweep:confirm:<trial>:<seed>``: ``{token, owner, state, beat, k, value, run_id, error}``; state
``running`` (its worker runs it), ``finished`` (value), ``failed`` (its job failed: not run again), ``returned``
(interrupted: the next start runs it again). A running claim whose owner is dead (this machine: by pid,
sweep/runtime/owners.py; elsewhere: no beat for ``search.grace_period``) may be claimed again.

Claiming is check-then-write. On a storage in a local file (sqlite, journal) the check and the write happen under
the budget's file lock (sweep/search/liveness.py), so two local workers never both win. Servers (PostgreSQL) have
no such lock and Optuna's storages no compare-and-set: the claimer writes its token, waits ``SETTLE_S`` and
reads it back; of two workers claiming at once, whoever wrote last keeps it (sweep/search/study.py names a study
the same way). The job writes its MLflow run id under ``<claim key>:run`` (its own key: the worker's beats
rewrite the claim), so a worker that finds the claim dead can end that run.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field

from sweep.runtime.owners import alive, this_process
from sweep.search.liveness import budget_lock

PREFIX = "sweep:confirm:"
KEY = re.compile(r"^sweep:confirm:(\d+):(-?\d+)$")
SETTLE_S = 1.0
RUNNING, FINISHED, FAILED, RETURNED = "running", "finished", "failed", "returned"
DONE = (FINISHED, FAILED)  # never run again; a returned or dead claim is
OF_TRIAL_TAG, SEED_TAG = "confirm.of_trial", "confirm.seed"  # on the confirmation's MLflow run


def claim_key(trial: int, seed: int) -> str:
    return f"{PREFIX}{trial}:{seed}"


def run_key(trial: int, seed: int) -> str:
    return f"{claim_key(trial, seed)}:run"


@dataclass
class Claim:
    trial: int
    seed: int
    record: dict = field(default_factory=dict)
    run_id: str | None = None  # what its job wrote under run_key: the latest attempt's run

    @property
    def state(self) -> str:
        return str(self.record.get("state", ""))

    @property
    def value(self) -> float | None:
        value = self.record.get("value")
        return None if value is None else float(value)

    @property
    def k(self) -> int:
        return int(self.record.get("k", 0))

    def live(self, grace_period: float, now: float | None = None) -> bool:
        """Running, and its owner not known dead."""
        if self.state != RUNNING:
            return False
        verdict = alive(self.record.get("owner"))
        if verdict is not None:
            return verdict
        beat = self.record.get("beat")
        return beat is None or (time.time() if now is None else now) - float(beat) <= grace_period


def study_attrs(study) -> dict:
    return study._storage.get_study_system_attrs(study._study_id)


def read_claims(study) -> dict[tuple[int, int], Claim]:
    """Every confirmation claim of the study, by (trial number, seed)."""
    attrs = study_attrs(study)
    claims = {}
    for key, record in attrs.items():
        match = KEY.match(key)
        if match and isinstance(record, dict):
            trial, seed = int(match.group(1)), int(match.group(2))
            claims[(trial, seed)] = Claim(trial, seed, record, attrs.get(run_key(trial, seed)))
    return claims


def read_claim(study, trial: int, seed: int) -> Claim | None:
    return read_claims(study).get((trial, seed))


def write(study, claim: Claim) -> None:
    study._storage.set_study_system_attr(study._study_id, claim_key(claim.trial, claim.seed), claim.record)


def try_claim(study, lock_file, trial: int, seed: int, k: int, grace_period: float) -> tuple[Claim, Claim | None] | None:
    """This process's claim of (trial, seed), and the dead claim it replaced (None: there was none); None when
    another worker holds it or it is done."""
    with budget_lock(lock_file):
        before = read_claim(study, trial, seed)
        if before is not None and (before.state in DONE or before.live(grace_period)):
            return None
        token = uuid.uuid4().hex
        claim = Claim(trial, seed, {"token": token, "owner": this_process(), "state": RUNNING, "beat": time.time(), "k": k})
        write(study, claim)
    if lock_file is None:  # a server: no lock; the last writer keeps it
        time.sleep(SETTLE_S)
        now = read_claim(study, trial, seed)
        if now is None or now.record.get("token") != token:
            return None
    return claim, before


def still_mine(study, claim: Claim) -> bool:
    now = read_claim(study, claim.trial, claim.seed)
    return now is not None and now.record.get("token") == claim.record.get("token")


class ConfirmedTrial:
    """What a confirmation job's binding holds in place of an Optuna trial (sweep/search/binding.py): the
    trial is finished and is not touched; the job's run id goes to its claim, and the run gets its tags."""

    def __init__(self, study, number: int, seed: int, tracking_uri: str):
        self.study, self.number, self.seed, self.tracking_uri = study, number, seed, tracking_uri

    def set_user_attr(self, key: str, value) -> None:
        if key != "mlflow_run_id":  # the only attribute a job writes once its run is open (sweep/pipeline/job.py)
            return
        self.study._storage.set_study_system_attr(self.study._study_id, run_key(self.number, self.seed), value)
        tag_run(self.tracking_uri, value, self.number, self.seed)


def tag_run(tracking_uri: str, run_id: str, trial: int, seed: int, client=None) -> None:
    from mlflow.tracking import MlflowClient

    client = client or MlflowClient(tracking_uri=tracking_uri)
    client.set_tag(run_id, OF_TRIAL_TAG, str(trial))
    client.set_tag(run_id, SEED_TAG, str(seed))


def confirmation_of(study, trial_id: int, seed: int) -> tuple[int, Claim] | None:
    """(trial number, claim) when a job bound to ``trial_id`` with ``seed`` is a confirmation run: its trial is
    complete and a claim for that seed exists. None for an ordinary trial's job."""
    import optuna

    frozen = study._storage.get_trial(trial_id)
    if frozen.state != optuna.trial.TrialState.COMPLETE:
        return None
    claim = read_claim(study, frozen.number, seed)
    return None if claim is None else (frozen.number, claim)

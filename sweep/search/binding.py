"""The job's side of a search: rebuild the trial the sweeper asked for, from the shared storage.

The sweeper adds ``+trial.study_name`` and ``+trial.trial_id`` to the job's overrides; the storage URL
comes from the job's own ``search`` config, as the user gave it (put a password in an environment
variable: ``${oc.env:PGPASSWORD}`` stays unresolved on every command line and in every log).

A confirmation run (sweep/search/confirm.py) binds to the complete trial it confirms, with the same overrides
but ``seed``, so that its recorded config is the trial's but for the seed; its claim (sweep/search/claims.py)
tells it apart: it neither prunes nor touches the finished trial.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrialBinding:
    trial: object  # optuna.trial.Trial
    study_name: str
    prunes: bool  # single-objective studies only: Optuna cannot prune multi-objective trials
    study_id: str = ""  # the study's UUID (sweep/search/study.py); "" for a study made before identities

    @property
    def number(self) -> int:
        return self.trial.number

    def pruning_callback(self, monitor: str):
        from lightning_modules.pruning import OptunaPruning

        return OptunaPruning(self.trial, monitor)

    @staticmethod
    def is_pruned(error: BaseException) -> bool:
        import optuna

        return isinstance(error, optuna.TrialPruned)


def bind_trial(root) -> TrialBinding:
    import optuna

    from sweep.config.schema import search_config
    from sweep.distributed.slurm_jobs import SLURM_JOB_ATTR, current_job_id
    from sweep.search.pruners import FIRST_REPORT, pruner_for
    from sweep.search.storage import open_storage, storage_url

    search = search_config(root.search)
    storage = open_storage(storage_url(search.storage, root.trial.study_name, root.paths.output_dir))
    prunes = not search.multi_objective
    study = optuna.load_study(study_name=root.trial.study_name, storage=storage)
    from sweep.search.claims import ConfirmedTrial, confirmation_of
    from sweep.search.study import IDENTITY

    identity = str(study.user_attrs.get(IDENTITY, ""))
    confirming = confirmation_of(study, root.trial.trial_id, root.seed)
    if confirming is not None:  # a confirmation run of a complete trial (sweep/search/confirm.py): same trial, a new seed, no pruning
        from sweep.tracking.store import tracking_uri

        uri = tracking_uri(root.tracking.uri, root.paths.output_dir)
        return TrialBinding(ConfirmedTrial(study, confirming[0], root.seed, uri), root.trial.study_name, False, identity)
    study.pruner = pruner_for(search, study.user_attrs.get(FIRST_REPORT, 1))
    trial = optuna.trial.Trial(study, root.trial.trial_id)
    slurm_job = current_job_id()
    if slurm_job is not None:  # the sweeper cancels it if the trial is returned (sweep/distributed/slurm_jobs.py)
        trial.set_user_attr(SLURM_JOB_ATTR, slurm_job)
    return TrialBinding(trial, root.trial.study_name, prunes, identity)

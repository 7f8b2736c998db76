"""Where a job's model and teacher come from, looked up once, before anything loads.

The second stage of a job (sweep/pipeline/job.py): validate -> **resolve sources** -> build (data, teacher,
model + strategy, loaders) -> train -> record. Here is every question to the tracking store that finds a
source; nothing is loaded: build loads what this names and never goes back to the store or the config to
find it.

- the model: ``model.source`` as written: a packaged checkpoint (``asset:``), a GGUF file, a random
  initialisation, a hub id or folder, or a kept run (``runs:/<run_id>/model``, whose recorded family and
  pooling come with its files: sweep/tracking/saved_models.py ``classifier_from_run``);
- the teacher (``distill.teacher``, where the strategy uses one): a ``runs:/`` URI or a folder / hub id stays
  as written; a zoo name (a file in conf/model/) becomes the ``runs:/`` URI of that model's best finished run
  on this task that kept its model: "distil from the best L6 I trained".

One teacher per sweep: in a grid or a search a name is resolved once, as of the sweep's start (its parent
run's start time: runs that ended before it), and pinned on the parent (tag ``distill.teacher_pin.<name>.
<task>.<monitor>.<mode>``); every later job of the sweep (and a resumed search) reads the pin. Otherwise a
model kept earlier in the same sweep (``-m strategy=full,distill distill.teacher=<the same model>``) would
teach the jobs after it, and cells of one sweep would learn from different teachers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sweep.config.errors import ConfigError
from sweep.config.schema import JobConfig

log = logging.getLogger(__name__)
TEACHER_KEY = "distill.teacher"
SCHEME = "runs:/"


@dataclass(frozen=True)
class Sources:
    model: str  # model.source as written (a kept run: runs:/<run_id>/model)
    tracking_uri: str | None = None  # the store a runs:/ source is read from (None: no source needs one)
    teacher: str | None = None  # the teacher as resolved: a runs:/ URI (also a model name's), or a folder / hub id
    teacher_name: str | None = None  # the model name a teacher run was found by (errors and tags name it)

    @property
    def kept_model(self) -> bool:
        """The model is a kept run: it loads with its head, family and pooling from the store."""
        return self.model.startswith(SCHEME)

    @property
    def kept_teacher(self) -> bool:
        return self.teacher is not None and self.teacher.startswith(SCHEME)

    @property
    def teacher_run(self) -> str | None:
        """The run a teacher's model name was found as (tagged ``distill.teacher_run``); None otherwise."""
        return self.teacher if self.teacher_name is not None else None


def resolve_sources(job: JobConfig, tracking_uri: str | None = None, sweep_parent: str | None = None) -> Sources:
    """The job's sources; ``tracking_uri``: the store a run or model name is found in (default: the job's own,
    as for its runs); ``sweep_parent``: the parent run of the job's grid or search, where a teacher found by
    name is pinned. Raises ConfigError (``distill.teacher``) for a model name with no kept run on this task."""
    from sweep.config.groups import CONF
    from sweep.tracking.store import tracking_uri as job_tracking_uri

    root = job.root
    if root.distill.teacher is not None and job.teacher is None:
        log.warning("strategy=%s trains on the labels alone: full fine-tuning under a teacher is strategy=distill", job.strategy.name)
    teacher, named = job.teacher, None
    needs_store = root.model.source.startswith(SCHEME) or teacher is not None
    uri = (tracking_uri or job_tracking_uri(root.tracking.uri, root.paths.output_dir)) if needs_store else tracking_uri
    named_model = teacher is not None and ((CONF / "model" / f"{teacher}.yaml").exists() or is_tower_pair(teacher))
    if named_model and not teacher.startswith(SCHEME):
        lookup = (teacher, root.task.name, root.trainer.monitor, root.trainer.mode, uri)
        teacher, named = (pinned_teacher(*lookup, sweep_parent) if sweep_parent else best_kept_run(*lookup)), teacher
    return Sources(model=root.model.source, tracking_uri=uri, teacher=teacher, teacher_name=named)


def is_tower_pair(name: str) -> bool:
    """A dual encoder's runs are named by their towers, ``<vision>+<text>`` (each a conf/model file): a teacher by name."""
    from sweep.config.groups import CONF

    sides = name.split("+")
    return len(sides) == 2 and all((CONF / "model" / f"{side}.yaml").exists() for side in sides)


def pin_key(model_name: str, task_name: str, monitor: str, mode: str) -> str:
    return f"distill.teacher_pin.{model_name}.{task_name}.{monitor}.{mode}"


def pinned_teacher(model_name: str, task_name: str, monitor: str, mode: str, tracking_uri: str, sweep_parent: str) -> str:
    """The sweep's teacher for a model name: the pin on its parent, or resolved as of the parent's start and
    pinned. Jobs resolving at once find the same run (the same runs ended before the same time)."""
    from mlflow.tracking import MlflowClient

    from sweep.tracking.parents import shared

    client = MlflowClient(tracking_uri)
    parent = client.get_run(sweep_parent)
    key = pin_key(model_name, task_name, monitor, mode)
    if key in parent.data.tags:
        return parent.data.tags[key]
    found = best_kept_run(model_name, task_name, monitor, mode, tracking_uri, ended_before=parent.info.start_time)
    shared(client.set_tag, sweep_parent, key, found)
    return found


def best_kept_run(model_name: str, task_name: str, monitor: str, mode: str, tracking_uri: str, ended_before: int | None = None) -> str:
    """``runs:/`` URI of the best finished run of ``model_name`` on ``task_name`` that kept its model,
    by the best value of ``monitor`` (the student's own trainer.monitor and mode); ``ended_before`` (ms since
    the epoch): only runs that ended before then (a sweep's start)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiments = [experiment.experiment_id for experiment in client.search_experiments()]
    query = f"tags.model = '{model_name}' and tags.task = '{task_name}' and tags.state = 'finished' and tags.`model.kept` = 'true'"
    runs = client.search_runs(experiments, query, max_results=1000) if experiments else []
    scored = [run for run in runs if f"best_{monitor}" in run.data.metrics]
    if ended_before is not None:
        scored = [run for run in scored if run.info.end_time is not None and run.info.end_time < ended_before]
    if not scored:
        since = " before this sweep started" if ended_before is not None else ""
        raise ConfigError(
            TEACHER_KEY,
            f"no finished run of model {model_name} on task {task_name} kept its model and watched {monitor}{since}; train one "
            f"first (python -m sweep.run model={model_name} task={task_name}) or pass runs:/<run_id>/model",
            model_name,
        )
    sign = 1.0 if mode == "max" else -1.0
    best = max(scored, key=lambda run: (sign * run.data.metrics[f"best_{monitor}"], -run.info.start_time))  # a tie: the earliest
    log.info(
        "teacher %s: run %s (%s), best %s=%.4f",
        model_name,
        best.info.run_id,
        best.info.run_name,
        monitor,
        best.data.metrics[f"best_{monitor}"],
    )
    return f"{SCHEME}{best.info.run_id}/model"

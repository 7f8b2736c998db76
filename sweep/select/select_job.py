"""One selection, start to end: validate, featurise and score every candidate, rank, compare with the
fine-tuned runs, print, record. (``select.method=halving``, which fine-tunes the candidates briefly, is
sweep/select/halving_job.py; it reuses ``prepare`` and ``frozen_scores`` from here.)

Same guarantees as sweep.run's jobs: everything that can fail on bad input happens before the MLflow run
opens (exit 2, nothing recorded); the run opens only once every candidate is scored, so it is short and
always ends finished (or interrupted, by Ctrl-C / SIGTERM while it records).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from omegaconf import DictConfig

from sweep.config.errors import ConfigError

log = logging.getLogger("sweep")


@dataclass
class Selection:
    run_id: str
    markdown: str  # the ranked table, with the line on the fine-tuned ranking under it
    taus: dict  # score -> weighted Kendall tau (None: fewer than 2 fine-tuned candidates)


def prepare(cfg: DictConfig):
    """The checked plan and the tracking URI (reachable): everything of bad input, before anything loads."""
    from sweep.select.select_config import validate_select
    from sweep.tracking.store import check_reachable, tracking_uri

    plan = validate_select(cfg)
    uri = tracking_uri(plan.root.tracking.uri, plan.root.paths.output_dir)
    check_reachable(uri)
    return plan, uri


def run_select(cfg: DictConfig, prepared=None) -> Selection:
    """select.method=scores (select.method=halving: sweep/select/halving_job.py, chosen by the entry point)."""
    from sweep.runtime.hardware import cpu_name
    from sweep.select.finetuned import finetuned_results, weighted_tau
    from sweep.select.ranking import table, to_markdown
    from sweep.tracking.store import client_and_experiment, ui_hint

    plan, uri = prepared or prepare(cfg)
    root = plan.root
    header, order = frozen_scores(plan)

    client, experiment_id = client_and_experiment(uri, root.tracking.experiment, root.paths.output_dir, root.paths.cache_dir)
    metric, mode = root.select.metric, root.select.mode
    finetuned = finetuned_results(client, experiment_id, root.task.name, list(plan.jobs), metric, mode)
    taus = {name: weighted_tau({item.name: item.scores[name] for item in order}, finetuned, mode) for name in root.scores}
    frame = table(order, root.scores, finetuned, metric)
    markdown = to_markdown(frame)
    verdict = tau_line(taus, root.scores, finetuned, len(order), metric, root.task.name, root.tracking.experiment)
    text = f"{header}\n\n{markdown}\n\n{verdict}\n"
    from sweep.select.record import record

    run_id = record(client, experiment_id, cfg, root, order, text, frame, taus, cpu_name())
    print(f"\n{text}\nrecorded: run {run_id} (select.md, select.csv)\n{ui_hint(uri, experiment_id)}", flush=True)
    return Selection(run_id, text, taus)


def frozen_scores(plan) -> tuple[str, list]:
    """Featurise and score every candidate of ``plan.jobs``: the header line and the candidates ranked by the first score."""
    from sweep.runtime.console import quiet_libraries
    from sweep.runtime.hardware import cpu_name
    from sweep.runtime.memory import release_memory
    from sweep.select.candidates import extract
    from sweep.select.ranking import ranked, score

    root = plan.root
    quiet_libraries()
    start = time.perf_counter()
    splits = training_split(root.task)
    data_s = time.perf_counter() - start
    start = time.perf_counter()
    import_libraries()  # once, here: not counted against whichever candidate comes first
    import_s = time.perf_counter() - start
    labels = splits.train.labels
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    what = "a numeric target" if root.task.type == "regression" else f"{len(splits.label_names)} labels ({root.task.type})"
    header = (
        f"select on {root.task.name}: {len(labels)} training rows, {what}, "
        f"{len(plan.jobs)} candidates, ranked by {root.scores[0]} "
        f"(data read in {data_s:.1f} s, libraries imported in {import_s:.1f} s; {cpu_name()}, {cores} cores)"
    )
    log.info(header)
    results = []
    for name, job in plan.jobs.items():
        if job.root.model.family == "dual_encoder":  # a pair of towers, each scored on its own rows (sweep/select/pairs.py)
            from sweep.select.pairs import scored_pair

            results.append(scored_pair(name, job, splits, root.scores, root.seed, root.select.batch_size))
            release_memory()
            continue
        features = extract(name, job, splits, root.select.batch_size)
        # token classification: one row per word, with its tag (the candidate's tokenizer decides which words fit)
        results.append(score(features, features.labels if features.labels is not None else labels, root.scores, root.seed))
        del features
        release_memory()  # one candidate's model at a time
    return header, ranked(results, root.scores[0])


def import_libraries() -> None:
    import pytorch_lightning  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import transformers  # noqa: F401

    import sweep.data.features  # noqa: F401  (torch)


def training_split(task):
    """The task's splits, as every job reads them; a training split of one class has nothing to rank by."""
    import numpy as np

    from sweep.data.tasks import load_splits

    splits = load_splits(task)
    if task.type not in ("classification", "image_text"):  # multi-label, numeric and word targets: their types checked them (>= 2 labels)
        return splits
    present = np.unique(splits.train.labels)
    if len(present) < 2:
        names = [splits.label_names[int(label)] for label in present]
        raise ConfigError("task", f"its training split has one class {names}: transferability needs at least two", task.name)
    return splits


def tau_line(taus: dict, names: list[str], finetuned: dict, candidates: int, metric: str, task: str, experiment: str) -> str:
    primary = taus[names[0]]
    where = f"{metric} of finished runs on task {task} in experiment {experiment}"
    if primary is None:
        have = ", ".join(sorted(finetuned)) or "none"
        found = f"{len(finetuned)} of {candidates} candidates have fine-tuned results ({where}: {have})"
        return f"weighted Kendall tau: not computed: {found}; it needs 2"
    others = ", ".join(f"{name} {taus[name]:.3f}" for name in names[1:])
    return (
        f"weighted Kendall tau between the {names[0]} ranking and the fine-tuned ranking ({where}, "
        f"{len(finetuned)} of {candidates} candidates): {primary:.3f}" + (f"; by {others}" if others else "")
    )

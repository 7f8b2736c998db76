"""A job's data set as an MLflow input: the runs list's Dataset column and the run page's Datasets.

Cheap by design: the rows are never serialised or hashed. The digest identifies what picks the rows
(the task config but for ``max_length``, which only decides tokenisation), the split sizes, and for a
file its size and modification time, so the same data reads the same digest across models and sweeps.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

CONTEXT = "training"  # the input's role: mlflow.data.context


def file_identity(path: str | None) -> dict:
    if not path:
        return {}
    file = Path(path).expanduser()
    try:
        stat = file.stat()
    except OSError:  # read already by now; a file gone meanwhile still names the data set
        return {"file": str(file.resolve())}
    return {"file": str(file.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def digest(task, sizes: dict[str, int]) -> str:
    picks = {key: value for key, value in dataclasses.asdict(task).items() if key != "max_length"}
    identity = {"task": picks, "sizes": sizes, **file_identity(task.path)}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:12]


def data_input(task, sizes: dict[str, int]):
    """The DatasetInput of a job: name = the task, source = its file or its kind, profile = the split sizes."""
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    if task.path:
        source_type, source = "local", {"uri": file_identity(task.path)["file"]}
    else:  # a built-in reader (sweep/data/kinds.py)
        source_type, source = "code", {"tags": {"task.kind": task.kind}}
    profile = {"num_rows": sum(sizes.values()), **{f"{split}_rows": rows for split, rows in sizes.items()}}
    dataset = Dataset(task.name, digest(task, sizes), source_type, json.dumps(source), profile=json.dumps(profile))
    return DatasetInput(dataset, tags=[InputTag(MLFLOW_DATASET_CONTEXT, CONTEXT)])

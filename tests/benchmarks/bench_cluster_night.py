"""What a night costs on the single-node cluster, and what each service adds (not a test).

One tiny night (tiny_bert, tiny_gpt2 x full, lora, one trial per cell, 2 trials at a time), run as
    A  laptop: joblib workers, sqlite Optuna storage, sqlite MLflow store
    B  A + the Optuna study on PostgreSQL
    C  B + runs on the MLflow server
    D  C + every trial a SLURM job (cluster=local_slurm)
each in a fresh folder, in the order A B C D, --repeats times; the median wall time of each and the
step from one to the next. Needs `python -m sweep.cluster up` (root).

    python tests/benchmarks/bench_cluster_night.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from common import cli, cpu

NIGHT = ["nightly.models=[tiny_bert,tiny_gpt2]", "nightly.strategies=[full,lora]", "nightly.trials_per_cell=1",
         "task.train_size=64", "task.val_size=32", "task.test_size=32", "search.n_jobs=2"]  # fmt: skip


def setups(storage: str, tracking: str) -> dict[str, list[str]]:
    laptop = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    return {
        "A laptop (joblib, sqlite, sqlite)": laptop,
        "B + PostgreSQL study": [*laptop, f"search.storage={storage}"],
        "C + MLflow server": [*laptop, f"search.storage={storage}", f"tracking.uri={tracking}"],
        "D + SLURM jobs": ["cluster=local_slurm", f"search.storage={storage}", f"tracking.uri={tracking}"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from sweep.cluster import Cluster

    cluster = Cluster()
    times: dict[str, list[float]] = {}
    cache = Path(tempfile.mkdtemp(prefix="bench-night-cache-"))
    for repeat in range(args.repeats):
        for name, extra in setups(cluster.storage_url, cluster.tracking_uri).items():
            folder = Path(tempfile.mkdtemp(prefix="bench-night-"))
            tag = uuid.uuid4().hex[:8]
            ids = [f"nightly.study_prefix=bench-{tag}", f"tracking.experiment=bench-night-{tag}", f"paths.cache_dir={cache}"]
            start = time.perf_counter()
            cli("sweep.nightly", *NIGHT, *extra, *ids, "nightly.date=2026-11-29", cwd=folder)
            times.setdefault(name, []).append(time.perf_counter() - start)
            print(f"[{repeat}] {name}: {times[name][-1]:.1f} s", flush=True)
    print(f"\nCPU: {cpu()}; one tiny night, 4 trials, 2 at a time; median of {args.repeats}")
    print("| setup | wall s | added by this service |\n|---|---|---|")
    previous = None
    for name, values in times.items():
        median = statistics.median(values)
        added = "" if previous is None else f"{median - previous:+.1f} s"
        print(f"| {name} | {median:.1f} | {added} |")
        previous = median


if __name__ == "__main__":
    main()

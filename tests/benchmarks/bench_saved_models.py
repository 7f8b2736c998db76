"""Benchmark: what keeping a trained model costs, per strategy (time and size), and loading it back.

    python tests/benchmarks/bench_saved_models.py [--model minilm_l3] [--strategies full lora feature] [--repeats 3]

In process, without training (saving does not depend on how long a model trained): build the job,
then time ``save_model`` (write the folder + log it as the run's ``model`` artifact into a local sqlite
store, as a finished job does), and ``load_saved_classifier`` from ``runs:/<id>/model``, cold (download
into the cache) and warm (cached files; the store is still asked whether the model exists). Median of
``--repeats``. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="minilm_l3")
    parser.add_argument("--strategies", nargs="+", default=["full", "lora", "feature"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache-dir", default=None, help="shared with other runs: the MiniLM-L3 rebuild is made once")
    args = parser.parse_args()

    from hydra import compose, initialize_config_dir
    from mlflow.tracking import MlflowClient

    from sweep.pipeline.build import build
    from sweep.pipeline.validate import validate
    from sweep.runtime.console import quiet_libraries
    from sweep.runtime.hardware import describe
    from sweep.tracking.job_run import JobRun
    from sweep.tracking.kept_models import save_model
    from sweep.tracking.saved_models import load_saved_classifier

    quiet_libraries()
    workdir = Path(tempfile.mkdtemp(prefix="sweep-bench-saved-"))
    cache_dir = Path(args.cache_dir) if args.cache_dir else workdir / "cache"
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("bench", artifact_location=(workdir / "artifacts").as_uri())
    conf = Path(__file__).resolve().parents[2] / "conf"
    print(f"{describe()}; model {args.model}; median of {args.repeats}")
    print("| strategy | saved | size MB | save s | load cold s | load warm s |")
    print("|---|---|---|---|---|---|")
    for strategy in args.strategies:
        overrides = [f"model={args.model}", f"strategy={strategy}", f"paths.output_dir={workdir}", f"paths.cache_dir={cache_dir}"]
        overrides += ["task.train_size=64", "task.val_size=32", "task.test_size=32", f"tracking.uri={uri}"]
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            built = build(validate(compose("config", overrides=overrides)))
        saves, colds, warms, size = [], [], [], 0.0
        for _ in range(args.repeats):
            run = JobRun(client, client.create_run(experiment).info.run_id)
            start = time.perf_counter()
            save_model(run, built)
            saves.append(time.perf_counter() - start)
            size = client.get_run(run.run_id).data.metrics["model_size_mb"]
            source = f"runs:/{run.run_id}/model"
            for times in (colds, warms):
                start = time.perf_counter()
                _, _, metadata = load_saved_classifier(source, uri, cache_dir)
                times.append(time.perf_counter() - start)
        median = statistics.median
        print(f"| {strategy} | {metadata['backbone']} | {size:.2f} | {median(saves):.2f} | {median(colds):.2f} | {median(warms):.2f} |")


if __name__ == "__main__":
    main()

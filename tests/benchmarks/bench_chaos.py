"""Chaos and load on one study, measured (issue 18, point 11; a benchmark script, not a test).

(a) chaos: --workers sweepers (`python -m sweep.run -m search=optuna ...`, each its own session) on one
    study (PostgreSQL by default) and the MLflow server. Every uniform(10, 60) s, for --minutes, one
    victim is SIGKILLed: a sweeper (then a new sweeper starts in its place) or the process running one
    of its trials (a loky worker of hydra/launcher=joblib; the sweeper goes on). Then every process left
    is SIGKILLed (the whole session: a dead host), and one clean resume (a single sweeper, the same
    command) runs to the end. Checked through Optuna and MLflow: the budget met exactly
    (sweep.search.liveness.counts), no trial RUNNING or WAITING, no run RUNNING, the parent FINISHED,
    every trial's run ended as its trial did, exactly one kept model, the best trial's, and it loads.
(b) load: --trials trials of a tiny model by --workers sweepers (trials in-process), on a journal file
    and on PostgreSQL, tracking on the MLflow server: trials per minute, storage / tracking errors in the
    workers' logs, and the MLflow server's request latency as a client sees it (a probe thread in this
    process: get_run of the parent and search_runs of the experiment, one every 0.5 s, during the load;
    the server, uvicorn under `mlflow server`, keeps no timed access log).

Needs `python -m sweep.cluster up` (root) unless --storage / --tracking name local stores; run from the
repository root (the cluster's URLs are read from outputs/cluster/cluster.json):

    python tests/benchmarks/bench_chaos.py chaos [--minutes 10] [--trials 550] [--workers 4] [--seed 0]
    python tests/benchmarks/bench_chaos.py load [--trials 500] [--workers 4] [--storages journal,postgresql]
    python tests/benchmarks/bench_chaos.py chaos --minutes 2 --trials 20 --storage journal --tracking sqlite   # no cluster
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from common import ROOT, cpu

TINY = ["model=tiny_bert", "task.train_size=64", "task.val_size=32", "task.test_size=32", "trainer.max_epochs=1"]
# storage and tracking trouble in a worker's log (a SIGKILL leaves none in its own log: it has no time to write)
ERROR_PATTERNS = {
    "Traceback": re.compile(r"^Traceback \(most recent call last\)"),
    "OperationalError": re.compile(r"OperationalError"),
    "MlflowException": re.compile(r"MlflowException|RestException"),
    "worker error": re.compile(r"worker error|the worker failed|a search slot failed"),
    "could not": re.compile(r"could not (record|remove)|failed to"),
    "trial failed": re.compile(r"trial \d+ failed:"),
}


# ------------------------------------------------------------------------------------------ stores
def stores(storage: str, tracking: str, folder: Path) -> tuple[str, str]:
    """--storage / --tracking as URLs: `cluster` = the running cluster's, `journal` / `sqlite` = a file in ``folder``."""
    cluster = None
    if "cluster" in (storage, tracking) or storage == "postgresql":
        from sweep.cluster import Cluster

        cluster = Cluster(running=True)
        if not cluster.running():
            sys.exit("the cluster does not run: python -m sweep.cluster up (or pass --storage journal --tracking sqlite)")
    storage = {"cluster": cluster and cluster.storage_url, "postgresql": cluster and cluster.storage_url,
               "journal": f"journal:{folder / 'study.log'}",
               "sqlite": f"sqlite:///{folder / 'study.db'}"}.get(storage, storage)  # fmt: skip
    tracking = {"cluster": cluster and cluster.tracking_uri, "sqlite": f"sqlite:///{folder / 'mlflow.db'}"}.get(tracking, tracking)
    return storage, tracking


def sweep_command(trials: int, study: str, experiment: str, storage: str, tracking: str, cache: Path, launcher: str) -> list[str]:
    args = [
        sys.executable, "-m", "sweep.run", "-m", "search=optuna", *TINY,
        f"search.n_trials={trials}", f"search.study_name={study}", f"search.storage={storage}",
        f"tracking.uri={tracking}", f"tracking.experiment={experiment}", "tracking.save_model=auto",
        "search.heartbeat_interval=10", "search.grace_period=60", f"paths.cache_dir={cache}",
    ]  # fmt: skip
    if launcher == "joblib":  # trials in loky worker processes (joblib runs n_jobs=1 in the sweeper itself), one at a time
        args += ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "search.n_jobs=1"]
    return args


# ------------------------------------------------------------------------------------------ processes
class Fleet:
    """Sweeper processes, each in its own session (its loky workers share its process group)."""

    def __init__(self, command: list[str], folder: Path):
        self.command, self.folder = command, folder
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
        self.env.pop("MLFLOW_TRACKING_URI", None)
        self.slots: dict[int, subprocess.Popen] = {}
        self.logs: list[Path] = []
        self.exits: list[tuple[str, int]] = []  # (log name, exit code) of sweepers that ended by themselves
        self.groups: list[int] = []  # every session started: what is left of them is killed at the end
        self.started = 0

    def start(self, slot: int) -> subprocess.Popen:
        log = self.folder / f"worker{slot}-{self.started:03d}.log"
        self.started += 1
        with open(log, "wb") as out:
            process = subprocess.Popen(self.command, cwd=self.folder, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        process.log = log
        self.slots[slot], self.logs = process, [*self.logs, log]
        self.groups.append(process.pid)
        return process

    def reap(self) -> list[int]:
        """Slots whose sweeper ended by itself (not killed here); records their exit codes."""
        ended = []
        for slot, process in list(self.slots.items()):
            if process.poll() is not None and not getattr(process, "killed", False):
                self.exits.append((process.log.name, process.returncode))
                ended.append(slot)
                del self.slots[slot]
        return ended

    def trial_processes(self, process: subprocess.Popen) -> list:
        import psutil

        try:
            children = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        out = []
        for child in children:
            try:
                if "popen_loky_posix" in " ".join(child.cmdline()):
                    out.append(child)
            except psutil.Error:
                pass
        return out

    def kill_group_leftovers(self) -> int:
        """SIGKILL every process still in a session this fleet started (orphaned loky workers included)."""
        import psutil

        left = 0
        groups = set(self.groups)
        for proc in psutil.process_iter():
            try:
                if os.getpgid(proc.pid) in groups and proc.pid != os.getpid():
                    proc.kill()
                    left += 1
            except (psutil.Error, ProcessLookupError, PermissionError):
                pass
        for process in self.slots.values():
            process.wait()
        return left

    def alive_in_group(self, pgid: int) -> list[str]:
        """What still runs in a session: the kinds of process (loky worker, resource tracker, ...)."""
        import psutil

        kinds = []
        for proc in psutil.process_iter():
            try:
                if os.getpgid(proc.pid) == pgid:
                    line = " ".join(proc.cmdline())
                    kinds.append(
                        "loky worker" if "popen_loky_posix" in line else "resource tracker" if "resource_tracker" in line else line[:60]
                    )
            except (psutil.Error, ProcessLookupError):
                pass
        return kinds

    @staticmethod
    def busiest(processes: list):
        """The loky worker running the trial: the one that used the most CPU in the next 0.3 s."""
        import psutil

        def used(proc) -> float:
            try:
                times = proc.cpu_times()
                return times.user + times.system
            except psutil.Error:
                return -1.0

        before = {proc.pid: used(proc) for proc in processes}
        time.sleep(0.3)
        return max(processes, key=lambda proc: used(proc) - before[proc.pid])


def wait_all(fleet: Fleet, deadline: float | None = None) -> None:
    while fleet.slots and (deadline is None or time.monotonic() < deadline):
        fleet.reap()
        time.sleep(0.5)


# ------------------------------------------------------------------------------------------ what the logs say
def log_errors(logs: list[Path]) -> tuple[collections.Counter, list[str]]:
    found: collections.Counter = collections.Counter()
    examples: list[str] = []
    for log in logs:
        lines = log.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            for name, pattern in ERROR_PATTERNS.items():
                if pattern.search(line):
                    found[name] += 1
                    if name == "Traceback":  # its last line names the exception
                        end = next((j for j in range(i + 1, len(lines)) if lines[j] and not lines[j].startswith((" ", "Traceback"))), i)
                        line = lines[end]
                    if len(examples) < 12 and f"{log.name}: {line.strip()[:220]}" not in examples:
                        examples.append(f"{log.name}: {line.strip()[:220]}")
    return found, examples


# ------------------------------------------------------------------------------------------ the latency probe
class Probe(threading.Thread):
    """Client-side latency of the tracking server: get_run + search_runs, one every ``every`` s."""

    def __init__(self, tracking: str, experiment: str, every: float = 0.5):
        super().__init__(daemon=True)
        self.tracking, self.experiment, self.every = tracking, experiment, every
        self.latencies: dict[str, list[float]] = {"get_run": [], "search_runs": []}
        self.errors: list[str] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking)
        experiment_id = parent = None
        while not self.stopped.wait(self.every):
            try:
                if experiment_id is None:
                    found = client.get_experiment_by_name(self.experiment)
                    experiment_id = found and found.experiment_id
                    continue
                start = time.perf_counter()
                runs = client.search_runs([experiment_id], max_results=50)
                self.latencies["search_runs"].append(time.perf_counter() - start)
                parent = parent or next((r.info.run_id for r in runs if "mlflow.parentRunId" not in r.data.tags), None)
                if parent:
                    start = time.perf_counter()
                    client.get_run(parent)
                    self.latencies["get_run"].append(time.perf_counter() - start)
            except Exception as error:
                self.errors.append(f"{type(error).__name__}: {str(error)[:200]}")

    def summary(self) -> str:
        parts = []
        for name, values in self.latencies.items():
            if values:
                values = sorted(values)
                p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
                parts.append(f"{name}: n={len(values)} p50 {statistics.median(values) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
                             f"max {values[-1] * 1000:.0f} ms")  # fmt: skip
        return "; ".join(parts) + f"; probe errors {len(self.errors)}"

    def p95_all(self) -> float | None:
        values = sorted(v for vs in self.latencies.values() for v in vs)
        return values[min(len(values) - 1, int(0.95 * len(values)))] if values else None


# ------------------------------------------------------------------------------------------ the checks
def study_report(storage: str, study_name: str, n_trials: int) -> tuple[dict, object]:
    import optuna

    from sweep.search.liveness import FAILED_BY_TRIAL, RETURNED, counts

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        path = storage[len("journal:") :]
        opened = optuna.storages.JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    else:
        opened = storage
    study = optuna.load_study(study_name=study_name, storage=opened)
    trials = study.get_trials(deepcopy=False)
    states = collections.Counter(t.state.name for t in trials)
    counted = sum(1 for t in trials if counts(t))
    fail = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    report = {
        "trials asked": len(trials),
        "states": dict(states),
        "counted": counted,
        "budget": n_trials,
        "failed, counted (the trial's own failure)": sum(1 for t in fail if counts(t)),
        "failed, returned to the budget": sum(1 for t in fail if not counts(t)),
        "returned, marked returned": sum(1 for t in fail if RETURNED in t.system_attrs),
        "failed by trial and returned": sum(1 for t in fail if t.system_attrs.get(FAILED_BY_TRIAL) and RETURNED in t.system_attrs),
        "fail reasons": collections.Counter(re.sub(r"\d+", "N", str(t.user_attrs.get("error", "?")))[:120] for t in fail),
    }
    return report, study


def tracking_report(tracking: str, experiment: str, study, n_trials: int, cache: Path, load_model: bool = True) -> tuple[dict, list[str]]:
    """What MLflow holds for the study, and the checks that failed (empty: all passed)."""
    import optuna
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], max_results=5000)
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    failures: list[str] = []
    report: dict = {
        "runs": len(runs),
        "parents": [(p.info.run_id[:8], p.info.status, p.data.tags.get("state")) for p in parents],
        "children by status": dict(collections.Counter(r.info.status for r in children)),
    }
    running = [r.info.run_id for r in runs if r.info.status == "RUNNING"]
    if running:
        failures.append(f"{len(running)} run(s) still RUNNING: {running[:5]}")
    if len(parents) != 1:
        failures.append(f"{len(parents)} parent runs, want 1")
    for parent in parents:
        if parent.info.status != "FINISHED" or parent.data.tags.get("state") != "finished":
            failures.append(f"parent {parent.info.run_id} ended {parent.info.status} / state={parent.data.tags.get('state')}")
        from sweep.tracking.orphans import record_alive, worker_records

        workers = worker_records(parent)
        still = [k for k, r in workers.items() if r.get("state") == "running"]  # a SIGKILLed worker cannot say otherwise
        alive = [k for k, r in workers.items() if record_alive(r, 60)]
        report["worker records on the parent"] = f"{len(workers)}; still 'running' {len(still)} (SIGKILLed), judged alive {len(alive)}"
        if alive:
            failures.append(f"{len(alive)} worker record(s) on the parent judged alive after every worker ended")
    # each trial against its run
    by_number = collections.defaultdict(list)
    for run in children:
        by_number[run.data.tags.get("optuna.trial")].append(run)
    expect = {"COMPLETE": {"FINISHED"}, "PRUNED": {"KILLED"}, "FAIL": {"FAILED", "KILLED"}}
    mismatched, without_run = [], []
    for trial in study.get_trials(deepcopy=False):
        run_id = trial.user_attrs.get("mlflow_run_id")
        found = [r for r in by_number.get(str(trial.number), []) if run_id is None or r.info.run_id == run_id]
        if not found:
            without_run.append(trial.number)
            continue
        for run in found:
            if run.info.status not in expect.get(trial.state.name, set()):
                mismatched.append(
                    f"trial {trial.number} {trial.state.name} / run {run.info.run_id[:8]} {run.info.status} "
                    f"state={run.data.tags.get('state')}"
                )
    extra = {n: len(rs) for n, rs in by_number.items() if len(rs) > 1}
    report["trials without a run"] = len(without_run)
    report["trial numbers with more than one run"] = len(extra)
    if mismatched:
        failures.append(f"{len(mismatched)} run(s) ended otherwise than their trial: {mismatched[:4]}")
    # kept models
    complete = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.COMPLETE])
    kept = [r for r in children if r.data.tags.get("model.kept") == "true"]
    report["kept models"] = [(r.data.tags.get("optuna.trial"), r.info.run_id[:8]) for r in kept]
    report["model.removed runs"] = sum(1 for r in children if r.data.tags.get("model.removed"))
    if complete:
        from sweep.tracking.kept_models import kept_numbers

        # the product's rule (docs/kept-models.md): the best value, on a tie the earliest trial
        best = min((t for t in complete if t.number in kept_numbers(complete, study.directions)), key=lambda t: t.number)
        best_run = best.user_attrs.get("mlflow_run_id")
        tied = sum(1 for t in complete if t.values == best.values)
        report["best trial"] = f"{best.number} value {best.value:.4f} run {best_run} ({tied} complete trial(s) tie at this value)"
        # what the summary printed and tagged as best (Optuna's study.best_trial): it must name the trial that kept its model
        named = parents[0].data.tags.get("optuna.best_trials") if len(parents) == 1 else None
        report["parent's optuna.best_trials tag; Optuna's study.best_trial"] = f"{named}; {study.best_trial.number}"
        if named is not None and named != str(best.number):
            failures.append(f"the summary names trial {named} best (tag optuna.best_trials), the kept model is trial {best.number}'s "
                            f"({tied} trials tie at {best.value:.4f})")  # fmt: skip
        if [r.info.run_id for r in kept] != [best_run]:
            failures.append(f"kept models {report['kept models']}, want only the best trial's ({best.number}, {best_run})")
        if best_run:
            names = {Path(a.path).name for a in client.list_artifacts(best_run, "model")}
            report["best run's model files"] = sorted(names)
            if "sweep_model.json" not in names:
                failures.append(f"best run {best_run} has no model/sweep_model.json")
            elif load_model:
                try:
                    from sweep.tracking.saved_models import load_saved_classifier

                    model, _, metadata = load_saved_classifier(f"runs:/{best_run}/model", tracking, cache / "bench-load")
                    report["best model loads"] = f"yes ({type(model).__name__}, {metadata.get('num_labels')} labels)"
                except Exception as error:
                    failures.append(f"best model does not load: {type(error).__name__}: {error}")
    return report, failures


def print_block(title: str, report: dict) -> None:
    print(f"\n{title}")
    for key, value in report.items():
        print(f"  {key}: {value}")


# ------------------------------------------------------------------------------------------ (a) chaos
def chaos(args) -> int:
    folder = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    cache = Path(args.cache)
    storage, tracking = stores(args.storage, args.tracking, folder)
    tag = uuid.uuid4().hex[:8]
    study, experiment = f"chaos-{tag}", f"bench-chaos-{tag}"
    command = sweep_command(args.trials, study, experiment, storage, tracking, cache, args.launcher)
    rng = random.Random(args.seed)
    print(f"CPU: {cpu()}\nfolder {folder}\nstudy {study} in {storage}; tracking {tracking}, experiment {experiment}", flush=True)
    print("command: " + " ".join(command[1:]), flush=True)
    fleet = Fleet(command, folder)
    start = time.monotonic()
    for slot in range(args.workers):
        fleet.start(slot)
    end = start + args.minutes * 60
    kills = collections.Counter()
    restarts, orphans_seen, events = 0, [], []
    while time.monotonic() < end:
        pause = rng.uniform(args.min_gap, args.max_gap)
        wake = min(end, time.monotonic() + pause)
        while time.monotonic() < wake:
            for slot in fleet.reap():  # a sweeper that ended by itself: restart it only if it failed
                rc = fleet.exits[-1][1]
                events.append(f"{time.monotonic() - start:5.0f}s worker{slot} exited rc {rc}")
                if rc != 0:
                    fleet.start(slot)
                    restarts += 1
            if not fleet.slots:
                break
            time.sleep(0.5)
        if not fleet.slots:
            print(f"every sweeper ended by itself after {time.monotonic() - start:.0f} s: the budget was met during chaos", flush=True)
            break
        if time.monotonic() >= end:
            break
        slot = rng.choice(sorted(fleet.slots))
        sweeper = fleet.slots[slot]
        trial_procs = fleet.trial_processes(sweeper)
        at = time.monotonic() - start
        if trial_procs and rng.random() < args.trial_share:
            victim = fleet.busiest(trial_procs)  # the one running the trial (killing an idle loky worker breaks the pool too)
            try:
                victim.kill()
                kills["trial process"] += 1
                events.append(f"{at:5.0f}s SIGKILL trial process {victim.pid} of worker{slot}")
            except Exception as error:
                events.append(f"{at:5.0f}s trial process {victim.pid} gone before the kill ({type(error).__name__})")
        else:
            try:
                os.kill(sweeper.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            sweeper.killed = True
            sweeper.wait()
            kills["sweeper"] += 1
            orphans_seen.append(sweeper.pid)
            events.append(f"{at:5.0f}s SIGKILL sweeper {sweeper.pid} (worker{slot}, {len(trial_procs)} trial process(es) orphaned)")
            fleet.start(slot)
            restarts += 1
        print(events[-1], flush=True)
    chaos_s = time.monotonic() - start
    # what orphaned trial processes outlived their sweeper (they share its process group)
    orphan_kinds = [fleet.alive_in_group(pgid) for pgid in orphans_seen]
    orphan_alive = sum(1 for kinds in orphan_kinds if kinds)
    orphan_what = collections.Counter(kind for kinds in orphan_kinds for kind in kinds)
    mid, _ = study_report(storage, study, args.trials)
    left = fleet.kill_group_leftovers()
    for process in fleet.slots.values():
        process.killed = True
    fleet.slots.clear()
    print(f"chaos over after {chaos_s:.0f} s; SIGKILLed the {left} process(es) left (sweepers, trial processes, orphans)", flush=True)
    print(f"study at the end of chaos: {mid['states']}, counted {mid['counted']} of {mid['budget']}", flush=True)
    # one clean resume
    resume_start = time.monotonic()
    resume = fleet.start(99)
    rc = resume.wait()
    resume_s = time.monotonic() - resume_start
    fleet.slots.clear()
    print(f"clean resume: rc {rc} in {resume_s:.0f} s ({resume.log})", flush=True)
    report, study_obj = study_report(storage, study, args.trials)
    tracked, failures = tracking_report(tracking, experiment, study_obj, args.trials, cache)
    states = report["states"]
    if report["counted"] != args.trials:
        failures.insert(0, f"budget: {report['counted']} trials count, want exactly {args.trials}")
    if states.get("RUNNING") or states.get("WAITING"):
        failures.insert(0, f"trials left RUNNING/WAITING: {states}")
    if rc != 0:
        failures.insert(0, f"the clean resume exited {rc}")
    errors, examples = log_errors(fleet.logs)
    print(f"\n=== (a) chaos: {args.workers} workers, {args.minutes:g} min, SIGKILL every uniform({args.min_gap:g}, {args.max_gap:g}) s ===")
    print(f"CPU: {cpu()}")
    print(f"storage {storage.split('@')[-1]}; tracking {tracking}; launcher {args.launcher}; study {study}")
    print(f"kills: {sum(kills.values())} ({dict(kills)}); sweepers restarted: {restarts}; sweepers started in all: {fleet.started}")
    print(f"sweepers that ended by themselves during chaos (log, rc): {fleet.exits}")
    print(
        f"processes of killed sweepers still alive when chaos ended: in {orphan_alive} of {len(orphans_seen)} killed "
        f"sweepers' groups: {dict(orphan_what)}"
    )
    print(f"process(es) SIGKILLed when chaos ended: {left}; resume {resume_s:.0f} s, rc {rc}")
    print_block("Optuna:", report)
    print_block("MLflow:", tracked)
    print(f"\nlog lines (all workers, chaos + resume): {dict(errors)}")
    for line in examples:
        print(f"  {line}")
    print("\nchecks: " + ("ALL PASS" if not failures else f"{len(failures)} FAIL"))
    for failure in failures:
        print(f"  FAIL {failure}")
    print(f"\nlogs and events kept in {folder}")
    (folder / "events.txt").write_text("\n".join(events) + "\n")
    return 1 if failures else 0


# ------------------------------------------------------------------------------------------ (b) load
def load_one(kind: str, args, cache: Path) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"bench-load-{kind}-"))
    storage, tracking = stores(kind, args.tracking, folder)
    tag = uuid.uuid4().hex[:8]
    study, experiment = f"load-{kind}-{tag}", f"bench-load-{kind}-{tag}"
    command = sweep_command(args.trials, study, experiment, storage, tracking, cache, args.launcher)
    print(f"\n[{kind}] study {study} in {storage}; {args.workers} workers; folder {folder}", flush=True)
    fleet = Fleet(command, folder)
    probe = Probe(tracking, experiment) if tracking.startswith("http") else None
    start = time.monotonic()
    for slot in range(args.workers):
        fleet.start(slot)
        time.sleep(args.stagger)
    if probe:
        probe.start()
    deadline = start + args.timeout * 60
    while fleet.slots and time.monotonic() < deadline:
        fleet.reap()
        time.sleep(0.5)
    wall = time.monotonic() - start
    timed_out = bool(fleet.slots)
    if timed_out:
        fleet.kill_group_leftovers()
    if probe:
        probe.stopped.set()
        probe.join()
    report, study_obj = study_report(storage, study, args.trials)
    tracked, failures = tracking_report(tracking, experiment, study_obj, args.trials, cache, load_model=False)
    finished = [t for t in study_obj.get_trials(deepcopy=False) if t.datetime_complete]
    span = (max(t.datetime_complete for t in finished) - min(t.datetime_start for t in finished)).total_seconds() if finished else 0
    errors, examples = log_errors(fleet.logs)
    return {
        "kind": kind, "storage": storage.split("@")[-1], "wall": wall, "timed_out": timed_out, "report": report,
        "tracked": tracked, "failures": failures, "errors": errors, "examples": examples,
        "rate": 60 * report["counted"] / wall, "span_rate": 60 * len(finished) / span if span else 0,
        "exits": collections.Counter(rc for _, rc in fleet.exits), "probe": probe.summary() if probe else "no server",
        "p95": probe.p95_all() if probe else None, "folder": folder,
    }  # fmt: skip


def load(args) -> int:
    cache = Path(args.cache)
    results = [load_one(kind, args, cache) for kind in args.storages.split(",")]
    print(
        f"\n=== (b) load: {args.trials} trials of tiny_bert (64 train rows, 1 epoch) by {args.workers} workers, "
        f"launcher {args.launcher} ==="
    )
    print(f"CPU: {cpu()}")
    print(
        "| storage | trials counted | wall s | trials/min (wall) | trials/min (first start to last end) "
        "| storage/tracking errors in logs | worker exits | MLflow p95 (client probe) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    bad = 0
    for r in results:
        errs = sum(n for k, n in r["errors"].items() if k != "trial failed")
        p95 = f"{r['p95'] * 1000:.0f} ms" if r["p95"] is not None else "-"
        print(f"| {r['kind']} ({r['storage']}) | {r['report']['counted']}/{args.trials} | {r['wall']:.0f} | {r['rate']:.1f} "
              f"| {r['span_rate']:.1f} | {errs} {dict(r['errors']) or ''} | {dict(r['exits'])} | {p95} |")  # fmt: skip
    for r in results:
        print(f"\n[{r['kind']}] states {r['report']['states']}; fail reasons {dict(r['report']['fail reasons'])}")
        print(f"  MLflow: {r['tracked']}")
        print(f"  probe: {r['probe']}")
        for line in r["examples"]:
            print(f"  log: {line}")
        failures = list(r["failures"])
        if r["report"]["counted"] != args.trials:
            failures.insert(0, f"budget: {r['report']['counted']} counted, want {args.trials}")
        if r["timed_out"]:
            failures.insert(0, f"not done within --timeout {args.timeout} min")
        print("  checks: " + ("ALL PASS" if not failures else "; ".join(f"FAIL {f}" for f in failures)))
        print(f"  logs in {r['folder']}")
        bad += bool(failures)
    return 1 if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["chaos", "load"])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--trials",
        type=int,
        default=None,
        help="the study's budget (chaos: 550, more than 4 workers finish in 10 min on 2 cores; load: 500)",
    )
    parser.add_argument("--minutes", type=float, default=10, help="chaos: how long to kill")
    parser.add_argument("--min-gap", type=float, default=10)
    parser.add_argument("--max-gap", type=float, default=60)
    parser.add_argument("--trial-share", type=float, default=0.5, help="chaos: chance a victim is a trial process, not its sweeper")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--storage", default="cluster", help="chaos: cluster (PostgreSQL) | journal | sqlite | a URL")
    parser.add_argument("--storages", default="journal,postgresql", help="load: storages in turn (journal, postgresql, sqlite)")
    parser.add_argument("--tracking", default="cluster", help="cluster (the MLflow server) | sqlite | a URI")
    parser.add_argument("--launcher", default=None, help="joblib (trials in their own process; chaos default) | basic (load default)")
    parser.add_argument("--timeout", type=float, default=30, help="load: minutes per storage before giving up")
    parser.add_argument("--stagger", type=float, default=1.0, help="load: seconds between worker starts")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "bench-chaos-cache"))
    args = parser.parse_args()
    args.trials = args.trials or (550 if args.mode == "chaos" else 500)
    args.launcher = args.launcher or ("joblib" if args.mode == "chaos" else "basic")
    sys.exit(chaos(args) if args.mode == "chaos" else load(args))


if __name__ == "__main__":
    main()

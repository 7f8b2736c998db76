"""Everything a search needs, checked up front: the plan is built (and fails) before any storage or
tracking store is touched. Built the same way by the MLflow callback and by the sweeper."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Callable

from omegaconf import DictConfig, OmegaConf

from sweep.config.errors import ConfigError
from sweep.config.schema import SearchConfig, search_config
from sweep.pipeline.outcome import RUN_METRICS, is_reported, stage_metrics
from sweep.search.space import Param, param_from_dict, param_from_override

# search.* keys that may change between runs of one study without making it another study
RUNTIME_KEYS = (
    "search.n_trials",
    "search.n_jobs",
    "search.storage",
    "search.study_name",
    "search.max_failure_rate",
    "search.heartbeat_interval",
    "search.grace_period",
    "search.confirm",  # confirming the best trials afterwards does not change what the study searches
    "search.confirm_top",
    "search.confirm_within",
    "search.patience",  # when to stop is not what is searched: change one to continue a stopped study
    "search.min_delta",
    "search.timeout",
    "search.target",
    "search.warm_start",  # where a study's first trials come from, not what it searches
    "search.warm_start_top",
)


@dataclass
class SearchPlan:
    search: SearchConfig
    study_name: str
    storage_url: str  # may hold a password: print mask_secrets(storage_url) only
    passthrough: list[str]  # overrides every trial's job gets
    choices: list[Param]  # choices over config groups or keys, sampled first
    base: dict[str, Param]
    strategy_spaces: dict[str, dict[str, Param]]
    default_strategy: str
    monitor: str
    mode: str
    first_report: int  # per mille of the budget at the base config's first validation (the pruners' scale)
    job_overrides: list[str] = field(default_factory=list)  # trainer.monitor/mode for the first metric
    save_model: str = "auto"  # tracking.save_model: auto keeps the best trial's model only
    warm_configurations: list = field(default_factory=list)  # search.warm_start: the first trials' params (warm_start.py)

    @property
    def searches_strategy(self) -> bool:
        return any(param.key == "strategy" for param in self.choices)


STRATEGY_SPACES = "search.strategy_spaces."


def plan_search(config: DictConfig, arguments: list[str], compose: Callable[[list[str]], DictConfig] | None = None) -> SearchPlan:
    """``compose(overrides)``: a config composed from the config files (and hydra.*) with those overrides alone, as
    Hydra's ``load_sweep_config`` composes; the command's plain overrides are added to them here. It checks the searched
    keys of strategies other than the default (None: those are checked trial by trial)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from sweep.pipeline.validate import validate
    from sweep.search.keys import check_searched_keys
    from sweep.search.pruners import PRUNERS
    from sweep.search.samplers import SAMPLERS
    from sweep.search.storage import check_reachable, storage_url
    from sweep.strategies import STRATEGIES
    from sweep.tracking.store import check_reachable as check_tracking
    from sweep.tracking.store import tracking_uri

    root = validate(config).root
    search = search_config(root.search)
    SAMPLERS.get(search.sampler)
    PRUNERS.get(search.pruner)
    for metric in search.metrics:
        if metric.startswith("test/"):
            raise ConfigError("search.metrics", f"'{metric}' would tune on the test set; search on val/* (test/* is reported for the best)",
                              list(search.metrics))  # fmt: skip
        sub_tasks = list(root.task.tasks or []) if root.task.kind == "multi" else []
        if not is_reported(metric, sub_tasks, root.task.type):
            per_task = ", and per sub-task of task=multi: val/<task>/acc, ..." if not sub_tasks else f", val/{sub_tasks[0]}/acc, ..."
            logged = ", ".join((*stage_metrics(root.task.type), *RUN_METRICS))
            message = f"'{metric}' is never logged by a job of task.type={root.task.type}; logged: {logged}{per_task}"
            raise ConfigError("search.metrics", message, list(search.metrics))

    overrides = OverridesParser.create().parse_overrides(arguments)
    choices: list[Param] = []
    base = {}
    for key, spec in search.space.items():
        param = param_from_dict(key, spec, "search.space")
        # a choice over a config group in YAML (search.space.model: {choices: [...]}, experiment=nightly)
        # is chosen first, as its sweep spelling is: the strategy's own space depends on it
        if param.kind == "categorical" and "." not in key:
            choices.append(param)
        else:
            base[key] = param
    passthrough, from_command_line = [], {}
    strategy_spaces = {
        name: {key: param_from_dict(key, spec, f"search.strategy_spaces.{name}") for key, spec in (space or {}).items()}
        for name, space in search.strategy_spaces.items()
    }
    for override in overrides:
        if not override.is_sweep_override():
            passthrough.append(override.input_line)
            continue
        param = param_from_override(override)
        if param.key.startswith(STRATEGY_SPACES):  # search.strategy_spaces.lora.strategy.r='choice(4,8)': that strategy's own
            name, _, key = param.key[len(STRATEGY_SPACES) :].partition(".")
            strategy_spaces.setdefault(name, {})[key] = replace(param, key=key)
        elif param.kind == "categorical" and "." not in param.key:
            choices.append(param)  # a config group (model, strategy, task, ...): chosen first
        else:
            base[param.key] = param
            from_command_line[param.key] = override.key_or_group  # as typed, for errors
    searched = [name for param in choices if param.key == "strategy" for name in param.choices]
    for key, names in (("search.strategy_spaces", list(strategy_spaces)), ("search.space.strategy", searched)):
        unknown = [name for name in names if name not in STRATEGIES]
        if unknown:
            raise ConfigError(key, f"unknown strategies {unknown}; known: {', '.join(STRATEGIES.names())}", names)

    runnable = searched or [root.strategy["name"]]
    # a trial composes the command's plain overrides with its own (Hydra's load_sweep_config starts from the config
    # files and hydra.* alone): a key only the command's model has (model=dual_encoder) is checked where it is
    with_passthrough = (lambda extra: compose([*passthrough, *extra])) if compose is not None else None
    check_searched_keys(config, base, strategy_spaces, runnable, root.strategy["name"], from_command_line, with_passthrough)

    grouped = [key for key in search.prune_within if key not in {p.key for p in choices}]
    if grouped:  # grouping by a value every trial shares, or by a float, would never group anything
        raise ConfigError("search.prune_within", f"{grouped} are not searched choices; searched: {[p.key for p in choices]}",
                          list(search.prune_within))  # fmt: skip

    grouped = [key for key in search.confirm_within if key not in {p.key for p in choices}]
    if grouped:  # as prune_within: a group must be a searched choice (model, strategy, ...)
        raise ConfigError("search.confirm_within", f"{grouped} are not searched choices; searched: {[p.key for p in choices]}",
                          list(search.confirm_within))  # fmt: skip

    launcher = str(OmegaConf.select(config, "hydra.launcher._target_", default=""))
    if search.n_jobs > 1 and launcher.endswith("BasicLauncher"):
        raise ConfigError(
            "search.n_jobs",
            "runs trials in parallel processes: add hydra/launcher=joblib (or submitit_local, sweep_slurm)",
            search.n_jobs,
        )

    monitor, mode = root.trainer.monitor, root.trainer.mode
    job_overrides = []
    first = search.metrics[0]
    if first.startswith("val/"):  # prune, stop early and keep the best weights on the objective itself
        monitor, mode = first, "max" if search.directions[0] == "maximize" else "min"
        job_overrides = [f"trainer.monitor={monitor}", f"trainer.mode={mode}"]

    name = search.study_name or derived_study_name(root, passthrough, choices, base, strategy_spaces, search)
    url = storage_url(search.storage, name, root.paths.output_dir)
    check_reachable(url)
    check_tracking(tracking_uri(root.tracking.uri, root.paths.output_dir))  # before the study or any run is touched
    validations = max(1, round(root.trainer.max_epochs / root.trainer.val_check_interval))  # as ValidationPlan counts them
    first_report = round(1000 / validations)
    plan = SearchPlan(
        search, name, url, passthrough, choices, base, strategy_spaces, root.strategy["name"], monitor, mode, first_report, job_overrides,
        root.tracking.save_model,
    )  # fmt: skip
    if search.sampler == "grid":
        grid_of(plan)  # a space the grid cannot enumerate fails now, before the storage is touched
    if search.warm_start is not None:  # a source that is missing or searched another space fails now, before the study is made
        from sweep.search.warm_start import plan_warm_start

        plan.warm_configurations = plan_warm_start(plan, tracking_uri(root.tracking.uri, root.paths.output_dir), root.paths.output_dir)
    return plan


def derived_study_name(root, passthrough, choices, base, strategy_spaces, search) -> str:
    """Same command, same study (so re-running resumes); another space or setup, another study."""
    # the launcher (hydra/launcher=joblib, hydra.*) decides where trials run, not what the study is
    fixed = sorted(arg for arg in passthrough if not arg.lstrip("+~").startswith(RUNTIME_KEYS + ("hydra",)))
    # only the spaces of strategies this search can run: a space added for another strategy (a new
    # release's default, say) must not rename, and so restart, a study already under way
    running = {root.strategy["name"]} | {str(name) for param in choices if param.key == "strategy" for name in param.choices}
    identity = json.dumps(
        [
            fixed,
            [repr(p) for p in choices],
            sorted((k, repr(p)) for k, p in base.items()),
            sorted((s, sorted((k, repr(p)) for k, p in space.items())) for s, space in strategy_spaces.items() if s in running),
            search.sampler,
            search.pruner,
            list(search.metrics),
            list(search.directions),
        ],
        default=str,
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    model = "models" if any(p.key == "model" for p in choices) else root.model.name
    strategy = "strategies" if any(p.key == "strategy" for p in choices) else root.strategy["name"]
    return f"{root.task.name}-{model}-{strategy}-{digest}"


def grid_of(plan: SearchPlan) -> dict:
    """The grid sampler's space: every parameter's values (no strategy-conditional spaces)."""
    if plan.searches_strategy and plan.strategy_spaces:
        raise ConfigError("search.sampler", "grid cannot search strategies with their own spaces; use tpe or random", "grid")
    space = {**plan.base, **plan.strategy_spaces.get(plan.default_strategy, {})}
    grid = {param.key: param.grid_values(f"search.space.{param.key}") for param in plan.choices}
    grid.update({key: param.grid_values(f"search.space.{key}") for key, param in space.items()})
    return grid

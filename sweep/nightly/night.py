"""One night, resolved and prepared before any worker starts: its date and study name, the config the
search will compose (Hydra's compose API with the user's overrides and experiment=nightly), every cell
checked, then the study created (schemas are created once, here, not by racing workers) and its cells
enqueued. Nothing is written before every check passed; bad input is a ConfigError (exit 2)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from sweep.config.errors import ConfigError
from sweep.nightly.matrix import NightlyConfig, check_same_matrix, nightly_config, top_up
from sweep.nightly.warm_start import previous_bests
from sweep.search.plan import SearchPlan

log = logging.getLogger("sweep")
EXPERIMENT = "experiment=nightly"
SET_BY_THE_NIGHT = {  # keys the night derives; a user override of them would be silently replaced
    "search.study_name": "nightly.study_prefix and nightly.date name the study",
    "search.n_trials": "the budget is cells x nightly.trials_per_cell",
}


@dataclass
class Night:
    nightly: NightlyConfig
    date: str
    study_name: str
    storage_url: str  # may hold a password: print mask_secrets(storage_url) only
    tracking_uri: str
    experiment: str  # the MLflow experiment's name
    metric: str  # the objective compared night to night: search.metrics[0]
    direction: str
    search_overrides: list[str]  # what `python -m sweep.run -m` gets
    plan: SearchPlan  # the sweeper's plan of the night's search, built (and checked) as the sweeper builds it

    @property
    def cells(self) -> list[tuple[str, str]]:
        return self.nightly.cells


def compose(overrides: list[str]) -> DictConfig:
    """The config as Hydra composes it for the search (inside ``resolve``'s one Hydra context): without the
    sweep overrides (``key=choice(a,b)``, ``key=a,b``), which the sweeper turns into searched parameters."""
    from hydra import compose as hydra_compose
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    plain = [override.input_line for override in parsed if not override.is_sweep_override()]
    return hydra_compose("config", overrides=plain, return_hydra_config=True)


def roots() -> list[Path]:
    from sweep.config.groups import CONF, zoo_dir

    return [CONF, zoo_dir()]


def resolve(user: list[str]) -> Night:
    """The night the command names, fully checked; touches no store."""
    from hydra import initialize_config_dir

    from sweep.config.groups import CONF

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return _resolve(user)


def _resolve(user: list[str]) -> Night:
    from sweep.config.groups import check_group_choices
    from sweep.pipeline.validate import validate
    from sweep.search.plan import plan_search
    from sweep.tracking.store import tracking_uri

    for arg in user:
        key = arg.split("=", 1)[0].lstrip("+~")
        if arg.startswith("-"):
            raise ConfigError("arguments", f"{arg}: only Hydra overrides (key=value); the night runs its own search with -m", arg)
        if key in SET_BY_THE_NIGHT:
            raise ConfigError(key, f"set by the night: {SET_BY_THE_NIGHT[key]}", arg.split("=", 1)[-1])
        if key == "experiment":
            raise ConfigError(
                key, "the night is experiment=nightly; change its keys instead (nightly.models=[...], ...)", arg.split("=", 1)[-1]
            )
    check_group_choices(user)
    first = compose([EXPERIMENT, *user])
    nightly = nightly_config(first.get("nightly"), roots())
    date = nightly.night()
    name = nightly.study_name(date)
    derived = [f"nightly.date={date}", f"search.study_name={name}", f"search.n_trials={nightly.n_trials}"]
    kept = [arg for arg in user if arg.split("=", 1)[0].lstrip("+~") != "nightly.date"]  # resolved in `derived`
    search_overrides = [EXPERIMENT, *kept, *derived]
    config = compose(search_overrides)
    root = validate(config).root
    for model, strategy in nightly.cells:  # a cell the family cannot run, or a model that cannot read the task
        try:
            validate(compose([*search_overrides, f"model={model}", f"strategy={strategy}"]))
        except ConfigError as error:
            raise ConfigError(
                "nightly", f"cell model={model} strategy={strategy}: {error}", f"{nightly.models} x {nightly.strategies}"
            ) from None
    # the sweeper's own checks, the searched keys of every strategy included; plan_search adds the plain overrides to what
    # it composes (as the sweeper's Hydra composes from the files and hydra.* alone): given here once, not twice
    arguments = [arg for arg in search_overrides if not arg.startswith("hydra")]
    hydra_only = [arg for arg in search_overrides if arg.startswith("hydra")]
    plan = plan_search(config, arguments, lambda extra: compose([*hydra_only, *extra]))
    search = plan.search
    return Night(
        nightly, date, name, plan.storage_url, tracking_uri(root.tracking.uri, root.paths.output_dir), root.tracking.experiment,
        search.metrics[0], search.directions[0], search_overrides, plan,
    )  # fmt: skip


def prepare(night: Night) -> tuple[int, int]:
    """Create (or load) the night's study as the sweeper will, and enqueue each cell's missing trials.
    Returns (enqueued now, trials already counted)."""
    import warnings

    import optuna

    from sweep.search.liveness import budget_lock, budget_used
    from sweep.search.storage import file_of, open_storage
    from sweep.search.study import open_study

    optuna.logging.set_verbosity(logging.WARNING)  # "A new study created ...": said in our own line
    warnings.filterwarnings("ignore", message=r".*is an experimental feature.*")  # TPE's group=True (sweep/search/samplers.py)
    plan = night.plan
    storage = open_storage(plan.storage_url)
    with budget_lock(file_of(plan.storage_url)):  # local files: no worker asks while the queue is topped up
        study = open_study(plan, storage)
        check_same_matrix(study, night.nightly)
        starts = {}
        if night.nightly.warm_start and not study.get_trials(deepcopy=False):  # a new night: start from the last one's bests
            previous, starts = previous_bests(storage, night.nightly, night.date, night.direction, plan)
            if starts:
                log.info("warm start: %d cell(s) begin with their best configuration of %s", len(starts), previous)
        added = top_up(study, night.nightly, starts)
        return added, budget_used(study)


def existing_study(night: Night):
    """The night's study, for a report only: never created here (a night no node ran is bad input)."""
    import optuna

    from sweep.search.storage import file_of, open_storage

    local = file_of(night.plan.storage_url)
    missing = ConfigError("nightly.date", f"no night {night.study_name} in search.storage: nothing to report", night.date)
    if local is not None and not local.exists():  # opening it would create it: a report writes nothing
        raise missing
    storage = open_storage(night.plan.storage_url)
    if night.study_name not in optuna.get_all_study_names(storage):
        raise missing
    return optuna.load_study(study_name=night.study_name, storage=storage)

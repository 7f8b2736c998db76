"""The docs' commands are real: every ``python -m sweep.<entry> ...`` in a ```bash block of README.md and
docs/*.md is checked as its entry point checks it before doing anything, without training or any server.

- ``sweep.run``: the group choices (also inside sweeps), then the config composed in-process with Hydra's
  compose API (``-m`` grids: every combination), validated by ``sweep.pipeline.validate.validate``; a search
  (``-m search=optuna``) goes through the sweeper's own ``plan_search`` (its spaces, samplers, metrics), and
  each ``search.space.KEY`` must name a config group or a key of the composed config;
- ``sweep.select`` / ``sweep.pretrain``: their config composed and validated (``validate_select``,
  ``validate_pretrain``); ``pretrain.save_as=<name>`` writes its zoo name into a scratch zoo, as the real command
  does, so that a later ``model=<name>`` in the docs resolves;
- ``sweep.report`` / ``sweep.nightly``: their own ``resolve`` (which touches no store);
- ``sweep.cluster``: its argument parser.

Reachability checks of the Optuna storage and the MLflow store are replaced by no-ops: a command that names a
PostgreSQL or MLflow server is checked for its keys, not for the server. Placeholders (``<run_id>``,
``<name>``, ...) are replaced by values of the right shape (PLACEHOLDERS). Also here: ``python -m sweep.run
--help`` opens with our own text, the performance suite writes its table into docs/performance.md, and the
docs' links and file paths exist.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ENTRIES = ("run", "select", "report", "nightly", "pretrain", "cluster")
FAKE_RUN = "0123456789abcdef0123456789abcdef"
# what the docs write in angle brackets, and a value of the right shape for the check
PLACEHOLDERS = {
    "<run_id>": FAKE_RUN,
    "<run id>": FAKE_RUN,
    "<study name>": "rotten_tomatoes-minilm_l6-full-0123abcd",
    "<name>": "slurm_template",  # conf/cluster/<name>.yaml: a copy of slurm_template.yaml, as the docs say
}
# commands shown in the docs that these checks cannot cover, each with its reason (none today)
SKIP: dict[str, str] = {}


@dataclass(frozen=True)
class Command:
    page: str
    line: int
    text: str  # as shown, continuation lines joined
    words: tuple[str, ...]  # as the shell splits it, placeholders filled, the comment dropped

    @property
    def entry(self) -> str:
        return self.words[2].removeprefix("sweep.")

    @property
    def args(self) -> list[str]:
        return list(self.words[3:])

    def __str__(self) -> str:
        return f"{self.page}:{self.line}"


def commands_of(text: str, page: str) -> list[Command]:
    """Every ``python -m sweep.*`` line of the page's ```bash blocks (a trailing backslash continues it)."""
    found, in_bash, pending, start = [], False, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            in_bash = line.strip() == "```bash" and not in_bash
            pending = ""
            continue
        if not in_bash:
            continue
        if not pending:
            start = number
        pending += line.rstrip().removesuffix("\\") + " " if line.rstrip().endswith("\\") else line
        if line.rstrip().endswith("\\"):
            continue
        shown, pending = " ".join(pending.split()), ""
        if not shown.startswith("python -m sweep."):
            continue
        filled = shown
        for placeholder, value in PLACEHOLDERS.items():
            filled = filled.replace(placeholder, value)
        found.append(Command(page, start, shown, tuple(shlex.split(filled, comments=True))))
    return found


def all_commands() -> list[Command]:
    return [command for page in PAGES for command in commands_of(page.read_text(), page.relative_to(ROOT).as_posix())]


COMMANDS = all_commands()


# ---- the checks, one per entry point ----------------------------------------------------------------------


def hydra_context():
    from hydra import initialize_config_dir

    return initialize_config_dir(config_dir=str(CONF), version_base="1.3")


def check_run(args: list[str]) -> None:
    from hydra import compose
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    from sweep.config.errors import ConfigError
    from sweep.config.groups import CONF as GROUPS_CONF
    from sweep.config.groups import check_group_choices, group_options
    from sweep.config.schema import is_search
    from sweep.pipeline.validate import validate
    from sweep.search.plan import plan_search

    overrides, words = [], iter(args)
    for word in words:
        if word in ("-m", "--multirun", "--help", "-h"):
            continue
        if word == "--cfg":
            assert next(words, None) in ("job", "hydra", "all"), f"--cfg takes job, hydra or all: {args}"
            continue
        assert not word.startswith("-"), f"a flag this check does not know: {word}"
        overrides.append(word)
    check_group_choices(overrides)
    parsed = OverridesParser.create().parse_overrides(overrides)
    plain = [o.input_line for o in parsed if not o.is_sweep_override()]
    sweeps = [o for o in parsed if o.is_sweep_override() and not o.key_or_group.startswith("search.space.")]
    spaces = [o for o in parsed if o.key_or_group.startswith("search.space.")]
    multirun = "-m" in args or "--multirun" in args
    assert multirun or not (sweeps or spaces), "a sweep (key=a,b or search.space.*) needs -m, or Hydra refuses it"
    with hydra_context():
        base = compose("config", overrides=plain, return_hydra_config=True)
        searching = is_search(OmegaConf.select(base, "search"))  # not only the keys every job has (search.reuse)
        assert searching or not spaces, "search.space.* needs search=optuna"
        if searching:  # what the sweeper checks before the first trial: the space, sampler, pruner, metrics
            plan_search(base, overrides)
        elif not sweeps:  # a grid's jobs are each validated below: its base alone may not be a job (a generation
            validate(base)  # task with the default encoder, when the grid sweeps over the models that can generate)
        # every job of the grid (or every value the search may choose), composed and validated
        choices = [[f"{o.key_or_group}={value}" for value in o.sweep_string_iterator()] for o in sweeps]
        if searching:
            groups = [o for o in spaces if group_options(o.key_or_group.removeprefix("search.space."), [GROUPS_CONF]) is not None]
            choices += [[f"{o.key_or_group.removeprefix('search.space.')}={value}" for value in o.sweep_string_iterator()] for o in groups]
        for combination in itertools.product(*choices):
            if combination:
                validate(compose("config", overrides=[*plain, *combination], return_hydra_config=True))
        for override in spaces:  # a searched key the jobs do not have would fail every trial
            key = override.key_or_group.removeprefix("search.space.")
            if group_options(key, [GROUPS_CONF]) is None and OmegaConf.select(base, key, default=KeyError) is KeyError:
                raise ConfigError(
                    override.key_or_group, f"the config has no key {key}: every trial would fail", override.input_line.split("=", 1)[1]
                )


def check_select(args: list[str]) -> None:
    from hydra import compose

    from sweep.config.groups import check_group_choices
    from sweep.select.select_config import validate_select

    check_group_choices(args)
    with hydra_context():
        validate_select(compose("select", overrides=args))


def check_pretrain(args: list[str]):
    from hydra import compose

    from sweep.config.groups import check_group_choices
    from sweep.pretrain.pretrain_config import validate_pretrain

    check_group_choices(args)
    with hydra_context():
        return validate_pretrain(compose("pretrain", overrides=args))


def check_report(args: list[str]) -> None:
    from sweep.report.config import resolve

    resolve(args)


def check_nightly(args: list[str]) -> None:
    from sweep.nightly.night import resolve

    resolve(args)


def check_cluster(args: list[str]) -> None:
    from sweep.cluster.__main__ import parser

    parser().parse_args(args)  # a bad command or flag exits 2


CHECKS = {"run": check_run, "select": check_select, "report": check_report, "nightly": check_nightly}
CHECKS.update(pretrain=check_pretrain, cluster=check_cluster)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    """A scratch zoo with the names the docs' ``pretrain.save_as=<name>`` commands would save."""
    from sweep.config.errors import ConfigError
    from sweep.pretrain.zoo_names import write_zoo_name

    folder = tmp_path_factory.mktemp("zoo")
    before = os.environ.get("SWEEP_ZOO_DIR")
    os.environ["SWEEP_ZOO_DIR"] = str(folder)
    for command in COMMANDS:
        names = [arg.split("=", 1)[1] for arg in command.args if arg.startswith("pretrain.save_as=")]
        if command.entry == "pretrain" and names:
            try:
                write_zoo_name(names[0], FAKE_RUN, check_pretrain(command.args))
            except ConfigError:
                pass  # that command's own test says why
    yield folder
    if before is None:
        os.environ.pop("SWEEP_ZOO_DIR", None)
    else:
        os.environ["SWEEP_ZOO_DIR"] = before


@pytest.fixture
def offline(monkeypatch, zoo):
    """No server is asked: the storage and store checks pass; ``${oc.env:PGPASSWORD}`` resolves."""
    monkeypatch.setattr("sweep.search.storage.check_reachable", lambda *args, **kwargs: None)
    monkeypatch.setattr("sweep.tracking.store.check_reachable", lambda *args, **kwargs: None)
    monkeypatch.setenv("PGPASSWORD", "not-a-password")


def check(command: Command) -> None:
    assert command.entry in CHECKS, f"{command}: unknown entry point sweep.{command.entry}; known: {', '.join(ENTRIES)}"
    CHECKS[command.entry](command.args)


@pytest.mark.parametrize("command", COMMANDS, ids=str)
def test_doc_command_is_valid(command, offline):
    if command.text in SKIP:
        pytest.skip(SKIP[command.text])
    check(command)


def test_the_docs_show_commands_of_every_entry_point():
    assert len(COMMANDS) >= 40
    assert {command.entry for command in COMMANDS} == set(ENTRIES)


@pytest.mark.parametrize(
    "text",
    [
        "python -m sweep.run optim.lrr=3e-5",  # a key no group has
        "python -m sweep.run strategy=nope",
        "python -m sweep.run -m model=minilm_l6,nope",
        "python -m sweep.run -m task=rotten_tomatoes,mnist",  # the second job: a text model on images
        "python -m sweep.run optim.lr=0",
        "python -m sweep.run -m search=optuna augment=none search.space.augment.p_mask='interval(0, 0.3)'",
        "python -m sweep.run -m search=optuna search.space.strategy='choice(full,nope)'",
        "python -m sweep.run search.space.optim.lr='interval(1e-5, 1e-3)'",  # a space without search=optuna
        "python -m sweep.run --cfgg job",
        "python -m sweep.run strategy=full,lora",  # a sweep without -m
        "python -m sweep.select scores=[nope]",
        "python -m sweep.pretrain model=minilm_l6 pretrain.objective=clm",
        "python -m sweep.report report.tolerance=-1",
        "python -m sweep.nightly nightly.models=[nope]",
        "python -m sweep.cluster upp",
    ],
)
def test_a_bad_command_fails_its_check(text, offline):
    """The checks are not vacuous: a doc showing any of these would fail the suite."""
    with pytest.raises((Exception, SystemExit)):
        check(commands_of(f"```bash\n{text}\n```\n", "planted")[0])


# ---- --help ---------------------------------------------------------------------------------------------------


def test_run_help_opens_with_what_it_does_and_lists_the_groups(tmp_path):
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "sweep.run", "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert out.startswith("python -m sweep.run [-m] [KEY=VALUE ...]: fine-tune a pretrained model"), out[:500]
    head = out[: out.index("== Configuration groups ==")]
    for text in ("python -m sweep.run -m model=", "-m search=optuna", "python -m sweep.report", "docs/", "Exit codes"):
        assert text in head, text
    assert "powered by Hydra" not in out
    groups = out[out.index("== Configuration groups ==") : out.index("== Config ==")]
    for group in ("augment", "model", "optim", "search", "strategy", "task", "tracking", "trainer"):
        options = sorted(path.stem for path in (CONF / group).glob("*.yaml"))
        assert f"{group}: {', '.join(options)}" in groups, group
    assert seconds < 15, f"--help took {seconds:.1f} s"  # about a second on an idle machine; a loaded one is slower


# ---- the performance suite's table, the docs' links and paths -----------------------------------------------


def test_the_performance_suite_writes_its_table_into_docs_performance(tmp_path):
    from tests.benchmarks import suite

    assert suite.PERFORMANCE_PAGE == ROOT / "docs" / "performance.md"
    text = suite.PERFORMANCE_PAGE.read_text()
    assert text.count(suite.README_BEGIN) == 1 and text.count(suite.README_END) == 1
    assert suite.README_BEGIN not in (ROOT / "README.md").read_text()
    page = tmp_path / "performance.md"
    page.write_text(text)
    suite.regenerate_readme(page, ["| benchmark | figure |", "|---|---|", "| planted | 1 s |"])
    new = page.read_text()
    assert "| planted | 1 s |" in new
    assert new.split(suite.README_BEGIN)[0] == text.split(suite.README_BEGIN)[0]
    assert new.split(suite.README_END)[1] == text.split(suite.README_END)[1]


def test_readme_links_every_docs_page_and_every_link_exists():
    readme = (ROOT / "README.md").read_text()
    for page in (ROOT / "docs").glob("*.md"):
        assert f"(docs/{page.name})" in readme, f"README.md does not link docs/{page.name}"
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)}: broken link {target}"


def test_every_file_path_the_docs_name_exists():
    pattern = re.compile(r"`((?:sweep|lightning_modules|hydra_plugins|tests|conf)/[\w/.]*\w/?)`")
    for page in PAGES:
        for path in pattern.findall(page.read_text()):
            assert (ROOT / path).exists(), f"{page.relative_to(ROOT)} names {path}, which does not exist"

"""Search spaces from YAML dicts and from Hydra's sweep syntax."""

import pytest

from sweep.config.errors import ConfigError
from sweep.search.space import BLOCKS, param_from_dict, param_from_override


def parse(line):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return param_from_override(OverridesParser.create().parse_override(line))


@pytest.mark.parametrize(
    "spec, kind, low, high, log",
    [
        ({"low": 1e-5, "high": 3e-4, "log": True}, "float", 1e-5, 3e-4, True),
        ({"low": 0.0, "high": 0.2}, "float", 0.0, 0.2, False),
        ({"low": 4, "high": 32}, "int", 4, 32, False),
        ({"low": 0, "high": "blocks"}, "int", 0, BLOCKS, False),
    ],
)
def test_dict_ranges(spec, kind, low, high, log):
    param = param_from_dict("k", spec, "search.space")
    assert (param.kind, param.low, param.high, param.log) == (kind, low, high, log)


def test_choices_from_dict_and_list():
    assert param_from_dict("strategy.r", {"choices": [4, 8]}, "s").choices == (4, 8)
    assert param_from_dict("strategy.r", [4, 8], "s").kind == "categorical"


@pytest.mark.parametrize(
    "line, kind, expected",
    [
        ("search.space.optim.lr=tag(log, interval(1e-5, 1e-3))", "float", (1e-5, 1e-3, True)),
        ("search.space.optim.warmup_ratio=interval(0, 0.3)", "float", (0, 0.3, False)),
        ("search.space.strategy.freeze_depth=range(0, 4)", "int", (0, 3, False)),
        ("search.space.strategy=choice(full,partial,prompt,lora)", "categorical", ("full", "partial", "prompt", "lora")),
        ("model=minilm_l6,minilm_l3", "categorical", ("minilm_l6", "minilm_l3")),
    ],
)
def test_hydra_sweep_syntax(line, kind, expected):
    param = parse(line)
    assert param.kind == kind
    got = param.choices if kind == "categorical" else (param.low, param.high, param.log)
    assert got == expected
    assert not param.key.startswith("search.space.")


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"low": 3e-4, "high": 1e-5}, "empty or inverted range"),
        ({"low": 1e-3, "high": 1e-3}, "empty or inverted range"),
        ({"low": 0.0, "high": 1.0, "log": True}, "a log range needs low > 0"),
        ({"low": 1}, "needs low and high"),
        ({"choices": []}, "choices must not be empty"),
        ({"low": 0, "high": 1, "scale": 2}, "unknown fields ['scale']"),
        ({"low": "a", "high": 1}, "bounds must be numbers"),
    ],
)
def test_bad_ranges_name_the_key(spec, message):
    with pytest.raises(ConfigError, match=r"^search\.space\.optim\.lr") as error:
        param_from_dict("optim.lr", spec, "search.space")
    assert message in str(error.value)


def test_inverted_interval_from_the_command_line():
    with pytest.raises(ConfigError, match=r"^search\.space\.optim\.lr.*empty or inverted range"):
        parse("search.space.optim.lr=interval(1e-3, 1e-5)")

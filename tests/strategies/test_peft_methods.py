"""The PEFT methods as strategies (sweep/strategies/peft_method.py): one spelling through conf/strategy/peft.yaml,
each method's own knobs and defaults, refusals, kept models that round-trip, and a conditional search space.

What each method trains, on every family, is tests/strategies/test_strategies.py's table.
"""

from __future__ import annotations

import pytest

from tests.conftest import CONF, TINY_DATA, compose

METHODS = ["lora", "prompt", "prefix", "ptuning", "ia3", "adalora", "loha", "lokr", "vera", "ln_tuning"]
FAST = ["trainer.max_steps=4", "trainer.early_stopping_patience=null", "optim.batch_size=16", "task.max_length=16", *TINY_DATA]


@pytest.mark.parametrize("method", METHODS)
def test_strategy_peft_with_a_method_is_that_methods_own_strategy(method):
    """``strategy=peft strategy.method=M`` is ``strategy=M``: the same name (tags, refusals, search), the same
    defaults of every knob and of optim.lr and weight_decay."""
    from omegaconf import OmegaConf

    from sweep.pipeline.validate import validate

    spelt = validate(compose("strategy=peft", f"strategy.method={method}"))
    alias = validate(compose(f"strategy={method}"))
    assert spelt.strategy.name == alias.strategy.name == method
    assert {**vars(spelt.strategy), "optim_of": {}} == vars(alias.strategy)
    assert (spelt.root.optim.lr, spelt.root.optim.weight_decay) == (alias.root.optim.lr, alias.root.optim.weight_decay)
    # each alias file lists exactly its method's knobs, at the defaults the schema fills in
    from sweep.strategies.peft_method import METHODS as KNOBS

    own = OmegaConf.to_container(OmegaConf.load(CONF / "strategy" / f"{method}.yaml"))["strategy"]
    assert set(own) - {"name"} == set(KNOBS[method]), method


@pytest.mark.parametrize(
    "overrides, key, says",
    [
        (["strategy=peft", "strategy.method=nope"], "strategy.method", "unknown PEFT method; known: adalora, ia3, ln_tuning"),
        (["strategy=peft", "strategy.method=ia3", "strategy.r=4"], "strategy.r", "strategy.method=ia3 does not read it"),
        (["strategy=peft", "strategy.method=vera", "strategy.use_dora=true"], "strategy.use_dora", "its keys: r, dropout"),
        (["strategy=lora", "strategy.init=nope"], "strategy.init", "default, gaussian, pissa, olora"),
        (["strategy=adalora", "strategy.target_r=12"], "strategy.target_r", "must be < strategy.r=12"),
        (["strategy=adalora", "strategy.tinit=0.5", "strategy.tfinal=0.5"], "strategy.tfinal", "no budget phase"),
        (["strategy=ptuning", "strategy.encoder_type=GRU"], "strategy.encoder_type", "MLP, LSTM"),
        (["model=tiny_vit", "task=digits", "strategy=peft", "strategy.method=prefix"], "strategy", "family vision cannot run it"),
        (["model=tiny_vit", "task=digits", "strategy=peft", "strategy.method=ptuning"], "strategy", "family vision cannot run it"),
        (["model=tiny_t5", "strategy=peft", "strategy.method=prefix"], "strategy", "family encoder_decoder cannot run it"),
    ],
)
def test_bad_knobs_and_refused_families_fail_at_compose_time(overrides, key, says):
    from sweep.config.errors import ConfigError
    from sweep.pipeline.validate import validate

    with pytest.raises(ConfigError) as error:
        validate(compose(*overrides))
    assert error.value.key == key and says in str(error.value), str(error.value)
    if key == "strategy":  # one line: the method, the family, what it can run instead
        assert "strategy.method=" in str(error.value) and "(allowed: " in str(error.value)


def test_refusals_exit_2_from_the_cli_naming_the_method(tmp_path, cache_dir):
    from tests.conftest import run_cli

    vit = ["model=tiny_vit", "task=digits", "strategy=peft", "strategy.method=prefix"]
    refused = run_cli(*vit, cwd=tmp_path, cache=cache_dir, timeout=120)
    assert refused.returncode == 2, refused.stderr[-2000:]
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith("error: strategy=prefix: family vision cannot run it: PEFT prefix tuning (strategy.method=prefix)"), line
    assert line.endswith("(allowed: adalora, bitfit, feature, full, ia3, ln_tuning, loha, lokr, lora, partial, vera)"), line
    # a model type of a family that others of it can run: refused as it is wrapped, before any run is opened
    refused = run_cli("model=tiny_gpt2", "strategy=peft", "strategy.method=loha", *TINY_DATA, cwd=tmp_path, cache=cache_dir, timeout=120)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert refused.stderr.strip().splitlines()[-1].startswith("error: strategy.method=loha: loha cannot wrap a gpt2 model")
    assert not (tmp_path / "outputs" / "mlruns").exists()


def test_bitfit_trains_the_biases_and_the_head_only(job_config):
    from sweep.pipeline.build import build

    built = build(job_config("model=tiny_bert", "strategy=bitfit", *FAST))
    trainable = [name for name, p in built.model.named_parameters() if p.requires_grad]
    assert trainable and all(name.endswith(".bias") or name.startswith("head.") for name in trainable)
    assert {"head.weight", "head.bias"} <= set(trainable)
    assert built.trainable_params == sum(p.numel() for p in built.model.parameters() if p.requires_grad)


def test_adalora_prunes_its_ranks_on_the_trainers_schedule(job_config):
    """The budget schedule runs inside Lightning's loop: ranks are pruned to target_r on average, and the pruned
    singular values are exactly zero when evaluated (and so in the kept adapter)."""
    from sweep.pipeline.build import build
    from sweep.pipeline.train import train

    adalora = ["strategy=adalora", "strategy.r=4", "strategy.target_r=2", "strategy.tinit=0", "strategy.tfinal=0.5"]
    fit = ["trainer.max_steps=8", "trainer.early_stopping_patience=null", "optim.batch_size=8", "task.max_length=16", *TINY_DATA]
    job = job_config("model=tiny_bert", *adalora, *fit)
    built = build(job)
    train(built)
    config = built.model.backbone.peft_config["default"]
    assert config.total_step == 8 and config.tfinal == 4
    kept = [sum(pattern) for pattern in config.rank_pattern.values()]
    assert sum(kept) == 2 * len(kept)  # the budget: target_r per target on average
    for name, param in built.model.backbone.base_model.model.named_parameters():  # rank_pattern's names are the base's
        if "lora_E" in name:
            mask = config.rank_pattern.get(name, config.rank_pattern.get(name.replace(".default", "")))
            assert all(float(param[i]) == 0.0 for i, keep in enumerate(mask) if not keep), name


def test_prefix_tuning_adds_no_input_positions_to_the_cost():
    """Prompt and P-tuning put virtual tokens before the input; prefix tuning puts them inside attention only."""
    from types import SimpleNamespace

    from sweep.models.generator import soft_prompt_tokens

    prompt = SimpleNamespace(is_prompt_learning=True, num_virtual_tokens=5, peft_type=SimpleNamespace(value="PROMPT_TUNING"))
    prefix = SimpleNamespace(is_prompt_learning=True, num_virtual_tokens=5, peft_type=SimpleNamespace(value="PREFIX_TUNING"))
    assert soft_prompt_tokens(SimpleNamespace(peft_config={"default": prompt})) == 5
    assert soft_prompt_tokens(SimpleNamespace(peft_config={"default": prefix})) == 0


# ------------------------------------------------------------------------------------------ kept models round-trip
KEPT = {
    "ia3": ["strategy=ia3"],
    "prefix": ["strategy=peft", "strategy.method=prefix", "strategy.num_virtual_tokens=4"],
    "ptuning": ["strategy=ptuning", "strategy.num_virtual_tokens=4", "strategy.encoder_hidden_size=16"],
    "adalora": ["strategy=adalora", "strategy.r=4", "strategy.target_r=2", "strategy.tinit=0", "strategy.tfinal=0.5"],
    "loha": ["strategy=loha", "strategy.r=4"],
    "lokr": ["strategy=lokr", "strategy.r=4"],
    "vera": ["strategy=peft", "strategy.method=vera", "strategy.r=16"],
    "ln_tuning": ["strategy=ln_tuning"],
    "bitfit": ["strategy=bitfit"],
    "dora": ["strategy=lora", "strategy.r=4", "strategy.use_dora=true"],
    "rslora": ["strategy=lora", "strategy.r=4", "strategy.use_rslora=true"],
    "pissa": ["strategy=lora", "strategy.r=4", "strategy.init=pissa"],
    "olora": ["strategy=lora", "strategy.r=4", "strategy.init=olora"],
}


@pytest.fixture(scope="module")
def kept(tmp_path_factory, cache_dir):
    """Each method trained once and kept (fp32), then its kept model evaluated alone: case -> (trained, evaluated) runs."""
    from mlflow.tracking import MlflowClient

    from sweep.pipeline.job import JobContext, run_job

    folder = tmp_path_factory.mktemp("kept")
    store = f"sqlite:///{folder}/mlflow.db"
    base = [f"paths.output_dir={folder}", f"paths.cache_dir={cache_dir}", f"tracking.uri={store}", "trainer.precision=32-true"]
    base += ["model=tiny_bert", "optim.lr=1e-2", "optim.eval_batch_size=32", *FAST]
    context = JobContext(multirun=False, parent_run_id=None, job_number=None)
    client, runs = MlflowClient(store), {}
    for case, overrides in KEPT.items():
        trained = run_job(compose(*base, *overrides, "tracking.save_model=always"), context)
        assert trained.state == "finished", (case, trained)
        again = run_job(compose(*base, "model=saved", f"model.source=runs:/{trained.run_id}/model", "trainer.fit=false"), context)
        assert again.state == "finished", (case, again)
        runs[case] = (client.get_run(trained.run_id), client.get_run(again.run_id))
    return client, runs


@pytest.mark.parametrize("case", list(KEPT))
def test_a_kept_model_of_each_method_evaluates_to_its_runs_test_metrics(kept, case):
    from pathlib import Path

    client, runs = kept
    trained, again = runs[case]
    files = {Path(a.path).name for a in client.list_artifacts(trained.info.run_id, "model")}
    assert trained.data.tags["model.kept"] == "true"
    assert ("adapter_model.safetensors" in files) == (case != "bitfit") and ("model.safetensors" in files) == (case == "bitfit")
    assert again.data.metrics["optimizer_steps"] == 0
    for metric in ("test/acc", "test/loss", "test/f1"):
        assert again.data.metrics[metric] == pytest.approx(trained.data.metrics[metric], abs=1e-6), (case, metric)
    share = trained.data.metrics["params_trainable"] / trained.data.metrics["params_total"]
    assert trained.data.metrics["params_trainable_share"] == pytest.approx(share)


# ------------------------------------------------------------------------------------------ search
def test_choice_of_methods_samples_each_methods_own_knobs_only_when_it_is_chosen(tmp_path):
    """``search.space.strategy='choice(lora,ia3,vera,...)'``: each trial composes its method's own config and
    draws only that method's space (conf/search/optuna.yaml strategy_spaces), named <method>/<key> in Optuna."""
    import optuna

    from sweep.search.plan import plan_search
    from sweep.search.worker import Worker

    methods = ["lora", "ia3", "prefix", "ptuning", "adalora", "loha", "lokr", "vera", "ln_tuning", "bitfit"]
    arguments, where = [f"search.space.strategy=choice({','.join(methods)})"], f"paths.output_dir={tmp_path}"
    # every method's searched keys are checked in the config its trials compose (sweep/search/keys.py)
    plan = plan_search(compose("search=optuna", where), arguments, compose=lambda extra: compose("search=optuna", where, *extra))
    assert set(methods) <= set(plan.strategy_spaces), sorted(set(methods) - set(plan.strategy_spaces))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    worker = Worker.__new__(Worker)
    worker.plan = plan
    seen = {}
    for _ in range(60):
        trial = study.ask()
        overrides = worker.job_overrides(trial)
        method = trial.params["strategy"]
        own = {key.split("/", 1)[1] for key in trial.params if key.startswith(f"{method}/")}
        assert own == set(plan.strategy_spaces[method]), (method, own)
        assert all(key == "strategy" or key.startswith(f"{method}/") or "/" not in key for key in trial.params)
        seen[method] = overrides
        study.tell(trial, 0.5)
    assert set(seen) == set(methods)
    assert any(o.startswith("strategy.feedforward_modules") or o.startswith("optim.lr") for o in seen["ia3"])
    assert not any(o.startswith("strategy.r=") for o in seen["ia3"]) and any(o.startswith("strategy.r=") for o in seen["vera"])

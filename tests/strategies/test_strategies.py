"""Every strategy x every model family, on tiny random models, through the job's real path (sweep.pipeline.job.run_job).

Each case trains 3 steps and must leave its frozen parameters bit-identical, change every trainable tensor,
train exactly as many parameters as the hand-written TABLE says, and end as a FINISHED MLflow run that
records them. Cases come from the registries (FAMILIES x STRATEGIES): a new family or strategy fails
here until the table has its row. A family that refuses a strategy has a table entry too: the refusal.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest
import torch

from sweep.models.families import FAMILIES, TWO_TOWER_STRATEGIES, refusals
from sweep.strategies import STRATEGIES
from tests.conftest import CONF, TINY_DATA, compose, save_classifier

VIRTUAL_TOKENS, RANK = 5, 4  # strategy.num_virtual_tokens, strategy.r
STRATEGY_OPTIONS = {
    "partial": ["strategy.freeze_depth=1"],  # of 2 blocks: the top one trains
    "prompt": [f"strategy.num_virtual_tokens={VIRTUAL_TOKENS}"],
    "lora": [f"strategy.r={RANK}"],
    # the PEFT methods of sweep/strategies/peft_method.py (more in tests/strategies/test_peft_methods.py)
    "prefix": [f"strategy.num_virtual_tokens={VIRTUAL_TOKENS}"],
    "ptuning": [f"strategy.num_virtual_tokens={VIRTUAL_TOKENS}", "strategy.encoder_hidden_size=16"],
    "adalora": [f"strategy.r={RANK}", "strategy.target_r=3"],  # its schedule prunes a few singular values, no whole layer
    "loha": [f"strategy.r={RANK}"],
    "lokr": [f"strategy.r={RANK}"],
    "vera": ["strategy.r=16"],
}
# a few short batches: 3 steps of 8 rows, one batch each of val and test
TASK_OPTIONS = {
    "text": [*TINY_DATA, "task.max_length=16"],  # rotten_tomatoes, 2 labels
    "image": ["task=digits", *TINY_DATA],  # 8x8 digits resized to 28x28, 10 labels
}


class Refused(NamedTuple):
    """A compose-time ConfigError naming ``key``, ending with the strategies the family can run instead; ``built``:
    refused as the model is wrapped, a model type of the family (known once loaded), before any run is opened."""

    key: str
    allowed: str
    built: bool = False


T5_ALLOWS = "adalora, bitfit, distill, feature, full, ia3, ln_tuning, loha, lokr, lora, partial, prompt, ptuning, vera"
VISION_ALLOWS = "adalora, bitfit, feature, full, ia3, ln_tuning, loha, lokr, lora, partial, vera"
PEFT_WEIGHTS = "adalora, ia3, ln_tuning, lora, prefix, prompt, ptuning, vera"  # what GPT-2 can run of the PEFT methods


# Trainable parameters by hand, from conf/model/tiny_*.yaml: hidden 32, 2 blocks, intermediate 64, 128
# positions; text models embed the asset:minilm_l6 vocabulary (30,522 tokens); linear layers have biases
# unless said. Head: Linear(32, labels): 32*2+2 = 66 on rotten_tomatoes, 32*10+10 = 330 on digits.
# lora: r=4 on PEFT's default attention targets, A r*in + B out*r per target, in each of the 2 blocks.
# prompt: 5 virtual tokens * 32. distill: full fine-tuning under a teacher.
TABLE: dict[str, tuple[str, dict[str, int | Refused]]] = {
    # BERT: embeddings 30,522*32 + 128*32 + 2*32 (token types) + LayerNorm 64 = 980,928;
    # block: q, k, v 3*(32*32+32) = 3,168, attention out 1,056 + LN 64, FFN 32*64+64 + 64*32+32 = 4,192, LN 64 = 8,544
    "tiny_bert": (
        "encoder",
        {
            "full": 998_082,  # 980,928 + 2*8,544 + head 66
            "partial": 8_610,  # top block 8,544 + head 66 (no final norm)
            "feature": 66,  # head
            "prompt": 226,  # 5*32 = 160 + head 66
            "lora": 1_090,  # query, value: 2 targets * 2 blocks * (4*32 + 32*4) = 1,024 + head 66
            "distill": 998_082,  # as full
            # PEFT methods, each + head 66. ia3: key, value 32 each, output.dense (attention's: 32 out; FFN's: 64 in) = 160 a block
            "ia3": 386,
            "prefix": 706,  # 5 tokens * 2 blocks * (key, value) * 32 = 640 + 66
            # ptuning: embedding 5*32 = 160 + MLP 32->16->16->32: 528 + 272 + 544 = 1,344 -> 1,504 + 66
            "ptuning": 1_570,
            "adalora": 1_106,  # query, value, r=4: A 4*32 + B 32*4 + E 4 = 260 per target, 4 targets = 1,040 + 66
            "loha": 2_114,  # query, value: 2 Hadamard factors, each A r*in + B out*r: 4 * 128 = 512 a target, 4 targets
            "lokr": 386,  # query, value: w1 (4x4 Kronecker factor) 16 + w2_a 8*4 + w2_b 4*8 = 80 a target, 4 targets = 320
            "vera": 258,  # query, value: d (r=16) + b (out 32) = 48 a target, 4 targets = 192 + 66
            "ln_tuning": 386,  # LayerNorms: embeddings 64 + 2 a block * 64 * 2 blocks = 320 + 66
            "bitfit": 674,  # biases: embeddings' LN 32 + a block 288 (q, k, v 96, out 32, LN 32, FFN 64 + 32, LN 32) * 2 = 608 + 66
        },
    ),
    # GPT-2: wte 30,522*32 = 976,704, wpe 128*32 = 4,096; block: ln_1 64, c_attn 32*96+96 = 3,168,
    # c_proj 32*32+32 = 1,056, ln_2 64, MLP (n_inner 4*32 = 128) 32*128+128 + 128*32+32 = 8,352 -> 12,704; ln_f 64
    "tiny_gpt2": (
        "decoder",
        {
            "full": 1_006_338,  # 980,800 + 2*12,704 + ln_f 64 + head 66
            "partial": 12_834,  # top block 12,704 + ln_f 64 + head 66
            "feature": 66,
            "prompt": 226,  # 160 + 66
            "lora": 1_090,  # c_attn (32 -> 96): 2 blocks * (4*32 + 96*4) = 1,024 + head 66
            "distill": 1_006_338,
            "ia3": 514,  # c_attn (keys, values: PEFT's default) 96 + mlp.c_proj (feedforward: 128 in) = 224 a block * 2 = 448 + 66
            "prefix": 706,  # 640 + 66
            "ptuning": 1_570,
            "adalora": 1_098,  # c_attn (32 -> 96), r=4: 4*32 + 96*4 + 4 = 516 a block * 2 = 1,032 + 66
            "loha": Refused("strategy.method", PEFT_WEIGHTS, built=True),  # GPT-2's Conv1D layers: PEFT's LyCORIS adapts Linear only
            "lokr": Refused("strategy.method", PEFT_WEIGHTS, built=True),
            "vera": 290,  # c_attn: d 16 + b 96 = 112 a block * 2 = 224 + 66
            "ln_tuning": 386,  # ln_1, ln_2 64 each a block * 2 = 256 + ln_f 64 = 320 + 66
            "bitfit": 802,  # ln_1 32, c_attn 96, c_proj 32, ln_2 32, c_fc 128, c_proj 32 = 352 a block * 2 + ln_f 32 = 736 + 66
        },
    ),
    # Llama: embed_tokens 976,704; block: q, k, v, o 4*32*32 = 4,096 (no bias, 2 kv heads of 16 = 32),
    # gate, up, down 3*32*64 = 6,144 (no bias), 2 RMSNorms 2*32 -> 10,304; final norm 32; rotary: no parameters
    "tiny_llama": (
        "decoder",
        {
            "full": 997_410,  # 976,704 + 2*10,304 + 32 + head 66
            "partial": 10_402,  # top block 10,304 + norm 32 + head 66
            "feature": 66,
            "prompt": 226,
            "lora": 1_090,  # q_proj, v_proj: 2*2*(4*32 + 32*4) + 66
            "distill": 997_410,
            "ia3": 322,  # k_proj, v_proj (32 out each; 2 kv heads of 16), down_proj (feedforward: 64 in) = 128 a block * 2 + 66
            "prefix": 706,  # 5 * 2 blocks * 2 * (2 kv heads * 16) = 640 + 66
            "ptuning": 1_570,
            "adalora": 1_106,  # q_proj, v_proj: 260 * 4 + 66
            "loha": 2_114,  # q_proj, v_proj: 512 * 4 + 66
            "lokr": 386,  # 80 * 4 + 66
            "vera": 258,  # 48 * 4 + 66
            "ln_tuning": 226,  # 2 RMSNorms 32 each a block * 2 = 128 + final 32 = 160 + 66
            "bitfit": 66,  # no biases anywhere (linear layers and RMSNorms): the head alone
        },
    ),
    # T5, its encoder only: shared embeddings 976,704; block: q, k, v, o 4*32*(2 heads * d_kv 16) = 4,096 (no bias),
    # LN 32, wi 32*64 + wo 64*32 = 4,096 (no bias), LN 32 -> 8,256, and block 0 also holds the relative
    # attention bias (32 buckets * 2 heads = 64) -> 8,320; final LN 32; the decoder is not part of the classifier
    "tiny_t5": (
        "encoder_decoder",
        {
            "full": 993_378,  # 976,704 + 8,320 + 8,256 + 32 + head 66
            "partial": 8_354,  # top block 8,256 (the bias lives in block 0) + final LN 32 + head 66
            "feature": 66,
            "prompt": 226,  # one transformer submodule: the encoder alone is not encoder-decoder to PEFT
            "lora": 1_090,  # q, v: 2*2*(4*32 + 32*4) + 66
            "distill": 993_378,
            "ia3": 322,  # k, v (32 out each), wo (feedforward: 64 in) = 128 a block * 2 + 66
            "prefix": Refused("strategy", T5_ALLOWS),  # the encoder alone: its attention mask does not cover the prefix
            "ptuning": 1_570,
            "adalora": 3_698,  # PEFT's T5 default: q, k, v, o, wi, wo: 4 * 260 + wi (32 -> 64) 388 + wo (64 -> 32) 388 = 1,816 a block
            "loha": 2_114,  # q, v: 512 * 4 + 66
            "lokr": 386,  # 80 * 4 + 66
            "vera": 258,  # q, v: 48 * 4 + 66
            "ln_tuning": 226,  # 2 T5LayerNorms 32 each a block * 2 + final 32 = 160 + 66
            "bitfit": 66,  # T5 has no biases: the head alone
        },
    ),
    # ViT, 28x28x1 in 7x7 patches: 16 patches + CLS; embeddings: CLS 32, positions 17*32 = 544, patch
    # Conv2d 1*7*7*32+32 = 1,600 -> 2,176; block: 2 LNs 128 + q, k, v 3,168 + out 1,056 + FFN 4,192 = 8,544; final LN 64
    "tiny_vit": (
        "vision",
        {
            "full": 19_658,  # 2,176 + 2*8,544 + 64 + head 330
            "partial": 8_938,  # top block 8,544 + final LN 64 + head 330
            "feature": 330,
            "prompt": Refused("strategy", VISION_ALLOWS),  # PEFT feeds inputs_embeds; a ViT takes pixels
            "lora": 1_354,  # q_proj, v_proj (sweep/strategies/lora.py DEFAULT_TARGETS): 2*2*(4*32 + 32*4) + head 330
            "distill": Refused("strategy", VISION_ALLOWS),  # the teacher reads text
            "ia3": 586,  # k_proj, v_proj (32 each), fc2 (feedforward: 64 in) = 128 a block * 2 = 256 + head 330
            "prefix": Refused("strategy", VISION_ALLOWS),  # no vocabulary to size a prefix by
            "ptuning": Refused("strategy", VISION_ALLOWS),  # as prompt
            "adalora": 1_370,  # q_proj, v_proj: 260 * 4 = 1,040 + 330
            "loha": 2_378,  # 512 * 4 + 330
            "lokr": 650,  # 80 * 4 + 330
            "vera": 522,  # 48 * 4 + 330
            "ln_tuning": 650,  # layernorm_before/after 64 each a block * 2 = 256 + final 64 = 320 + 330
            # patch Conv2d 32, a block 2 LNs 64 + q, k, v 96 + out 32 + fc1 64 + fc2 32 = 288 * 2 = 576, final LN 32 = 640 + 330
            "bitfit": 970,
        },
    ),
}


# families of two models, tested strategy by strategy from this table's rows in their own file
COMPOSITE = {"dual_encoder": "tests/task_types/test_image_text.py (test_every_strategy_on_a_dual_encoder...)"}


def cases():
    """Every registered family (each tiny model of it) x every registered strategy."""
    for family in (name for name in FAMILIES.names() if name not in COMPOSITE):
        models = [model for model, (of, _) in TABLE.items() if of == family] or [f"no-tiny-model-of-{family}"]
        for model in models:
            for strategy in STRATEGIES.names():
                yield pytest.param(family, model, strategy, id=f"{model}-{strategy}")


def test_the_table_covers_every_registered_family_and_strategy():
    import yaml

    missing = set(FAMILIES.names()) - {family for family, _ in TABLE.values()} - set(COMPOSITE)
    assert not missing, f"families without a tiny model in the table: {sorted(missing)}"
    for model, (family, row) in TABLE.items():
        names = set(STRATEGIES.names()) - set(TWO_TOWER_STRATEGIES)  # those: refused by every family here, checked by rule
        assert set(row) == names, f"{model}: strategies {sorted(names ^ set(row))} differ"
        assert yaml.safe_load((CONF / "model" / f"{model}.yaml").read_text())["family"] == family, model


def run_count(store: str) -> int:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store)
    return len(client.search_runs([e.experiment_id for e in client.search_experiments()])) if client.search_experiments() else 0


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One MLflow store for the module: each job opens its own run in it."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, cache_dir) -> str:
    """A tiny text classifier with the task's labels, as a folder: what strategy=distill learns from."""
    return str(save_classifier(tmp_path_factory.mktemp("teacher"), ["rotten", "fresh"], cache_dir))


@pytest.mark.parametrize("family, model, strategy", cases())
def test_strategy_trains_what_it_says_and_records_its_run(request, monkeypatch, tmp_path, cache_dir, store, family, model, strategy):
    from mlflow.tracking import MlflowClient

    import sweep.pipeline.build
    from lightning_modules.objectives import Classification, Distillation
    from sweep.config.errors import ConfigError
    from sweep.pipeline.job import JobContext, run_job
    from sweep.pipeline.train import objective_for
    from sweep.pipeline.validate import validate

    expected = TABLE.get(model, (family, {}))[1].get(strategy)
    if strategy in TWO_TOWER_STRATEGIES:  # refused by every family of one model; the allowed are the family's own
        allowed = sorted(set(STRATEGIES.names()) - set(refusals(family)))
        expected = Refused("strategy", ", ".join(allowed))
    assert expected is not None, f"no table entry for {model} (family {family}) x strategy {strategy}: work it out and add it"
    overrides = [f"paths.output_dir={tmp_path}", f"paths.cache_dir={cache_dir}", f"tracking.uri={store}", "tracking.save_model=never"]
    overrides += [f"model={model}", f"strategy={strategy}", *TASK_OPTIONS[FAMILIES.get(family).modality]]
    overrides += STRATEGY_OPTIONS.get(strategy, [])
    overrides += ["trainer.max_steps=3", "trainer.max_epochs=2", "trainer.early_stopping_patience=null", "trainer.restore_best=false"]
    overrides += ["optim.lr=1e-2", "optim.warmup_ratio=0", "optim.batch_size=8", "optim.eval_batch_size=32"]
    if strategy == "distill":
        overrides.append(f"distill.teacher={request.getfixturevalue('teacher')}")
    cfg = compose(*overrides)
    if isinstance(expected, Refused):
        with pytest.raises(ConfigError) as refusal:
            if expected.built:  # passes the config check; refused as the model is wrapped, before a run is opened
                runs = run_count(store)
                validate(cfg)
                run_job(cfg, JobContext(multirun=False, parent_run_id=None, job_number=None))
            else:
                validate(cfg)
        if expected.built:
            assert run_count(store) == runs
        assert refusal.value.key == expected.key, str(refusal.value)
        assert str(refusal.value).endswith(f"(allowed: {expected.allowed})"), str(refusal.value)
        return

    # the job builds once, through the real build; we look at its model before it trains, and after
    seen = {}
    real_build = sweep.pipeline.build.build

    def build(job, sources=None):
        built = real_build(job, sources)
        seen["built"] = built
        seen["before"] = {name: p.detach().clone() for name, p in built.model.named_parameters()}
        return built

    monkeypatch.setattr(sweep.pipeline.build, "build", build)
    outcome = run_job(cfg, JobContext(multirun=False, parent_run_id=None, job_number=None))
    built, before = seen["built"], seen["before"]
    params = dict(built.model.named_parameters())
    trainable = {name for name, p in params.items() if p.requires_grad}

    assert sum(params[name].numel() for name in trainable) == built.trainable_params == expected
    assert built.total_params == sum(p.numel() for p in params.values())
    for name, old in before.items():
        if name not in trainable:
            assert torch.equal(old, params[name]), f"frozen parameter {name} changed"
    unchanged = sorted(name for name in trainable if torch.equal(before[name], params[name]))
    # every trainable tensor moves (LoRA's A only once B is non-zero, after the first step)
    assert not unchanged, unchanged[:5]

    assert outcome.state == "finished", outcome
    run = MlflowClient(store).get_run(outcome.run_id)
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert (tags["model"], tags["strategy"], tags["state"]) == (model, strategy, "finished")
    assert run.data.metrics["params_trainable"] == expected
    assert run.data.metrics["params_total"] == built.total_params
    assert run.data.metrics["optimizer_steps"] == 3
    assert {"test/acc", "test/f1", "train_time_s"} <= set(run.data.metrics)
    # the student of strategy=distill trains under the teacher; no other strategy here has one
    if strategy == "distill":
        assert isinstance(objective_for(built), Distillation)
        assert tags["distill.teacher"] == request.getfixturevalue("teacher")
        assert 0.0 <= run.data.metrics["teacher_test_acc"] <= 1.0
    else:
        assert type(objective_for(built)) is Classification
        assert "distill.teacher" not in tags

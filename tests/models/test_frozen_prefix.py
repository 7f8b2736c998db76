"""The frozen prefix cache: the same logits and the same gradients as recomputing the frozen blocks, from
the second time a row is seen on without running them; refused where blocks cannot be skipped."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import TINY_DATA, compose


@pytest.fixture(autouse=True)
def empty_store():
    """Every test starts with nothing kept: the store is process-wide, and rows another test kept would be
    served, not computed, so a test of the computing path (e.g. the stale-batch regression) could not fail."""
    from sweep.models import frozen_prefix

    frozen_prefix.STORES.clear()
    yield
    frozen_prefix.STORES.clear()


def built(model: str, cache: bool):
    from sweep.pipeline.build import build
    from sweep.pipeline.validate import validate

    task = ["task=digits"] if model == "tiny_vit" else ["task.max_length=16"]
    partial = ["strategy=partial", "strategy.freeze_depth=1", f"strategy.cache_prefix={cache}"]
    job = validate(compose(f"model={model}", *partial, *TINY_DATA, *task))
    return build(job)


def prefix_of(model):
    """The FrozenPrefix installed on the model's backbone (its hooks close over it), or None."""
    from sweep.models.frozen_prefix import FrozenPrefix

    for hook in model.backbone._forward_pre_hooks.values():
        owner = getattr(hook, "__self__", None)
        if isinstance(owner, FrozenPrefix):
            return owner
    return None


def loss_and_grads(model, batch):
    model.zero_grad()
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    loss = torch.nn.functional.cross_entropy(logits, batch["labels"])
    loss.backward()
    return logits.detach(), {name: p.grad.clone() for name, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("model", ["tiny_bert", "tiny_gpt2", "tiny_llama", "minilm_l3"])
def test_served_rows_give_the_logits_and_gradients_of_the_recomputed_prefix(model):
    plain, cached = built(model, cache=False), built(model, cache=True)
    assert prefix_of(plain.model) is None and prefix_of(cached.model) is not None
    cached.model.load_state_dict(plain.model.state_dict())  # the same head (both start from one seed anyway)
    plain.model.eval(), cached.model.eval()  # dropout off: the one difference the cache makes
    batches = list(plain.loaders["train"])[:2]
    prefix = prefix_of(cached.model)
    for seen in range(2):  # first time: computed and kept; second: served, the bottom block skipped
        for batch in batches:
            want_logits, want_grads = loss_and_grads(plain.model, batch)
            got_logits, got_grads = loss_and_grads(cached.model, batch)
            torch.testing.assert_close(got_logits, want_logits, atol=1e-5, rtol=1e-4)
            assert want_grads.keys() == got_grads.keys()
            for name in want_grads:
                torch.testing.assert_close(got_grads[name], want_grads[name], atol=1e-5, rtol=1e-4, msg=name)
        rows = sum(len(batch["labels"]) for batch in batches)
        assert (prefix.hits, prefix.misses) == ((0, rows) if seen == 0 else (rows, rows))


def test_a_served_batch_does_not_run_the_frozen_blocks():
    from sweep.models.blocks import find_blocks

    run = built("tiny_bert", cache=True)
    model = run.model.eval()
    calls = []
    inside = next(find_blocks(model.backbone)[0].children())  # the block's hooks run either way; its insides only if it computes
    inside.register_forward_pre_hook(lambda *_: calls.append(1))
    batch = next(iter(run.loaders["val"]))
    with torch.no_grad():
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        assert len(calls) == 1  # new rows: the real prefix ran once, for them
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    assert len(calls) == 1  # kept: block 0 computed nothing


def test_the_block_finder_sees_every_block_compute_through_an_installed_cache():
    """Regression: with the cache installed, the depth pass (partial, layer decay, the cost estimate) went
    through the pass-throughs and placed frozen blocks' parameters wrongly."""
    from sweep.models.blocks import parameter_depths

    plain, cached = built("tiny_llama", cache=False), built("tiny_llama", cache=True)
    assert prefix_of(cached.model) is not None
    want = parameter_depths(plain.model.backbone)
    for _ in range(2):  # the second pass would find the example row kept, and skip the frozen block
        assert parameter_depths(cached.model.backbone) == want


def test_a_forward_that_raised_leaves_nothing_served_to_the_next_one():
    """Regression: a forward that raised after the batch was prepared (an interrupt, an error in a top
    block) left that batch's outputs in place, and the next new rows' prefix ran through them."""
    from sweep.models.blocks import find_blocks

    plain, cached = built("tiny_bert", cache=False), built("tiny_bert", cache=True)
    cached.model.load_state_dict(plain.model.state_dict())
    plain.model.eval(), cached.model.eval()
    first, second = list(plain.loaders["val"])[:1] + list(plain.loaders["train"])[:1]
    top = find_blocks(cached.model.backbone)[-1]
    failing = top.register_forward_hook(lambda *_: (_ for _ in ()).throw(RuntimeError("interrupted")))
    with torch.no_grad(), pytest.raises(RuntimeError, match="interrupted"):
        cached.model(input_ids=first["input_ids"], attention_mask=first["attention_mask"])
    failing.remove()
    with torch.no_grad():
        got = cached.model(input_ids=second["input_ids"], attention_mask=second["attention_mask"])
        want = plain.model(input_ids=second["input_ids"], attention_mask=second["attention_mask"])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("model", ["tiny_t5", "tiny_vit"])
def test_families_whose_blocks_cannot_be_skipped_train_uncached(model):
    assert prefix_of(built(model, cache=True).model) is None


def test_the_memory_budget_drops_the_least_recently_used_models_outputs():
    from sweep.models.frozen_prefix import _Stores

    stores = _Stores()
    stores.budget = 3 * 4 * 8  # three rows of 8 floats
    row = torch.zeros(2, 4)
    stores.get(("a",))
    assert stores.keep(("a",), b"1", row)
    stores.get(("b",))
    assert stores.keep(("b",), b"1", row) and stores.keep(("b",), b"2", row)
    assert list(stores.by_key) == [("a",), ("b",)]
    assert stores.keep(("b",), b"3", row)  # over budget: model a's outputs go, b's stay
    assert list(stores.by_key) == [("b",)] and len(stores.by_key[("b",)]) == 3
    assert not stores.keep(("b",), b"4", row)  # b alone fills the budget: the row is served, not kept


def test_the_budget_is_an_eighth_of_the_memory_of_the_device_the_outputs_live_on(monkeypatch):
    """Regression (issue 18): the budget was an eighth of host RAM (at most 2 GiB) whatever the device, so a
    small GPU on a large host was budgeted by memory it does not have. Sizes faked: no GPU needed."""
    from types import SimpleNamespace

    from sweep.models import frozen_prefix

    gib = 1 << 30
    host = SimpleNamespace(total=512 * gib)
    gpu = SimpleNamespace(total_memory=4 * gib)
    monkeypatch.setattr(frozen_prefix.os, "sysconf", lambda name: host.total if name == "SC_PHYS_PAGES" else 1)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: gpu)
    assert frozen_prefix.memory_budget(torch.device("cuda", 0)) == gib // 2  # the GPU's eighth, not the host's
    assert frozen_prefix.memory_budget("cpu") == 2 * gib  # the host's eighth, capped
    gpu.total_memory = 80 * gib
    assert frozen_prefix.memory_budget(torch.device("cuda", 0)) == 2 * gib


def test_the_store_keeps_what_the_fake_device_size_allows(monkeypatch):
    """keep() asks the size of the device the output is on (faked here: 4 KiB, so a 512-byte budget)."""
    from sweep.models import frozen_prefix

    asked = []
    monkeypatch.setattr(frozen_prefix, "device_memory", lambda device: asked.append(device) or 4096, raising=False)
    stores = frozen_prefix._Stores()
    row = torch.zeros(16, 4)  # 256 bytes
    stores.get(("a",))
    assert stores.keep(("a",), b"1", row) and stores.keep(("a",), b"2", row)
    assert not stores.keep(("a",), b"3", row), "a third row is past the fake device's budget (4 KiB / 8)"
    assert asked and all(device == row.device for device in asked)


def built_job(*overrides: str):
    from sweep.pipeline.build import build
    from sweep.pipeline.validate import validate

    return build(validate(compose("model=tiny_bert", *overrides, *TINY_DATA, "task.max_length=16")))


def kept_rows(built) -> int:
    """Run one batch through the model (filling the store) and say how many rows the store holds."""
    from sweep.models import frozen_prefix

    batch = next(iter(built.loaders["val"]))
    with torch.no_grad():
        built.model.eval()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    return sum(len(rows) for rows in frozen_prefix.STORES.by_key.values())


def test_a_job_of_another_depth_or_one_without_the_prefix_releases_the_kept_outputs():
    """Regression (issue 18): kept outputs stayed, on the model's device, through every later trial of the
    process, full and LoRA ones included. Now only those of the job being built's model and depth stay."""
    from sweep.models import frozen_prefix

    stores = frozen_prefix.STORES
    depth1 = ["strategy=partial", "strategy.freeze_depth=1"]
    rows = kept_rows(built_job(*depth1))
    assert rows > 0
    built_job(*depth1)  # the same model and depth: the next trial is served what the last one kept
    assert sum(len(kept) for kept in stores.by_key.values()) == rows
    built_job("strategy=partial", "strategy.freeze_depth=2")
    assert not stores.by_key, "a job of another depth releases the other depth's outputs"
    assert kept_rows(built_job("strategy=partial", "strategy.freeze_depth=2")) == rows
    built_job("strategy=full")
    assert not stores.by_key, "a full fine-tuning job keeps nothing of the partial trial before it"
    assert stores.job is None
    assert kept_rows(built_job(*depth1)) == rows
    built_job("strategy=lora")
    assert not stores.by_key, "nor does a LoRA job"

"""Generation task types (seq2seq, causal_lm): the rows as the model reads them, checked by hand; the loss and
its distillation against hand-computed values; the metrics against torchmetrics' own functions; bad input."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sweep.config.errors import ConfigError
from sweep.config.schema import TaskConfig

IGNORE = -100


@pytest.fixture(scope="module")
def tokenizer(cache_dir):
    from transformers import AutoTokenizer

    from sweep.zoo.loader import resolve_source

    return AutoTokenizer.from_pretrained(resolve_source("asset:minilm_l6", "model.tokenizer", cache_dir))


def task(kind: str = "causal_lm", **keys) -> TaskConfig:
    from sweep.config.schema import GenerateConfig

    if "generate" in keys:
        keys["generate"] = GenerateConfig(**keys["generate"])
    return TaskConfig(name="t", kind="csv", type=kind, **{"max_length": 16, "max_target_length": 6, **keys})


def rows(sources: list[str], targets: list[str]):
    labels = np.empty(len(targets), dtype=object)
    labels[:] = targets
    return SimpleNamespace(inputs=sources, labels=labels)


def pieces(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_a_decoder_reads_prompt_and_response_and_learns_the_response_and_its_end_alone(tokenizer):
    from sweep.data.generation_tokens import tokenize_generation

    split, hit = tokenize_generation(rows(["where is the cat", "hi"], ["on the mat", "hello there"]), tokenizer, task(), True, None, "t")
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id  # a BERT tokenizer: [CLS] opens a text, [SEP] ends one
    prompt, response = [cls, *pieces(tokenizer, "where is the cat"), sep], [*pieces(tokenizer, "on the mat"), sep]
    assert not hit and split.row(0).tolist() == prompt + response
    assert split.row_labels(0).tolist() == [IGNORE] * len(prompt) + response  # the prompt and its separator: never learnt
    assert not split.sequence_targets


def test_an_encoder_decoder_reads_the_source_and_learns_the_target_cut_to_its_length(tokenizer):
    from sweep.data.generation_tokens import tokenize_generation

    long_target = "one two three four five six seven eight"
    split, _ = tokenize_generation(rows(["a source text"], [long_target]), tokenizer, task("seq2seq"), False, None, "t")
    assert split.row(0).tolist() == tokenizer("a source text")["input_ids"]  # the tokenizer's own specials
    assert split.sequence_targets and split.labels[0].tolist() == pieces(tokenizer, long_target)[:5] + [tokenizer.sep_token_id]


def test_a_chat_template_lays_out_the_prompt_and_every_token_of_it_is_masked(tokenizer):
    from sweep.data.generation_tokens import tokenize_generation

    chat = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    chat.chat_template = (
        "{% for m in messages %}user says {{ m['content'] }} ;{% endfor %}{% if add_generation_prompt %} bot says{% endif %}"
    )
    split, _ = tokenize_generation(rows(["why"], ["because"]), chat, task(), True, None, "t")
    prompt = pieces(chat, "user says") + pieces(chat, "why") + pieces(chat, "; bot says")
    assert split.row(0).tolist() == prompt + pieces(chat, "because") + [chat.sep_token_id]
    assert split.row_labels(0).tolist() == [IGNORE] * len(prompt) + pieces(chat, "because") + [chat.sep_token_id]
    never = task(generate={"chat_template": "never"})
    plain, _ = tokenize_generation(rows(["why"], ["because"]), chat, never, True, None, "t")
    assert plain.row(0).tolist()[0] == chat.cls_token_id  # without it: [CLS] prompt [SEP] response [SEP]
    with pytest.raises(ConfigError, match="task.generate.chat_template"):
        tokenize_generation(rows(["why"], ["because"]), tokenizer, task(generate={"chat_template": "always"}), True, None, "t")


def test_rows_come_back_from_the_cache_as_they_were_made(tokenizer, tmp_path):
    from sweep.data.generation_tokens import tokenize_generation

    for decoder in (True, False):
        data = rows(["a b c", "d e"], ["x y", "z"])
        first, hit = tokenize_generation(data, tokenizer, task(), decoder, tmp_path, "t")
        again, hit_again = tokenize_generation(data, tokenizer, task(), decoder, tmp_path, "t")
        assert (hit, hit_again) == (False, True)
        for i in range(2):
            assert again.row(i).tolist() == first.row(i).tolist()
            targets = (again.row_labels(i), first.row_labels(i)) if decoder else (again.labels[i], first.labels[i])
            assert targets[0].tolist() == targets[1].tolist()


def test_batches_pad_targets_with_ignore_whatever_the_pad_token(tokenizer):
    """A decoder's pad is often its eos: padding is told by position, never by token id."""
    from sweep.data.generation_tokens import tokenize_generation
    from sweep.data.loaders import eval_loader

    for decoder in (True, False):
        split, _ = tokenize_generation(rows(["a b c d e f", "g"], ["x", "y z w"]), tokenizer, task(), decoder, None, "t")
        (batch,) = eval_loader(split, 8, pad_id=tokenizer.sep_token_id)  # pad == the end token
        for row, labels in zip(sorted(range(2), key=lambda i: split.lengths[i]), batch["labels"]):
            expected = split.row_labels(row) if decoder else split.labels[row]
            assert labels[labels != IGNORE].tolist() == [t for t in expected.tolist() if t != IGNORE]
            assert (labels[len(expected) :] == IGNORE).all()


def tiny_generator(kind: str, vocab: int):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    from sweep.models.generator import Generator

    torch.manual_seed(0)
    if kind == "decoder":
        config = AutoConfig.for_model("gpt2", vocab_size=vocab, n_embd=16, n_layer=1, n_head=2, n_positions=64)
        return Generator(AutoModelForCausalLM.from_config(config)).eval()
    config = AutoConfig.for_model("t5", vocab_size=vocab, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_decoder_layers=1, num_heads=2)
    config.decoder_start_token_id = 0
    return Generator(AutoModelForSeq2SeqLM.from_config(config)).eval()


def test_the_teacher_forced_loss_is_cross_entropy_over_the_target_positions_alone():
    from lightning_modules.generation import TextGeneration

    generator = tiny_generator("decoder", 50)
    batch = {"input_ids": torch.tensor([[5, 6, 7, 8, 9]]), "attention_mask": torch.ones(1, 5, dtype=torch.long)}
    batch["labels"] = torch.tensor([[IGNORE, IGNORE, IGNORE, 8, 9]])  # prompt 5 6 7, response 8 9
    logits, labels = generator.aligned(batch)
    full = generator.backbone(**{k: batch[k] for k in ("input_ids", "attention_mask")}).logits
    by_hand = (F.cross_entropy(full[0, 2:3], torch.tensor([8])) + F.cross_entropy(full[0, 3:4], torch.tensor([9]))) / 2
    objective = TextGeneration(("rouge",))
    assert torch.allclose(objective.loss(logits, {"labels": labels}, "val"), by_hand, atol=1e-6)
    perplexity = objective.compute("val")["val/perplexity"]
    assert abs(float(perplexity) - float(by_hand.exp())) < 1e-4


def test_an_encoder_decoder_is_taught_its_target_shifted_right_from_the_start_token():
    from sweep.models.generator import shift_right

    generator = tiny_generator("encoder_decoder", 40)
    labels = torch.tensor([[11, 12, 13], [14, IGNORE, IGNORE]])
    assert shift_right(labels, generator.backbone.config).tolist() == [[0, 11, 12], [0, 14, 0]]
    batch = {"input_ids": torch.tensor([[3, 4], [5, 6]]), "attention_mask": torch.ones(2, 2, dtype=torch.long), "labels": labels}
    logits, aligned = generator.aligned(batch)
    assert logits.shape[:2] == labels.shape and aligned is labels


def test_token_distillation_matches_its_hand_computed_value_over_a_target_sequence():
    from lightning_modules.generation import token_distillation_loss

    torch.manual_seed(0)
    vocab, alpha, t = 7, 0.3, 2.0
    student = torch.randn(2, 5, vocab)
    labels = torch.tensor([[IGNORE, IGNORE, 3, 4, 1], [IGNORE, 2, 5, IGNORE, IGNORE]])  # targets start mid-row
    teacher_full = torch.randn(2, 3, vocab)  # row 0: 3 targets, row 1: 2 (its third slot is padding)
    order = teacher_full.argsort(-1, descending=True)  # every token kept (k = V): the KL is the exact one
    loss, hard = token_distillation_loss(student, labels, order, teacher_full.gather(-1, order), alpha, t)
    positions = [(0, 2, 0), (0, 3, 1), (0, 4, 2), (1, 1, 0), (1, 2, 1)]  # (row, student position, teacher slot)
    ce = sum(F.cross_entropy(student[r, p], labels[r, p]) for r, p, _ in positions) / len(positions)
    kl = sum(
        F.kl_div(F.log_softmax(student[r, p] / t, -1), F.log_softmax(teacher_full[r, s] / t, -1), reduction="sum", log_target=True)
        for r, p, s in positions
    ) / len(positions)
    assert torch.allclose(hard, ce, atol=1e-6)
    assert torch.allclose(loss, alpha * ce + (1 - alpha) * t**2 * kl, atol=1e-5)


def test_generated_text_metrics_are_torchmetrics_own_over_every_batch():
    from torchmetrics.functional.text import chrf_score, rouge_score, sacre_bleu_score

    from lightning_modules.generation import TextGeneration

    predictions = ["the cat sat on the mat", "a dog ran", "free software for editing images", "hello"]
    references = ["the cat is on the mat", "the dog ran away", "image editor for the desktop", "hello"]
    objective = TextGeneration(("rouge", "bleu", "chrf", "exact_match"))
    objective.update_texts("test", predictions[:2], references[:2])  # two batches, one corpus
    objective.update_texts("test", predictions[2:], references[2:])
    got = objective.compute("test")
    rouge = rouge_score(predictions, references, rouge_keys=("rouge1", "rouge2", "rougeL"))
    for key in ("rouge1", "rouge2", "rougeL"):
        assert float(got[f"test/{key}"]) == pytest.approx(float(rouge[f"{key}_fmeasure"]), abs=1e-6)
    assert float(got["test/bleu"]) == pytest.approx(float(sacre_bleu_score(predictions, [[r] for r in references])), abs=1e-6)
    assert float(got["test/chrf"]) == pytest.approx(float(chrf_score(predictions, [[r] for r in references])), abs=1e-6)
    assert float(got["test/exact_match"]) == 0.25  # "hello" alone
    objective.reset("test")
    assert objective.compute("test") == {}


def test_generation_starts_from_each_prompt_left_padded_and_counts_what_it_wrote(tokenizer):
    from lightning_modules.generation import GenerationModule, TextGeneration, generated_lengths, padded
    from sweep.config.schema import GenerateConfig

    generator = tiny_generator("decoder", len(tokenizer))
    module = GenerationModule(
        generator, TextGeneration(("rouge",)), [], None, tokenizer, GenerateConfig(val_rows=1), eos_id=102, pad_id=tokenizer.pad_token_id
    )
    batch = {
        "input_ids": torch.tensor([[101, 7, 8, 102, 20, 102], [101, 9, 102, 21, 22, 102]]),
        "attention_mask": torch.ones(2, 6, dtype=torch.long),
        "labels": torch.tensor([[IGNORE] * 4 + [20, 102], [IGNORE] * 3 + [21, 22, 102]]),
        "row": torch.tensor([1, 0]),
    }
    module.row_limit = 1  # an intermediate validation: the split's first row alone
    module.collect(batch, "val")
    ((prompt, reference, row, task, example),) = module.pending["val"]
    assert (prompt.tolist(), reference.tolist(), row, task, example) == ([101, 9, 102], [21, 22, 102], 0, 0, None)  # no example ids
    module.row_limit = None
    module.collect(batch, "test")
    prompts, mask = padded([prompt for prompt, *_ in module.pending["test"]], tokenizer.pad_token_id, left=True)
    pad = tokenizer.pad_token_id
    assert prompts.tolist() == [[101, 7, 8, 102], [pad, 101, 9, 102]] and mask.tolist() == [[1, 1, 1, 1], [0, 1, 1, 1]]
    assert generated_lengths(torch.tensor([[5, 102, 0, 0], [5, 6, 7, 8]]), 102).tolist() == [2, 4]
    # batched as generated alone: left padding and its position ids change nothing
    alone = generator.generate(prompts[1:, 1:], mask[1:, 1:], max_new_tokens=4, do_sample=False, pad_token_id=pad, eos_token_id=102)
    batched = generator.generate(prompts, mask, max_new_tokens=4, do_sample=False, pad_token_id=pad, eos_token_id=102)
    assert batched[1, : alone.size(1)].tolist() == alone[0].tolist()


def test_a_decoder_whose_positions_cannot_hold_prompt_response_and_generation_is_refused(tokenizer):
    from sweep.data.generation_tokens import tokenize_generation
    from sweep.models.generator import check_positions

    generator = tiny_generator("decoder", len(tokenizer))  # 64 positions
    long = task(max_length=40, max_target_length=20, generate={"max_new_tokens": 30})
    split, _ = tokenize_generation(rows([" ".join(["word"] * 50)], ["an answer"]), tokenizer, long, True, None, "t")
    with pytest.raises(ConfigError, match="task.max_length=40: .*reads at most 64 positions"):
        check_positions(generator.backbone, {"train": split}, long)
    check_positions(generator.backbone, {"train": split}, task(max_length=40, max_target_length=20, generate={"max_new_tokens": 8}))


@pytest.mark.parametrize(
    ("overrides", "key", "says"),
    [
        (["task.type=seq2seq", "model=tiny_bert"], "model", "cannot generate text"),
        (["task.type=causal_lm", "model=tiny_t5"], "model", "not a decoder"),
        (["task.type=seq2seq", "model=tiny_t5", "strategy=feature"], "strategy", "cannot write text"),
        (["task.type=seq2seq", "model=tiny_gpt2", "augment=tokens"], "augment", "rewrite the target"),
        (["task.type=causal_lm", "model=tiny_gpt2", "augment=tokens"], "augment", "rewrite the response"),
        (["task.type=seq2seq", "model=tiny_t5", "task.generate.num_beams=0"], "task.generate.num_beams", "must be in"),
        (["task.type=causal_lm", "model=tiny_gpt2", "task.generate.chat_template=maybe"], "task.generate.chat_template", "auto"),
    ],
)
def test_bad_generation_settings_fail_at_compose_time_naming_the_key(job_config, tmp_path, overrides, key, says):
    (tmp_path / "pairs.csv").write_text("source,target\na,b\n")
    with pytest.raises(ConfigError) as error:
        job_config("task=csv", f"task.path={tmp_path / 'pairs.csv'}", *overrides)
    assert error.value.key == key and says in str(error.value)


def test_a_missing_column_or_an_empty_target_is_a_one_line_error(tmp_path):
    from sweep.data.tasks import load_splits

    path = tmp_path / "news.csv"
    path.write_text("article,summary\n" + "".join(f"text {i},title {i}\n" for i in range(20)) + "text 20,\n")
    with pytest.raises(ConfigError) as error:
        load_splits(task("seq2seq", path=str(path), source_column="article", target_column="headline"))
    assert error.value.key == "task.target_column" and "columns: article, summary" in str(error.value)
    (tmp_path / "blank.csv").write_text("article,summary\na,b\nc,   \n")
    with pytest.raises(ConfigError) as error:
        load_splits(task("seq2seq", path=str(tmp_path / "blank.csv"), source_column="article", target_column="summary"))
    assert error.value.key == "task.target_column" and "1 of 2 rows have an empty target (first: row 2)" in str(error.value)
    pairs = load_splits(task("seq2seq", path=str(path), source_column="article", target_column="summary"))  # a missing target: no row
    assert len(pairs.train) + len(pairs.val) + len(pairs.test) == 20 and pairs.train.labels[0].startswith("title")


def test_select_refuses_a_generation_task_and_says_what_to_do_instead():
    from hydra import compose, initialize_config_dir

    from sweep.select.select_config import validate_select
    from tests.conftest import CONF

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("select", overrides=["task=chatterbot_qa"])
    with pytest.raises(ConfigError) as error:
        validate_select(cfg)
    assert error.value.key == "task" and "writes text" in str(error.value) and "sweep.report" in str(error.value)


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_a_prompt_tuned_decoder_generates_after_its_soft_prompt_once_batched_or_alone(kind):
    """peft 0.21.2's own generate() put the virtual tokens in again at every step: GPT-2's positions overflowed."""
    from peft import PromptTuningConfig, TaskType, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    from sweep.models.generator import Generator

    torch.manual_seed(0)
    sizes = {"gpt2": {"n_embd": 16, "n_layer": 1, "n_head": 2, "n_positions": 32}, "llama": {"hidden_size": 16, "num_hidden_layers": 1,
             "num_attention_heads": 2, "num_key_value_heads": 2, "intermediate_size": 32}}[kind]  # fmt: skip
    peft = get_peft_model(AutoModelForCausalLM.from_config(AutoConfig.for_model(kind, vocab_size=100, **sizes)), PromptTuningConfig(
        task_type=TaskType.CAUSAL_LM, num_virtual_tokens=5))  # fmt: skip
    with torch.no_grad():
        peft.prompt_encoder.default.embedding.weight.normal_()
    generator = Generator(peft).eval()
    options = {"max_new_tokens": 20, "do_sample": False, "pad_token_id": 0, "eos_token_id": 99}  # 5 + 5 + 20 < 32 positions
    ids, mask = torch.tensor([[0, 0, 5, 6, 7], [1, 2, 3, 4, 5]]), torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    batched, alone = generator.generate(ids, mask, **options), generator.generate(ids[:1, 2:], mask[:1, 2:], **options)
    assert batched[0].tolist() == alone[0].tolist()
    with torch.no_grad():  # the first token is what the trained forward pass (soft prompt, then the prompt) predicts
        logits = generator(torch.tensor([[5, 6, 7]]), torch.ones(1, 3, dtype=torch.long))
    assert alone[0, 0].item() == logits[0, -1].argmax().item()


def test_several_generation_sub_tasks_are_scored_each_and_on_average():
    from torchmetrics.functional.text import rouge_score

    from lightning_modules.generation import TextGeneration
    from sweep.pipeline.build import place_in_task

    predictions, references = ["a b c", "x y", "a b", "z"], ["a b d", "x y", "b a", "q"]
    tasks = [0, 1, 0, 1]
    objective = TextGeneration(("rouge", "exact_match"), task_names=["summaries", "answers"])
    objective.update_texts("val", predictions, references, tasks)
    got = objective.compute("val")
    for part, name in enumerate(["summaries", "answers"]):
        mine = [i for i, task in enumerate(tasks) if task == part]
        expected = rouge_score([predictions[i] for i in mine], [references[i] for i in mine], rouge_keys="rougeL")["rougeL_fmeasure"]
        assert float(got[f"val/{name}/rougeL"]) == pytest.approx(float(expected), abs=1e-6)
    assert float(got["val/rougeL"]) == pytest.approx((float(got["val/summaries/rougeL"]) + float(got["val/answers/rougeL"])) / 2)
    assert float(got["val/answers/exact_match"]) == 0.5 and float(got["val/exact_match"]) == 0.25
    # an intermediate validation generates the first rows of every sub-task, not the first sub-task's alone
    assert place_in_task(np.array([0, 0, 0, 1, 1]), 5).tolist() == [0, 1, 2, 0, 1]


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (["task.type=seq2seq", "task.tasks=[debian_synopsis,rotten_tomatoes]"], "'rotten_tomatoes' is task.type=classification"),
        (["task.tasks=[rotten_tomatoes,chatterbot_qa]"], "(generation sub-tasks: task.type=causal_lm on the multi config)"),
        (["task.type=regression"], "set seq2seq or causal_lm"),
    ],
)
def test_multi_task_generation_stacks_generation_sub_tasks_only(job_config, overrides, says):
    with pytest.raises(ConfigError) as error:
        job_config("task=multi", "model=tiny_t5", *overrides)
    assert says in str(error.value)


def test_an_encoder_decoder_counts_only_the_tokens_it_generated():
    """Its output starts with the decoder start token, which generated_tokens and tokens_per_s counted (one per row)."""
    generator = tiny_generator("encoder_decoder", 40)
    out = generator.generate(torch.tensor([[3, 4, 5]]), torch.ones(1, 3, dtype=torch.long), max_new_tokens=5, min_new_tokens=5,
                             do_sample=False, pad_token_id=0, eos_token_id=39)  # fmt: skip
    assert out.shape == (1, 5)

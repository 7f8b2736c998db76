"""Multi-label, regression and token objectives: losses and metrics against values computed by hand, float64 exact."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lightning_modules.multilabel import GRID, MultiLabel
from lightning_modules.regression import Regression, standardise_scale
from lightning_modules.token_labels import TokenClassification, TokenDistillation

LN2, LN3 = math.log(2), math.log(3)


def floats(metrics: dict[str, torch.Tensor]) -> dict[str, float]:
    return {name: value.item() for name, value in metrics.items()}


# ---------------------------------------------------------------- multi-label


def test_multilabel_bce_matches_hand_value_in_float32():
    # sigmoid(0) = 1/2, sigmoid(ln3) = 3/4, sigmoid(-ln3) = 1/4
    logits = torch.tensor([[0.0, LN3, -LN3], [LN3, 0.0, -LN3]])
    labels = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    # row 0: -ln(1/2) - ln(3/4) - ln(1 - 1/4) = ln2 + 2 ln(4/3); row 1: -ln(1 - 3/4) - ln(1 - 1/2) - ln(1/4) = 5 ln2
    # sum = ln2 + 2 (2 ln2 - ln3) + 5 ln2 = 10 ln2 - 2 ln3, mean over the 6 entries
    expected = (10 * LN2 - 2 * LN3) / 6
    loss = MultiLabel(["a", "b", "c"]).loss(logits.bfloat16(), {"labels": labels}, "train")
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(expected, rel=1e-2)  # bf16 logits: ln3 rounded to 8 bits
    assert MultiLabel(["a", "b", "c"]).loss(logits, {"labels": labels}, "train").item() == pytest.approx(expected, rel=1e-6)


# probabilities of a, b, c for 4 validation rows; c is never gold and never above any threshold >= 0.05
VAL_PROBS = [[0.62, 0.32, 0.02], [0.72, 0.12, 0.02], [0.22, 0.82, 0.02], [0.42, 0.02, 0.02]]
VAL_GOLD = [[1, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]]


def batch_of(probs, gold):
    return torch.logit(torch.tensor(probs, dtype=torch.float64)).float(), {"labels": torch.tensor(gold, dtype=torch.float32)}


def test_threshold_search_picks_the_best_micro_f1_nearest_half_and_reports_there():
    # t in [0.22, 0.32): a predicted .62 .72 .42 (tp 2, fp 1); b .32 .82 (tp 2)      -> 2*4 / (2*4 + 1 + 0) = 8/9
    # t in [0.32, 0.42): a tp 2 fp 1; b .82 only (tp 1, fn 1)                         -> 6/8
    # t in [0.42, 0.62): a tp 2; b tp 1 fn 1                                          -> 6/7 < 8/9
    # t in [0.12, 0.22): a also .22 (fp 2)                                            -> 8/10
    # so 0.25 and 0.30 tie at 8/9: the one nearer 0.5 wins, 0.30
    objective = MultiLabel(["a", "b", "c"])
    logits, batch = batch_of(VAL_PROBS, VAL_GOLD)
    objective.update(logits, batch, "val")
    metrics = objective.compute("val")
    assert metrics["val/threshold"].item() == 0.3 == objective.threshold
    assert metrics["val/f1_micro"].item() == float(8) / float(9)
    # at 0.30: a tp 2 fp 1 -> 4/5; b tp 2 -> 1; c no gold, no predicted -> 0 (torchmetrics' zero_division=0)
    assert metrics["val/f1/a"].item() == 0.8 and metrics["val/f1/b"].item() == 1.0 and metrics["val/f1/c"].item() == 0.0
    assert metrics["val/f1_macro"].item() == (0.8 + 1.0 + 0.0) / 3  # c counted in the mean, as torchmetrics does
    assert all(value.dtype == torch.float64 for value in metrics.values())
    assert set(metrics) == {"val/f1_micro", "val/f1_macro", "val/f1/a", "val/f1/b", "val/f1/c", "val/threshold"}

    from torchmetrics.classification import MultilabelF1Score

    for average in ("micro", "macro"):
        reference = MultilabelF1Score(3, threshold=0.3, average=average)(torch.sigmoid(logits), batch["labels"].long())
        assert metrics[f"val/f1_{average}"].item() == pytest.approx(reference.item(), rel=1e-6)


def test_ties_at_zero_choose_half_and_train_before_validation_uses_half():
    objective = MultiLabel(["a"])
    objective.update(*batch_of([[0.7]], [[1]]), "train")
    metrics = objective.compute("train")
    assert metrics["train/threshold"].item() == 0.5 and metrics["train/f1_micro"].item() == 1.0
    # nothing gold, nothing above .95 either: every grid value scores 0 (0/0), the tie goes to 0.5
    objective.update(*batch_of([[0.01]], [[0]]), "val")
    assert objective.compute("val")["val/threshold"].item() == 0.5


def test_test_uses_the_validation_threshold_without_searching():
    objective = MultiLabel(["a", "b", "c"])
    objective.update(*batch_of(VAL_PROBS, VAL_GOLD), "val")
    objective.compute("val")  # -> 0.30
    # test: a .35 not gold, b .72 gold. At 0.30 a is a false positive: tp 1, fp 1 -> 2/(2+1) = 2/3
    # (0.40 would give 1.0: a search on test would have found it)
    objective.update(*batch_of([[0.35, 0.72, 0.02]], [[0, 1, 0]]), "test")
    metrics = objective.compute("test")
    assert metrics["test/threshold"].item() == 0.3
    assert metrics["test/f1_micro"].item() == float(2) / float(3)
    assert objective.threshold == 0.3  # test did not move it


def test_adopt_takes_the_threshold_logged_at_the_best_step():
    objective = MultiLabel(["a", "b", "c"])
    objective.adopt({"val/f1_micro": 0.9, "val/threshold": 0.55})
    assert objective.threshold == 0.55
    objective.adopt({"val/f1_micro": 0.9})  # no threshold logged: keep the current one
    assert objective.threshold == 0.55
    objective.adopt({"val/threshold": float(np.float32(0.15))})  # read back as float32: the grid value it stands for
    assert objective.threshold == GRID[2] == 0.15
    objective.update(*batch_of([[0.35, 0.72, 0.02]], [[0, 1, 0]]), "test")
    assert objective.compute("test")["test/threshold"].item() == 0.15
    with pytest.raises(ValueError):
        objective.adopt({"val/threshold": 0.123})


def test_multilabel_counts_sum_over_updates_as_over_ranks():
    whole, split = MultiLabel(["a", "b", "c"]), MultiLabel(["a", "b", "c"])
    whole.update(*batch_of(VAL_PROBS, VAL_GOLD), "val")
    split.update(*batch_of(VAL_PROBS[:1], VAL_GOLD[:1]), "val")
    split.update(*batch_of(VAL_PROBS[1:], VAL_GOLD[1:]), "val")
    assert split.counts["val_"].tp.dtype == torch.int64
    assert floats(split.compute("val")) == floats(whole.compute("val"))
    split.reset("val")
    assert int(split.counts["val_"].tp.sum()) == 0


# ---------------------------------------------------------------- regression

# standardised predictions -1, 0, 0.5, 1.5 with mean 10, std 2 -> raw 8, 10, 11, 13; targets 9, 10, 13, 12
Z_PRED = torch.tensor([[-1.0], [0.0], [0.5], [1.5]])
Y = torch.tensor([9.0, 10.0, 13.0, 12.0])


def test_regression_losses_on_the_standardised_target():
    # z = (y - 10) / 2 = -0.5, 0, 1.5, 1; prediction - z = -0.5, 0, -1, 0.5
    # MSE: (0.25 + 0 + 1 + 0.25) / 4 = 0.375
    assert Regression(10.0, 2.0).loss(Z_PRED, {"labels": Y}, "train").item() == 0.375
    # Huber, delta 0.5: |d| <= 0.5 -> d^2 / 2 (0.125, 0, 0.125); |d| = 1 -> 0.5 * (1 - 0.25) = 0.375; mean 0.625 / 4
    huber = Regression(10.0, 2.0, loss="huber", huber_delta=0.5).loss(Z_PRED.bfloat16(), {"labels": Y}, "train")
    assert huber.dtype == torch.float32 and huber.item() == 0.15625
    with pytest.raises(ValueError):
        Regression(0.0, 1.0, loss="mae")


def test_regression_metrics_on_the_raw_scale():
    objective = Regression(10.0, 2.0)
    objective.update(Z_PRED[:2], {"labels": Y[:2]}, "val")  # two updates: the states concatenate, as across ranks
    objective.update(Z_PRED[2:].squeeze(1), {"labels": Y[2:]}, "val")  # [B] logits too
    metrics = objective.compute("val")
    assert set(metrics) == {"val/rmse", "val/mae", "val/pearson", "val/spearman"}
    assert all(value.dtype == torch.float64 for value in metrics.values())
    # errors 8-9, 10-10, 11-13, 13-12 = -1, 0, -2, 1: RMSE sqrt(6/4), MAE 4/4
    assert metrics["val/rmse"].item() == math.sqrt(1.5)
    assert metrics["val/mae"].item() == 1.0
    # dx = -2.5, -0.5, 0.5, 2.5; dy = -2, -1, 2, 1: sum dx*dy = 5 + 0.5 + 1 + 2.5 = 9, sum dx^2 = 13, sum dy^2 = 10
    assert metrics["val/pearson"].item() == 9 / math.sqrt(130)
    # ranks 1 2 3 4 vs 1 2 4 3: d^2 sums to 2, rho = 1 - 6 * 2 / (4 * 15) = 0.8
    assert metrics["val/spearman"].item() == pytest.approx(0.8, abs=1e-15)

    from scipy import stats

    raw = np.array([8.0, 10.0, 11.0, 13.0])
    assert metrics["val/pearson"].item() == pytest.approx(stats.pearsonr(raw, Y.numpy()).statistic, rel=1e-14)
    assert metrics["val/rmse"].item() == pytest.approx(np.sqrt(np.mean((raw - Y.numpy()) ** 2)), rel=1e-15)


def test_spearman_averages_tied_ranks_like_scipy_and_constant_predictions_give_nan():
    from scipy import stats

    pred, target = [1.0, 2.0, 2.0, 3.0, 0.5], [2.0, 1.0, 4.0, 4.0, 0.0]
    objective = Regression(0.0, 1.0)
    objective.update(torch.tensor(pred), {"labels": torch.tensor(target)}, "test")
    assert objective.compute("test")["test/spearman"].item() == pytest.approx(stats.spearmanr(pred, target).statistic, rel=1e-14)

    objective.reset("test")
    objective.update(torch.zeros(3, 1), {"labels": torch.tensor([1.0, 2.0, 4.0])}, "test")
    metrics = objective.compute("test")
    assert math.isnan(metrics["test/pearson"].item()) and math.isnan(metrics["test/spearman"].item())
    assert metrics["test/mae"].item() == float(1 + 2 + 4) / float(3)  # the rest still defined, exact: 7/3


def test_standardise_scale_population_std_round_trip_and_constant():
    values = np.array([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])
    # mean 40/8 = 5; squared deviations 9 1 1 1 0 0 4 16 = 32; population variance 32/8 = 4 -> std 2
    mean, std = standardise_scale(values)
    assert (mean, std) == (5.0, 2.0)
    assert np.allclose((values - mean) / std * std + mean, values)
    assert standardise_scale(np.array([3.0, 3.0])) == (3.0, 1.0)  # constant: no division by zero
    assert standardise_scale(np.array([7.0])) == (7.0, 1.0)
    with pytest.raises(ValueError):
        standardise_scale(np.array([]))


# ---------------------------------------------------------------- token classification

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
OUT, BP, IP, BL, IL = range(5)
X = -100
# row 0 words: gold B-PER I-PER O B-LOC, predicted the same           -> PER(0,1), LOC(3,3): 2 matched
# row 1 words: gold B-LOC I-LOC O, predicted B-LOC O B-PER              -> gold LOC(0,1); predicted LOC(0,0), PER(2,2)
# gold 3 entities, predicted 4, matched 2; words 7, correct 4 + 1 = 5
LABELS = torch.tensor([[X, BP, X, IP, OUT, BL, X], [X, BL, IL, X, OUT, X, X]])
# predicted tag per position; the unlabelled positions predict B-PER, which must count for nothing
PREDICTED = torch.tensor([[BP, BP, BP, IP, OUT, BL, BP], [BP, BL, OUT, BP, BP, BP, BP]])
WORD_TAGS_TRUE = [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "I-LOC", "O"]]
WORD_TAGS_PRED = [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "O", "B-PER"]]


def one_hot_logits(predicted: torch.Tensor, classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(predicted, classes).float() * 4.0


def test_token_cross_entropy_ignores_unlabelled_positions():
    # labelled: position 1, logits (0, 0), label 0 -> ln2; position 2, logits (ln3, 0), label 1 -> -ln(1/4) = 2 ln2
    logits = torch.tensor([[[9.0, -9.0], [0.0, 0.0], [LN3, 0.0], [-9.0, 9.0]]])
    batch = {"labels": torch.tensor([[X, 0, 1, X]])}
    objective = TokenClassification(["O", "B-X"])
    assert objective.loss(logits, batch, "train").item() == pytest.approx(1.5 * LN2, rel=1e-6)  # (ln2 + 2 ln2) / 2
    logits[0, 0], logits[0, 3] = torch.tensor([-50.0, 50.0]), torch.tensor([50.0, -50.0])
    assert objective.loss(logits.bfloat16(), batch, "train").dtype == torch.float32
    assert objective.loss(logits, batch, "train").item() == pytest.approx(1.5 * LN2, rel=1e-6)
    empty = objective.loss(logits, {"labels": torch.full((1, 4), X)}, "train")
    assert empty.item() == 0.0  # no labelled word in the batch: 0, not 0/0


def test_entity_scores_match_seqeval():
    from seqeval.metrics import f1_score, precision_score, recall_score

    objective = TokenClassification(TAGS)
    logits = one_hot_logits(PREDICTED, len(TAGS))
    objective.update(logits[:1], {"labels": LABELS[:1]}, "val")  # one row per update: counts sum as over ranks
    objective.update(logits[1:], {"labels": LABELS[1:]}, "val")
    metrics = objective.compute("val")
    assert set(metrics) == {"val/acc", "val/precision", "val/recall", "val/f1"}
    assert all(value.dtype == torch.float64 for value in metrics.values())
    assert metrics["val/precision"].item() == 0.5  # 2 / 4
    assert metrics["val/recall"].item() == float(2) / float(3)
    assert metrics["val/f1"].item() == float(4) / float(7)  # 2 * 2 / (4 + 3)
    assert metrics["val/acc"].item() == float(5) / float(7)
    assert metrics["val/precision"].item() == precision_score(WORD_TAGS_TRUE, WORD_TAGS_PRED)
    assert metrics["val/recall"].item() == recall_score(WORD_TAGS_TRUE, WORD_TAGS_PRED)
    assert metrics["val/f1"].item() == pytest.approx(f1_score(WORD_TAGS_TRUE, WORD_TAGS_PRED), rel=1e-15)

    whole = TokenClassification(TAGS)
    whole.update(logits, {"labels": LABELS}, "val")
    assert floats(whole.compute("val")) == floats(metrics)
    whole.reset("val")
    assert int(whole.counts["val_"].words) == 0


def test_tag_sets_entity_or_not():
    assert TokenClassification.is_bio(TAGS) and TokenClassification.monitor_metric(TAGS) == "f1"
    assert TokenClassification.is_bio(["O", "B-X", "I-X", "E-X", "S-X"])  # IOBES: seqeval's default mode reads it
    assert not TokenClassification.is_bio(["O", "B-X", "I-X", "L-X", "U-X"])  # BILOU: it does not
    assert not TokenClassification.is_bio(["O"])
    pos = ["NOUN", "VERB", "ADJ"]
    assert not TokenClassification.is_bio(pos) and TokenClassification.monitor_metric(pos) == "acc"

    objective = TokenClassification(pos)
    labels = torch.tensor([[X, 0, 1, 2, X]])
    objective.update(one_hot_logits(torch.tensor([[0, 0, 1, 1, 0]]), 3), {"labels": labels}, "test")
    assert floats(objective.compute("test")) == {"test/acc": float(2) / float(3)}  # NOUN VERB right, ADJ not


def test_token_distillation_matches_hand_computed_kl():
    # one row, two words (positions 1 and 3); the student is uniform on both: CE = ln2 each
    logits = torch.tensor([[[5.0, 1.0], [0.0, 0.0], [1.0, 5.0], [0.0, 0.0]]])
    labels = torch.tensor([[X, 0, X, 1]])
    # teacher: word 0 (3/4, 1/4), word 1 (1/4, 3/4)
    # KL(teacher || uniform) each = 3/4 ln(3/2) + 1/4 ln(1/2) = 3/4 ln3 - ln2
    kl = 0.75 * LN3 - LN2
    teacher = torch.tensor([[[LN3, 0.0], [0.0, LN3], [0.0, 0.0]]])  # a third, zero-padded word slot
    objective = TokenDistillation(["O", "B-X"], alpha=0.5, temperature=1.0)
    batch = {"labels": labels, "teacher_logits": teacher}
    # 0.5 * ln2 + 0.5 * 1^2 * (3/4 ln3 - ln2) = 3/8 ln3
    assert objective.loss(logits, batch, "train").item() == pytest.approx(0.5 * LN2 + 0.5 * kl, rel=1e-6)
    assert objective.loss(logits, batch, "train").item() == pytest.approx(0.375 * LN3, rel=1e-6)
    assert objective.loss(logits, batch, "val").item() == pytest.approx(LN2, rel=1e-6)  # plain CE off training

    # T = 2, alpha 0.25: the teacher's word 0 at T=2 is softmax(ln3 / 2, 0) = (sqrt3, 1) / (sqrt3 + 1); the student stays uniform
    q = math.sqrt(3) / (math.sqrt(3) + 1)
    kl2 = q * math.log(2 * q) + (1 - q) * math.log(2 * (1 - q))  # the same for word 1, mirrored
    warm = TokenDistillation(["O", "B-X"], alpha=0.25, temperature=2.0)
    assert warm.loss(logits, batch, "train").item() == pytest.approx(0.25 * LN2 + 0.75 * 4 * kl2, rel=1e-6)

    # a teacher that truncated after word 0: KL over that word alone (not a mean with a padding word's 0);
    # CE still over both words
    truncated = {"labels": labels, "teacher_logits": torch.tensor([[[LN3, 0.0], [0.0, 0.0]]])}
    assert objective.loss(logits, truncated, "train").item() == pytest.approx(0.5 * LN2 + 0.5 * kl, rel=1e-6)
    counted = {**truncated, "teacher_words": torch.tensor([1])}
    assert objective.loss(logits, counted, "train").item() == pytest.approx(0.5 * LN2 + 0.5 * kl, rel=1e-6)


def test_token_distillation_picks_each_rows_words_in_order():
    torch.manual_seed(0)
    labels = torch.tensor([[X, 0, 1, X, 2, X], [X, X, 2, 2, X, X]])
    logits, teacher = torch.randn(2, 6, 3), torch.randn(2, 4, 3)
    teacher[1, 2:] = 0.0  # row 1 has two words: its slots 2 and 3 are padding
    objective = TokenDistillation(["NOUN", "VERB", "ADJ"], alpha=0.0, temperature=1.0)
    got = objective.loss(logits, {"labels": labels, "teacher_logits": teacher}, "train").item()
    words = [(0, 1, 0), (0, 2, 1), (0, 4, 2), (1, 2, 0), (1, 3, 1)]  # (row, position, word)
    kls = [
        torch.nn.functional.kl_div(logits[r, p].log_softmax(-1), teacher[r, w].log_softmax(-1), reduction="sum", log_target=True)
        for r, p, w in words
    ]
    assert got == pytest.approx(sum(kls).item() / len(words), rel=1e-6)


def test_a_module_cast_to_bf16_keeps_exact_states():
    # bf16-true precision casts the whole LightningModule with .to(dtype): counts are integers, values appended later
    multilabel = MultiLabel(["a", "b", "c"]).to(torch.bfloat16)
    multilabel.update(*batch_of(VAL_PROBS, VAL_GOLD), "val")
    assert multilabel.compute("val")["val/f1_micro"].item() == float(8) / float(9)
    regression = Regression(10.0, 2.0).to(torch.bfloat16)
    regression.update(Z_PRED.bfloat16(), {"labels": Y}, "val")
    assert regression.compute("val")["val/mae"].item() == 1.0
    tokens = TokenClassification(TAGS).to(torch.bfloat16)
    tokens.update(one_hot_logits(PREDICTED, len(TAGS)).bfloat16(), {"labels": LABELS}, "val")
    assert tokens.compute("val")["val/f1"].item() == float(4) / float(7)

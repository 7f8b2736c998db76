"""Per-example sufficient statistics of corpus-level BLEU and chrF, and the corpus score from their sums.

torchmetrics' corpus scores are not means of sentence scores: ``SacreBLEUScore`` and ``CHRFScore`` sum n-gram
counts over the sentences and compute one score from the sums. So a row's counts are all a bootstrap needs: a
resample (row weights ``w``, how many times each row was drawn) has the corpus score ``*_from_totals(w @ stats)``,
the score torchmetrics gives on the corpus with each row repeated ``w`` times.

Read from torchmetrics 1.9.0 (functional/text/sacre_bleu.py, bleu.py, chrf.py), as the project scores text
(lightning_modules/generation.py): ``SacreBLEUScore(tokenize="13a")`` (n_gram=4, smooth=False, lowercase=False,
uniform weights) and ``CHRFScore()`` (n_char_order=6, n_word_order=2, beta=2, lowercase=False, whitespace=False),
one reference per prediction.

Column layouts (float64, one row per prediction):

* ``bleu_statistics``: ``[n, 10]``: clipped n-gram matches of orders 1..4 (columns 0-3), the prediction's n-grams
  of orders 1..4 (4-7), the prediction's length in tokens (8), the reference's length in tokens (9): torchmetrics'
  ``numerator``, ``denominator``, ``preds_len`` and ``target_len`` states.
* ``chrf_statistics``: ``[n, 24]``: the prediction's n-grams (columns 0-7), the reference's n-grams (8-15), the
  matching n-grams (16-23); within each block character orders 1..6, then word orders 1..2: CHRFScore's
  ``total_preds_*``, ``total_target_*`` and ``total_matching_*`` states.

The totals -> score functions import only numpy (a report process calls them without torch); the statistics
functions import torchmetrics' own tokenizers and n-gram counter when they run, and fall back, with a warning, to
the copies below (of torchmetrics 1.9.0) where those private helpers have moved.

torchmetrics computes in torch's default dtype (float32): its logged value differs from these float64 scores by
float32 rounding (up to 4e-8 on 200 Debian synopses); with ``torch.set_default_dtype(torch.float64)`` torchmetrics
gives these scores (tests/test_text_statistics.py asserts 1e-9; they came out bit for bit equal).
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

BLEU_N_GRAM = 4
BLEU_WEIGHTS = (1.0 / BLEU_N_GRAM,) * BLEU_N_GRAM  # BLEUScore's default: [1.0 / n_gram] * n_gram
CHRF_CHAR_ORDER = 6
CHRF_WORD_ORDER = 2
CHRF_BETA = 2.0
CHRF_ORDERS = CHRF_CHAR_ORDER + CHRF_WORD_ORDER
CHRF_EPS = float(np.float32(1e-16))  # chrf.py's _EPS_SMOOTHING = tensor(1e-16): a float32 tensor, made at import

BLEU_COLUMNS = 2 * BLEU_N_GRAM + 2
CHRF_COLUMNS = 3 * CHRF_ORDERS


# ---------------------------------------------------------------- BLEU


def bleu_statistics(predictions: list[str], references: list[str]) -> np.ndarray:
    """``[n, 10]`` float64: per row matches[1..4], prediction n-grams[1..4], prediction length, reference length
    (13a tokens), as ``_bleu_score_update`` adds them to SacreBLEUScore's states for one reference per row."""
    _check_lengths(predictions, references)
    tokenize, count_ngram = _bleu_helpers()
    n_gram = BLEU_N_GRAM
    stats = np.zeros((len(predictions), BLEU_COLUMNS), dtype=np.float64)
    for row, (prediction, reference) in enumerate(zip(predictions, references)):
        pred = tokenize(prediction) if prediction else []  # as _bleu_score_update: an empty string is no tokens
        target = tokenize(reference) if reference else []
        pred_counter = count_ngram(pred, n_gram)
        target_counter: Counter = Counter()
        target_counter |= count_ngram(target, n_gram)
        for ngram, count in (pred_counter & target_counter).items():
            stats[row, len(ngram) - 1] += count
        for ngram, count in pred_counter.items():
            stats[row, n_gram + len(ngram) - 1] += count
        stats[row, 2 * n_gram] = len(pred)
        stats[row, 2 * n_gram + 1] = len(target)  # one reference: it is the closest in length
    return stats


def bleu_from_totals(totals: np.ndarray) -> np.ndarray:
    """``[B, 10]`` summed statistics -> ``[B]`` corpus BLEU (0..1), as ``_bleu_score_compute`` (smooth=False):
    0 when any order has no match; else the brevity penalty times the weighted geometric mean of the precisions."""
    totals = _as_totals(totals, BLEU_COLUMNS, "bleu")
    n_gram = BLEU_N_GRAM
    numerator, denominator = totals[:, :n_gram], totals[:, n_gram : 2 * n_gram]
    preds_len, target_len = totals[:, 2 * n_gram], totals[:, 2 * n_gram + 1]
    no_match = numerator.min(axis=1) == 0.0  # `if min(numerator) == 0.0: return tensor(0.0)`
    with np.errstate(divide="ignore", invalid="ignore"):  # the rows masked by no_match
        log_precision = np.asarray(BLEU_WEIGHTS) * np.log(numerator / denominator)
        geometric_mean = np.exp(np.sum(log_precision, axis=1))
        brevity_penalty = np.where(preds_len > target_len, 1.0, np.exp(1 - (target_len / preds_len)))
        return np.where(no_match, 0.0, brevity_penalty * geometric_mean)


# ---------------------------------------------------------------- chrF


def chrf_statistics(predictions: list[str], references: list[str]) -> np.ndarray:
    """``[n, 24]`` float64: per row the prediction's, the reference's and the matching n-gram counts (character
    orders 1..6, then word orders 1..2, in each block), as ``_chrf_score_update`` adds them to CHRFScore's states.

    torchmetrics keeps a reference's statistics only when its sentence-level chrF beats 0 (``if f_score >
    best_f_score`` from ``best_f_score = 0``): a row without any matching n-gram (an empty prediction, a wrong
    language) adds its prediction's n-grams but not its reference's. Its chrF is above 0 exactly when some order
    has a match (that order's precision and recall are then both positive), so no float is needed to decide it.
    """
    _check_lengths(predictions, references)
    characters, words = _chrf_helpers()
    stats = np.zeros((len(predictions), CHRF_COLUMNS), dtype=np.float64)
    for row, (prediction, reference) in enumerate(zip(predictions, references)):
        pred = _ngram_counters(characters(prediction), CHRF_CHAR_ORDER) + _ngram_counters(words(prediction), CHRF_WORD_ORDER)
        target = _ngram_counters(characters(reference), CHRF_CHAR_ORDER) + _ngram_counters(words(reference), CHRF_WORD_ORDER)
        matching = [sum((p & t).values()) for p, t in zip(pred, target)]
        stats[row, :CHRF_ORDERS] = [sum(counter.values()) for counter in pred]
        if any(matching):
            stats[row, CHRF_ORDERS : 2 * CHRF_ORDERS] = [sum(counter.values()) for counter in target]
            stats[row, 2 * CHRF_ORDERS :] = matching
    return stats


def chrf_from_totals(totals: np.ndarray) -> np.ndarray:
    """``[B, 24]`` summed statistics -> ``[B]`` corpus chrF (0..1), as ``_chrf_score_compute``: per order an
    F-beta (precision 0 where the predictions have no n-gram of that order, recall 0 where the references have
    none, the denominator at least float32(1e-16)), summed over the character orders, plus the sum over the word
    orders, divided by the number of orders (8), in torchmetrics' order of operations."""
    totals = _as_totals(totals, CHRF_COLUMNS, "chrf")
    hyp, ref, matching = totals[:, :CHRF_ORDERS], totals[:, CHRF_ORDERS : 2 * CHRF_ORDERS], totals[:, 2 * CHRF_ORDERS :]
    beta_squared = CHRF_BETA**2
    with np.errstate(divide="ignore", invalid="ignore"):  # the masked orders
        precision = np.where(hyp > 0, matching / hyp, 0.0)
        recall = np.where(ref > 0, matching / ref, 0.0)
    denominator = np.maximum(beta_squared * precision + recall, CHRF_EPS)
    f_score = (1 + beta_squared) * precision * recall / denominator
    char_sum = np.zeros(len(totals))  # Python's sum() over each dict of orders: from 0, one order after the other
    for n in range(CHRF_CHAR_ORDER):
        char_sum = char_sum + f_score[:, n]
    word_sum = np.zeros(len(totals))
    for n in range(CHRF_CHAR_ORDER, CHRF_ORDERS):
        word_sum = word_sum + f_score[:, n]
    return (char_sum + word_sum) / float(CHRF_ORDERS)


# ---------------------------------------------------------------- shared


def _check_lengths(predictions: Sequence[str], references: Sequence[str]) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references: one reference per prediction")


def _as_totals(totals: np.ndarray, columns: int, name: str) -> np.ndarray:
    """``[B, K]`` float64; a single ``[K]`` vector is taken as B=1."""
    totals = np.atleast_2d(np.asarray(totals, dtype=np.float64))
    if totals.ndim != 2 or totals.shape[1] != columns:
        raise ValueError(f"{name} totals must be [B, {columns}] (the summed rows of {name}_statistics), got {list(totals.shape)}")
    return totals


def _ngram_counters(tokens: Sequence[str], order: int) -> list[Counter]:
    """One Counter of n-grams per order 1..order: chrf.py's _ngram_counts, counted with ints instead of tensors."""
    return [Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)) for n in range(1, order + 1)]


def _fallback_warning(what: str, error: Exception) -> None:
    warnings.warn(
        f"text_statistics: torchmetrics' {what} could not be imported ({type(error).__name__}: {error}); using the copy of"
        " torchmetrics 1.9.0's in lightning_modules/text_statistics.py, which may differ from the installed torchmetrics",
        RuntimeWarning,
        stacklevel=3,
    )


def _bleu_helpers() -> tuple[Callable[[str], Sequence[str]], Callable[[Sequence[str], int], Counter]]:
    """torchmetrics' 13a tokenizer (lowercase=False) and n-gram counter; the copies below when they are missing."""
    try:
        from torchmetrics.functional.text.bleu import _count_ngram
        from torchmetrics.functional.text.sacre_bleu import _SacreBLEUTokenizer

        return _SacreBLEUTokenizer("13a", lowercase=False), _count_ngram
    except (ImportError, AttributeError, TypeError, ValueError) as error:
        _fallback_warning("SacreBLEU 13a tokenizer and _count_ngram", error)
        return _tokenize_13a, _count_ngram_copy


def _chrf_helpers() -> tuple[Callable[[str], list[str]], Callable[[str], list[str]]]:
    """torchmetrics' chrF splitting into characters (whitespace=False, lowercase=False) and into words and
    punctuation; the copies below when they are missing."""
    try:
        from torchmetrics.functional.text.chrf import _get_characters, _get_words_and_punctuation

        return (lambda sentence: _get_characters(sentence, False)), _get_words_and_punctuation
    except (ImportError, AttributeError) as error:
        _fallback_warning("chrF _get_characters and _get_words_and_punctuation", error)
        return _chrf_characters, _chrf_words


# ---------------------------------------------------------------- copies of torchmetrics 1.9.0's helpers (the fallback)

_REGEX_13A = (
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
)
_PUNCTUATIONS = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _tokenize_13a(line: str) -> list[str]:
    """sacre_bleu.py's _SacreBLEUTokenizer("13a", lowercase=False)(line)."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    for pattern, replacement in _REGEX_13A:
        line = pattern.sub(replacement, line)
    return " ".join(line.split()).split()


def _count_ngram_copy(tokens: Sequence[str], n_gram: int) -> Counter:
    """bleu.py's _count_ngram: every n-gram of orders 1..n_gram, keyed by its tuple."""
    counter: Counter = Counter()
    for i in range(1, n_gram + 1):
        for j in range(len(tokens) - i + 1):
            counter[tuple(tokens[j : i + j])] += 1
    return counter


def _chrf_characters(sentence: str) -> list[str]:
    """chrf.py's _get_characters(sentence, whitespace=False): spaces (only) dropped, ends stripped."""
    return list(sentence.strip().replace(" ", ""))


def _chrf_words(sentence: str) -> list[str]:
    """chrf.py's _get_words_and_punctuation: whitespace-split words, one punctuation mark split off the end (else
    the start) of a word longer than one character."""
    words = []
    for word in sentence.strip().split():
        if len(word) == 1:
            words.append(word)
        elif word[-1] in _PUNCTUATIONS:
            words.extend((word[:-1], word[-1]))
        elif word[0] in _PUNCTUATIONS:
            words.extend((word[0], word[1:]))
        else:
            words.append(word)
    return words

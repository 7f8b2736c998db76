"""Per-row BLEU and chrF statistics (lightning_modules/text_statistics.py): summed over the rows, or over the rows
of a resample with integer weights, they give torchmetrics' corpus score, on real text.

References: 200 Debian synopses of task=debian_synopsis (the ChatterBot corpus' English answers where the Debian
descriptions are not built). Predictions: the references themselves, with words dropped or shuffled, cut short,
or emptied, and the first words of each package's long description (real text that partly matches). No match at
all: Russian lines of the ChatterBot corpus that share no character with the references.

torchmetrics runs in float64 here (``torch.set_default_dtype``) so that its score can be compared to 1e-9; the
float32 score the project logs is compared to float32 rounding.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from lightning_modules import text_statistics
from lightning_modules.text_statistics import bleu_from_totals, bleu_statistics, chrf_from_totals, chrf_statistics
from sweep.config.schema import TaskConfig
from sweep.data import generation_sources
from sweep.zoo.assets import CHATTERBOT_CORPUS, DEBIAN_DESCRIPTIONS

ROOT = Path(__file__).resolve().parents[1]
ROWS = 200
EXACT = 1e-9


@contextmanager
def default_dtype(dtype: torch.dtype):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def torchmetrics_scores(predictions: list[str], references: list[str], dtype: torch.dtype = torch.float64) -> tuple[float, float]:
    """(BLEU, chrF) as lightning_modules/generation.py computes them: one update over the corpus, one compute."""
    from torchmetrics.text import CHRFScore, SacreBLEUScore

    with default_dtype(dtype):
        bleu, chrf = SacreBLEUScore(tokenize="13a"), CHRFScore()
        for metric in (bleu, chrf):
            metric.update(predictions, [[reference] for reference in references])
        return bleu.compute().item(), chrf.compute().item()


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str]]:
    """(references, sources): 200 real rows, drawn with a fixed seed."""
    if DEBIAN_DESCRIPTIONS.find() is not None:
        frame = generation_sources.debian_synopsis(TaskConfig(name="t", kind="debian_synopsis", type="seq2seq"))
    elif CHATTERBOT_CORPUS.find() is not None:
        frame = generation_sources.chatterbot_qa(TaskConfig(name="t", kind="chatterbot_qa", type="causal_lm"))
    else:
        pytest.skip(f"neither the Debian descriptions ({DEBIAN_DESCRIPTIONS.install_command}) nor the ChatterBot corpus is here")
    rows = np.sort(np.random.default_rng(0).choice(len(frame), size=min(ROWS, len(frame)), replace=False))
    return frame["label"].iloc[rows].tolist(), frame["text"].iloc[rows].tolist()


def russian_lines() -> list[str]:
    """Every string turn of the ChatterBot corpus' Russian conversations."""
    english = CHATTERBOT_CORPUS.find()
    if english is None:
        pytest.skip("the ChatterBot corpus is not installed")
    lines = []
    for path in sorted((Path(english).parent / "russian").glob("*.yml")):
        for conversation in yaml.safe_load(path.read_text(encoding="utf-8")).get("conversations") or []:
            if isinstance(conversation, list):
                lines += [turn for turn in conversation if isinstance(turn, str) and turn.strip()]
    return lines


def drop_words(text: str, rng: np.random.Generator) -> str:
    words = text.split()
    kept = [word for word in words if rng.random() > 0.35]
    return " ".join(kept or words[:1])


def shuffle_words(text: str, rng: np.random.Generator) -> str:
    words = text.split()
    return " ".join(words[i] for i in rng.permutation(len(words)))


def lead(text: str, words: int = 8) -> str:
    return " ".join(text.split()[:words])


def prediction_set(name: str, references: list[str], sources: list[str]) -> tuple[list[str], list[str]]:
    """(predictions, references) of one named case; "mixed" holds the dropped and shuffled words."""
    rng = np.random.default_rng(1)
    if name == "identical":
        return list(references), references
    if name == "source_lead":  # the long description's first words: real text, partial matches, mostly longer
        return [lead(source) for source in sources], references
    if name == "mixed":  # each row one of the perturbations, empty predictions and longer ones included
        makers = [
            lambda ref, src: ref,
            lambda ref, src: drop_words(ref, rng),
            lambda ref, src: shuffle_words(ref, rng),
            lambda ref, src: "",
            lambda ref, src: lead(src, 5),
            lambda ref, src: f"{ref} {lead(src, 6)}",
        ]
        return [makers[rng.integers(len(makers))](ref, src) for ref, src in zip(references, sources)], references
    if name == "all_empty":
        return [""] * len(references), references
    if name == "one_row":
        return [drop_words(references[0], rng)], references[:1]
    if name == "one_row_reversed":  # the words in reverse order: unigram matches, no bigram: BLEU 0, chrF above 0
        reference = next(reference for reference in references if len(set(reference.split())) >= 4)
        return [" ".join(reversed(reference.split()))], [reference]
    if name == "one_row_empty":
        return [""], references[:1]
    if name == "no_match":
        seen = set("".join(references))
        lines = [line for line in russian_lines() if not (set(line) - {" "}) & seen][:60]
        return lines, references[: len(lines)]
    if name == "short_predictions":  # 3 characters, one word: no character 4..6-grams nor word bigrams predicted
        return [reference.split()[0][:3] for reference in references], references
    if name == "short_both":  # neither side has those orders: identical copies score 4/8 in chrF
        short = [reference.split()[0][:3] for reference in references]
        return short, short
    raise KeyError(name)


CASES = [
    "identical",
    "source_lead",
    "mixed",
    "all_empty",
    "one_row",
    "one_row_reversed",
    "one_row_empty",
    "no_match",
    "short_predictions",
    "short_both",
]


@pytest.mark.parametrize("case", CASES)
def test_summed_statistics_give_torchmetrics_corpus_scores(corpus, case):
    predictions, references = prediction_set(case, *corpus)
    assert predictions and len(predictions) == len(references)
    bleu_stats, chrf_stats = bleu_statistics(predictions, references), chrf_statistics(predictions, references)
    assert bleu_stats.shape == (len(predictions), 10) and chrf_stats.shape == (len(predictions), 24)
    assert bleu_stats.dtype == chrf_stats.dtype == np.float64
    bleu, chrf = bleu_from_totals(bleu_stats.sum(0, keepdims=True)), chrf_from_totals(chrf_stats.sum(0, keepdims=True))
    assert bleu.shape == chrf.shape == (1,)
    expected_bleu, expected_chrf = torchmetrics_scores(predictions, references)
    assert abs(bleu[0] - expected_bleu) <= EXACT, (case, bleu[0], expected_bleu)
    assert abs(chrf[0] - expected_chrf) <= EXACT, (case, chrf[0], expected_chrf)
    if case == "identical":
        assert bleu[0] == pytest.approx(1.0) and chrf[0] == pytest.approx(1.0)
    if case in ("all_empty", "one_row_empty", "no_match"):
        assert bleu[0] == 0.0 and chrf[0] == 0.0
        assert not bleu_stats[:, :4].any() and not chrf_stats[:, 8:].any()  # no match: the references are not counted
        assert chrf_stats[:, :8].any() == (case == "no_match")
    if case == "one_row_reversed":
        assert bleu[0] == 0.0 and bleu_stats[0, 0] > 0 and chrf[0] > 0
    if case == "short_both":  # identical copies: F = 1 for the orders present, 0 for the others (no 4..6-grams)
        present = chrf_stats.sum(0)[:8] > 0
        assert not present[3:6].any() and chrf[0] == pytest.approx(present.sum() / 8) and chrf[0] < 1


def test_integer_weights_give_the_score_of_the_corpus_with_rows_repeated(corpus):
    predictions, references = prediction_set("mixed", *corpus)
    predictions, references = predictions[:100], references[:100]
    weights = np.ones((3, len(predictions)), dtype=np.int64)
    weights[0, 7] = 2  # one row counted twice
    weights[1] = np.random.default_rng(2).multinomial(len(predictions), np.full(len(predictions), 1 / len(predictions)))  # a bootstrap draw
    weights[2] = 0
    weights[2, [3, 3 + 1]] = (3, 1)  # two rows, one three times
    bleu = bleu_from_totals(weights @ bleu_statistics(predictions, references))
    chrf = chrf_from_totals(weights @ chrf_statistics(predictions, references))
    assert bleu.shape == chrf.shape == (3,)
    assert weights[1].max() >= 2 and (weights[1] == 0).any()
    for resample, row_weights in enumerate(weights):
        rows = np.repeat(np.arange(len(predictions)), row_weights)
        expected_bleu, expected_chrf = torchmetrics_scores([predictions[i] for i in rows], [references[i] for i in rows])
        assert abs(bleu[resample] - expected_bleu) <= EXACT, (resample, bleu[resample], expected_bleu)
        assert abs(chrf[resample] - expected_chrf) <= EXACT, (resample, chrf[resample], expected_chrf)


def test_float32_torchmetrics_as_logged_differs_by_rounding_only(corpus):
    predictions, references = (part[:100] for part in prediction_set("source_lead", *corpus))
    bleu = bleu_from_totals(bleu_statistics(predictions, references).sum(0, keepdims=True))[0]
    chrf = chrf_from_totals(chrf_statistics(predictions, references).sum(0, keepdims=True))[0]
    logged_bleu, logged_chrf = torchmetrics_scores(predictions, references, torch.float32)
    assert bleu > 0 and chrf > 0
    assert abs(bleu - logged_bleu) <= 1e-6 and abs(chrf - logged_chrf) <= 1e-6


def test_the_fallback_copies_give_the_same_statistics(corpus, monkeypatch):
    predictions, references = prediction_set("mixed", *corpus)
    tokenizer, count_ngram = text_statistics._bleu_helpers()
    characters, words = text_statistics._chrf_helpers()
    for text in predictions + references + corpus[1][:50]:  # the long descriptions too: more punctuation and digits
        assert text_statistics._tokenize_13a(text) == tokenizer(text)
        assert text_statistics._count_ngram_copy(text.split(), 4) == count_ngram(text.split(), 4)
        assert text_statistics._chrf_characters(text) == characters(text) and text_statistics._chrf_words(text) == words(text)
    bleu_stats, chrf_stats = bleu_statistics(predictions, references), chrf_statistics(predictions, references)
    monkeypatch.setitem(sys.modules, "torchmetrics.functional.text.sacre_bleu", None)  # import fails: the copies
    monkeypatch.setitem(sys.modules, "torchmetrics.functional.text.chrf", None)
    with pytest.warns(RuntimeWarning, match="could not be imported"):
        assert np.array_equal(bleu_statistics(predictions, references), bleu_stats)
    with pytest.warns(RuntimeWarning, match="could not be imported"):
        assert np.array_equal(chrf_statistics(predictions, references), chrf_stats)


def test_the_scores_from_totals_import_only_numpy():
    code = (
        "import sys; from lightning_modules.text_statistics import bleu_from_totals, chrf_from_totals; import numpy as np; "
        "print(bleu_from_totals(np.zeros((2, 10))).tolist(), chrf_from_totals(np.zeros(24)).tolist()); "
        "print(sorted(name for name in ('torch', 'torchmetrics', 'sweep') if name in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[0.0, 0.0] [0.0]", "[]"]


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        bleu_statistics(["a", "b"], ["a"])
    with pytest.raises(ValueError, match=r"must be \[B, 24\]"):
        chrf_from_totals(np.zeros((1, 10)))
    with pytest.raises(ValueError, match=r"must be \[B, 10\]"):
        bleu_from_totals(np.zeros((1, 24)))

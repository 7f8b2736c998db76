"""Per-example records give back every metric a run logged, for every task type: the bootstrap's starting point.

A formula over a stage's per-row statistics (lightning_modules/example_formulas.py), every row counted once, must
equal the metric logged for that stage: the best validation's (restored weights) and the test's. Tiny models,
a few steps, real packaged data.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lightning_modules.example_formulas import Rows, evaluate
from lightning_modules.examples import ExampleTable

FEW = ["task.train_size=48", "task.val_size=40", "task.test_size=40", "trainer.precision=32-true", "trainer.max_steps=4"]
CASES = {
    "classification": ["model=tiny_bert", "task=rotten_tomatoes"],
    "feature": ["model=tiny_bert", "task=rotten_tomatoes", "strategy=feature"],
    "multilabel": ["model=tiny_bert", "task=debian_tags"],
    "regression": ["model=tiny_bert", "task=vader_movie_ratings"],
    "token": ["model=tiny_bert", "task=tweet_ner"],
    "multi": ["model=tiny_bert", "task=multi", "task.tasks=[rotten_tomatoes,rotten_subjectivity]"],
    "mixed": ["model=tiny_bert", "task=multi", "task.tasks=[rotten_tomatoes,tweet_ner]"],
    "seq2seq": ["model=tiny_t5", "task=debian_synopsis", "task.generate.val_rows=16", "task.generate.max_new_tokens=8"],
    "causal_lm": ["model=tiny_gpt2", "task=chatterbot_qa", "task.generate.max_new_tokens=8"],
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_logged_metric_is_its_formula_over_the_rows(job_config, case):
    from sweep.pipeline.build import build
    from sweep.pipeline.train import train

    result = train(build(job_config(*CASES[case], *FEW)))
    assert set(result.examples) == {"val", "test"}
    logged = {"val": result.at_best, "test": result.metrics}
    for stage, table in result.examples.items():
        assert len(table) in (40, 80) and np.array_equal(table.ids, np.arange(len(table)))  # every row (of each sub-task), by index
        checked = [metric for metric in table.formulas if metric in logged[stage]]
        assert f"{stage}/loss" in checked and len(checked) >= 2, (stage, sorted(table.formulas))
        for metric in checked:
            value, expected = float(table.value(metric)[0]), logged[stage][metric]
            assert (math.isnan(value) and math.isnan(expected)) or value == pytest.approx(expected, rel=1e-6, abs=1e-9), metric
        again = ExampleTable.from_bytes(table.to_bytes())  # the artifact round-trips
        assert again.formulas == table.formulas and all(np.array_equal(again.columns[k], v) for k, v in table.columns.items())


def test_weights_count_a_row_as_often_as_it_was_drawn():
    correct = np.array([1.0, 0.0, 1.0, 1.0])
    rows = Rows({"correct": correct, "count": np.ones(4)}, np.array([[1, 1, 1, 1], [0, 2, 0, 2], [4, 0, 0, 0]]))
    assert evaluate(["ratio", "correct", "count"], rows).tolist() == [0.75, 0.5, 1.0]


def test_spearman_of_drawn_rows_is_scipys_on_the_rows_repeated():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    prediction, target = rng.normal(size=30).round(1), rng.integers(0, 5, 30).astype(float)  # ties on both sides
    weights = rng.multinomial(30, np.full(30, 1 / 30), size=5)
    got = evaluate(["spearman", "prediction", "target"], Rows({"prediction": prediction, "target": target}, weights))
    for row, value in zip(weights, got):
        repeated = np.repeat(np.arange(30), row)
        assert value == pytest.approx(spearmanr(prediction[repeated], target[repeated]).statistic, abs=1e-12)

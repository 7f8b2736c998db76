"""sweep.select on an image–text task: candidates are tower pairs, each scored by its towers' frozen features."""

from __future__ import annotations

import pytest

from sweep.config.errors import ConfigError
from tests.conftest import CONF


def select_config(tmp_path, cache_dir, *overrides: str):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(
            "select", overrides=[f"paths.output_dir={tmp_path}", f"paths.cache_dir={cache_dir}", "task=tuxpaint_captions", *overrides]
        )


def test_pairs_are_scored_by_their_towers_and_recorded_under_names_mlflow_takes(tmp_path, cache_dir):
    from mlflow.tracking import MlflowClient

    from sweep.select.select_job import run_select

    selection = run_select(select_config(tmp_path, cache_dir, "candidates=[tiny_vit+tiny_bert,tiny_vit+minilm_l3]", "scores=[logme,knn]"))
    lines = [line for line in selection.markdown.splitlines() if line.startswith("| ") and "+" in line]
    assert sorted(line.split("|")[2].strip() for line in lines) == ["tiny_vit+minilm_l3", "tiny_vit+tiny_bert"]
    run = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db").get_run(selection.run_id)
    assert {"logme/tiny_vit:tiny_bert", "knn/tiny_vit:minilm_l3", "rank/tiny_vit:tiny_bert"} <= set(run.data.metrics)
    # the pair's score is the mean of its towers': the shared vision tower's share is the same in both
    dims = {name: run.data.metrics[f"dimensions/{name}"] for name in ("tiny_vit:tiny_bert", "tiny_vit:minilm_l3")}
    assert dims == {"tiny_vit:tiny_bert": 32 + 32, "tiny_vit:minilm_l3": 32 + 384}


@pytest.mark.parametrize(
    "candidates, message",
    [
        ("[tiny_vit]", "an image_text task's candidates are tower pairs <vision>+<text>"),
        ("[nope+tiny_bert]", "unknown model nope"),
        ("[minilm_l6+tiny_bert]", "the vision tower must read image: tiny_vit, vit_small"),
    ],
)
def test_a_candidate_that_is_not_a_pair_of_fitting_towers_is_one_line(tmp_path, cache_dir, candidates, message):
    from sweep.select.select_config import validate_select

    with pytest.raises(ConfigError, match="candidates") as error:
        validate_select(select_config(tmp_path, cache_dir, f"candidates={candidates}"))
    assert message in str(error.value), str(error.value)

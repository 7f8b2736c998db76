"""task.encoding: a user's file in another encoding than UTF-8 is read with it, a file that does not decode
is refused in one line that says where and what to set, and an unknown encoding is refused before anything runs."""

import gzip

import pytest

from sweep.config.errors import ConfigError
from tests.conftest import compose, run_cli
from tests.test_cli import assert_nothing_recorded

# é, è, ï, ç, ü: one byte each in Latin-1, none of them valid UTF-8 on its own
ROWS = [("café crème très bon", "pos"), ("naïve et ennuyeux", "neg"), ("garçon sympathique", "pos"), ("über langweilig", "neg")]


def latin1_csv(folder, name="latin1.csv"):
    text = "text,label\n" + "".join(f"{text} {i},{label}\n" for i in range(10) for text, label in ROWS)
    path = folder / name
    data = text.encode("latin-1")
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def task(*overrides):
    from sweep.pipeline.validate import validate

    return validate(compose("task=csv", *overrides)).root.task


@pytest.mark.parametrize("name", ["latin1.csv", "latin1.csv.gz"])
def test_a_latin1_file_is_refused_naming_task_encoding_and_where(tmp_path, name):
    """Regression: pandas' "'utf-8' codec can't decode byte 0xe9 in position 3", under task.path, without a hint
    (and its position counted from one of pandas' buffers, not from the file's start)."""
    from sweep.data.tasks import load_splits

    path = latin1_csv(tmp_path, name)
    with pytest.raises(ConfigError) as refusal:
        load_splits(task(f"task.path={path}"))
    assert refusal.value.key == "task.encoding"
    # "café" on line 2: the header's 11 bytes, then "caf"
    expected = f"task.encoding=utf-8: cannot decode {path} as utf-8: byte 0xe9 at line 2 (offset 14); set task.encoding=latin-1"
    assert str(refusal.value) == expected + " (or the file's encoding)"


@pytest.mark.parametrize("name", ["latin1.csv", "latin1.csv.gz"])
def test_a_latin1_file_reads_with_task_encoding(tmp_path, name):
    from sweep.data.tasks import load_splits

    splits = load_splits(task(f"task.path={latin1_csv(tmp_path, name)}", "task.encoding=latin-1"))
    texts = {text for split in (splits.train, splits.val, splits.test) for text in split.inputs}
    assert len(texts) == 40 and {text for text, _ in ROWS} == {text.rsplit(" ", 1)[0] for text in texts}
    assert splits.label_names == ["neg", "pos"]


def test_a_latin1_json_lines_file_reads_with_task_encoding(tmp_path):
    from sweep.data.tasks import load_splits

    path = tmp_path / "latin1.jsonl"
    lines = [f'{{"text": "{text} {i}", "label": "{label}"}}' for i in range(10) for text, label in ROWS]
    path.write_bytes("\n".join(lines).encode("latin-1"))
    with pytest.raises(ConfigError, match=r"^task.encoding=utf-8: cannot decode .*latin1.jsonl as utf-8: byte 0xe9 at line 1 "):
        load_splits(task(f"task.path={path}"))
    splits = load_splits(task(f"task.path={path}", "task.encoding=latin-1"))
    assert "café crème très bon 0" in [*splits.train.inputs, *splits.val.inputs, *splits.test.inputs]


def test_a_utf16_file_is_told_to_try_utf16(tmp_path):
    from sweep.data.tasks import load_splits

    path = tmp_path / "wide.csv"
    path.write_text("text,label\n" + "".join(f"{text} {i},{label}\n" for i in range(10) for text, label in ROWS), encoding="utf-16")
    with pytest.raises(ConfigError, match=r"byte 0xff at line 1 \(offset 0\); set task.encoding=utf-16 \(or the file's encoding\)$"):
        load_splits(task(f"task.path={path}"))
    assert len(load_splits(task(f"task.path={path}", "task.encoding=utf-16")).train) > 0


@pytest.mark.parametrize("encoding", ["utf-9", "base64", "rot13"])
def test_an_unknown_or_non_text_encoding_is_refused_at_validation(tmp_path, encoding):
    path = latin1_csv(tmp_path)
    with pytest.raises(ConfigError, match=rf"^task.encoding={encoding}: unknown text encoding; e.g. utf-8, latin-1"):
        task(f"task.path={path}", f"task.encoding={encoding}")


def test_token_cache_tells_encodings_apart(tmp_path):
    """The token cache is keyed by the decoded texts: the same bytes read in two encodings are two entries."""
    from sweep.data.tasks import load_splits
    from sweep.data.tokens import cache_key

    path = tmp_path / "both.csv"
    path.write_bytes(b"text,label\n" + "".join(f"café {i},{i % 2}\n" for i in range(40)).encode("utf-8"))
    keys = {
        encoding: cache_key(list(load_splits(task(f"task.path={path}", f"task.encoding={encoding}")).train.inputs), "tok", 64)
        for encoding in ("utf-8", "latin-1")
    }
    assert keys["utf-8"] != keys["latin-1"]


@pytest.mark.slow
def test_cli_refuses_a_latin1_file_in_one_line_with_exit_2(tmp_path):
    latin1_csv(tmp_path)
    result = run_cli("task=csv", "task.path=latin1.csv", cwd=tmp_path, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [
        "error: task.encoding=utf-8: cannot decode latin1.csv as utf-8: byte 0xe9 at line 2 (offset 14); "
        "set task.encoding=latin-1 (or the file's encoding)"
    ]
    assert_nothing_recorded(tmp_path)

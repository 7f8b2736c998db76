"""The generation task kinds (``task.kind``, sweep/data/kinds.py): where source -> target rows come from.
Debian's package descriptions (long description -> synopsis: summarisation, ``task.type=seq2seq``) and the
ChatterBot corpus' English conversations (prompt -> response: instruction tuning, ``task.type=causal_lm``).

A reader returns a DataFrame with columns ``text`` (the source, or prompt), ``label`` (the target, or response)
and ``group`` (rows of one group never straddle two splits), like the readers of sweep/data/sources.py; the
counts and length statistics are in docs/task-data.md.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from sweep.config.errors import ConfigError
from sweep.zoo.assets import CHATTERBOT_CORPUS, DEBIAN_DESCRIPTIONS

if TYPE_CHECKING:
    from sweep.config.schema import TaskConfig


def debian_synopsis(task: TaskConfig):
    """Summarisation: a Debian package's long description (its paragraphs, one a line) -> its synopsis (one
    line, median 6 words), grouped by source package: binaries of one source share most of their wording."""
    return _debian_synopses(str(DEBIAN_DESCRIPTIONS.locate("task.kind=debian_synopsis"))).copy()


@functools.cache
def _debian_synopses(path: str):
    """Every package of the descriptions CSV (its ``text``: the synopsis on the first line, then the long
    description, sweep/zoo/debian_descriptions.py plain_description) with a synopsis and a body; a (body,
    synopsis) pair that several packages share is kept once, with the source of the first (packages sorted)."""
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"text", "source"} - set(frame.columns)
    if missing:
        raise ConfigError("task.kind", f"{path} lacks the column(s) {', '.join(sorted(missing))}", "debian_synopsis")
    parts = frame["text"].str.partition("\n")
    rows = pd.DataFrame({"text": parts[2].str.strip(), "label": parts[0].str.strip(), "group": frame["source"].str.strip()})
    rows = rows[(rows["text"] != "") & (rows["label"] != "")]
    return rows.drop_duplicates(["text", "label"]).reset_index(drop=True)


def chatterbot_qa(task: TaskConfig):
    """Instruction tuning: the English conversations of the ChatterBot corpus, each one's first turn (a question
    or remark) -> its second (the bot's answer), grouped by prompt: a question asked with several answers (30
    jokes to "Tell me a joke") is in one split only."""
    return _chatterbot_pairs(str(CHATTERBOT_CORPUS.locate("task.kind=chatterbot_qa"))).copy()


@functools.cache
def _chatterbot_pairs(folder: str):
    """(first turn, second turn) of every conversation of the folder's ``*.yml`` files, files in name order.

    Only the first exchange of a conversation becomes a row. A turn i -> turn i+1 pair is a real exchange in
    true dialogues (conversations.yml, health.yml), but most of the corpus' longer conversations (emotion.yml and
    computers.yml: 58 of 79) list one prompt then several *alternative* answers to it, where
    turn 2 -> turn 3 pairs an answer with another answer; no field tells the two apart, and the first exchange
    is right in both. Conversations that are not a list (a missing "- " in trivia.yml makes one a single string)
    and pairs with an empty or non-string turn (YAML reads a bare yes, 42 or ~ as a bool, number or null) are
    dropped, not repaired; so are repeated identical pairs (tech_support.yml holds 10 pairs 105 times each).
    """
    import pandas as pd
    import yaml

    files = sorted(Path(folder).glob("*.yml"))
    if not files:
        raise ConfigError("task.kind", f"no *.yml conversation files in {folder}", "chatterbot_qa")
    rows = []
    for path in files:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise ConfigError("task.kind", f"cannot read {path}: {str(error).splitlines()[0]}", "chatterbot_qa") from None
        conversations = document.get("conversations") if isinstance(document, dict) else None
        for conversation in conversations or []:
            if not isinstance(conversation, list) or len(conversation) < 2:
                continue
            prompt, response = conversation[0], conversation[1]
            if isinstance(prompt, str) and isinstance(response, str) and prompt.strip() and response.strip():
                rows.append((prompt.strip(), response.strip()))
    frame = pd.DataFrame(rows, columns=["text", "label"]).drop_duplicates().reset_index(drop=True)
    # the prompt as the group, case and spacing folded ("Tell me a joke" and "tell me a joke" are one question)
    return frame.assign(group=frame["text"].map(lambda text: " ".join(text.casefold().split())))

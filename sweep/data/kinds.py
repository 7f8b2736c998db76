"""Task kinds (``task.kind``): where a task's raw rows come from, and what those rows are.

A kind is a reader plus its modality (text or image) and whether its rows are word sequences with one tag per
word, so the config check can tell, before anything is read, that a text model was given an image task or a
token-classification type a reader of whole texts. Readers live by modality: sweep/data/sources.py (texts),
sweep/data/generation_sources.py (source -> target texts), sweep/data/word_sources.py (word sequences) and
sweep/data/image_sources.py (images), sweep/data/image_text_sources.py (image-text pairs); this file
lists them all, once. Light: the readers import pandas when they run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sweep.config.registry import Registry
from sweep.data import generation_sources, image_sources, image_text_sources, sources, word_sources


@dataclass(frozen=True)
class TaskKind:
    read: Callable[[Any], Any] | None  # TaskConfig -> a DataFrame (text) or ImageRows (images); None: multi
    modality: str
    words: bool = False  # True: rows are word sequences with one tag per word (token classification)


TASK_KINDS: Registry[TaskKind] = Registry(
    "task.kind",
    {
        "rotten_tomatoes": TaskKind(sources.rotten_tomatoes, "text"),
        "csv": TaskKind(sources.user_file, "text"),
        "vader_movie_ratings": TaskKind(sources.vader_movie_ratings, "text"),  # a number per text: regression
        "debian_tags": TaskKind(sources.debian_tags, "text"),  # several labels per text: multilabel
        "debian_synopsis": TaskKind(generation_sources.debian_synopsis, "text"),  # long description -> synopsis: seq2seq
        "chatterbot_qa": TaskKind(generation_sources.chatterbot_qa, "text"),  # prompt -> response: causal_lm
        "conll": TaskKind(word_sources.conll, "text", words=True),
        "tweet_ner": TaskKind(word_sources.tweet_ner, "text", words=True),
        "fashion_mnist": TaskKind(image_sources.fashion_mnist, "image"),
        "mnist": TaskKind(image_sources.mnist_5k, "image"),
        "digits": TaskKind(image_sources.digits, "image"),
        "tuxpaint_stamps": TaskKind(image_text_sources.tuxpaint_stamps, "image_text"),  # real captions: task.type=image_text
        "fashion_captions": TaskKind(image_text_sources.fashion_captions, "image_text"),  # class names as sentences
        "multi": TaskKind(None, "text"),  # a stack of other tasks: sweep/data/multitask.py
    },
)

"""The one error type for bad user input: it names the config key and what is allowed."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """Bad user input, found before anything is trained or recorded.

    The message always starts with the offending key, so a user sees at once what to change:
    ``optim.lr=-1: must be > 0``.
    """

    def __init__(self, key: str, message: str, value: Any = ...):
        self.key, self.message, self.value = key, message, value
        shown = key if value is ... else f"{key}={value}"
        super().__init__(f"{shown}: {message}")


def require(condition: bool, key: str, value: Any, message: str) -> None:
    """Raise a ConfigError for ``key`` unless ``condition`` holds (never ``assert`` on user input)."""
    if not condition:
        raise ConfigError(key, message, value)

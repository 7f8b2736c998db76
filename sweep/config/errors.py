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


def bad_input_line(error: BaseException) -> str | None:
    """The one line every entry point prints for bad input before it exits 2: a ConfigError, an unknown
    config-group choice (with the choices), a Hydra composition error; None for any other error."""
    from hydra.errors import HydraException, MissingConfigException

    from sweep.config.secrets import mask_secrets

    if isinstance(error, ConfigError):
        return f"error: {mask_secrets(str(error))}"
    if isinstance(error, MissingConfigException):
        options = f"; choose from {', '.join(error.options)}" if error.options else ""
        return f"error: {str(error).splitlines()[0]}{options}"
    if isinstance(error, HydraException):
        return f"error: {mask_secrets(str(error).strip().splitlines()[0])}"
    return None

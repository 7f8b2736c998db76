"""Registries: name -> implementation, one small lookup instead of if-chains.

A registry is filled by one explicit list where it is defined (``Registry(key, {name: entry, ...})``), or by
decorators in that same file; never by two modules importing each other for side effects. An unknown
name is a ConfigError that lists the known names.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from sweep.config.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, key: str, entries: dict[str, T] | None = None):
        self.key = key  # the config key users set to choose an entry, e.g. "strategy.name"
        self._entries: dict[str, T] = dict(entries or {})  # one explicit list, where the registry is defined

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            if name in self._entries:
                raise RuntimeError(f"{self.key}: '{name}' registered twice")
            self._entries[name] = entry
            return entry

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(self.key, f"unknown name; known: {', '.join(sorted(self._entries))}", name) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

"""What identifies a model given by a source string, for caches of what it computes."""

from __future__ import annotations

from pathlib import Path


def folder_fingerprint(source: str) -> str:
    """``source`` itself, plus its weights' modification times when it is a local folder (which can
    change under the same name); a hub id or a run URI stands for itself."""
    if not Path(source).is_dir():
        return source
    return "|".join([source] + [f"{p.name}:{p.stat().st_mtime_ns}" for p in sorted(Path(source).glob("*.safetensors"))])

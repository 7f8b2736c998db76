"""Passwords in URLs never reach a console, a log, a tag, a param or an artifact.

Below every package that prints or records something (console, tracking, search, the entry point),
so none of them needs another to mask a URL.
"""

from __future__ import annotations

import re

# also matches Hydra's escaped form of an override, postgresql\://user\:secret@host
PASSWORD_IN_URL = re.compile(r"(?P<head>[a-zA-Z][\w+.-]*\\?://[^:/@\s\\]+\\?:)(?P<password>[^@\s]+)(?P<tail>@)")


def mask_secrets(text: str) -> str:
    """``postgresql://user:secret@host/db`` -> ``postgresql://user:***@host/db``."""
    return PASSWORD_IN_URL.sub(r"\g<head>***\g<tail>", text)

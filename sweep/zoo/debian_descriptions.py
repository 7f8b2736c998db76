"""Debian's package descriptions with their Debtags, as one small CSV built without root on first use.

Why this corpus: a real multi-label text set that installs from Debian's own archive. Every package has a
description written by its maintainer (a synopsis and a paragraph or more of prose), and about 30,000 of them
carry Debtags: human-reviewed facet::value tags, several per package (``use::editing, works-with::text``).
No pip package ships a real multi-label text corpus (Reuters, GoEmotions, RCV1 are all downloaded at run time).

Where it comes from: apt's own package indexes. ``Packages`` holds each package's ``Tag:`` field and the md5 of
its description; ``Translation-en`` holds the long descriptions by that md5. Both are fetched as any user with
``apt-get update`` into a scratch folder (its lists, cache and lock redirected there: no root, and the system's
lists are never touched), joined, and written to ``$XDG_CACHE_HOME/sweep/debian-index/debian-descriptions.csv.gz``
(about 5 MB; the 85 MB of indexes are dropped). The rows follow the machine's configured Debian release (the
sources in /etc/apt): bookworm gives 30,300 tagged packages. Set-up never runs apt (sweep/zoo/install.py):
the task builds it on first use, or ``python -m sweep.zoo.debian_descriptions`` does.
"""

from __future__ import annotations

import csv
import gzip
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from sweep.zoo.debian import debian_user_root
from sweep.zoo.first_use import FetchedOnFirstUse

log = logging.getLogger("sweep")

COLUMNS = ("package", "source", "section", "tags", "text")
# apt-get update as any user: every path it writes redirected into the scratch folder, English descriptions on
# (Docker images turn them off), indexes stored uncompressed, and the large optional indexes off
APT_OPTIONS = (
    "Acquire::Languages=en",
    "Acquire::GzipIndexes=false",
    "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false",
    "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
    "Dir::Cache::pkgcache=",
    "Dir::Cache::srcpkgcache=",
)


class DebianIndexError(Exception):
    """``apt-get update`` failed or left no usable index; the message is one line."""


@dataclass(frozen=True)
class DebianDescriptions(FetchedOnFirstUse):
    """The CSV of tagged Debian packages (columns: package, source, section, tags, text), built on first use."""

    failure: ClassVar[type[Exception]] = DebianIndexError

    file_name: str = "debian-descriptions.csv.gz"
    user_root: str | None = None  # None: beside the Debian package copies; a field so that tests can use a temp folder

    @property
    def path(self) -> Path:
        root = Path(self.user_root) if self.user_root else debian_user_root().parent / "debian-index"
        return root / self.file_name

    @property
    def install_command(self) -> str:
        return f"{Path(sys.executable).name} -m sweep.zoo.debian_descriptions"

    def find(self) -> Path | None:
        return self.path if self.path.exists() else None

    def missing(self, error: Exception) -> str:
        return (
            f"Debian's package descriptions are not in {self.path}, and building them without root failed ({error});"
            f" they need apt-get and a reachable Debian mirror: run {self.install_command}"
        )

    def fetch(self, timeout: float = 600) -> Path:
        """Fetch the indexes with apt-get as this user, join them, write the CSV atomically; raises DebianIndexError."""
        log.info("building Debian's package descriptions without root into %s (once)", self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix="apt-lists-", dir=self.path.parent) as scratch:
                lists = _update(Path(scratch), timeout)
                rows = tagged_packages(sorted(lists.glob("*_Packages")), sorted(lists.glob("*_i18n_Translation-en")))
                if not rows:
                    raise DebianIndexError(f"apt's indexes in {lists} hold no package with a Tag field")
                partial = Path(scratch) / self.file_name
                with gzip.open(partial, "wt", encoding="utf-8", newline="") as handle:
                    writer = csv.writer(handle)
                    writer.writerow(COLUMNS)
                    writer.writerows(rows)
                os.replace(partial, self.path)  # atomic: a reader sees no file or the whole file
        except OSError as error:  # an unwritable cache folder, a full disk: one line too
            raise DebianIndexError(f"{type(error).__name__}: {error}") from None
        return self.path


def _update(scratch: Path, timeout: float) -> Path:
    """``apt-get update`` into scratch/lists, as whoever runs it: apt writes nothing outside scratch."""
    if shutil.which("apt-get") is None:
        raise DebianIndexError("apt-get not found: not a Debian-based system")
    lists = scratch / "lists"
    (lists / "partial").mkdir(parents=True)
    options = [f"Dir::State::Lists={lists}", f"Dir::Cache={scratch / 'cache'}", *APT_OPTIONS]
    command = ["apt-get", "update", "-q", *(part for option in options for part in ("-o", option))]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError) as error:
        raise DebianIndexError(f"apt-get: {error}") from None
    errors = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.startswith(("E:", "Err:"))]
    if done.returncode != 0:
        raise DebianIndexError(f"`apt-get update` exited {done.returncode}: {'; '.join(errors) or 'no output'}")
    return lists


def stanzas(path: Path, wanted: tuple[str, ...]):
    """The records of a Debian control-style file (RFC 822 stanzas), each a dict of the wanted fields, with a
    multi-line field's continuation lines kept (leading space and all)."""
    record: dict[str, str] = {}
    key = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line.strip():
                if record:
                    yield record
                record, key = {}, None
            elif line[0] in " \t":
                if key is not None:
                    record[key] += "\n" + line
            else:
                name, _, value = line.partition(":")
                key = name if name in wanted else None
                if key is not None:
                    record[key] = value.strip()
    if record:
        yield record


def plain_description(synopsis: str, body: str) -> str:
    """A Debian description as plain text: the synopsis, then each paragraph on one line (" ." lines part them)."""
    paragraphs, current = [], []
    for line in body.split("\n"):
        line = line.strip()
        if line == ".":
            paragraphs.append(" ".join(current))
            current = []
        elif line:
            current.append(line)
    paragraphs.append(" ".join(current))
    return "\n".join([synopsis.strip(), *(paragraph for paragraph in paragraphs if paragraph)])


def tagged_packages(packages: list[Path], translations: list[Path]) -> list[tuple[str, str, str, str, str]]:
    """(package, source, section, tags, text) for every package with a Tag field, once per package name (the first
    index that has it, in file-name order), sorted by package; the long description from Translation-en by md5."""
    long = {}
    for path in translations:
        for record in stanzas(path, ("Description-md5", "Description-en")):
            if "Description-md5" in record and "Description-en" in record:
                long.setdefault(record["Description-md5"], record["Description-en"])
    rows = {}
    for path in packages:
        for record in stanzas(path, ("Package", "Source", "Section", "Tag", "Description", "Description-md5")):
            name = record.get("Package")
            if not name or "Tag" not in record or name in rows:
                continue
            # a Packages file either has the whole description (third-party archives) or only its synopsis and md5
            description = record.get("Description", "")
            if "\n" not in description and record.get("Description-md5") in long:
                description = long[record["Description-md5"]]
            synopsis, _, body = description.partition("\n")
            tags = ", ".join(tag.strip() for tag in record["Tag"].replace("\n", " ").split(",") if tag.strip())
            source = (record.get("Source") or name).split()[0]
            rows[name] = (name, source, record.get("Section", ""), tags, plain_description(synopsis, body))
    return [rows[name] for name in sorted(rows)]


def main() -> int:
    corpus = DebianDescriptions()
    try:
        path = corpus.fetch()
    except DebianIndexError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        count = sum(1 for _ in csv.reader(handle)) - 1  # rows, not lines: descriptions span several
    print(f"Debian package descriptions with Debtags: {count} packages in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""An sdist unpacks on Pythons without tarfile's extraction filters (3.11.0-3.11.3, Debian 12's 3.11.2), with the
same refusals as the "data" filter. Regression: `make setup` failed there with "extractall() got an unexpected
keyword argument 'filter'" while fetching VADER's sdist."""

from __future__ import annotations

import io
import tarfile

import pytest


def archive(path, members: dict[str, bytes], link: tuple[str, str] | None = None):
    with tarfile.open(path, "w:gz") as handle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            handle.addfile(info, io.BytesIO(data))
        if link is not None:
            info = tarfile.TarInfo(link[0])
            info.type, info.linkname = tarfile.SYMTYPE, link[1]
            handle.addfile(info)
    return path


@pytest.fixture
def without_filters(monkeypatch):
    """tarfile as Python 3.11.2 has it: no data_filter, and extractall() takes no filter argument."""
    original = tarfile.TarFile.extractall

    def extractall(self, path=".", members=None, *, numeric_owner=False):
        return original(self, path, members, numeric_owner=numeric_owner, filter="fully_trusted")

    monkeypatch.delattr(tarfile, "data_filter")
    monkeypatch.setattr(tarfile.TarFile, "extractall", extractall)


def test_an_sdist_unpacks_without_extraction_filters(tmp_path, without_filters):
    from sweep.zoo.sdist import _unpack

    sdist = archive(tmp_path / "pkg-1.0.tar.gz", {"pkg-1.0/setup.py": b"# setup", "pkg-1.0/data/ratings.txt": b"1\t0.5\n"},
                    link=("pkg-1.0/data/same.txt", "ratings.txt"))  # fmt: skip
    _unpack(sdist, tmp_path / "out")
    assert (tmp_path / "out" / "pkg-1.0" / "data" / "ratings.txt").read_bytes() == b"1\t0.5\n"


@pytest.mark.parametrize(
    ("members", "link"),
    [({"../evil.txt": b"x"}, None), ({"/etc/evil.txt": b"x"}, None), ({"pkg/a.txt": b"x"}, ("pkg/out", "../../outside"))],
)
def test_what_the_data_filter_refuses_is_refused_without_it(tmp_path, without_filters, members, link):
    from sweep.zoo.sdist import _unpack

    sdist = archive(tmp_path / "bad.tar.gz", members, link)
    with pytest.raises(tarfile.TarError, match="refused"):
        _unpack(sdist, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "outside").exists()

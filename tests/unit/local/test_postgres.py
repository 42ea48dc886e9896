import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.postgres import can_pass
from deploy.local.processes import Account

STRANGER = Account("stranger", uid=54321, gid=54321, groups=(54321,))


@pytest.fixture
def folder() -> Iterator[Path]:
    # Not under pytest's tmp_path: that sits in a 0700 folder, which no one else passes.
    path = Path(tempfile.mkdtemp(prefix="qunyun-can-pass-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_another_account_passes_folders_open_all_the_way_down(folder: Path) -> None:
    (folder / "a" / "b").mkdir(parents=True, mode=0o755)
    (folder / "a").chmod(0o711)
    assert can_pass(STRANGER, folder / "a" / "b")


def test_one_private_folder_above_stops_another_account(folder: Path) -> None:
    (folder / "private" / "open").mkdir(parents=True)
    (folder / "private").chmod(0o700)
    (folder / "private" / "open").chmod(0o755)
    assert not can_pass(STRANGER, folder / "private" / "open")
    assert not can_pass(STRANGER, folder / "private")
    assert can_pass(STRANGER, folder)


def test_the_owner_passes_its_own_private_folder(folder: Path) -> None:
    (folder / "mine").mkdir(mode=0o700)
    owner = Account("owner", uid=os.geteuid(), gid=os.getegid(), groups=())
    assert can_pass(owner, folder / "mine")

"""Pack ids are checked before any work, and `--force` replaces only its own pack folder."""

import json
from pathlib import Path

import pytest

from avatar_service.cli import main
from tests.packs.conftest import GRACE_HOPPER

BAD_IDS = ["", ".", "..", "../escaped", "a/b", "/abs", "Bad Id!", "sp ace", "dot.ted", "x" * 101]


def _tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


@pytest.fixture
def packs_dir(tmp_path: Path) -> Path:
    root = tmp_path / "packs"
    (root / "other_v1").mkdir(parents=True)
    (root / "other_v1" / "manifest.json").write_text('{"id": "other_v1"}')
    (root / "notes.txt").write_text("keep me")
    return root


@pytest.mark.parametrize("bad_id", BAD_IDS)
@pytest.mark.parametrize(
    "command",
    [
        ["pack", "create", "--photo", "does-not-exist.jpg", "--force", "--id"],
        ["pack", "idle", "--avatar-id"],
        ["anchors", "--input", "does-not-exist.webm", "--avatar-id"],
    ],
)
def test_bad_ids_are_refused_first_in_one_line(packs_dir, tmp_path, capsys, command, bad_id):
    before = _tree(tmp_path)
    # The photo does not exist either: the id is checked before anything is read, made or deleted.
    assert main([*command, bad_id, "--packs-dir", str(packs_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: id: ") and "letters, digits" in err and "\n" not in err
    assert _tree(tmp_path) == before


@pytest.mark.tracking
def test_force_replaces_only_its_own_pack(packs_dir, tmp_path):
    outside = tmp_path / "beside.txt"
    outside.write_text("outside")
    args = ["pack", "create", "--photo", str(GRACE_HOPPER), "--id", "gh", "--packs-dir", str(packs_dir)]
    assert main(args) == 0
    (packs_dir / "gh" / "stale.txt").write_text("from the old pack")
    siblings = {path: path.read_bytes() for path in [outside, packs_dir / "notes.txt", packs_dir / "other_v1" / "manifest.json"]}

    assert main([*args, "--force", "--name", "Replaced"]) == 0

    assert json.loads((packs_dir / "gh" / "manifest.json").read_text())["name"] == "Replaced"
    assert not (packs_dir / "gh" / "stale.txt").exists()  # the whole old pack was replaced, not merged
    assert {path: path.read_bytes() for path in siblings} == siblings
    assert sorted(p.name for p in packs_dir.iterdir()) == ["gh", "notes.txt", "other_v1"]  # no staging left


@pytest.mark.tracking
def test_failed_force_keeps_the_old_pack(packs_dir, tmp_path, capsys):
    args = ["pack", "create", "--photo", str(GRACE_HOPPER), "--id", "gh", "--packs-dir", str(packs_dir)]
    assert main(args) == 0
    before = {path: path.read_bytes() for path in (packs_dir / "gh").iterdir()}
    unreadable = tmp_path / "broken.jpg"
    unreadable.write_bytes(b"not an image")

    assert main(["pack", "create", "--photo", str(unreadable), "--id", "gh", "--force", "--packs-dir", str(packs_dir)]) == 2

    assert {path: path.read_bytes() for path in (packs_dir / "gh").iterdir()} == before
    assert sorted(p.name for p in packs_dir.iterdir()) == ["gh", "notes.txt", "other_v1"]

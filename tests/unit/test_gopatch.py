"""Patching a Go module copy for the local FerretDB build (no Go, no network)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from iotpipe.errors import BuildFailed
from iotpipe.stack.assets import assets_dir
from iotpipe.stack.gopatch import Patch, load_patches, patched_copy, replacing_modfile

MODULE = "example.com/upstream"


def fake_module(root: Path, body: str) -> Path:
    module = root / "cache" / "upstream@v1.0.0"
    (module / "pkg").mkdir(parents=True)
    source = module / "pkg" / "meta.go"
    source.write_text(body)
    for path in (source, module / "pkg", module):  # as Go's module cache leaves them
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return module


PATCH = Patch("pkg/meta.go", 'ID = "slow"', 'ID = "fast"', "why")


def test_the_copy_is_patched_and_the_module_left_as_downloaded(tmp_path: Path) -> None:
    module = fake_module(tmp_path, 'package pkg\n\nconst ID = "slow"\n')
    copy = patched_copy(module, [PATCH], tmp_path / "work" / "upstream")
    assert (copy / "pkg" / "meta.go").read_text() == 'package pkg\n\nconst ID = "fast"\n'
    assert (module / "pkg" / "meta.go").read_text() == 'package pkg\n\nconst ID = "slow"\n'


@pytest.mark.parametrize(
    "body", ["package pkg\n", 'const ID = "slow"\nconst ID = "slow"\n'], ids=["absent", "twice"]
)
def test_a_patch_whose_text_is_not_there_exactly_once_fails_the_build(
    tmp_path: Path, body: str
) -> None:
    module = fake_module(tmp_path, body)
    with pytest.raises(BuildFailed, match=r"pkg/meta\.go expects its text exactly once"):
        patched_copy(module, [PATCH], tmp_path / "work" / "upstream")


def test_a_patch_for_a_missing_file_fails_the_build(tmp_path: Path) -> None:
    module = fake_module(tmp_path, 'const ID = "slow"\n')
    missing = Patch("pkg/gone.go", "x", "y", "why")
    with pytest.raises(BuildFailed, match="found it 0 times"):
        patched_copy(module, [missing], tmp_path / "work" / "upstream")


def test_the_modfile_replaces_the_module_with_the_copy(tmp_path: Path) -> None:
    main = tmp_path / "main"
    main.mkdir()
    (main / "go.mod").write_text(f"module launcher\n\nrequire {MODULE} v1.0.0\n")
    (main / "go.sum").write_text("sums\n")
    out = tmp_path / "work"
    out.mkdir()
    modfile = replacing_modfile(main, MODULE, out / "upstream", out)
    assert modfile.read_text().endswith(f"replace {MODULE} => {(out / 'upstream').resolve()}\n")
    assert modfile.read_text().startswith(f"module launcher\n\nrequire {MODULE} v1.0.0\n")
    assert (out / "go.sum").read_text() == "sums\n"
    assert (main / "go.mod").read_text() == f"module launcher\n\nrequire {MODULE} v1.0.0\n"


def test_the_local_ferretdb_patches_are_well_formed() -> None:
    patches = load_patches(assets_dir() / "ferretdb" / "patches.json")
    assert patches, "the FerretDB build carries its _id index fix"
    for patch in patches:
        assert patch.old != patch.new and patch.old and patch.why
        assert not Path(patch.file).is_absolute() and ".." not in Path(patch.file).parts

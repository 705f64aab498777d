"""RSS of a process tree, read from a fake /proc."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotpipe.soak.rss import parse_vm_rss_kb, tree_rss_mb

STATUS = "Name:\tpython\nVmPeak:\t  500000 kB\nVmRSS:\t  {kb} kB\nThreads:\t4\n"


def fake_process(proc: Path, pid: int, rss_kb: int | None, children: list[int]) -> None:
    task = proc / str(pid) / "task" / str(pid)
    task.mkdir(parents=True)
    text = STATUS.format(kb=rss_kb) if rss_kb is not None else "Name:\tzombie\nState:\tZ\n"
    (proc / str(pid) / "status").write_text(text)
    (task / "children").write_text(" ".join(map(str, children)))


def test_parse_vm_rss() -> None:
    assert parse_vm_rss_kb(STATUS.format(kb=2048)) == 2048
    assert parse_vm_rss_kb("Name:\tzombie\nState:\tZ (zombie)\n") == 0


def test_a_process_tree_sums_its_descendants(tmp_path: Path) -> None:
    fake_process(tmp_path, 10, 1024, [11, 12])
    fake_process(tmp_path, 11, 2048, [13])
    fake_process(tmp_path, 12, None, [])  # a zombie: no memory
    fake_process(tmp_path, 13, 512, [])
    assert tree_rss_mb(10, tmp_path) == pytest.approx(3.5)
    assert tree_rss_mb(11, tmp_path) == pytest.approx(2.5)


def test_a_child_gone_between_reads_is_skipped(tmp_path: Path) -> None:
    fake_process(tmp_path, 10, 1024, [99])
    assert tree_rss_mb(10, tmp_path) == pytest.approx(1.0)


def test_a_process_gone_has_no_rss(tmp_path: Path) -> None:
    assert tree_rss_mb(10, tmp_path) is None


def test_this_process_has_some_rss() -> None:
    import os  # noqa: PLC0415

    rss = tree_rss_mb(os.getpid())
    assert rss is not None
    assert rss > 1

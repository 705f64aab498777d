"""The load generator's pure parts: its summary line, which generator a run uses, wrk's
command line, and where a build goes (no Go, no network, no process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iotpipe.bench import loadgen, wrk
from iotpipe.bench.loadgen import parse_summary
from iotpipe.errors import ConfigError, PrerequisiteMissing
from iotpipe.stack.assets import fingerprint
from iotpipe.stack.install import DONE_MARK

SUMMARY = {
    "requests": 7000,
    "duration_us": 10_000_000,
    "non2xx": 3,
    "errors": 1,
    "p50_us": 4200,
    "p99_us": 19000,
    "mean_us": 4500.5,
}
# wrk prints its own lines first, then the script's; the Go generator prints the line only.
WRK_OUTPUT = (
    "Running 10s test @ http://127.0.0.1:8000/noop\n  1 threads and 32 connections\n"
    f"  7000 requests in 10.00s, 1.2MB read\n{json.dumps(SUMMARY)}\n"
)


@pytest.mark.parametrize("printed", [WRK_OUTPUT, json.dumps(SUMMARY) + "\n"])
def test_the_summary_is_read_from_the_last_json_line(printed: str) -> None:
    parsed = parse_summary(printed, cpu_share=0.25)
    assert parsed.requests == 7000
    assert parsed.requests_per_s == 700.0
    assert (parsed.p50_ms, parsed.p99_ms, parsed.mean_ms) == (4.2, 19.0, 4.5005)
    assert (parsed.non2xx, parsed.errors, parsed.cpu_share) == (3, 1, 0.25)


def test_the_generator_is_the_built_one_unless_wrk_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(loadgen.ENV, raising=False)
    assert loadgen.chosen() == "loadgen"
    monkeypatch.setenv(loadgen.ENV, "")
    assert loadgen.chosen() == "loadgen"
    monkeypatch.setenv(loadgen.ENV, "wrk")
    assert loadgen.chosen() == "wrk"
    monkeypatch.setenv(loadgen.ENV, "ab")
    with pytest.raises(ConfigError, match="IOTPIPE_BENCH_LOADGEN must be one of loadgen, wrk"):
        loadgen.chosen()


def test_asking_for_wrk_without_it_says_how_to_get_it_or_do_without(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(loadgen.ENV, "wrk")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrerequisiteMissing, match=r"apt-get install wrk.*unset it"):
        loadgen.prepare()


def test_wrks_command_writes_its_script_beside_the_body(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    argv, env = wrk.command(
        Path("/usr/bin/wrk"), "http://h/x", body, key="k", connections=8, seconds=2.4,
        delay_ms=3.7, timeout_s=10,
    )  # fmt: skip
    script = tmp_path / "post.lua"
    assert argv == ["/usr/bin/wrk", "-t", "1", "-c", "8", "-d", "2s", "--timeout", "10s",
                    "-s", str(script), "http://h/x"]  # fmt: skip
    assert "function done(summary, latency, requests)" in script.read_text()
    assert env == {"WRK_BODY_FILE": str(body), "WRK_AUTH": "k", "WRK_DELAY_MS": "3"}


def test_a_build_goes_under_the_cache_by_the_fingerprint_of_its_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A finished build (its mark present) is found without Go; a changed source is
    another fingerprint, so another build (here: Go is missing, so it says so)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("go.mod", "main.go"):
        (src / name).write_text(name)
    done = tmp_path / "cache" / "loadgen" / fingerprint(*sorted(src.iterdir()))
    done.mkdir(parents=True)
    (done / DONE_MARK).touch()

    def no_go() -> Path:
        raise PrerequisiteMissing("no go")

    monkeypatch.setattr(loadgen, "find_go", no_go)
    assert loadgen.build(tmp_path / "cache", src=src) == done / "loadgen"
    (src / "main.go").write_text("changed")
    with pytest.raises(PrerequisiteMissing, match="no go"):
        loadgen.build(tmp_path / "cache", src=src)

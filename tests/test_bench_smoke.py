"""The benchmark harness stays runnable: its server answers, every contender completes each call.

Behaviour only; timings are the benchmark's business (make bench), never asserted in tests.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.clients import CONTENDERS, CORE, FLOORS
from bench.run import floor_report, measure_in_process, report, write_between

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def bench_url() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "bench.server", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and "bench server" in proc.stdout.readline()
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    proc.wait(timeout=10)


def test_bench_server_speaks_openai(bench_url: str) -> None:
    body = {"model": "bench-stream-3", "messages": [{"role": "user", "content": "x"}], "stream": True}
    lines = httpx.post(bench_url + "/chat/completions", json=body).text.split("\n\n")
    assert lines[-2] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-2]]
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:4]] == ["tok0 ", "tok1 ", "tok2 "]
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    plain = httpx.post(bench_url + "/chat/completions", json={**body, "stream": False}).json()
    assert plain["choices"][0]["message"]["content"].startswith("The quick brown fox")


@pytest.mark.parametrize("name", [*CONTENDERS, *FLOORS, *CORE])
def test_every_contender_completes(name: str, bench_url: str) -> None:
    contender = {**CONTENDERS, **FLOORS, **CORE}[name](bench_url)
    assert contender.invoke()
    assert contender.stream("bench-stream-20") >= 20

    async def run() -> None:
        assert await contender.ainvoke()
        assert await contender.astream("bench-stream-20") >= 20

    asyncio.run(run())


def test_report_shape() -> None:
    row = {"invoke": 0.0003, "stream": 0.006, "fanout": 0.5, "memory": 10.0, "import": 0.1}
    table = report({"raw httpx": row,
                    "ChatA2Agent": {**row, "invoke": 0.0006, "import_delta": 0.02, "import_after_core": 0.01}})
    assert "| ChatA2Agent | 600 µs | 2.00 |" in table and "20 ms / 10 ms" in table


def test_floor_report_divides_by_raw_httpx_plus_the_framework_floor() -> None:
    row = {"invoke": 0.0003, "stream": 0.006, "fanout": 0.5}
    results = {"raw httpx": row, "LangChain floor": {**row, "invoke": 0.0001, "stream": 0.018},
               "LlamaIndex floor": row, "ChatA2Agent": {**row, "invoke": 0.00044, "stream": 0.0264}}
    table = floor_report(results)
    assert "| ChatA2Agent | 440 µs | 400 µs | 1.10 | 26.4 ms | 24.0 ms | 1.10 | | |" in table
    assert "| LangChain floor (alone) | 100 µs |" in table
    results["LangChain floor"]["invoke_alternating"] = 0.00055  # raw httpx then the floor, alternately
    assert "| 1.10 | 550 µs | 0.80 |" in floor_report(results)


def test_in_process_rounds_time_every_contender_and_the_floor_after_io(bench_url: str) -> None:
    names = ("raw httpx", "LangChain floor", "ChatA2Agent")
    contenders = {n: {**CONTENDERS, **FLOORS}[n](bench_url) for n in names}
    results = measure_in_process(contenders, rounds=1, calls=2, streams=1, fanout_n=2)
    assert all({"invoke", "stream", "fanout"} <= set(results[n]) for n in names)
    assert "invoke_alternating" in results["LangChain floor"] and "invoke_alternating" not in results["ChatA2Agent"]
    assert "| ChatA2Agent |" in floor_report(results)


def test_readme_tables_are_rewritten_between_their_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:table -->\nold\n<!-- /bench:table -->\nafter\n")
    write_between(readme, "table", "| new |")
    assert readme.read_text() == "intro\n<!-- bench:table -->\n| new |\n<!-- /bench:table -->\nafter\n"
    with pytest.raises(SystemExit, match="no bench:floors markers"):
        write_between(readme, "floors", "x")


def test_decoding_bench_runs_every_decoder_and_client(bench_url: str) -> None:
    from bench import decode

    table = decode.decode_table(quick=True, repeats=1)  # asserts every decoder saw every event
    assert set(table) == set(decode.cases(quick=True)) and all(set(r) == set(decode.DECODERS) for r in table.values())
    e2e = decode.end_to_end(bench_url, events=200, repeats=1)  # asserts each client read all 200 events
    assert set(e2e) == {"raw httpx", "openai SDK", "a2agent core"}
    assert "| 200 tiny events over HTTP | raw httpx | openai SDK | a2agent core |" in decode.report(table, e2e, 200)


def test_per_chunk_layers_are_measured_for_both_adapters(bench_url: str) -> None:
    from bench import perchunk

    per = perchunk.layers(bench_url, model="bench-stream-20", repeats=1)
    assert {"core", "SSE", "JSON", "checks", "ChatA2Agent stream", "A2AgentLLM stream"} <= set(per)
    table = perchunk.report(per)
    assert "| ChatA2Agent over raw httpx + floor |" in table and "| A2AgentLLM stream, whole |" in table


def test_rate_limit_bench_runs_every_path_at_a_tiny_size() -> None:
    from bench.ratelimit import report, run, verdicts

    rows = run(calls=8, groups=2, single=["ChatA2Agent", "A2AgentLLM"], start_delay=2.5, contrast=False)
    assert [r["label"] for r in rows][:2] == ["ChatA2Agent", "A2AgentLLM"]
    assert all(r["completed"] + r["failed"] == r["calls"] for r in rows)
    assert all(r["completed"] == r["calls"] for r in rows if "A2Agent" in r["label"])
    assert "| ChatA2Agent | 8 | 0 |" in report(rows) and verdicts(rows)
    assert all(r["max_per_s_known"] <= r["max_per_s"] for r in rows)


def test_rate_windows_count_server_side() -> None:
    from bench.ratelimit import windows

    arrivals = [(0.0, True), (0.5, False), (0.9, True), (1.2, True), (3.0, True)]
    assert windows(arrivals) == (3, 2, [3, 1, 0, 1])


def test_the_rate_is_known_once_the_first_429s_pause_is_over() -> None:
    from bench.ratelimit import known_from

    # R = 2 a second: the 429 at 0.5 asks to wait until the oldest admitted one (0.0) leaves the window
    assert known_from([(0.0, True), (0.2, True), (0.5, False), (1.3, True)]) == 1.0
    assert known_from([(0.0, True), (0.2, True)]) is None  # no 429: never learned


def test_burst_bench_runs_every_contender_at_a_tiny_size(bench_url: str) -> None:
    from bench.burst import NAMES, measure_bursts, report, verdicts

    results = measure_bursts(bench_url, NAMES, streams=20, bursts=2)
    assert list(results) == NAMES
    assert all(set(r) == {"burst1", "burst2", "peak_mb"} for r in results.values())
    assert "| a2agent core |" in report(results)  # as bench/run.py calls it
    assert [line.split(":")[0] for line in verdicts(results)] == ["a2agent core", "ChatA2Agent", "A2AgentLLM"]

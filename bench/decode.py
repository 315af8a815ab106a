"""Stream decoding at sizes that break quadratic decoders (issue: linear SSE decoding).

Sans-IO decoders fed the same bytes in the same chunking (no network, no JSON):
  4 MB event, 1460-byte chunks   one huge event as TCP delivers it
  64 KB event, 1-byte chunks     the worst chunking there is
  100k tiny events               a long response of small events, in 64 KB reads
a2agent's ``SSEDecoder`` against the openai SDK's (the anthropic SDK shares its design). Then the
same 100k-event response end to end over HTTP from the bench server (``bench-tiny-100000``):
raw httpx (line iteration + json.loads), the openai SDK, and the a2agent core client.

    python -m bench.decode [--quick]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench.clients import KEY, raw_sse_stream


def _event(data: bytes) -> bytes:
    return b"data: " + data + b"\n\n"


def cases(quick: bool) -> dict[str, list[bytes]]:
    big = 4_000_000 // (10 if quick else 1)
    huge = _event(json.dumps({"choices": [{"index": 0, "delta": {"content": "x" * big}}]}).encode())
    medium = _event(json.dumps({"choices": [{"index": 0, "delta": {"content": "y" * 65_536}}]}).encode())
    count = 10_000 if quick else 100_000
    tiny = b"".join(_event(b'{"choices":[{"index":0,"delta":{"content":"%d"}}]}' % i) for i in range(count))
    return {
        f"{len(huge) / 1e6:.1f} MB event, 1460-byte chunks": [huge[i:i + 1460] for i in range(0, len(huge), 1460)],
        "64 KB event, 1-byte chunks": [medium[i:i + 1] for i in range(len(medium))],
        f"{count // 1000}k tiny events, 64 KB reads": [tiny[i:i + 65_536] for i in range(0, len(tiny), 65_536)],
    }


def a2agent_decode(chunks: list[bytes]) -> int:
    from a2agent._sse import SSEDecoder

    decoder = SSEDecoder()
    return sum(len(decoder.feed(chunk)) for chunk in chunks) + len(decoder.flush())


def openai_decode(chunks: list[bytes]) -> int:
    from openai._streaming import SSEDecoder

    return sum(1 for _ in SSEDecoder().iter_bytes(iter(chunks)))


DECODERS: dict[str, Callable[[list[bytes]], int]] = {"a2agent": a2agent_decode, "openai SDK": openai_decode}


def timed(fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds, with the garbage collector off inside each timing (collected before)."""
    out = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return statistics.median(out)


def decode_table(quick: bool = False, repeats: int = 3) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for case, chunks in cases(quick).items():
        counts = {name: fn(chunks) for name, fn in DECODERS.items()}
        assert len(set(counts.values())) == 1, (case, counts)  # both see every event
        results[case] = {name: timed(lambda fn=fn, chunks=chunks: fn(chunks), repeats) for name, fn in DECODERS.items()}
    return results


def end_to_end(base_url: str, events: int, repeats: int = 3) -> dict[str, float]:
    """Seconds to consume a response of ``events`` tiny events (decoded to dicts) over HTTP."""
    import httpx
    import openai

    import a2agent

    model = f"bench-tiny-{events}"
    messages = [{"role": "user", "content": "x"}]
    body = json.dumps({"model": model, "messages": messages, "stream": True}).encode()
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    http = httpx.Client()
    sdk = openai.OpenAI(base_url=base_url, api_key=KEY)
    core = a2agent.A2AgentClient(base_url=base_url, api_key=KEY)

    def raw() -> int:
        return raw_sse_stream(http, base_url + "/chat/completions", body, headers)

    def openai_sdk() -> int:
        return sum(1 for _ in sdk.chat.completions.create(model=model, messages=messages, stream=True))  # type: ignore[arg-type]

    def a2agent_core() -> int:
        with core.stream_chat_completions({"model": model, "messages": messages}, accumulate=False) as stream:
            return sum(1 for _ in stream)

    runners: dict[str, Callable[[], int]] = {"raw httpx": raw, "openai SDK": openai_sdk, "a2agent core": a2agent_core}
    for name, fn in runners.items():
        assert fn() >= events, name
    try:
        return {name: timed(fn, repeats) for name, fn in runners.items()}
    finally:
        http.close()
        sdk.close()
        core.close()


def report(decoders: dict[str, dict[str, float]], e2e: dict[str, float], events: int) -> str:
    names = list(DECODERS)
    lines = ["| sans-IO decoding | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    for case, row in decoders.items():
        lines.append(f"| {case} | " + " | ".join(f"{row[n] * 1000:.1f} ms" for n in names) + " |")
    lines += ["", f"| {events:,} tiny events over HTTP | " + " | ".join(e2e) + " |",
              "| --- |" + " ---: |" * len(e2e),
              "| seconds | " + " | ".join(f"{v * 1000:.0f} ms" for v in e2e.values()) + " |"]
    return "\n".join(lines)


def main() -> None:
    from bench.run import free_port, start_server

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    events = 10_000 if args.quick else 100_000
    port = free_port()
    server = start_server(port)
    try:
        e2e = end_to_end(f"http://127.0.0.1:{port}/v1", events)
    finally:
        server.terminate()
        server.wait()
    print(report(decode_table(args.quick), e2e, events))


if __name__ == "__main__":
    main()

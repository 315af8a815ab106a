"""Bursts on a long-lived client: ``streams`` concurrent streams, then the same again on the same client.

A client that is kept (a server's model object, a notebook's) meets bursts on a pool that already
holds connections from the last one; the second burst must cost no more than the first. Each
contender runs in a fresh process (as the memory measurement of bench/run.py), against the
bench server (bench/server.py, 127.0.0.1 only), after a warm-up stream on another client of its
own. Per contender: seconds per burst, and the peak RSS growth over all bursts. The garbage
collector stays on: a burst lasts seconds, its collections are part of its cost, and the peak RSS
is measured with them.

    python -m bench.burst [--streams 1000] [--bursts 3] [--repeats 3] [--json bench/burst.json]

Repeats are interleaved (every contender once per round) so drift hits everyone alike; medians.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.clients import CONTENDERS, CORE, FLOOR_OF, FLOORS
from bench.run import ROOT, _rss_kb, free_port, start_server

MODEL = "bench-stream-50"
# The floors (do-nothing models on each framework's base class, no HTTP) show what a framework's
# own per-stream state costs: LangChain's alone is ~1.8x raw httpx's whole burst.
NAMES = ["raw httpx", "openai SDK", "a2agent core", "ChatA2Agent", "A2AgentLLM", "LangChain floor",
         "LlamaIndex floor"]
OURS = ("a2agent core", "ChatA2Agent", "A2AgentLLM")
FACTORIES = {**CONTENDERS, **CORE, **FLOORS}


def child(name: str, base_url: str, streams: int, bursts: int) -> dict[str, float]:
    """In a fresh process: seconds per burst and peak RSS growth (MB) from before the first.

    The warm-up stream (lazy imports, caches) runs on a client of its own: the bursts start on a
    client with an empty pool, as a fresh client's first burst does. (One idle connection left by a
    warm-up changes what httpcore does with the whole first burst: every request is handed that
    connection at once, and the burst runs on a dozen connections instead of 1000.)
    """
    astream = FACTORIES[name](base_url).astream

    async def run() -> dict[str, float]:
        assert await FACTORIES[name](base_url).astream(MODEL) >= 50
        gc.collect()
        base = _rss_kb("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM, the peak (Linux >= 4.0)
        out = {}
        for burst in range(1, bursts + 1):
            start = time.perf_counter()
            counts = await asyncio.gather(*(astream(MODEL) for _ in range(streams)))
            out[f"burst{burst}"] = time.perf_counter() - start
            assert min(counts) >= 50, (name, min(counts))
        out["peak_mb"] = (_rss_kb("VmHWM") - base) / 1024
        return out

    return asyncio.run(run())


def run_child(name: str, base_url: str, streams: int, bursts: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "bench.burst", "--child", name, "--base-url", base_url,
                          "--streams", str(streams), "--bursts", str(bursts)],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def measure_bursts(base_url: str, names: list[str], streams: int = 1000, bursts: int = 2,
                   repeats: int = 1) -> dict[str, dict[str, float]]:
    """Per contender: ``burst1`` .. ``burstN`` (seconds) and ``peak_mb``, medians over ``repeats``
    fresh processes (rounds interleaved, the order rotated)."""
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            samples[name].append(run_child(name, base_url, streams, bursts))
    return {name: {key: statistics.median(s[key] for s in runs) for key in runs[0]}
            for name, runs in samples.items()}


def report(results: dict[str, dict[str, float]], streams: int | None = None) -> str:
    bursts = sorted(k for k in next(iter(results.values())) if k.startswith("burst"))
    floor = results.get("raw httpx")
    sdk = results.get("openai SDK")
    head = " | ".join(f"burst {k[5:]}" for k in bursts)
    per_burst = f" ({streams} streams a burst)" if streams else ""
    lines = [f"| client{per_burst} | {head} | 2nd / 1st | 2nd / openai SDK's 2nd "
             "| peak RSS (x raw httpx) |",
             "| --- |" + " ---: |" * (len(bursts) + 3)]
    for name, r in results.items():
        times = " | ".join(f"{r[k]:.2f} s" for k in bursts)
        second = f"{r['burst2'] / r['burst1']:.2f}" if "burst2" in r else ""
        vs_sdk = f"{r['burst2'] / sdk['burst2']:.2f}" if sdk and "burst2" in r else ""
        memory = f"{r['peak_mb']:.1f} MB" + (f" ({r['peak_mb'] / max(floor['peak_mb'], 0.1):.2f}x)" if floor else "")
        lines.append(f"| {name} | {times} | {second} | {vs_sdk} | {memory} |")
    return "\n".join(lines)


def verdicts(results: dict[str, dict[str, float]]) -> list[str]:
    """The targets for this project's clients: a second burst no slower than the first nor than the
    openai SDK's second; peak RSS within 1.5x raw httpx's, for an adapter raw httpx's plus its
    framework floor's (the framework's own state per stream, which no provider avoids)."""
    out = []
    for name in (n for n in results if n in OURS):
        r = results[name]
        checks = [(f"burst 2 / burst 1 {r['burst2'] / r['burst1']:.2f} (<= 1)", r["burst2"] <= r["burst1"])]
        if "openai SDK" in results:
            ratio = r["burst2"] / results["openai SDK"]["burst2"]
            checks.append((f"burst 2 / openai SDK's {ratio:.2f} (<= 1)", ratio <= 1))
        if "raw httpx" in results:
            floor = FLOOR_OF.get(name)
            base = results["raw httpx"]["peak_mb"] + (results[floor]["peak_mb"] if floor in results else 0)
            text = f"peak RSS {r['peak_mb'] / max(results['raw httpx']['peak_mb'], 0.1):.2f}x raw httpx"
            if floor in results:
                text += f", {r['peak_mb'] / max(base, 0.1):.2f}x raw httpx + {floor}"
            checks.append((f"{text} (<= 1.5)", r["peak_mb"] <= 1.5 * max(base, 0.1)))
        out.append(f"{name}: " + ", ".join(f"{text} {'OK' if ok else 'MISSED'}" for text, ok in checks))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--names", nargs="*", default=NAMES)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child")
    parser.add_argument("--base-url")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.base_url, args.streams, args.bursts)))
        return
    port = free_port()
    server = start_server(port)
    try:
        results = measure_bursts(f"http://127.0.0.1:{port}/v1", args.names, args.streams, args.bursts,
                                 args.repeats)
    finally:
        server.terminate()
        server.wait()
    print(f"medians of {args.repeats} fresh processes per client\n")
    print(report(results, args.streams))
    print()
    print("\n".join(verdicts(results)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

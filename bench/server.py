"""A deliberately fast OpenAI-compatible server for benchmarks (127.0.0.1 only).

Raw asyncio protocol, HTTP/1.1 keep-alive, bodies precomputed per shape, so the client side
dominates every measurement. The model name picks the answer: ``bench`` (a short completion),
``bench-stream-N`` (N content chunks, then a usage chunk and ``[DONE]`` when streamed),
``bench-tiny-N`` (N minimal chunks of one character each, then ``[DONE]``).

    python -m bench.server --port 8799
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
from functools import lru_cache

_MODEL = re.compile(rb'"model"\s*:\s*"([^"]+)"')
_STREAM = re.compile(rb'"stream"\s*:\s*true')
_CL = re.compile(rb"content-length:\s*(\d+)", re.I)
USAGE = {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21,
         "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}


def _response(status: str, content_type: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


@lru_cache(maxsize=64)
def completion(model: str) -> bytes:
    body = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 1767225600, "model": model,
            "system_fingerprint": "fp_bench", "choices": [{
                "index": 0, "finish_reason": "stop", "logprobs": None,
                "message": {"role": "assistant", "content": "The quick brown fox jumps over the lazy dog.",
                            "refusal": None}}],
            "usage": USAGE}
    return _response("200 OK", "application/json", json.dumps(body).encode())


@lru_cache(maxsize=64)
def stream(model: str, chunks: int) -> bytes:
    def event(delta: dict[str, object], finish: str | None = None) -> bytes:
        chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1767225600, "model": model,
                 "system_fingerprint": "fp_bench", "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                                 "finish_reason": finish}], "usage": None}
        return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"

    parts = [event({"role": "assistant", "content": ""})]
    parts += [event({"content": f"tok{i} "}) for i in range(chunks)]
    parts.append(event({}, "stop"))
    usage = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1767225600, "model": model,
             "choices": [], "usage": {**USAGE, "completion_tokens": chunks, "total_tokens": 12 + chunks}}
    parts.append(b"data: " + json.dumps(usage, separators=(",", ":")).encode() + b"\n\n")
    parts.append(b"data: [DONE]\n\n")
    return _response("200 OK", "text/event-stream", b"".join(parts))


@lru_cache(maxsize=8)
def tiny(model: str, chunks: int) -> bytes:
    head = b'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,'
    parts = [head + b'"delta":{"content":"%d"},"finish_reason":null}]}\n\n' % (i % 10) for i in range(chunks)]
    parts.append(b"data: [DONE]\n\n")
    return _response("200 OK", "text/event-stream", b"".join(parts))


MODELS = _response("200 OK", "application/json", json.dumps({"object": "list", "data": [
    {"id": "bench", "object": "model", "created": 0, "owned_by": "bench"}]}).encode())


def answer(request_line: bytes, body: bytes) -> bytes:
    if request_line.startswith(b"GET"):
        return MODELS
    match = _MODEL.search(body)
    model = match.group(1).decode() if match else "bench"
    if _STREAM.search(body):
        if model.startswith("bench-tiny-"):
            return tiny(model, int(model.rsplit("-", 1)[1]))
        chunks = int(model.rsplit("-", 1)[1]) if model.startswith("bench-stream-") else 20
        return stream(model, chunks)
    return completion(model)


class HTTPProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            match = _CL.search(head)
            length = int(match.group(1)) if match else 0
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            assert self.transport is not None
            self.transport.write(answer(head.split(b"\r\n", 1)[0], body))


async def serve(port: int, ready: str | None = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(HTTPProtocol, "127.0.0.1", port, backlog=4096, reuse_address=True)
    if ready:
        print(ready, flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()
    asyncio.run(serve(args.port, ready=f"bench server on http://127.0.0.1:{args.port}/v1"))


if __name__ == "__main__":
    main()

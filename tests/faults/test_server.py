"""Self-tests of the fault server, with plain httpx: the harness must do exactly what tests script."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.faults.server import FaultServer, closed_port, json_reply, respond, sse_reply


def test_records_requests_and_echoes(server: FaultServer) -> None:
    server.script(lambda req: json_reply({"seen": req.headers["x-probe"]}, headers={"x-echo": req.headers["x-probe"]}))
    r = httpx.post(server.base_url + "/chat/completions", json={"a": 1}, headers={"X-Probe": "p1"})
    assert (r.status_code, r.json(), r.headers["x-echo"]) == (200, {"seen": "p1"}, "p1")
    (req,) = server.requests
    assert (req.method, req.path, req.json(), req.conn_id) == ("POST", "/v1/chat/completions", {"a": 1}, 0)


def test_chunked_events_and_keep_alive(server: FaultServer) -> None:
    server.script(sse_reply("data: 1\n\n", "data: 2\n\n"), json_reply({}, 503))
    with httpx.Client() as client:
        with client.stream("GET", server.base_url + "/x") as r:
            assert r.headers["transfer-encoding"] == "chunked"
            assert b"".join(r.iter_raw()) == b"data: 1\n\ndata: 2\n\n"
        assert client.get(server.base_url + "/y").status_code == 503
    assert server.connection_count == 1 and server.request_count == 2


def test_unscripted_request_is_a_visible_418(server: FaultServer) -> None:
    assert httpx.get(server.base_url + "/z").status_code == 418
    assert server.unscripted == 1


@pytest.mark.parametrize("end", ["close", "reset"])
def test_mid_body_close_and_reset(server: FaultServer, end: str) -> None:
    server.script(sse_reply("data: 1\n\n", end=end))
    with pytest.raises(httpx.TransportError), httpx.stream("GET", server.base_url + "/x") as r:
        for _ in r.iter_raw():
            pass
    assert server.wait_until(lambda: server.connections[0].closed.is_set(), 10)
    assert server.connections[0].server_closed.is_set()


def test_hang_ends_when_the_client_closes(server: FaultServer) -> None:
    server.script(sse_reply("data: 1\n\n", end="hang"))
    with httpx.stream("GET", server.base_url + "/x") as r:
        assert next(r.iter_raw()) == b"data: 1\n\n"
    assert server.wait_client_closed(0, 10)


def test_stop_ends_a_hang() -> None:
    srv = FaultServer()
    srv.script(respond(200, b"partial", end="hang"))
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert srv.wait_until(lambda: srv.request_count == 1, 10)
    srv.stop()
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    assert data.endswith(b"partial") and srv.connections[0].closed.is_set()


def test_stale_keep_alive_is_closed_by_the_server(server: FaultServer) -> None:
    server.script(json_reply({"n": 1}, end="finish+close"), json_reply({"n": 2}))
    with httpx.Client() as client:
        assert client.get(server.base_url + "/a").json() == {"n": 1}
        assert server.wait_until(lambda: server.connections[0].closed.is_set(), 10)
        assert client.get(server.base_url + "/b").json() == {"n": 2}
    assert server.connection_count == 2


def test_closed_port_refuses() -> None:
    with closed_port() as port, pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/")

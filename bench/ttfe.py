"""Time to first streamed event at concurrency 1: sequential streaming requests on one keep-alive socket.

A blocking socket and a minimal HTTP/1.1 reader keep the measurer's own cost small and identical for every
target: the clock starts before `sendall` and stops at the first read whose body bytes contain `data:`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

import fixtures

_READ_SIZE = 65536


class HttpResponseError(RuntimeError):
    """The target closed the connection or answered something that is not an HTTP/1.1 response."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    first_event_s: float | None
    total_s: float


class _Reader:
    """Reads one HTTP/1.1 response (Content-Length or chunked) from a socket, noting when `data:` arrives."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""
        self.first_event_at: float | None = None

    def _fill(self) -> None:
        data = self._sock.recv(_READ_SIZE)
        if not data:
            raise HttpResponseError("connection closed mid-response")
        if self.first_event_at is None and b"data:" in data:
            self.first_event_at = time.perf_counter()
        self._buffer += data

    def _until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            self._fill()
        line, self._buffer = self._buffer.split(marker, 1)
        return line

    def _exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def read_response(self) -> tuple[int, dict[str, str], bytes]:
        head = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        parts = head[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise HttpResponseError(f"not an HTTP/1.x status line: {head[0]!r}")
        headers = {
            name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in head[1:])
        }
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return int(parts[1]), headers, self._read_chunked()
        return int(parts[1]), headers, self._exactly(int(headers.get("content-length", "0")))

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        for _ in range(1_000_000):
            size = int(self._until(b"\r\n").split(b";", 1)[0], 16)
            if size == 0:
                self._until(b"\r\n")  # no trailers expected: the empty line ends the message
                return b"".join(chunks)
            chunks.append(self._exactly(size))
            self._exactly(2)
        raise HttpResponseError("more than a million chunks")


class Client:
    """One keep-alive connection to 127.0.0.1:port sending the benchmark's POST (plus `headers`)."""

    def __init__(self, port: int, path: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        self._port, self._path = port, path
        self._extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
        self._sock: socket.socket | None = None

    def request(self, *, stream: bool) -> Response:
        body = fixtures.request_body(stream)
        extra = self._extra
        extra += f"{fixtures.STREAM_HEADER}: 1\r\nAccept: text/event-stream\r\n" if stream else ""
        head = (
            f"POST {self._path} HTTP/1.1\r\nHost: 127.0.0.1:{self._port}\r\n"
            f"Content-Type: application/json\r\nAuthorization: {fixtures.AUTHORIZATION}\r\n"
            f"{extra}Content-Length: {len(body)}\r\n\r\n"
        )
        if self._sock is None:
            self._sock = socket.create_connection(("127.0.0.1", self._port), timeout=30)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = _Reader(self._sock)
        started = time.perf_counter()
        self._sock.sendall(head.encode() + body)
        status, headers, payload = reader.read_response()
        total = time.perf_counter() - started
        if headers.get("connection", "").lower() == "close":
            self.close()
        first = None if reader.first_event_at is None else reader.first_event_at - started
        return Response(status, headers, payload, first, total)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def measure_first_event(
    port: int,
    path: str,
    *,
    requests: int,
    max_seconds: float,
    headers: Sequence[tuple[str, str]] = (),
) -> list[float]:
    """Milliseconds to the first event of sequential streams (after a short warm-up), bounded in time."""
    client = Client(port, path, headers)
    samples: list[float] = []
    try:
        for _ in range(20):
            client.request(stream=True)
        deadline = time.perf_counter() + max_seconds
        while len(samples) < requests and time.perf_counter() < deadline:
            response = client.request(stream=True)
            if response.status != 200 or response.first_event_s is None:
                raise HttpResponseError(f"streaming request failed with status {response.status}")
            samples.append(response.first_event_s * 1000)
    finally:
        client.close()
    return samples

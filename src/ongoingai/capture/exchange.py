"""`Exchange`: what the proxy saw of one request, filled in while it streams.

The tap only appends references and counters on the hot path; parsing, decoding, hashing, pricing
and redaction happen later in `build.py`, after the client has its last byte.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ongoingai.auth.identity import Identity
from ongoingai.policy import Decision, EffectivePolicy


@dataclass(slots=True)
class Exchange:
    provider: str
    method: str
    path: str
    request_headers: list[tuple[bytes, bytes]]
    correlation_id: str
    body_max_size: int
    started_ns: int = field(default_factory=time.perf_counter_ns)
    identity: Identity | None = None
    policy: EffectivePolicy | None = None  # resolved once by the request guard, reused by the builder
    decision: Decision | None = None  # the guardrail's decision when the mode inspects requests
    request_body: bytes = b""
    request_truncated: bool = False
    response_status: int = 0
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    response_parts: list[bytes] = field(default_factory=list)
    response_captured: int = 0
    response_truncated: bool = False
    streaming: bool = False
    chunks: int = 0
    first_write_ns: int = 0
    ended_ns: int = 0
    failure_class: str = ""
    stream_incomplete: bool = False
    # set just before the last byte goes out, so the disconnect watcher can tell a finished response
    # (the server then reports the request as over) from a client that left
    response_complete: bool = False

    def set_request_body(self, body: bytes) -> None:
        self.request_body = body
        self.request_truncated = len(body) > self.body_max_size

    def on_response_start(self, status: int, headers: list[tuple[bytes, bytes]], streaming: bool) -> None:
        self.response_status = status
        self.response_headers = headers
        self.streaming = streaming

    def on_chunk(self, chunk: bytes) -> None:
        """Called after each client write: count it, stamp the first, keep a bounded copy."""
        if self.first_write_ns == 0:
            self.first_write_ns = time.perf_counter_ns()
        self.chunks += 1
        room = self.body_max_size - self.response_captured
        if room > 0:
            part = chunk if len(chunk) <= room else chunk[:room]
            self.response_parts.append(part)
            self.response_captured += len(part)
        if len(chunk) > room:
            self.response_truncated = True

    def fail(self, failure_class: str, *, incomplete: bool) -> None:
        self.failure_class = failure_class
        self.stream_incomplete = incomplete

    def finish(self) -> None:
        self.ended_ns = time.perf_counter_ns()

    @property
    def response_prefix(self) -> bytes:
        return b"".join(self.response_parts)

"""Logging configured once: JSON lines (python-json-logger) or text on stdout, level from config.

Messages are constant strings with fields in `extra=`; this module decides how they look
(observability.md §4): `time` (RFC 3339, fractional, UTC), `level` (`DEBUG`/`INFO`/`WARN`/`ERROR`), `msg`,
the fields, and — from context — `correlation_id` of the request being served and `trace_id`/`span_id`
while a recording span is active. A scrubbing filter is the second line of defence: no field, message or
traceback leaves with a credential in it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from pythonjsonlogger.orjson import OrjsonFormatter

from ongoingai.observability.scrub import DEFAULT_SCRUBBER, Scrubber

# Set by the gateway at request entry (observability/request.py); read by every log line of the request.
CORRELATION_ID: ContextVar[str] = ContextVar("ongoingai_correlation_id", default="")

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_LEVEL_NAMES = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARN",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "ERROR",
}
# LogRecord attributes that are not `extra=` fields.
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class _DropAbortedStreams(logging.Filter):
    """uvicorn logs a traceback when the proxy aborts a client stream on purpose; the proxy has
    already logged that event with its failure class, so the duplicate is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return type(exc).__name__ != "StreamAbortedError"


class ContextFilter(logging.Filter):
    """Adds `correlation_id` (unless the call passed one) and the active recording span's ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "correlation_id" not in record.__dict__:
            correlation_id = CORRELATION_ID.get()
            if correlation_id:
                record.correlation_id = correlation_id
        # Without the OpenTelemetry API loaded (telemetry off, the default) no span can be recording: the
        # filter does not import it, so the gateway starts without it (issue 2, "Performance").
        trace = sys.modules.get("opentelemetry.trace")
        if trace is None:
            return True
        span = trace.get_current_span()
        if span.is_recording():
            ctx = span.get_span_context()
            record.trace_id = format(ctx.trace_id, "032x")
            record.span_id = format(ctx.span_id, "016x")
        return True


class ScrubFilter(logging.Filter):
    """Scrubs the message and every `extra=` field in place (tracebacks: see the formatters)."""

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self._scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        scrub = self._scrubber
        if record.args:
            record.msg = scrub.scrub(record.getMessage())
            record.args = None
        elif isinstance(record.msg, str):
            record.msg = scrub.scrub(record.msg)
        fields = record.__dict__
        for key, value in fields.items():
            if key not in _RESERVED and isinstance(value, str | list | tuple):
                fields[key] = scrub.value(value)
        return True


class GatewayJsonFormatter(OrjsonFormatter):
    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__("%(message)s", rename_fields={"message": "msg"})
        self._scrubber = scrubber

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = _rfc3339(record.created)
        log_data["level"] = _LEVEL_NAMES.get(record.levelno, record.levelname)
        log_data["logger"] = record.name
        super().add_fields(log_data, record, message_dict)

    def formatException(self, ei: Any) -> str:
        return self._scrubber.scrub(logging.Formatter.formatException(self, ei))

    def format_fields(self, created: float, levelno: int, name: str, msg: str, fields: dict[str, Any]) -> str:
        """The line `format` writes for a record of these attributes whose extras are `fields` (scrubbed
        already), for `emit_fields`; tests/observability hold the two to the same output."""
        log_data: dict[str, Any] = {
            "time": _rfc3339(created),
            "level": _LEVEL_NAMES.get(levelno, logging.getLevelName(levelno)),
            "logger": name,
            "msg": msg,
        }
        log_data.update(fields)
        return self.jsonify_log_record(log_data)


class GatewayTextFormatter(logging.Formatter):
    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._scrubber = scrubber

    def formatException(self, ei: Any) -> str:
        return self._scrubber.scrub(super().formatException(ei))


def _rfc3339(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def level_of(name: str) -> int:
    return _LEVELS.get(name.strip().lower(), logging.INFO)


def build_handler(
    fmt: str = "json",
    scrubber: Scrubber = DEFAULT_SCRUBBER,
    stream: IO[str] | None = None,
    *,
    buffered: bool = False,
) -> logging.Handler:
    """The stdout handler with its filters; tests attach the same handler to a buffer.

    `buffered`: flush once per event-loop iteration instead of once per line (`configure_logging`).
    """
    handler: logging.StreamHandler[IO[str]]
    if buffered:
        handler = _LoopFlushedStreamHandler(stream or sys.stdout, scrubber)
    else:
        handler = logging.StreamHandler(stream or sys.stdout)
    if fmt == "text":
        handler.setFormatter(GatewayTextFormatter(scrubber))
    else:
        handler.setFormatter(GatewayJsonFormatter(scrubber))
    handler.addFilter(ContextFilter())
    handler.addFilter(ScrubFilter(scrubber))
    if isinstance(handler, _LoopFlushedStreamHandler):
        handler.standard_filters = tuple(handler.filters)
    return handler


def log_fields(logger: logging.Logger, levelno: int, msg: str, fields: dict[str, Any]) -> None:
    """`logger.log(levelno, msg, extra=fields)`, written directly when only the gateway's own handler
    would see the line (`configure_logging`'s setup, JSON, no span to add).

    For the one line per request (the access log): through `logging` it cost ~16 µs of the event loop
    hot and ~33 µs in the proxy at c=16 (the record, both filters, the formatter's field merge), ~1/10
    of a JSON request's CPU; direct, ~5 µs. Anything else attached (pytest's caplog, another handler,
    a filter, a level) takes the `logging` path, and so does every line while OpenTelemetry is loaded."""
    handler = _direct_handler(logger, levelno)
    if handler is None:
        logger.log(levelno, msg, extra=fields)
    else:
        handler.emit_fields(levelno, logger.name, msg, fields)


def _direct_handler(logger: logging.Logger, levelno: int) -> _LoopFlushedStreamHandler | None:
    if logger.disabled or not logger.isEnabledFor(levelno) or "opentelemetry.trace" in sys.modules:
        return None
    current = logger
    while current.parent is not None:  # up to, not including, the root
        if current.handlers or current.filters or not current.propagate:
            return None
        current = current.parent
    if current.filters or len(current.handlers) != 1:
        return None
    handler = current.handlers[0]
    if isinstance(handler, _LoopFlushedStreamHandler) and handler.direct(levelno):
        return handler
    return None


class _LoopFlushedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes each line to the stream's buffer; flushes once per event-loop iteration.

    One write(2) per access-log line was ~6 % of the proxy's CPU at c=16 (py-spy). On the event loop's
    thread the flush is scheduled with `call_soon`, so every line logged during one loop iteration goes
    out in one write, still within microseconds of being logged; a line logged off the loop (a writer
    thread, the CLI) is flushed at once as before. A writer thread with a queue was measured too: its
    wake-ups and GIL hand-offs cost more CPU per request than the writes it saved.
    """

    def __init__(self, stream: IO[str], scrubber: Scrubber = DEFAULT_SCRUBBER) -> None:
        super().__init__(stream)
        self._flush_pending = False
        self._scrubber = scrubber
        # The filters and JSON formatter `build_handler` installs: `emit_fields` does their work itself.
        self.standard_filters: tuple[object, ...] = ()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)
            return
        self._flush_later()

    def direct(self, levelno: int) -> bool:
        """Whether `emit_fields` would write what `emit` writes: our filters and JSON formatter only."""
        return (
            levelno >= self.level
            and isinstance(self.formatter, GatewayJsonFormatter)
            and tuple(self.filters) == self.standard_filters
        )

    def emit_fields(self, levelno: int, name: str, msg: str, fields: dict[str, Any]) -> None:
        """What `emit` writes for `logging.getLogger(name).log(levelno, msg, extra=fields)`, without
        the LogRecord, the filter chain and the formatter's generic field merge (caller: `log_fields`)."""
        scrub = self._scrubber
        clean = {
            key: scrub.value(value) if isinstance(value, str | list | tuple) else value
            for key, value in fields.items()
        }
        if "correlation_id" not in clean:  # as `ContextFilter` (no span: `log_fields` checked)
            correlation_id = CORRELATION_ID.get()
            if correlation_id:
                clean["correlation_id"] = scrub.scrub(correlation_id)
        formatter = self.formatter
        assert isinstance(formatter, GatewayJsonFormatter)  # `direct` checked
        line = formatter.format_fields(time.time(), levelno, name, scrub.scrub(msg), clean)
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self.stream.write(line + self.terminator)
        self._flush_later()

    def _flush_later(self) -> None:
        loop = asyncio._get_running_loop()
        if loop is None:
            self.flush()
        elif not self._flush_pending:
            self._flush_pending = True
            loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self._flush_pending = False
        self.acquire()
        try:
            self.flush()
        finally:
            self.release()


def configure_logging(
    level: str = "info",
    fmt: str = "json",
    scrubber: Scrubber = DEFAULT_SCRUBBER,
    *,
    stream: IO[str] | None = None,
) -> None:
    """Route every logger to one handler on `stream` (stdout), flushed once per loop iteration."""
    # The logging HOWTO's "Optimization" switches: no stack walk for the caller, no thread/process
    # lookups. None of them is in our line format, and the access log writes one line per request.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False

    root = logging.getLogger()
    root.handlers[:] = [build_handler(fmt, scrubber, stream, buffered=True)]
    root.setLevel(level_of(level))
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.error").addFilter(_DropAbortedStreams())
    logging.getLogger("uvicorn.access").disabled = True

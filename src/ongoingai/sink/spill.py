"""`SpillJournal`: a bounded, fsync'd, append-only local journal of trace batches (DEVIATIONS.md "Spill").

Layout: `<dir>/NNNNNNNNNNNN.journal` segment files of frames `magic | length | crc32 | count | payload`
(payload = JSON list of records, deflated; `OGJ1` frames of older builds hold it plain) and
`<dir>/cursor`, the position of the oldest frame not yet replayed, replaced atomically after each
replayed batch. Consumed segments are deleted; a torn frame at the tail
(a crash mid-append) is cut off when the journal opens. The folder is 0700 and every file 0600.
All methods are blocking and thread-safe: the writer calls them through `asyncio.to_thread`.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import orjson

from ongoingai.sink.codec import decode_batch, encode_batch
from ongoingai.traces import TraceRecord

logger = logging.getLogger(__name__)

MAGIC = b"OGJ1"  # payload stored as is (journals written before compression; still read)
MAGIC_ZLIB = b"OGJ2"  # payload deflated: what `append` writes
# Level 1: traces are repetitive JSON (same keys, models, headers in every record), so even the fastest
# level shrinks a batch several times, and the journal's `max_bytes` then holds an outage several times
# as long, for ~10 µs of CPU per record, spent only while the store is down.
ZLIB_LEVEL = 1
HEADER = struct.Struct(">4sIII")  # magic, payload length, crc32(payload), record count
MIN_SEGMENT_BYTES = 64 * 1024
MAX_SEGMENT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journalled batch and where the cursor moves once it has been replayed."""

    records: list[TraceRecord]
    segment: int
    next_offset: int


def _segment_name(number: int) -> str:
    return f"{number:012d}.journal"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_frame(data: bytes, offset: int) -> tuple[bytes, int, int] | None:
    """(payload, count, next offset) of the frame at `offset`, or None when it is torn or corrupt."""
    end = offset + HEADER.size
    if end > len(data):
        return None
    magic, length, crc, count = HEADER.unpack_from(data, offset)
    payload = data[end : end + length]
    if magic not in (MAGIC, MAGIC_ZLIB) or len(payload) != length or zlib.crc32(payload) != crc:
        return None
    if magic == MAGIC_ZLIB:
        try:
            payload = zlib.decompress(payload)
        except zlib.error:
            return None
    return payload, count, end + length


class SpillJournal:
    def __init__(self, directory: str | Path, max_bytes: int, segment_bytes: int | None = None) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        default_segment = min(max(max_bytes // 16, MIN_SEGMENT_BYTES), MAX_SEGMENT_BYTES)
        self.segment_bytes = segment_bytes or default_segment
        self._lock = threading.Lock()
        self._sizes: dict[int, int] = {}
        self._cursor = (1, 0)
        self._depth = 0
        self._unreadable = 0

    @property
    def depth(self) -> int:
        """Records journalled and not yet replayed."""
        return self._depth

    @property
    def size_bytes(self) -> int:
        """Bytes the journal occupies on disk (what `max_bytes` bounds)."""
        return sum(self._sizes.values())

    def open(self) -> None:
        """Create the folder or load what a previous run left (replayed on this run), cutting torn tails."""
        with self._lock:
            if not self.directory.exists():
                self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                self.directory.chmod(0o700)
            numbers = sorted(int(p.stem) for p in self.directory.glob("*.journal") if p.stem.isdigit())
            self._cursor = self._load_cursor(numbers)
            if numbers and self._cursor[0] not in numbers:
                self._cursor = (min([n for n in numbers if n > self._cursor[0]] or [max(numbers) + 1]), 0)
            for number in numbers:
                if number < self._cursor[0]:
                    (self.directory / _segment_name(number)).unlink()
                    continue
                self._scan_segment(number)

    def _load_cursor(self, numbers: list[int]) -> tuple[int, int]:
        try:
            data = orjson.loads((self.directory / "cursor").read_bytes())
            return int(data["segment"]), int(data["offset"])
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return (numbers[0] if numbers else 1), 0

    def _scan_segment(self, number: int) -> None:
        path = self.directory / _segment_name(number)
        data = path.read_bytes()
        offset = self._cursor[1] if number == self._cursor[0] else 0
        while offset < len(data):
            frame = _read_frame(data, offset)
            if frame is None:
                logger.warning(
                    "spill journal ends in a torn frame; truncated",
                    extra={"segment": path.name, "offset": offset, "lost_bytes": len(data) - offset},
                )
                with open(path, "r+b") as handle:
                    handle.truncate(offset)
                    os.fsync(handle.fileno())
                data = data[:offset]
                break
            self._depth += frame[1]
            offset = frame[2]
        self._sizes[number] = len(data)

    def append(self, records: list[TraceRecord]) -> bool:
        """Journal one batch durably (fsync); False when it does not fit under `max_bytes`."""
        payload = zlib.compress(encode_batch(records), ZLIB_LEVEL)
        frame = HEADER.pack(MAGIC_ZLIB, len(payload), zlib.crc32(payload), len(records)) + payload
        with self._lock:
            if self.size_bytes + len(frame) > self.max_bytes:
                return False
            number = self._active_segment(len(frame))
            path = self.directory / _segment_name(number)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, frame)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._sizes[number] = self._sizes.get(number, 0) + len(frame)
            self._depth += len(records)
            return True

    def _active_segment(self, frame_size: int) -> int:
        if not self._sizes:
            number = self._cursor[0]
        else:
            number = max(self._sizes)
            if self._sizes[number] + frame_size <= self.segment_bytes or self._sizes[number] == 0:
                return number
            number += 1
        self._sizes[number] = 0
        _fsync_dir_after_create(self.directory, number)
        return number

    def peek(self) -> JournalEntry | None:
        """The oldest batch not yet replayed, or None when the journal is empty."""
        with self._lock:
            while self._sizes:
                segment, offset = self._cursor
                if segment not in self._sizes or offset >= self._sizes[segment]:
                    if not self._advance_segment():
                        return None
                    continue
                frame = self._read_frame_at(segment, offset)
                if frame is None:  # damaged after open: nothing after it in this segment is readable
                    logger.error("spill journal frame is corrupt; skipped the rest of the segment")
                    self._sizes[segment] = offset
                    continue
                try:
                    return JournalEntry(decode_batch(frame[0]), segment, offset + frame[2])
                except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
                    logger.exception("spill journal batch is unreadable; skipped")
                    self._unreadable += frame[1]
                    self._depth = max(self._depth - frame[1], 0)
                    self._cursor = (segment, offset + frame[2])
                    self._save_cursor()
            return None

    def _read_frame_at(self, segment: int, offset: int) -> tuple[bytes, int, int] | None:
        with open(self.directory / _segment_name(segment), "rb") as handle:
            handle.seek(offset)
            header = handle.read(HEADER.size)
            if len(header) < HEADER.size:
                return None
            length = HEADER.unpack(header)[1]
            return _read_frame(header + handle.read(length), 0)

    def take_unreadable(self) -> int:
        """Records in frames that could not be decoded since the last call (counted as dropped)."""
        with self._lock:
            count, self._unreadable = self._unreadable, 0
            return count

    def commit(self, entry: JournalEntry) -> None:
        """Mark `entry` replayed: move the cursor past it and delete segments left behind."""
        with self._lock:
            self._cursor = (entry.segment, entry.next_offset)
            self._depth = max(self._depth - len(entry.records), 0)
            if entry.next_offset >= self._sizes.get(entry.segment, 0):
                self._advance_segment()
            self._save_cursor()

    def _advance_segment(self) -> bool:
        """Delete the exhausted head segment; False when it was the last one (journal empty)."""
        segment = self._cursor[0]
        later = [n for n in self._sizes if n > segment]
        path = self.directory / _segment_name(segment)
        if segment in self._sizes:
            del self._sizes[segment]
            path.unlink(missing_ok=True)
        self._cursor = (min(later), 0) if later else (segment + 1, 0)
        if not later:
            self._depth = 0
        self._save_cursor()
        return bool(later)

    def _save_cursor(self) -> None:
        tmp = self.directory / "cursor.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, orjson.dumps({"segment": self._cursor[0], "offset": self._cursor[1]}))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.directory / "cursor")
        _fsync_dir(self.directory)


def _fsync_dir_after_create(directory: Path, number: int) -> None:
    fd = os.open(directory / _segment_name(number), os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    _fsync_dir(directory)

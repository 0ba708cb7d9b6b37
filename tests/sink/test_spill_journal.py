"""SpillJournal: bounded, durable, ordered; survives a reopen and a torn tail."""

from __future__ import annotations

import stat
import zlib
from pathlib import Path

from ongoingai.sink.codec import encode_batch
from ongoingai.sink.spill import HEADER, MAGIC, MAGIC_ZLIB, SpillJournal
from tests.fakes.trace_records import make_record
from tests.fakes.written import readable_text


def ids(journal: SpillJournal) -> list[str]:
    out: list[str] = []
    while (entry := journal.peek()) is not None:
        out.extend(r.id for r in entry.records)
        journal.commit(entry)
    return out


def test_batches_come_back_in_the_order_they_were_appended(tmp_path: Path) -> None:
    journal = SpillJournal(tmp_path / "spill", max_bytes=1 << 20)
    journal.open()
    records = [make_record(n) for n in range(1, 7)]

    assert journal.append(records[:2]) and journal.append(records[2:3]) and journal.append(records[3:])
    assert journal.depth == 6

    assert ids(journal) == [r.id for r in records]
    assert (journal.depth, journal.size_bytes) == (0, 0)


def test_records_round_trip_field_for_field(tmp_path: Path) -> None:
    journal = SpillJournal(tmp_path, max_bytes=1 << 20)
    journal.open()
    record = make_record(
        3, trace_group_id="g", created_at=None, metadata={"a": [1, "b"], "lineage_run_id": "r"}
    )

    journal.append([record])
    entry = journal.peek()

    assert entry is not None and entry.records == [record]


def test_a_full_journal_refuses_the_batch(tmp_path: Path) -> None:
    journal = SpillJournal(tmp_path, max_bytes=6000)
    journal.open()

    accepted = [journal.append([make_record(n)]) for n in range(1, 20)]

    assert accepted[0] is True and accepted[-1] is False
    assert journal.size_bytes <= 6000
    assert journal.depth == accepted.count(True)


def test_what_was_not_replayed_survives_a_reopen(tmp_path: Path) -> None:
    first = SpillJournal(tmp_path, max_bytes=1 << 20, segment_bytes=1)  # one frame per segment
    first.open()
    for n in range(1, 5):
        first.append([make_record(n)])
    entry = first.peek()
    assert entry is not None
    first.commit(entry)

    second = SpillJournal(tmp_path, max_bytes=1 << 20)
    second.open()

    assert second.depth == 3
    assert ids(second) == [make_record(n).id for n in (2, 3, 4)]
    assert list(tmp_path.glob("*.journal")) == []


def test_a_torn_tail_is_cut_off_at_open(tmp_path: Path) -> None:
    journal = SpillJournal(tmp_path, max_bytes=1 << 20)
    journal.open()
    journal.append([make_record(1)])
    journal.append([make_record(2)])
    [segment] = tmp_path.glob("*.journal")
    with open(segment, "ab") as handle:
        handle.write(b"OGJ1\x00\x00\x10\x00partial")

    reopened = SpillJournal(tmp_path, max_bytes=1 << 20)
    reopened.open()

    assert reopened.depth == 2
    assert ids(reopened) == [make_record(1).id, make_record(2).id]


def test_an_unreadable_batch_is_skipped_and_counted(tmp_path: Path) -> None:
    journal = SpillJournal(tmp_path, max_bytes=1 << 20)
    journal.open()
    journal.append([make_record(1)])
    [segment] = tmp_path.glob("*.journal")
    garbage = b"not json"
    with open(segment, "ab") as handle:
        handle.write(HEADER.pack(MAGIC, len(garbage), zlib.crc32(garbage), 3) + garbage)
    journal = SpillJournal(tmp_path, max_bytes=1 << 20)
    journal.open()
    journal.append([make_record(2)])
    assert journal.depth == 5

    assert ids(journal) == [make_record(1).id, make_record(2).id]
    assert journal.take_unreadable() == 3


def test_folder_and_files_are_owner_only(tmp_path: Path) -> None:
    journal = SpillJournal(tmp_path / "data" / "spill", max_bytes=1 << 20)
    journal.open()
    journal.append([make_record(1)])

    assert stat.S_IMODE((tmp_path / "data" / "spill").stat().st_mode) == 0o700
    files = list((tmp_path / "data" / "spill").iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_batches_are_stored_deflated_and_plain_frames_of_older_builds_still_replay(tmp_path: Path) -> None:
    records = [make_record(n, metadata={"note": "same words again " * 20}) for n in range(1, 41)]
    plain = encode_batch(records[:20])
    legacy = tmp_path / "000000000001.journal"  # what a build before compression left behind
    tmp_path.chmod(0o700)
    legacy.write_bytes(HEADER.pack(MAGIC, len(plain), zlib.crc32(plain), 20) + plain)
    journal = SpillJournal(tmp_path, max_bytes=1 << 20)
    journal.open()
    assert journal.depth == 20

    before = journal.size_bytes
    assert journal.append(records[20:])
    assert journal.size_bytes - before < len(encode_batch(records[20:])) // 3  # repetitive JSON shrinks
    assert MAGIC_ZLIB in legacy.read_bytes()

    assert ids(journal) == [r.id for r in records]


def test_a_secret_scan_reads_journal_payloads_not_deflated_bytes(tmp_path: Path) -> None:
    journal = SpillJournal(tmp_path, max_bytes=1 << 20)
    journal.open()
    journal.append([make_record(1, metadata={"probe": "needle-in-the-journal"})])
    [segment] = tmp_path.glob("*.journal")
    assert b"needle-in-the-journal" not in segment.read_bytes()
    assert "needle-in-the-journal" in readable_text(segment)

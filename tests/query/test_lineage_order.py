"""The checkpoint ordering algorithm (traces-and-lineage.md §5), including both of the spec's fixtures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ongoingai.query.lineage_order import order_checkpoints
from ongoingai.traces import TraceRecord
from tests.fakes.trace_records import T0, make_record


def step(
    n: int, *, seq: Any = None, parent: str = "", seconds: int = 0, cp: str | None = None
) -> TraceRecord:
    """Trace n with checkpoint id `step-n` (or `cp`), an optional parent, seq and time offset."""
    metadata: dict[str, Any] = {"lineage_checkpoint_id": cp if cp is not None else f"step-{n}"}
    if parent:
        metadata["lineage_parent_checkpoint_id"] = parent
    if seq is not None:
        metadata["lineage_checkpoint_seq"] = seq
    at = T0 + timedelta(seconds=seconds)
    return make_record(n, metadata=metadata, timestamp=at, created_at=at)


def order(records: list[TraceRecord]) -> list[str]:
    return [str(r.metadata["lineage_checkpoint_id"]) for r in order_checkpoints(records)]


@pytest.mark.parametrize(
    "times", [(30, 20, 10), (10, 20, 30)], ids=["timestamps-reversed", "timestamps-forward"]
)
def test_spec_fixture_one_sequence_numbers_win_over_write_order_and_time(times: tuple[int, int, int]) -> None:
    written = [
        step(3, seq=3, seconds=times[0]),
        step(1, seq=1, seconds=times[1]),
        step(2, seq=2, seconds=times[2]),
    ]

    assert order(written) == ["step-1", "step-2", "step-3"]


def test_spec_fixture_two_missing_seqs_are_inferred_along_parent_links() -> None:
    written = [
        step(3, parent="step-2", seconds=1),  # no seq: parent's 2 + 1 = 3
        step(2, parent="step-1", seq=2, seconds=2),
        step(1, seconds=3),  # no seq: smallest child seq 2 − 1 = 1
    ]

    assert order(written) == ["step-1", "step-2", "step-3"]


def test_a_parent_comes_before_its_child_whatever_the_seqs() -> None:
    written = [step(2, parent="step-1", seq=1, seconds=1), step(1, seq=5, seconds=2)]

    assert order(written) == ["step-1", "step-2"]


def test_known_seqs_come_before_unknown_ones() -> None:
    written = [step(1, seconds=1), step(2, seq=9, seconds=2)]

    assert order(written) == ["step-2", "step-1"]


def test_without_seqs_time_then_trace_id_then_position_decide() -> None:
    same_time = [step(9, seconds=5), step(4, seconds=5), step(7, seconds=1)]

    assert order(same_time) == ["step-7", "step-4", "step-9"]


def test_created_at_orders_before_timestamp_and_timestamp_stands_in_when_missing() -> None:
    a = make_record(1, metadata={}, created_at=T0 + timedelta(seconds=9), timestamp=T0)
    b = make_record(2, metadata={}, created_at=None, timestamp=T0 + timedelta(seconds=5))

    assert [r.id for r in order_checkpoints([a, b])] == [b.id, a.id]


def test_seqs_given_as_numeric_strings_count_and_zero_or_junk_do_not() -> None:
    written = [step(1, seq="0", seconds=1), step(2, seq="2", seconds=2), step(3, seq="x", seconds=0)]

    assert order(written) == ["step-2", "step-3", "step-1"]


def test_self_links_are_ignored() -> None:
    written = [step(1, parent="step-1", seq=2), step(2, seq=1)]

    assert order(written) == ["step-2", "step-1"]


def test_duplicate_checkpoint_ids_link_to_the_first_occurrence() -> None:
    written = [
        step(1, cp="dup", seq=1, seconds=1),
        step(2, cp="dup", seq=7, seconds=2),
        step(3, parent="dup", seconds=3),  # child of the first "dup": seq 2
    ]

    assert [r.id for r in order_checkpoints(written)] == [written[0].id, written[2].id, written[1].id]


def test_cycles_are_appended_in_the_same_order() -> None:
    written = [
        step(1, parent="step-2", seq=4, seconds=1),
        step(2, parent="step-1", seq=3, seconds=2),
        step(3, seq=10, seconds=3),
    ]

    assert order(written) == ["step-3", "step-2", "step-1"]


def test_unknown_parents_make_roots() -> None:
    written = [step(2, parent="elsewhere", seq=2, seconds=1), step(1, seq=1, seconds=2)]

    assert order(written) == ["step-1", "step-2"]


def test_checkpoint_id_defaults_to_the_trace_id() -> None:
    root = make_record(1, metadata={})
    child = make_record(2, metadata={"lineage_parent_checkpoint_id": root.id}, created_at=T0)

    assert [r.id for r in order_checkpoints([child, root])] == [root.id, child.id]


def test_long_chains_are_inferred_from_one_known_seq() -> None:
    chain = [step(1)] + [step(n, parent=f"step-{n - 1}", seconds=-n) for n in range(2, 8)]
    chain[3] = step(4, parent="step-3", seq=4, seconds=-4)

    assert order(list(reversed(chain))) == [f"step-{n}" for n in range(1, 8)]


def test_an_empty_history_orders_to_nothing() -> None:
    assert order_checkpoints([]) == []

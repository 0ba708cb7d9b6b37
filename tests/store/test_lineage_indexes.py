"""The lineage indexes are partial (migration 0005); a lineage filter must still be answered through them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ongoingai.api.params import parse_trace_filter
from ongoingai.query.traces import page_query
from ongoingai.store import SqlTraceStore
from tests.fakes.trace_records import make_record

FILTERS = {
    "trace_group_id": "idx_traces_trace_group_id_created_at_id",
    "thread_id": "idx_traces_lineage_thread_id_created_at_id",
    "run_id": "idx_traces_lineage_run_id_created_at_id",
}


@pytest.mark.parametrize("name", sorted(FILTERS))
async def test_a_lineage_filter_reads_its_partial_index(trace_store: SqlTraceStore, name: str) -> None:
    # A third of the traces carry lineage (all three values), the rest none: NULLs the index leaves out.
    lineage = {"lineage_thread_id": "g1", "lineage_run_id": "g1"}
    records = [
        make_record(n, trace_group_id="g1", metadata=lineage) if n % 3 == 0 else make_record(n)
        for n in range(1, 31)
    ]
    assert (await trace_store.write_batch(records)).written == 30
    async with trace_store.connect() as conn:
        statement = await page_query(conn, parse_trace_filter({name: "g1"}))
        compiled = statement.compile(conn, compile_kwargs={"literal_binds": True})
        if conn.dialect.name == "postgresql":
            # A tiny table would be scanned whole; forbidding that shows whether the index may be used
            # at all (were the filter not to imply the index's `IS NOT NULL`, the plan would still scan).
            await conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            rows = (await conn.execute(sa.text(f"EXPLAIN (COSTS OFF) {compiled}"))).all()
            plan = " ".join(str(row[0]) for row in rows)
        else:
            rows = (await conn.execute(sa.text(f"EXPLAIN QUERY PLAN {compiled}"))).all()
            plan = " ".join(str(row[3]) for row in rows)
    assert FILTERS[name] in plan, plan

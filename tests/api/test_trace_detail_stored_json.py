"""Trace detail shows stored header JSON that does not decode as the raw string (http-api.md §6)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from ongoingai.query.traces import get_trace
from tests.api.conftest import Api
from tests.fakes.trace_records import make_record, trace_id

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # JSONB cannot hold invalid JSON


async def test_invalid_stored_header_json_is_shown_as_the_raw_string(api: Api) -> None:
    assert api.store is not None
    await api.store.write_batch([make_record(1)])
    async with api.store.engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE traces SET request_headers = '{\"Content-Type\": [' WHERE id = :id"),
            {"id": trace_id(1)},
        )

    body = (await api.client.get(f"/api/traces/{trace_id(1)}")).json()

    assert body["request_headers"] == '{"Content-Type": ['
    assert body["response_headers"] == {"Content-Type": ["application/json"]}


async def test_a_trace_read_back_carries_no_undecodable_columns_when_all_decode(api: Api) -> None:
    assert api.store is not None
    await api.store.write_batch([make_record(1)])

    async with api.store.connect() as conn:
        record = await get_trace(conn, trace_id(1))
    assert record is not None and record.undecodable_json == {}

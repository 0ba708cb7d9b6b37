"""The OpenAPI 3.1 document, generated from the route table and the parameter list the code uses.

Paths, methods and query parameters come from `routes.ROUTES` and `params.TRACE_LIST_PARAMS`, so the
document cannot list a route or parameter the API does not serve; response schemas are below, and a
test checks real responses against them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ongoingai.api.auth_schemas import AUTH_REQUEST_BODIES, AUTH_SCHEMAS
from ongoingai.api.params import ParamDoc
from ongoingai.api.read_schemas import READ_SIDE_SCHEMAS, REQUEST_BODIES

_INT = {"type": "integer"}
_STR = {"type": "string"}
_NUM = {"type": "number"}
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _obj(props: dict[str, Any], required: Sequence[str] = (), extra: bool = False) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required), "additionalProperties": extra}


_SUMMARY_PROPS: dict[str, Any] = {
    "id": _STR,
    "timestamp": _TIME,
    "provider": _STR,
    "model": _STR,
    "request_method": _STR,
    "request_path": _STR,
    "response_status": _INT,
    "input_tokens": _INT,
    "output_tokens": _INT,
    "total_tokens": _INT,
    "latency_ms": _INT,
    "time_to_first_token_ms": _INT,
    "time_to_first_token_us": _INT,
    "api_key_hash": _STR,
    "estimated_cost_usd": _NUM,
    "created_at": _TIME,
}
_HEADERS = {"type": "object", "additionalProperties": {"type": "array", "items": _STR}}

SCHEMAS: dict[str, Any] = {
    "OpenAPI": {"type": "object"},
    "Error": _obj({"error": _STR}, ["error"]),
    "ServiceInfo": _obj({"name": _STR, "version": _STR, "status": _STR}, ["name", "version", "status"]),
    "Health": _obj(
        {
            "status": _STR,
            "version": _STR,
            "uptime_sec": _INT,
            "storage_driver": _STR,
            "trace_count": _INT,
            "db_size_bytes": _INT,
        },
        ["status", "version", "uptime_sec", "storage_driver", "trace_count"],
    ),
    "Ready": _obj(
        {"status": {"enum": ["ready", "not ready"]}, "checks": _obj({"storage": _STR, "migrations": _STR})},
        ["status", "checks"],
    ),
    "Lineage": _obj(
        {
            "group_id": _STR,
            "thread_id": _STR,
            "run_id": _STR,
            "checkpoint_id": _STR,
            "parent_checkpoint_id": _STR,
            "checkpoint_seq": _INT,
            "immutable": {"type": "boolean"},
        },
        ["immutable"],
    ),
    "TraceSummary": _obj(_SUMMARY_PROPS, [k for k in _SUMMARY_PROPS if k != "api_key_hash"]),
    "TraceList": _obj(
        {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/TraceSummary"}},
            "next_cursor": _STR,
        },
        ["items"],
    ),
    "TraceDetail": _obj(
        {
            **_SUMMARY_PROPS,
            "trace_group_id": _STR,
            "lineage": {"$ref": "#/components/schemas/Lineage"},
            "request_headers": _HEADERS,
            "response_headers": _HEADERS,
            "request_body": _STR,
            "response_body": _STR,
            "metadata": {"type": "object"},
        },
        [k for k in _SUMMARY_PROPS if k != "api_key_hash"] + ["lineage"],
    ),
    "TracePipelineDiagnostics": _obj(
        {
            "schema_version": {"const": "trace-pipeline-diagnostics.v1"},
            "generated_at": _TIME,
            "diagnostics": {"type": "object"},
        },
        ["schema_version", "generated_at", "diagnostics"],
    ),
    "LimitsDiagnostics": _obj(
        {
            "schema_version": {"const": "limits-diagnostics.v1"},
            "generated_at": _TIME,
            "limits": _obj(
                {"enabled": {"type": "boolean"}, "backend": _STR}, ["enabled", "backend"], extra=True
            ),
        },
        ["schema_version", "generated_at", "limits"],
    ),
}
SCHEMAS.update(READ_SIDE_SCHEMAS)
SCHEMAS.update(AUTH_SCHEMAS)


class RouteDoc(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def methods(self) -> tuple[str, ...]: ...

    @property
    def summary(self) -> str: ...

    @property
    def responses(self) -> dict[int, str]: ...

    @property
    def params(self) -> tuple[ParamDoc, ...]: ...


def _response(schema: str) -> dict[str, Any]:
    if not schema:  # no body (204)
        return {"description": "No content"}
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": schema, "content": {"application/json": {"schema": ref}}}


def _parameters(route: RouteDoc) -> list[dict[str, Any]]:
    out = [
        {"name": name, "in": "path", "required": True, "schema": _STR}
        for name in (part[1:-1] for part in route.path.split("/") if part.startswith("{"))
    ]
    for p in route.params:
        schema: dict[str, Any] = {"type": p.type}
        out.append(
            {"name": p.name, "in": "query", "required": False, "schema": schema, "description": p.description}
        )
    return out


def _operation(route: RouteDoc) -> dict[str, Any]:
    responses = {str(status): _response(schema) for status, schema in route.responses.items()}
    operation: dict[str, Any] = {"summary": route.summary, "responses": responses}
    if parameters := _parameters(route):
        operation["parameters"] = parameters
    return operation


def build_openapi(routes: Sequence[RouteDoc], version: str) -> dict[str, Any]:
    """The document served at `GET /api/openapi.json`."""
    paths: dict[str, Any] = {}
    for route in routes:
        methods = route.methods or ("GET",)
        paths[route.path] = {method.lower(): _operation(route) for method in methods}
    for (path, method), body in {**REQUEST_BODIES, **AUTH_REQUEST_BODIES}.items():
        if method in paths.get(path, {}):
            paths[path][method]["requestBody"] = body
    return {
        "openapi": "3.1.0",
        "info": {"title": "OngoingAI Gateway API", "version": version},
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }

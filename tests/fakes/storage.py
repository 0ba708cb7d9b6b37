"""`storage_settings`: Settings for a store on one backend, with the spill journal in the test's tmp dir."""

from __future__ import annotations

from pathlib import Path

from ongoingai.config import Settings


def storage_settings(backend: str, tmp_path: Path, dsn: str = "", **tracing: object) -> Settings:
    if backend == "postgres":
        storage: dict[str, object] = {
            "driver": "postgres",
            "dsn": dsn,
            "pool": {"min_size": 1, "max_size": 5},
        }
    else:
        storage = {"driver": "sqlite", "path": str(tmp_path / "data" / "ongoingai.db")}
    spill = {"path": str(tmp_path / "spill")}
    return Settings(storage=storage, tracing={"spill": spill, **tracing})

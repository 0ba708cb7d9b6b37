"""Every package of `ongoingai` has a place in the import-linter layers contract (STYLE.md §3.1).

`lint-imports` only checks the packages a contract names: one left out could import anything.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "ongoingai"


def layered_modules() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return {name.strip() for layer in contract["layers"] for name in layer.split("|")}


def test_every_package_and_top_level_module_is_in_the_layers_contract() -> None:
    packages = {f"ongoingai.{p.name}" for p in SOURCE.iterdir() if (p / "__init__.py").is_file()}
    modules = {f"ongoingai.{p.stem}" for p in SOURCE.glob("*.py") if p.stem != "__init__"}
    assert packages | modules <= layered_modules()

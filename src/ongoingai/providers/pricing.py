"""Cost estimation from the shipped price table (`prices.yaml`) plus `pricing.overrides` (DEVIATIONS.md).

Prices are public facts: each provider's list price, with the source and the date it was taken recorded
in `prices.yaml`. An estimate is `priced` when the model resolves to a family in the table, else
`unpriced` with cost 0 — never a silent 0. Cost uses the token breakdown of `Usage`: fresh input, cache
reads and cache writes each at their rate, output (reasoning included) at the output rate.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import yaml

from ongoingai.config.model import PriceOverride
from ongoingai.providers.usage import Usage

CostStatus = Literal["priced", "unpriced"]

PRICES_FILE = "prices.yaml"
BOUNDARIES = frozenset("-@:[")  # where a family name may end inside a longer model name
PER_TOKEN = 1 / 1_000_000  # table rates are USD per 1M tokens
# Vendor prefixes some upstreams put before the model name (Bedrock `us.anthropic.claude-…`).
VENDOR_PREFIX = re.compile(r"^(?:[a-z]+\.)?(?:anthropic|openai|google|mistral)\.")


class PriceTableError(ValueError):
    """The price table file is malformed (a packaging defect, caught by the tests)."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per 1M tokens. Absent cache rates bill at `input`; absent `reasoning` bills at `output`."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None

    def cost_usd(self, usage: Usage) -> float:
        prompt = usage.input_tokens
        cached = min(usage.cached_input_tokens, prompt)
        writes = min(usage.cache_creation_input_tokens, prompt - cached)
        fresh = prompt - cached - writes
        total = (
            fresh * self.input
            + cached * _or(self.cached_input, self.input)
            + writes * _or(self.cache_write, self.input)
        )
        if self.reasoning is None:
            total += usage.output_tokens * self.output
        else:
            reasoning = min(usage.reasoning_tokens, usage.output_tokens)
            total += (usage.output_tokens - reasoning) * self.output + reasoning * self.reasoning
        # Rounded to 1e-10 USD, far below any token's price, so sums and stored values stay readable.
        return round(total * PER_TOKEN, 10)


def _or(rate: float | None, fallback: float) -> float:
    return fallback if rate is None else rate


@dataclass(frozen=True, slots=True)
class CostEstimate:
    cost_usd: float
    status: CostStatus
    family: str | None  # the matched family name: a bounded value, fit for metric labels
    table_version: str


def normalise_model(model: str) -> str:
    """Lower-cased and trimmed, without a routing path (`openai/gpt-4o`) or a vendor prefix."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    return VENDOR_PREFIX.sub("", name)


class PriceTable:
    def __init__(
        self, prices: Mapping[str, ModelPrice], version: str, unpriced: frozenset[str] = frozenset()
    ) -> None:
        self._prices = dict(prices)
        self._unpriced = unpriced - self._prices.keys()
        self._version = version
        # Model names come from clients; no family is longer than this, so no longer prefix is tried.
        self._longest = max(map(len, self._prices.keys() | self._unpriced), default=0)

    @property
    def version(self) -> str:
        return self._version

    @classmethod
    def load(cls, overrides: Mapping[str, PriceOverride] | None = None) -> PriceTable:
        """The shipped table with `pricing.overrides` applied: an override key is a family name, and its
        rates add that family or replace the shipped entry whole (rates it leaves out fall back to the
        input/output rate, as `PriceOverride` documents)."""
        base = _shipped()
        if not overrides:
            return base
        prices = dict(base._prices)
        for name, rates in overrides.items():
            prices[normalise_model(name)] = ModelPrice(
                input=rates.input,
                output=rates.output,
                cached_input=rates.cached_input,
                cache_write=rates.cache_write,
                reasoning=rates.reasoning,
            )
        # The version says the figures are no longer the shipped table's alone.
        return cls(prices, base.version + "+overrides", base._unpriced)

    def families(self) -> frozenset[str]:
        return frozenset(self._prices)

    def resolve(self, model: str) -> str | None:
        """The family a model name belongs to: exact name, else the longest known prefix ending at a
        boundary (so `gpt-4o-mini-2024-07-18` → `gpt-4o-mini`, never `gpt-4o`); None when unknown."""
        name = normalise_model(model)
        if name in self._prices or name in self._unpriced:
            return name
        for end in range(min(len(name) - 1, self._longest), 0, -1):
            if name[end] in BOUNDARIES:
                prefix = name[:end]
                if prefix in self._prices or prefix in self._unpriced:
                    return prefix
        return None

    def price_of(self, model: str) -> ModelPrice | None:
        family = self.resolve(model)
        return self._prices.get(family) if family is not None else None

    def estimate(self, provider: str, usage: Usage) -> CostEstimate:
        """Cost of one exchange. Model names are unique across providers, so one namespace prices every
        route (an OpenAI-compatible upstream serving `claude-*` gets Anthropic's list price); `provider`
        is part of the signature so a provider-specific rate can be added without touching callers."""
        family = self.resolve(usage.model)
        price = self._prices.get(family) if family is not None else None
        if price is None:
            return CostEstimate(0.0, "unpriced", family, self.version)
        return CostEstimate(price.cost_usd(usage), "priced", family, self.version)


@functools.cache
def _shipped() -> PriceTable:
    text = resources.files("ongoingai.providers").joinpath(PRICES_FILE).read_text(encoding="utf-8")
    return parse_table(yaml.safe_load(text))


def parse_table(doc: object) -> PriceTable:
    """Validate the decoded price file; any defect raises `PriceTableError` naming the entry."""
    if not isinstance(doc, dict):
        raise PriceTableError("price table must be a mapping")
    version = doc.get("version")
    if not isinstance(version, str) or not version:
        raise PriceTableError("price table needs a version string")
    providers = doc.get("models")
    if not isinstance(providers, dict):
        raise PriceTableError("price table needs a `models` mapping of provider → family → rates")
    prices: dict[str, ModelPrice] = {}
    for provider, families in providers.items():
        if not isinstance(families, dict):
            raise PriceTableError(f"models.{provider} must be a mapping")
        for family, rates in families.items():
            name = normalise_model(str(family))
            if name in prices:
                raise PriceTableError(f"models.{provider}.{family} is listed twice")
            prices[name] = _parse_rates(f"models.{provider}.{family}", rates)
    unpriced = doc.get("unpriced", [])
    if not isinstance(unpriced, list) or not all(isinstance(n, str) for n in unpriced):
        raise PriceTableError("unpriced must be a list of family names")
    return PriceTable(prices, version, frozenset(normalise_model(n) for n in unpriced))


RATE_FIELDS = ("input", "output", "cached_input", "cache_write", "reasoning")


def _parse_rates(where: str, rates: object) -> ModelPrice:
    if not isinstance(rates, dict):
        raise PriceTableError(f"{where} must be a mapping of rates")
    unknown = set(rates) - set(RATE_FIELDS)
    if unknown:
        raise PriceTableError(f"{where} has unknown fields {sorted(unknown)}")
    values: dict[str, float] = {}
    for key, value in rates.items():
        # YAML reads `1e-3` as a string and `yes` as a bool: only plain numbers are rates.
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise PriceTableError(f"{where}.{key} must be a number >= 0, got {value!r}")
        values[key] = float(value)
    if "input" not in values or "output" not in values:
        raise PriceTableError(f"{where} needs input and output rates")
    return ModelPrice(**values)

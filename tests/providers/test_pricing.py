"""The shipped price table, model → family resolution, cost from the token breakdown, and overrides."""

from __future__ import annotations

import re
from datetime import date
from importlib import resources
from typing import Any

import pytest
import yaml

from ongoingai.config.model import PriceOverride
from ongoingai.providers.pricing import (
    CostEstimate,
    ModelPrice,
    PriceTable,
    PriceTableError,
    normalise_model,
    parse_table,
)
from ongoingai.providers.usage import Usage

TABLE = PriceTable.load()


def shipped_doc() -> dict[str, Any]:
    text = resources.files("ongoingai.providers").joinpath("prices.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("o1", "o1"),
        ("o1-mini-2024-09-12", "o1-mini"),
        ("o1-2024-12-17", "o1"),
        ("o3-mini-2025-01-31", "o3-mini"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("gpt-5-chat-latest", "gpt-5"),
        ("gpt-5.1-codex", "gpt-5.1"),
        ("gpt-5.9", None),
        ("gpt-4-0613", "gpt-4"),
        ("gpt-4-1106-vision-preview", "gpt-4-1106"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
        ("gpt-3.5-turbo-instruct", "gpt-3.5-turbo-instruct"),
        ("text-embedding-3-small", "text-embedding-3-small"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-sonnet-4-0", "claude-sonnet-4"),
        ("claude-sonnet-4-latest", "claude-sonnet-4"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-opus-4-7[1m]", "claude-opus-4-7"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("  Claude-Opus-4-6  ", "claude-opus-4-6"),
        ("us.anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-3-5-sonnet"),
        ("anthropic/claude-haiku-4-5", "claude-haiku-4-5"),
        ("models/gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
        ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        ("codestral-latest", "codestral"),
        ("mistral-large-latest", None),
        ("gpt-4o-transcribe", "gpt-4o-transcribe"),
        ("gpt4o", None),
        ("gpt-4oo", None),
        ("my-private-model", None),
        ("", None),
        ("x" * 100_000, None),
    ],
    ids=lambda v: (v[:40] if v else repr(v)) if isinstance(v, str) or v is None else "",
)
def test_resolve(model: str, family: str | None) -> None:
    assert TABLE.resolve(model) == family


def test_every_family_resolves_to_itself() -> None:
    for family in TABLE.families():
        assert TABLE.resolve(family) == family
        assert TABLE.resolve(family + "-2026-01-01") == family


@pytest.mark.parametrize(
    ("usage", "cost"),
    [
        # proxy.md §8's own example, still right at today's gpt-4o-mini rates (0.15 / 0.60 per 1M).
        (Usage("gpt-4o-mini", 1000, 500), 0.00045),
        # DEVIATIONS.md: a dated snapshot costs what its family costs (proxy.md §8 priced it 0).
        (Usage("gpt-4o-2024-08-06", 1_000_000, 100_000), 2.5 + 1.0),
        (Usage("claude-sonnet-4-latest", 2000, 1000), 2000 * 3e-6 + 1000 * 15e-6),
        # OpenAI: prompt_tokens includes the cached ones; 1024 of 1117 at the cached rate (1.25).
        (Usage("gpt-4o", 1117, 8, cached_input_tokens=1024), (93 * 2.5 + 1024 * 1.25 + 8 * 10) / 1e6),
        # Anthropic: 14 fresh at 15, 1800 cache reads at 1.50, 248 5-minute writes at 18.75, 187 out at 75.
        (
            Usage("claude-opus-4-1", 2062, 187, cached_input_tokens=1800, cache_creation_input_tokens=248),
            (14 * 15 + 1800 * 1.5 + 248 * 18.75 + 187 * 75) / 1e6,
        ),
        # Reasoning tokens are output tokens already: no extra charge.
        (Usage("o4-mini", 1350, 1186, reasoning_tokens=1152), (1350 * 1.1 + 1186 * 4.4) / 1e6),
        # Embeddings bill input only.
        (Usage("text-embedding-3-small", 8, 0), 8 * 0.02 / 1e6),
        # A family without a cached rate bills cache reads at the input rate.
        (Usage("gpt-4o-2024-05-13", 100, 0, cached_input_tokens=60), 100 * 5 / 1e6),
        # Breakdown larger than the prompt is clamped, never negative.
        (Usage("gpt-4o", 10, 0, cached_input_tokens=50, cache_creation_input_tokens=50), 10 * 1.25 / 1e6),
        (Usage("gpt-4o", 0, 0), 0.0),
    ],
    ids=[
        "spec-example",
        "dated-snapshot",
        "spec-prefix-example",
        "openai-cached-input",
        "anthropic-cache-read-and-write",
        "reasoning-billed-as-output",
        "embeddings",
        "cached-falls-back-to-input-rate",
        "breakdown-clamped",
        "zero-tokens-priced-at-zero",
    ],
)
def test_estimate(usage: Usage, cost: float) -> None:
    estimate = TABLE.estimate("openai", usage)
    assert estimate.status == "priced"
    assert estimate.cost_usd == pytest.approx(cost, rel=1e-9, abs=1e-12)
    assert estimate.table_version == TABLE.version


@pytest.mark.parametrize(
    ("model", "family"),
    [("my-private-model", None), ("", None), ("gpt-4o-transcribe-2025-03-20", "gpt-4o-transcribe")],
    ids=["unknown", "no-model", "listed-as-unpriced"],
)
def test_unknown_model_is_unpriced_never_a_silent_zero(model: str, family: str | None) -> None:
    assert TABLE.estimate("openai", Usage(model, 1000, 1000)) == CostEstimate(
        0.0, "unpriced", family, TABLE.version
    )


def test_family_is_reported_for_metric_labels() -> None:
    assert TABLE.estimate("anthropic", Usage("claude-haiku-4-5-20251001", 1, 1)).family == "claude-haiku-4-5"


def test_provider_does_not_change_the_price_of_a_model() -> None:
    usage = Usage("claude-3-haiku-20240307", 1000, 1000)
    assert TABLE.estimate("openai", usage) == TABLE.estimate("anthropic", usage)


def test_separate_reasoning_rate_applies_to_reasoning_tokens_only() -> None:
    price = ModelPrice(input=1.0, output=10.0, reasoning=20.0)
    usage = Usage("m", 0, 100, reasoning_tokens=40)
    assert price.cost_usd(usage) == pytest.approx((60 * 10 + 40 * 20) / 1e6)
    assert price.cost_usd(Usage("m", 0, 10, reasoning_tokens=50)) == pytest.approx(10 * 20 / 1e6)


def test_cost_is_rounded_to_a_tenth_of_a_nano_dollar() -> None:
    cost = ModelPrice(input=0.1, output=0.2).cost_usd(Usage("m", 3, 3))
    assert cost == 9e-07
    assert repr(cost) == "9e-07"


class TestOverrides:
    def test_override_replaces_a_family_whole(self) -> None:
        table = PriceTable.load({"gpt-4o": PriceOverride(input=1.0, output=2.0)})
        estimate = table.estimate("openai", Usage("gpt-4o-2024-08-06", 1000, 1000, cached_input_tokens=500))
        # The shipped cached rate (1.25) is gone: cached reads fall back to the override's input rate.
        assert estimate.cost_usd == pytest.approx((1000 * 1.0 + 1000 * 2.0) / 1e6)
        assert estimate.family == "gpt-4o"

    def test_override_adds_a_family(self) -> None:
        table = PriceTable.load(
            {
                "My-Model": PriceOverride(
                    input=1.0, output=2.0, cached_input=0.5, cache_write=1.5, reasoning=4.0
                )
            }
        )
        usage = Usage(
            "my-model-v2",
            100,
            50,
            cached_input_tokens=20,
            cache_creation_input_tokens=30,
            reasoning_tokens=10,
        )
        estimate = table.estimate("openai", usage)
        assert estimate.status == "priced"
        assert estimate.family == "my-model"
        assert estimate.cost_usd == pytest.approx(
            (50 * 1.0 + 20 * 0.5 + 30 * 1.5 + 40 * 2.0 + 10 * 4.0) / 1e6
        )

    def test_override_of_a_dated_name_beats_its_family(self) -> None:
        table = PriceTable.load({"gpt-4o-2024-08-06": PriceOverride(input=9.0, output=9.0)})
        assert table.resolve("gpt-4o-2024-08-06") == "gpt-4o-2024-08-06"
        assert table.resolve("gpt-4o-2024-11-20") == "gpt-4o"

    def test_override_can_price_a_listed_unpriced_family(self) -> None:
        table = PriceTable.load({"gpt-4o-transcribe": PriceOverride(input=2.5, output=10.0)})
        assert table.estimate("openai", Usage("gpt-4o-transcribe", 1000, 0)).status == "priced"

    def test_version_marks_overridden_tables(self) -> None:
        assert PriceTable.load({}).version == TABLE.version
        assert (
            PriceTable.load({"x": PriceOverride(input=1.0, output=1.0)}).version
            == TABLE.version + "+overrides"
        )

    def test_overrides_do_not_leak_into_the_shipped_table(self) -> None:
        PriceTable.load({"gpt-4o": PriceOverride(input=100.0, output=100.0)})
        assert PriceTable.load().price_of("gpt-4o") == ModelPrice(input=2.5, output=10.0, cached_input=1.25)


class TestShippedFile:
    def test_version_is_the_date_the_figures_were_taken(self) -> None:
        doc = shipped_doc()
        assert TABLE.version == doc["version"]
        assert date.fromisoformat(TABLE.version) == date.fromisoformat(doc["sources"]["openai"]["as_of"])

    def test_every_provider_names_its_source_and_date(self) -> None:
        doc = shipped_doc()
        assert set(doc["models"]) == set(doc["sources"]) == {"openai", "anthropic", "gemini", "mistral"}
        for source in doc["sources"].values():
            assert re.match(r"https://", source["url"])
            date.fromisoformat(source["as_of"])

    @pytest.mark.parametrize(
        "model",
        [
            "gpt-6.2-astra",
            "gpt-6-luna",
            "gpt-5.5",
            "gpt-5",
            "gpt-5-mini",
            "gpt-5-nano",
            "gpt-4.1",
            "gpt-4.1-mini",
            "gpt-4.1-nano",
            "gpt-4o",
            "gpt-4o-mini",
            "o1",
            "o1-mini",
            "o3",
            "o3-mini",
            "o4-mini",
            "gpt-4-turbo",
            "gpt-3.5-turbo",
            "text-embedding-3-small",
            "text-embedding-3-large",
            "text-embedding-ada-002",
            "claude-fable-5-1",
            "claude-opus-5-5",
            "claude-sonnet-5-5",
            "claude-haiku-5-5",
            "claude-opus-4-6",
            "claude-opus-4-5",
            "claude-opus-4-1",
            "claude-opus-4",
            "claude-sonnet-4-5",
            "claude-sonnet-4",
            "claude-haiku-4-5",
            "claude-3-7-sonnet",
            "claude-3-5-sonnet",
            "claude-3-5-haiku",
            "claude-3-opus",
            "claude-3-haiku",
            "gemini-2.5-pro",
            "mistral-large-2411",
        ],
    )
    def test_current_models_are_priced(self, model: str) -> None:
        assert TABLE.resolve(model) == model

    def test_anthropic_entries_carry_both_cache_rates(self) -> None:
        # Anthropic bills cache writes above and cache reads far below the input rate (Haiku 3's published
        # figures are rounded, so no exact ratio holds for every model).
        for family, rates in shipped_doc()["models"]["anthropic"].items():
            assert rates["cache_write"] > rates["input"], family
            assert rates["cached_input"] <= rates["input"] * 0.125, family

    def test_cache_reads_never_cost_more_than_fresh_input(self) -> None:
        for family in TABLE.families():
            price = TABLE.price_of(family)
            assert price is not None
            assert price.cached_input is None or price.cached_input <= price.input, family

    def test_spec_rates_that_still_hold(self) -> None:
        # proxy.md §8's Anthropic rates (per 1K there) are today's list prices too, per 1M here.
        for model, (rate_in, rate_out) in {
            "claude-opus-4-1": (0.015, 0.075),
            "claude-opus-4-6": (0.005, 0.025),
            "claude-sonnet-4-20250514": (0.003, 0.015),
            "claude-haiku-4-5-20251001": (0.001, 0.005),
            "claude-3-5-haiku-20241022": (0.0008, 0.004),
            "claude-3-haiku-20240307": (0.00025, 0.00125),
            "gpt-4o-mini": (0.00015, 0.0006),
        }.items():
            price = TABLE.price_of(model)
            assert price is not None
            assert (price.input, price.output) == pytest.approx((rate_in * 1000, rate_out * 1000)), model


def minimal(**rates: object) -> dict[str, object]:
    return {"version": "v", "models": {"p": {"m": rates}}}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "must be a mapping"),
        ({"models": {}}, "version"),
        ({"version": "v"}, "models"),
        ({"version": "v", "models": {"p": []}}, "models.p must be a mapping"),
        ({"version": "v", "models": {"p": {"m": 1}}}, "models.p.m must be a mapping"),
        (minimal(input=1.0), "needs input and output"),
        (minimal(input="1e-3", output=1.0), "models.p.m.input must be a number"),
        (minimal(input=True, output=1.0), "models.p.m.input must be a number"),
        (minimal(input=-1.0, output=1.0), "must be a number >= 0"),
        (minimal(input=1.0, output=1.0, batch=0.5), "unknown fields ['batch']"),
        (
            {
                "version": "v",
                "models": {"a": {"m": {"input": 1, "output": 1}}, "b": {"M": {"input": 1, "output": 1}}},
            },
            "twice",
        ),
        ({"version": "v", "models": {}, "unpriced": "x"}, "unpriced"),
    ],
    ids=[
        "not-a-mapping",
        "no-version",
        "no-models",
        "provider-not-mapping",
        "rates-not-mapping",
        "missing-output",
        "yaml-exponent-string",
        "bool",
        "negative",
        "unknown-field",
        "duplicate-family",
        "unpriced-not-a-list",
    ],
)
def test_malformed_table_is_rejected(doc: object, message: str) -> None:
    with pytest.raises(PriceTableError, match=re.escape(message)):
        parse_table(doc)


@pytest.mark.parametrize(
    ("model", "normalised"),
    [
        ("  GPT-4o ", "gpt-4o"),
        ("openai/gpt-4o", "gpt-4o"),
        ("accounts/x/models/gpt-4o", "gpt-4o"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5-20250929-v1:0"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku-20240307-v1:0"),
        ("gpt-4.1", "gpt-4.1"),
    ],
    ids=["case-and-space", "routing-path", "long-path", "bedrock-profile", "bedrock", "dot-kept"],
)
def test_normalise_model(model: str, normalised: str) -> None:
    assert normalise_model(model) == normalised

"""OngoingAI Gateway: a headless AI gateway in front of LLM providers.

Data path (request → response), one package per step:
  http (correlation id, errors) → auth → capture.tap → policy → providers (route, parse, price)
  → proxy ⇄ upstream; when the response ends: capture.build → sink.enqueue → BatchWriter → store.
Read side: store ← query ← api / cli.
"""

__version__ = "0.1.0"
COMMIT = "none"
BUILD_DATE = "unknown"

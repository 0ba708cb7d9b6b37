"""Telemetry: structured logs, OpenTelemetry spans and metrics, the Prometheus endpoint, scrubbing.

logging.py   JSON lines, correlation/trace ids from context, the scrubbing filter
scrub.py     credential-shaped text → `[CREDENTIAL_REDACTED]` (spans, labels, logs)
otel.py      `Telemetry`: built once from settings; off (the default) its hooks are no-ops
sdk.py       `OtelTelemetry`: providers, shutdown, the capture-time hook (imported only when enabled)
request.py   `RequestObserver`: correlation id, access log
otel_request.py  `OtelRequestObserver`: + server/auth/route spans, /metrics
spans.py     span names, attributes, the per-request span set
labels.py    route pattern and provider labels (no OpenTelemetry: the access log needs them)
metrics.py   the instruments of meter `ongoingai.gateway`
histograms.py  its histograms: our own buckets, appended to every reader's collection (hot path)
prometheus.py  scrape endpoint rendered from an OTel reader (OpenMetrics carries exemplars)
export.py    scrubbing exporter, bounded span queue, failures logged once and counted
writer.py    the batch writer's span and metrics

Kept free of imports from `sink`, `capture`, `proxy` and `app` (structural Protocols instead), so every
layer may report through it. Only sdk.py, otel_request.py, spans.py, metrics.py, histograms.py,
prometheus.py and export.py import OpenTelemetry, and nothing on the telemetry-off path imports them
(tests/test_startup_imports.py).
"""

"""Telemetry: structured logs, OpenTelemetry spans and metrics, the Prometheus endpoint, scrubbing.

logging.py   JSON lines, correlation/trace ids from context, the scrubbing filter
scrub.py     credential-shaped text → `[CREDENTIAL_REDACTED]` (spans, labels, logs)
otel.py      `Telemetry`: providers built once from settings, shutdown, the capture-time hook
request.py   `RequestObserver`: correlation id, server/auth/route spans, access log, /metrics
spans.py     span names, attributes, the per-request span set
metrics.py   the instruments of meter `ongoingai.gateway`
prometheus.py  scrape endpoint rendered from an OTel reader (OpenMetrics carries exemplars)
export.py    scrubbing exporter, bounded span queue, failures logged once and counted
writer.py    the batch writer's span and metrics

Kept free of imports from `sink`, `capture`, `proxy` and `app` (structural Protocols instead), so every
layer may report through it.
"""

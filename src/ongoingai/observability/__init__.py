"""Telemetry: structured logs now; OpenTelemetry spans/metrics and Prometheus arrive with issue 7."""

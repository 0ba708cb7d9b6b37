"""Capture: the tap that records one exchange as it streams (exchange.py) and the pure builder that
turns a finished exchange into a `TraceRecord` after the response is done (build.py)."""

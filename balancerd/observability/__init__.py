"""Observability: structlog set-up and Prometheus metrics (the only importer of prometheus_client)."""

"""The HTTP API and the web page (`newswire serve`): FastAPI over the same index and
store the CLI uses. JSON under ``/api``, server-rendered pages at ``/``, OpenAPI at
``/docs``, Prometheus metrics at ``/metrics``."""

from __future__ import annotations

from pipeline.api.app import create_app

__all__ = ["create_app"]

"""Distributed mode: Celery tasks wrapping the pipeline stages (see docs/architecture.md).

The Celery app (``workers.app:app``) arrives with the distributed-mode work; the
embedded runner in ``pipeline.runner`` drives the same stages today.
"""

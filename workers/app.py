"""The Celery app of the distributed mode, configured from the one settings object.

    celery -A workers.app worker -Q poll,fetch,index --pool threads   # I/O bound
    celery -A workers.app worker -Q nlp --pool prefork                # CPU bound
    celery -A workers.app beat                                         # the scheduler

Queues: ``poll`` (feeds), ``fetch`` (pages), ``nlp`` (analysis, one process per core,
model loaded once per process), ``index`` (bulk writes). Every task is idempotent, so
all of them are acknowledged late and requeued when their worker is lost; the
broker's visibility timeout (how long an unacknowledged task waits before another
worker gets it) is validated to exceed the longest retry delay.
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from pipeline.queues import QUEUES as QUEUES  # re-exported: workers.tasks imports it here
from pipeline.queues import ROUTES
from pipeline.settings import Settings


def make_app(settings: Settings) -> Celery:
    app = Celery("newswire", broker=settings.broker_url, include=["workers.tasks"])
    visibility = settings.broker_visibility_timeout
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_queues=[Queue(q) for q in QUEUES],
        task_default_queue="fetch",
        task_routes={name: {"queue": queue} for name, queue in ROUTES.items()},
        broker_transport_options={
            "visibility_timeout": visibility,
            # Look for tasks orphaned by a dead worker often enough to notice them
            # soon after the visibility timeout, without scanning Redis constantly.
            "unacked_restore_interval": max(1, min(60, visibility // 20)),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        beat_schedule={
            "tick": {
                "task": "newswire.tick",
                "schedule": settings.beat_interval,
                # A tick that waited longer than two intervals is stale: the next one
                # does the same work.
                "options": {"expires": 2 * settings.beat_interval},
            }
        },
    )
    return app


settings = Settings()
app = make_app(settings)

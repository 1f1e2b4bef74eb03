"""The distributed mode's queues and which task goes to which, written once.

The Celery app (``workers/app.py``) declares and routes with these; ``newswire status``
reports their depths. Plain data: ``pipeline`` never imports Celery.
"""

from __future__ import annotations

# poll: feeds; fetch: pages (I/O bound); nlp: analysis (CPU bound); index: bulk writes.
QUEUES: tuple[str, ...] = ("poll", "fetch", "nlp", "index")

# Celery task name -> the queue it runs on.
ROUTES: dict[str, str] = {
    "newswire.tick": "poll",
    "newswire.poll_feed": "poll",
    "newswire.fetch_article": "fetch",
    "newswire.analyze_article": "nlp",
    "newswire.reanalyze_batch": "nlp",
    "newswire.index_batch": "index",
    "newswire.deliver_watches": "poll",  # a few short POSTs: the light queue
}

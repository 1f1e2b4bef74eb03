"""The compose ``demo`` profile's two roles, run in the Newswire image.

``sites.py serve``: the bundled demo corpus (pipeline/demo) as three news sites on every
address of this container, port 8080. Each outlet answers under its own host name
(``www.harbortimes.example``…, network aliases of this container on the demo network),
so its pages' canonical URLs are on its own site and stories keep the outlet's name;
any other host (``demo``) gets every outlet under ``/<slug>/`` with links under
http://demo:8080. (``newswire demo`` serves the same sites on 127.0.0.1 only.)

``sites.py register FEEDS_FILE``: adds the file's feeds to the store the settings name
(Redis in the stack); feeds already known keep their state. Exits 0 when done.
"""

from __future__ import annotations

import sys
from pathlib import Path

BASE_URL = "http://demo:8080"


def serve() -> None:
    # The handler is the CLI demo's own, so both serve the same pages and feeds.
    from pipeline.demo.server import DemoHTTPServer, _Handler

    class ContainerServer(DemoHTTPServer):
        @property
        def base_url(self) -> str:  # links for hosts other than the outlets' own
            return BASE_URL

    httpd = ContainerServer(("0.0.0.0", 8080), _Handler)
    print(f"serving the demo sites as {BASE_URL} and under their own names", flush=True)
    httpd.serve_forever()


def register(feeds_file: Path) -> None:
    from pipeline.settings import Settings
    from pipeline.store import open_store, sync_feeds

    settings = Settings()
    store = open_store(settings)
    try:
        added = sync_feeds(store, feeds_file, settings.poll_default_interval)
    finally:
        store.close()
    print(f"{added} demo feeds added from {feeds_file}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    elif len(sys.argv) == 3 and sys.argv[1] == "register":
        register(Path(sys.argv[2]))
    else:
        sys.exit("usage: sites.py serve | register FEEDS_FILE")

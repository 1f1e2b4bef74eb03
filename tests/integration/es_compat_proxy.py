"""An HTTP proxy on 127.0.0.1 that lets elasticsearch-py 8 talk to OpenSearch.

The client sends Elastic's versioned media type and insists on an
``X-Elastic-Product`` answer header; OpenSearch speaks the same REST API but not
those two headers. The proxy rewrites exactly them and forwards everything else
untouched, so the elasticsearch adapter's real requests meet a real engine. It
does not make OpenSearch Elasticsearch: the compose stack is where that is proven.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {
            k: v.replace(
                "application/vnd.elasticsearch+json; compatible-with=8", "application/json"
            ).replace(
                "application/vnd.elasticsearch+x-ndjson; compatible-with=8", "application/x-ndjson"
            )
            for k, v in self.headers.items()
            if k.lower() not in _HOP and k.lower() != "host"
        }
        resp = self.server.upstream.request(self.command, self.path, content=body, headers=headers)
        self.send_response(resp.status_code)
        for k, v in resp.headers.items():
            if k.lower() not in _HOP:
                self.send_header(k, v)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(resp.content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.content)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    upstream: httpx.Client


class CompatProxy:
    def __init__(self, upstream: str) -> None:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.upstream = httpx.Client(base_url=upstream, timeout=60)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.upstream.close()

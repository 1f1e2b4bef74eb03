"""OpenSearch 2.x through opensearch-py: client calls only, the rest is shared."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy import exceptions as os_errors

from pipeline.index.dsl import load_mapping
from pipeline.index.engine import EngineIndex, EngineRejected, EngineUnavailable
from pipeline.settings import Settings


@contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except (os_errors.ConnectionError, os_errors.ConnectionTimeout) as exc:
        raise EngineUnavailable(
            f"opensearch unreachable during {what}: {exc.__class__.__name__}"
        ) from exc
    except os_errors.TransportError as exc:
        status = exc.status_code if isinstance(exc.status_code, int) else 0
        reason = f"opensearch {what} failed: HTTP {status} {exc.error}"
        if status == 429 or status >= 500:
            raise EngineUnavailable(reason) from exc
        raise EngineRejected(reason) from exc


class OpenSearchClient:
    name = "opensearch"

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self._os = OpenSearch(
            hosts=[url], timeout=timeout, max_retries=0, retry_on_timeout=False, pool_maxsize=16
        )

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        with _translated(what):
            return fn()

    def ping(self) -> dict[str, Any]:
        info = self._call("info", self._os.info)
        return {"distribution": "opensearch", "version": info["version"]["number"]}

    def create_index(self, index: str, body: dict[str, Any]) -> None:
        self._call("create index", lambda: self._os.indices.create(index=index, body=body))

    def delete_index(self, index: str) -> None:
        self._call("delete index", lambda: self._os.indices.delete(index=index))

    def indices_for(self, alias: str) -> list[str]:
        try:
            with _translated("get alias"):
                return sorted(self._os.indices.get_alias(name=alias))
        except EngineRejected:  # 404: no such alias yet
            return []

    def index_meta(self, index: str) -> dict[str, Any]:
        resp = self._call("get mapping", lambda: self._os.indices.get_mapping(index=index))
        meta: dict[str, Any] = resp[index]["mappings"].get("_meta", {})
        return meta

    def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        self._call(
            "update aliases", lambda: self._os.indices.update_aliases(body={"actions": actions})
        )

    def bulk(self, operations: list[dict[str, Any]]) -> dict[str, Any]:
        resp: dict[str, Any] = self._call("bulk", lambda: self._os.bulk(body=operations))
        return resp

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        resp: dict[str, Any] = self._call("search", lambda: self._os.search(index=index, body=body))
        return resp

    def get(self, index: str, doc_id: str) -> dict[str, Any] | None:
        try:
            with _translated("get"):
                source: dict[str, Any] = self._os.get(index=index, id=doc_id)["_source"]
                return source
        except EngineRejected:
            return None

    def delete(self, index: str, doc_id: str) -> bool:
        try:
            with _translated("delete"):
                return bool(self._os.delete(index=index, id=doc_id)["result"] == "deleted")
        except EngineRejected:
            return False

    def count(self, index: str) -> int:
        return int(self._call("count", lambda: self._os.count(index=index))["count"])

    def refresh(self, index: str) -> None:
        self._call("refresh", lambda: self._os.indices.refresh(index=index))

    def close(self) -> None:
        self._os.close()


def open_opensearch(settings: Settings) -> EngineIndex:
    return EngineIndex(
        OpenSearchClient(settings.opensearch_url),
        alias=settings.index_name,
        mapping=load_mapping(settings.mapping_file),
        batch_size=settings.bulk_batch_size,
        refresh=settings.index_refresh,
    )

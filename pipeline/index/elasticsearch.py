"""Elasticsearch 8.x through elasticsearch-py: client calls only, the rest is shared."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError

from pipeline.index.dsl import load_mapping
from pipeline.index.engine import EngineIndex, EngineRejected, EngineUnavailable
from pipeline.settings import Settings


@contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except TransportError as exc:  # connection refused, timeouts, TLS
        raise EngineUnavailable(
            f"elasticsearch unreachable during {what}: {exc.__class__.__name__}"
        ) from exc
    except ApiError as exc:
        status = exc.meta.status
        reason = f"elasticsearch {what} failed: HTTP {status} {exc.message}"
        if status == 429 or status >= 500:
            raise EngineUnavailable(reason) from exc
        raise EngineRejected(reason) from exc


class ElasticsearchClient:
    name = "elasticsearch"

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self._es = Elasticsearch(
            hosts=[url],
            request_timeout=timeout,
            max_retries=0,
            retry_on_timeout=False,
            connections_per_node=16,
        )

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        with _translated(what):
            return fn()

    def ping(self) -> dict[str, Any]:
        info = self._call("info", self._es.info)
        return {"distribution": "elasticsearch", "version": info["version"]["number"]}

    def create_index(self, index: str, body: dict[str, Any]) -> None:
        self._call(
            "create index",
            lambda: self._es.indices.create(
                index=index, settings=body["settings"], mappings=body["mappings"]
            ),
        )

    def delete_index(self, index: str) -> None:
        self._call("delete index", lambda: self._es.indices.delete(index=index))

    def indices_for(self, alias: str) -> list[str]:
        try:
            with _translated("get alias"):
                return sorted(self._es.indices.get_alias(name=alias).body)
        except EngineRejected:
            return []

    def index_meta(self, index: str) -> dict[str, Any]:
        resp = self._call("get mapping", lambda: self._es.indices.get_mapping(index=index))
        meta: dict[str, Any] = resp[index]["mappings"].get("_meta", {})
        return meta

    def update_aliases(self, actions: list[dict[str, Any]]) -> None:
        self._call("update aliases", lambda: self._es.indices.update_aliases(actions=actions))

    def bulk(self, operations: list[dict[str, Any]]) -> dict[str, Any]:
        resp = self._call("bulk", lambda: self._es.bulk(operations=operations))
        return dict(resp.body)

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = self._call("search", lambda: self._es.search(index=index, body=body))
        return dict(resp.body)

    def get(self, index: str, doc_id: str) -> dict[str, Any] | None:
        try:
            with _translated("get"):
                source: dict[str, Any] = self._es.get(index=index, id=doc_id)["_source"]
                return source
        except (EngineRejected, NotFoundError):
            return None

    def delete(self, index: str, doc_id: str) -> bool:
        try:
            with _translated("delete"):
                return bool(self._es.delete(index=index, id=doc_id)["result"] == "deleted")
        except (EngineRejected, NotFoundError):
            return False

    def count(self, index: str) -> int:
        return int(self._call("count", lambda: self._es.count(index=index))["count"])

    def refresh(self, index: str) -> None:
        self._call("refresh", lambda: self._es.indices.refresh(index=index))

    def close(self) -> None:
        self._es.close()


def open_elasticsearch(settings: Settings) -> EngineIndex:
    return EngineIndex(
        ElasticsearchClient(settings.elasticsearch_url),
        alias=settings.index_name,
        mapping=load_mapping(settings.mapping_file),
        batch_size=settings.bulk_batch_size,
        refresh=settings.index_refresh,
    )

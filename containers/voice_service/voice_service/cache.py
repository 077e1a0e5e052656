"""Cache for synthesized audio (text + voice + parameters) and speaker embeddings.

A bounded in-process LRU by default; Redis (shared by every task behind the load balancer) when
REDIS_URL is set. Keys are sha256 digests of a canonical JSON of everything that shapes the output.
A cache that fails (Redis down) degrades to misses: it never fails a request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from typing import Protocol

logger = logging.getLogger(__name__)


def cache_key(kind: str, **parts: object) -> str:
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"fala:voice:{kind}:" + hashlib.sha256(canonical.encode()).hexdigest()


class Cache(Protocol):
    name: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes) -> None: ...


class MemoryCache:
    """LRU bounded both by entry count and by total bytes."""

    name = "memory"

    def __init__(self, max_items: int = 256, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def set(self, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes or self.max_items == 0:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._data[key] = value
            self._bytes += len(value)
            while len(self._data) > self.max_items or self._bytes > self.max_bytes:
                _, evicted = self._data.popitem(last=False)
                self._bytes -= len(evicted)


class RedisCache:
    name = "redis"

    def __init__(self, url: str, *, ttl_seconds: int = 86_400, timeout: float = 0.5) -> None:
        import redis  # only when REDIS_URL is set

        self.ttl_seconds = ttl_seconds
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._errors = (redis.RedisError, OSError)

    def get(self, key: str) -> bytes | None:
        try:
            value = self._client.get(key)
        except self._errors as exc:
            logger.warning("Redis cache read failed: %s", exc)
            return None
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes) -> None:
        try:
            self._client.set(key, value, ex=self.ttl_seconds)
        except self._errors as exc:
            logger.warning("Redis cache write failed: %s", exc)

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except self._errors:
            return False


def build_cache(
    redis_url: str | None, *, max_items: int, max_bytes: int, ttl_seconds: int
) -> Cache:
    if redis_url:
        return RedisCache(redis_url, ttl_seconds=ttl_seconds)
    return MemoryCache(max_items=max_items, max_bytes=max_bytes)

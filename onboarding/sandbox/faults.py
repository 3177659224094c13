"""Fault injection and the request log.

Faults live in memory only. :class:`FaultMiddleware` wraps the whole app: for every
request under a vendor prefix it records a request-log entry, applies matching faults
(latency, a canned error status, or an error *after* the real operation committed) and
records the status finally sent.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onboarding.sandbox.errors import retry_headers, status_error, vendor_for_path

logger = logging.getLogger("sandbox.faults")

MatchKind = Literal["exact", "prefix", "regex"]
_MATCH_KINDS: dict[str, MatchKind] = {"exact": "exact", "prefix": "prefix", "regex": "regex"}


def _utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _opt_int(data: dict[str, Any], key: str, minimum: int) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{key}` must be an integer >= {minimum} or null")
    return value


@dataclass
class Fault:
    """One injected fault.

    Attributes:
        id: The fault id (``f1``, ``f2`` ...).
        path: The request path to match, including the vendor prefix.
        method: The HTTP method to match; ``None`` matches every method.
        match: How ``path`` is compared: ``exact``, ``prefix`` or ``regex``
            (a full match of the path).
        status: The status to answer with; ``None`` for a latency-only fault.
        count: How many requests the fault applies to; ``None`` means unlimited.
        remaining: How many applications are left (``None`` means unlimited).
        retry_after: Seconds for a ``Retry-After`` header, if any.
        latency_ms: Delay added before answering.
        fail_after_commit: Run the real operation, then answer ``status`` instead.
        body: A custom response body (JSON value, or a string sent as plain text).
        probability: The chance that a matching request is hit (1: every one); requests it
            spares do not count against ``count``.
        seed: Seeds the draws of ``probability``, for a reproducible sequence.
        hits: How many requests the fault has been applied to.
        created_at: When the fault was added.
    """

    id: str
    path: str
    method: str | None = None
    match: MatchKind = "exact"
    status: int | None = None
    count: int | None = None
    remaining: int | None = None
    retry_after: int | None = None
    latency_ms: int = 0
    fail_after_commit: bool = False
    body: Any = None
    probability: float = 1.0
    seed: int | None = None
    hits: int = 0
    created_at: str = field(default_factory=_utc_now_iso)
    _pattern: re.Pattern[str] | None = field(default=None, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    @classmethod
    def from_json(cls, fault_id: str, data: Any) -> Fault:
        """Validate an admin request body and build a fault.

        Args:
            fault_id: The id to give the fault.
            data: The decoded JSON body.

        Returns:
            The fault.

        Raises:
            ValueError: When the body is not a valid fault description.
        """
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(data) - {
            "method",
            "path",
            "match",
            "status",
            "count",
            "retry_after",
            "latency_ms",
            "fail_after_commit",
            "body",
            "probability",
            "seed",
        }
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        path = data.get("path")
        if not isinstance(path, str) or not path:
            raise ValueError("`path` is required and must be a non-empty string")
        method = data.get("method")
        if method is not None and not isinstance(method, str):
            raise ValueError("`method` must be a string or null")
        method = None if method in (None, "", "*") else method.upper()
        raw_match = data.get("match", "exact") or "exact"
        if not isinstance(raw_match, str) or raw_match not in _MATCH_KINDS:
            raise ValueError("`match` must be one of exact, prefix, regex")
        match = _MATCH_KINDS[raw_match]
        pattern = None
        if match == "regex":
            try:
                pattern = re.compile(path)
            except re.error as exc:
                raise ValueError(f"`path` is not a valid regex: {exc}") from exc
        status = _opt_int(data, "status", 100)
        if status is not None and status > 599:
            raise ValueError("`status` must be between 100 and 599")
        count = _opt_int(data, "count", 1)
        retry_after = _opt_int(data, "retry_after", 0)
        latency_ms = _opt_int(data, "latency_ms", 0) or 0
        fail_after_commit = data.get("fail_after_commit", False)
        if not isinstance(fail_after_commit, bool):
            raise ValueError("`fail_after_commit` must be a boolean")
        if status is None and latency_ms == 0:
            raise ValueError("a fault needs a `status`, a `latency_ms`, or both")
        if fail_after_commit and status is None:
            raise ValueError("`fail_after_commit` needs a `status`")
        probability = data.get("probability", 1.0)
        if (
            isinstance(probability, bool)
            or not isinstance(probability, int | float)
            or not 0 < probability <= 1
        ):
            raise ValueError("`probability` must be a number in (0, 1]")
        seed = _opt_int(data, "seed", 0)
        return cls(
            id=fault_id,
            path=path,
            method=method,
            match=match,
            status=status,
            count=count,
            remaining=count,
            retry_after=retry_after,
            latency_ms=latency_ms,
            fail_after_commit=fail_after_commit,
            body=data.get("body"),
            probability=float(probability),
            seed=seed,
            _pattern=pattern,
            _rng=random.Random(seed),
        )

    def matches(self, method: str, path: str) -> bool:
        """Tell whether a request is targeted by this fault (ignoring the count).

        Args:
            method: The request method.
            path: The request path (no query string).

        Returns:
            Whether the fault targets the request.
        """
        if self.method is not None and self.method != method.upper():
            return False
        if self.match == "exact":
            return path.rstrip("/") == self.path.rstrip("/")
        if self.match == "prefix":
            return path.startswith(self.path)
        assert self._pattern is not None
        return self._pattern.fullmatch(path) is not None

    def draws(self) -> bool:
        """Whether this matching request is one the fault hits (see ``probability``)."""
        return self.probability >= 1 or self._rng.random() < self.probability

    @property
    def active(self) -> bool:
        """Whether the fault still applies to further requests."""
        return self.remaining is None or self.remaining > 0

    def consume(self) -> None:
        """Record one application of the fault."""
        self.hits += 1
        if self.remaining is not None:
            self.remaining -= 1

    def response(self, vendor: str | None) -> Response:
        """Build the response this fault answers with.

        Args:
            vendor: The vendor the request was addressed to.

        Returns:
            The custom body if one was given, else the vendor's error for ``status``.
        """
        status = self.status or 500
        headers = retry_headers(self.retry_after)
        if self.body is None:
            return status_error(vendor, status, self.retry_after)
        if isinstance(self.body, str):
            return PlainTextResponse(self.body, status_code=status, headers=headers)
        return JSONResponse(self.body, status_code=status, headers=headers)

    def to_json(self) -> dict[str, Any]:
        """Return the fault as the admin API shows it.

        Returns:
            A JSON-serialisable dict.
        """
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "match": self.match,
            "status": self.status,
            "count": self.count,
            "remaining": self.remaining,
            "retry_after": self.retry_after,
            "latency_ms": self.latency_ms,
            "fail_after_commit": self.fail_after_commit,
            "body": self.body,
            "probability": self.probability,
            "seed": self.seed,
            "hits": self.hits,
            "created_at": self.created_at,
        }


@dataclass
class Decision:
    """What the faults say about one request.

    Attributes:
        fault: The status fault that answers the request, if any.
        latency_ms: The delay to apply before answering.
        fault_id: The id recorded in the request log.
    """

    fault: Fault | None = None
    latency_ms: int = 0
    fault_id: str | None = None


class FaultRegistry:
    """The active faults, in the order they were added (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, data: Any) -> Fault:
        """Validate and add a fault.

        Args:
            data: The decoded admin request body.

        Returns:
            The new fault.

        Raises:
            ValueError: When the body is not a valid fault description.
        """
        with self._lock:
            fault = Fault.from_json(f"f{next(self._ids)}", data)
            self._faults.append(fault)
            return fault

    def list(self) -> list[dict[str, Any]]:
        """Return every fault (including exhausted ones) as JSON.

        Returns:
            The faults in the order they were added.
        """
        with self._lock:
            return [fault.to_json() for fault in self._faults]

    def remove(self, fault_id: str) -> bool:
        """Remove one fault.

        Args:
            fault_id: The fault's id.

        Returns:
            Whether it existed.
        """
        with self._lock:
            before = len(self._faults)
            self._faults = [fault for fault in self._faults if fault.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> int:
        """Remove every fault.

        Returns:
            How many faults were removed.
        """
        with self._lock:
            removed = len(self._faults)
            self._faults = []
            return removed

    def reset(self) -> None:
        """Remove every fault and restart fault ids at ``f1``."""
        with self._lock:
            self._faults = []
            self._ids = itertools.count(1)

    def take(self, method: str, path: str) -> Decision:
        """Apply the faults to a request, consuming their counts.

        The earliest-added active status fault that matches answers the request.
        Every matching latency-only fault (``status`` null) is consumed too; the
        longest latency of the applied faults is used.

        Args:
            method: The request method.
            path: The request path.

        Returns:
            The decision for the request.
        """
        decision = Decision()
        with self._lock:
            for fault in self._faults:
                if not fault.active or not fault.matches(method, path):
                    continue
                if fault.status is not None and decision.fault is not None:
                    continue
                if not fault.draws():
                    continue
                if fault.status is None:
                    fault.consume()
                    decision.latency_ms = max(decision.latency_ms, fault.latency_ms)
                    decision.fault_id = decision.fault_id or fault.id
                elif decision.fault is None:
                    fault.consume()
                    decision.fault = fault
                    decision.latency_ms = max(decision.latency_ms, fault.latency_ms)
                    decision.fault_id = fault.id
        return decision


class RequestLog:
    """An in-memory, bounded log of the requests made to vendor routes.

    Args:
        maxlen: How many entries are kept.
    """

    def __init__(self, maxlen: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._seq = 0

    def start(
        self, method: str, path: str, query: str, vendor: str, idempotency_key: str | None
    ) -> dict[str, Any]:
        """Record the arrival of a request.

        Args:
            method: The request method.
            path: The request path.
            query: The raw query string.
            vendor: The vendor the path belongs to.
            idempotency_key: The ``Idempotency-Key`` header, if sent.

        Returns:
            The entry, to be completed by the caller.
        """
        with self._lock:
            self._seq += 1
            entry: dict[str, Any] = {
                "seq": self._seq,
                "at": _utc_now_iso(),
                "method": method,
                "path": path,
                "query": query,
                "vendor": vendor,
                "status": None,
                "idempotency_key": idempotency_key,
                "fault_id": None,
                "duration_ms": None,
            }
            self._entries.append(entry)
            return entry

    def since(self, seq: int = 0) -> list[dict[str, Any]]:
        """Return the entries after a sequence number.

        Args:
            seq: Entries with a greater ``seq`` are returned.

        Returns:
            Copies of the entries, oldest first.
        """
        with self._lock:
            return [dict(entry) for entry in self._entries if entry["seq"] > seq]

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest entry (0 when empty)."""
        with self._lock:
            return self._seq

    def clear(self) -> None:
        """Drop every entry and restart sequence numbers at 1."""
        with self._lock:
            self._entries.clear()
            self._seq = 0


class FaultMiddleware:
    """ASGI middleware applying faults and logging requests to vendor routes.

    Args:
        app: The wrapped application.
        faults: The fault registry.
        log: The request log.
    """

    def __init__(self, app: ASGIApp, faults: FaultRegistry, log: RequestLog) -> None:
        self.app = app
        self.faults = faults
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection.

        Args:
            scope: The ASGI scope.
            receive: The ASGI receive channel.
            send: The ASGI send channel.
        """
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        vendor = vendor_for_path(path)
        if vendor is None:
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        headers = Headers(scope=scope)
        entry = self.log.start(
            method,
            path,
            scope.get("query_string", b"").decode("latin-1"),
            vendor,
            headers.get("idempotency-key"),
        )
        started = time.perf_counter()
        response_started = False

        async def logging_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                entry["status"] = message["status"]
            await send(message)

        decision = self.faults.take(method, path)
        entry["fault_id"] = decision.fault_id
        try:
            if decision.latency_ms:
                await asyncio.sleep(decision.latency_ms / 1000)
            fault = decision.fault
            if fault is None:
                await self._run_app(vendor, scope, receive, logging_send, lambda: response_started)
            elif not fault.fail_after_commit:
                await fault.response(vendor)(scope, receive, logging_send)
            else:
                await self._run_app(vendor, scope, receive, _discard, lambda: True)
                await fault.response(vendor)(scope, receive, logging_send)
        finally:
            entry["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)

    async def _run_app(
        self,
        vendor: str,
        scope: Scope,
        receive: Receive,
        send: Send,
        started: Callable[[], bool],
    ) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception:
            logger.exception("unhandled error in the %s sandbox", vendor)
            if not started():
                await status_error(vendor, 500)(scope, receive, send)


async def _discard(message: Message) -> None:
    """Swallow the real response of a ``fail_after_commit`` fault."""

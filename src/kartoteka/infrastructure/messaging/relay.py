"""OutboxRelay: moves committed outbox rows to their destinations, at least once.

It wakes on the outbox's NOTIFY and also polls, so a lost notification (or a
row whose retry time has come) costs at most one poll interval. Rows are
claimed with ``FOR UPDATE SKIP LOCKED`` in batches, so several relays can run
side by side without delivering a row twice at the same time. A batch that
fails is retried row by row, so one poisonous row is isolated: it backs off
exponentially and, after ``max_attempts``, is parked as dead while the rows
behind it keep flowing. A destination that cannot be reached at all (its
server is down) is different: its rows keep their attempts and stay where they
are, the destination is paused with a short backoff, and rows for the other
destinations are claimed and delivered meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kartoteka.application.shared.outbox import DestinationUnavailableError, MessagePublisher, OutboundMessage
from kartoteka.infrastructure.db.schema import OUTBOX_CHANNEL
from kartoteka.infrastructure.observability.metrics import (
    OUTBOX_BACKLOG,
    OUTBOX_DEAD,
    OUTBOX_FAILED,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PUBLISHED,
)

log = logging.getLogger(__name__)

_CLAIM = text(
    """
    SELECT id, destination, key, payload, attempts FROM outbox
    WHERE dead_at IS NULL AND available_at <= now() AND NOT (destination = ANY(:paused))
    ORDER BY id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)
_DELETE = text("DELETE FROM outbox WHERE id = ANY(:ids)")
_RETRY = text(
    """
    UPDATE outbox SET attempts = attempts + 1, last_error = :error,
        available_at = now() + make_interval(secs => :delay),
        dead_at = CASE WHEN attempts + 1 >= :max_attempts THEN now() END
    WHERE id = :id
    """
)
# One scan of the outbox for the gauges; the partial index on live rows keeps it short while the relay keeps up.
_BACKLOG = text(
    """
    SELECT count(*) FILTER (WHERE dead_at IS NULL) AS waiting,
        coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE dead_at IS NULL)), 0) AS oldest_s,
        count(*) FILTER (WHERE dead_at IS NOT NULL) AS dead
    FROM outbox
    """
)


@dataclass(frozen=True, slots=True)
class RelayPolicy:
    batch_size: int = 500
    poll_interval_s: float = 1.0
    max_attempts: int = 20
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    outage_backoff_max_s: float = 5.0  # how stale delivery may be after a destination comes back

    def delay(self, attempts: int) -> float:
        return float(min(self.backoff_max_s, self.backoff_base_s * 2 ** max(0, attempts)))

    def outage_delay(self, failures: int) -> float:
        return float(min(self.outage_backoff_max_s, self.backoff_base_s * 2 ** max(0, failures - 1)))


class _Unavailable(Exception):
    def __init__(self, delivered: list[int], cause: DestinationUnavailableError) -> None:
        super().__init__(str(cause))
        self.delivered = delivered
        self.cause = cause


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    message: OutboundMessage
    attempts: int


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        publishers: Mapping[str, MessagePublisher],
        policy: RelayPolicy = RelayPolicy(),
        listen_dsn: str | None = None,
    ) -> None:
        self._engine = engine
        self._publishers = publishers
        self._policy = policy
        self._listen_dsn = listen_dsn
        self._wake = asyncio.Event()
        self._paused_until: dict[str, float] = {}
        self._outages: dict[str, int] = {}
        self.listening = asyncio.Event()  # set once NOTIFY wake-ups are being received
        self._observed_at = -float("inf")

    async def drain_once(self) -> int:
        """Claim one batch, deliver it, and record the outcome; returns how many rows were claimed."""
        async with self._engine.begin() as conn:
            claim = {"limit": self._policy.batch_size, "paused": self._paused_now()}
            rows = [
                _Row(r.id, OutboundMessage(r.destination, r.key, dict(r.payload)), r.attempts)
                for r in await conn.execute(_CLAIM, claim)
            ]
            if not rows:
                return 0
            delivered: list[int] = []
            failed: list[tuple[_Row, str]] = []
            by_destination: dict[str, list[_Row]] = defaultdict(list)
            for row in rows:
                by_destination[row.message.destination].append(row)
            for destination, group in by_destination.items():
                try:
                    ok, bad = await self._deliver(destination, group)
                except _Unavailable as outage:
                    delivered += outage.delivered  # the rest stay as they are, attempts untouched
                    self._pause(destination, outage.cause)
                    continue
                self._resume(destination)
                delivered += ok
                failed += bad
            if delivered:
                await conn.execute(_DELETE, {"ids": delivered})
            for row, error in failed:
                await self._record_failure(conn, row, error)
            return len(rows)

    async def _deliver(self, destination: str, group: list[_Row]) -> tuple[list[int], list[tuple[_Row, str]]]:
        publisher = self._publishers.get(destination)
        if publisher is None:
            return [], [(row, f"no publisher for destination {destination!r}") for row in group]
        try:
            await publisher.publish([row.message for row in group])
            OUTBOX_PUBLISHED.labels(destination).inc(len(group))
            return [row.id for row in group], []
        except DestinationUnavailableError as exc:
            raise _Unavailable([], exc) from exc
        except Exception as exc:  # any publisher failure: isolate the bad rows one by one
            if len(group) == 1:
                return [], [(group[0], _describe(exc))]
            log.warning("batch to %s failed (%s); retrying row by row", destination, _describe(exc))
        delivered: list[int] = []
        failed: list[tuple[_Row, str]] = []
        for row in group:
            try:
                await publisher.publish([row.message])
                OUTBOX_PUBLISHED.labels(destination).inc()
                delivered.append(row.id)
            except DestinationUnavailableError as exc:
                raise _Unavailable(delivered, exc) from exc
            except Exception as exc:
                failed.append((row, _describe(exc)))
        return delivered, failed

    def _paused_now(self) -> list[str]:
        now = time.monotonic()
        return [d for d, until in self._paused_until.items() if until > now]

    def _pause(self, destination: str, cause: DestinationUnavailableError) -> None:
        failures = self._outages.get(destination, 0) + 1
        self._outages[destination] = failures
        self._paused_until[destination] = time.monotonic() + self._policy.outage_delay(failures)
        if failures == 1:
            log.warning("%s is unreachable (%s); its messages wait until it returns", destination, cause)

    def _resume(self, destination: str) -> None:
        self._paused_until.pop(destination, None)
        if self._outages.pop(destination, 0):
            log.warning("%s is reachable again; delivering what waited", destination)

    async def _record_failure(self, conn: AsyncConnection, row: _Row, error: str) -> None:
        OUTBOX_FAILED.labels(row.message.destination).inc()
        attempts = row.attempts + 1
        if attempts >= self._policy.max_attempts:
            log.error(
                "outbox row %d to %s is dead after %d attempts: %s", row.id, row.message.destination, attempts, error
            )
        await conn.execute(
            _RETRY,
            {
                "id": row.id,
                "error": error[:2000],
                "delay": self._policy.delay(row.attempts),
                "max_attempts": self._policy.max_attempts,
            },
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set: drain while there is work, then wait for NOTIFY or the poll."""
        listener = await self._listen()
        try:
            while not stop.is_set():
                if self._listen_dsn is not None and (listener is None or listener.is_closed()):
                    listener = await self._listen()  # the database restarted: listen again
                # Cleared before draining, so a NOTIFY that arrives during the drain wakes the next wait.
                self._wake.clear()
                try:
                    claimed = await self.drain_once()
                except Exception as exc:  # the database went away: keep the process, retry after a poll
                    log.warning("relay cannot reach the outbox: %s", _describe(exc))
                    claimed = 0
                await self.observe_backlog()
                if claimed >= self._policy.batch_size:
                    continue
                waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
                await asyncio.wait(waiters, timeout=self._policy.poll_interval_s, return_when=asyncio.FIRST_COMPLETED)
                for w in waiters:
                    w.cancel()
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close()

    async def observe_backlog(self) -> None:
        """Set the outbox gauges, between drains: at most once per poll interval however busy the relay is."""
        now = time.monotonic()
        if now - self._observed_at < self._policy.poll_interval_s:
            return
        self._observed_at = now
        try:
            async with self._engine.connect() as conn:
                row = (await conn.execute(_BACKLOG)).one()
        except Exception as exc:  # the gauges keep their last values; drain_once reports the outage
            log.debug("outbox gauges not refreshed: %s", _describe(exc))
            return
        OUTBOX_BACKLOG.set(row.waiting)
        OUTBOX_OLDEST_AGE.set(float(row.oldest_s))
        OUTBOX_DEAD.set(row.dead)

    async def _listen(self) -> Any:
        if self._listen_dsn is None:
            return None
        try:
            connection = await asyncpg.connect(self._listen_dsn)
            await connection.add_listener(OUTBOX_CHANNEL, lambda *_: self._wake.set())
            self.listening.set()
            return connection
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("relay cannot LISTEN (%s); polling only", _describe(exc))
            return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

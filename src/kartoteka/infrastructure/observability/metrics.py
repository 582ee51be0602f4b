"""Prometheus metrics of every Kartoteka process, in one place so their names stay consistent.

Each process exposes the default registry: the api at ``GET /metrics`` (presentation/http/metrics.py,
through :class:`PrometheusHttpMetrics`), the relay, the workers and the watcher on a port of their
own (:func:`start_metrics_server`, ``metrics.port`` plus the process's offset). Labels are bounded on
purpose: a route *template*, a status, a stage, an outcome, a destination; never an id or a raw path,
so the number of series does not grow with the archive or with what clients send.

Only ``prometheus_client`` is imported here, so the api process can use it without loading any model
library.
"""

from __future__ import annotations

import logging
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import start_http_server

log = logging.getLogger(__name__)

NAMESPACE: Final = "kartoteka"
# Requests are mostly milliseconds; uploads and exports of batches take seconds.
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# A stage on a CPU can take tens of seconds (reading a crowded card); a queue can hold jobs for hours.
_STAGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_WAIT_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)

# ---------------------------------------------------------------------------------------------- api
HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
    namespace=NAMESPACE,
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from a request's arrival until its response was sent, by method and route template.",
    ["method", "route"],
    namespace=NAMESPACE,
    buckets=_HTTP_BUCKETS,
)
OPEN_WEBSOCKETS = Gauge("http_open_websockets", "WebSockets open now.", namespace=NAMESPACE)
OPEN_EVENT_STREAMS = Gauge("http_open_event_streams", "Server-sent event streams open now.", namespace=NAMESPACE)

# -------------------------------------------------------------------------------------------- relay
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published (dead rows not counted).", namespace=NAMESPACE)
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_age_seconds", "Age of the oldest outbox row not yet published; 0 when none.", namespace=NAMESPACE
)
OUTBOX_DEAD = Gauge(
    "outbox_dead_rows", "Outbox rows parked as dead after their last attempt (need an operator).", namespace=NAMESPACE
)
OUTBOX_PUBLISHED = Counter(
    "outbox_published", "Outbox messages delivered, by destination.", ["destination"], namespace=NAMESPACE
)
OUTBOX_FAILED = Counter(
    "outbox_failed",
    "Outbox deliveries that failed and will be retried (or were parked as dead), by destination.",
    ["destination"],
    namespace=NAMESPACE,
)

# ------------------------------------------------------------------------------------------- worker
JOBS = Counter(
    "recognition_jobs",
    "Recognition jobs ended, by outcome (completed, failed, cancelled, retried, dropped, unsettled).",
    ["outcome"],
    namespace=NAMESPACE,
)
STAGE_DURATION = Histogram(
    "recognition_stage_duration_seconds",
    "Time of each stage of a recognition job: fetch, decode, detect, recognise, store.",
    ["stage"],
    namespace=NAMESPACE,
    buckets=_STAGE_BUCKETS,
)
QUEUE_WAIT = Histogram(
    "recognition_queue_wait_seconds",
    "Time a task waited from being queued (or sent again after a retry's backoff) until a worker started it.",
    namespace=NAMESPACE,
    buckets=_WAIT_BUCKETS,
)
MODEL_LOAD = Gauge(
    "model_load_seconds", "How long this worker took to load its models, by queue.", ["queue"], namespace=NAMESPACE
)

# ------------------------------------------------------------------------------------------ watcher
WATCH_EVENTS = Counter(
    "gallery_watch_events",
    "File system events the watcher applied to the index, by kind (FileCreated, FileMoved, ...).",
    ["kind"],
    namespace=NAMESPACE,
)
RECONCILED_FILES = Counter(
    "gallery_reconciled_files",
    "Files the watcher's start-up scans found, by what they were (unchanged, new, changed, moved, deleted).",
    ["outcome"],
    namespace=NAMESPACE,
)

# Process kinds and their offset from ``metrics.port``: one setting gives every process of a host its port.
PORT_OFFSETS: Final = {"relay": 0, "worker": 1, "embedder": 2, "watcher": 3}


class PrometheusHttpMetrics:
    """The api's :class:`kartoteka.presentation.http.metrics.HttpMetrics` over the default registry."""

    content_type = CONTENT_TYPE_LATEST

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None:
        HTTP_REQUESTS.labels(method, route, str(status)).inc()
        HTTP_DURATION.labels(method, route).observe(seconds)

    def socket_opened(self) -> None:
        OPEN_WEBSOCKETS.inc()

    def socket_closed(self) -> None:
        OPEN_WEBSOCKETS.dec()

    def stream_opened(self) -> None:
        OPEN_EVENT_STREAMS.inc()

    def stream_closed(self) -> None:
        OPEN_EVENT_STREAMS.dec()

    def exposition(self) -> bytes:
        return generate_latest(REGISTRY)


class PrometheusJobMetrics:
    """The worker's :class:`kartoteka.application.recognition.ports.metrics.JobMetrics`."""

    def job_finished(self, outcome: str) -> None:
        JOBS.labels(outcome).inc()

    def stage_took(self, stage: str, seconds: float) -> None:
        STAGE_DURATION.labels(stage).observe(seconds)

    def waited_in_queue(self, seconds: float) -> None:
        QUEUE_WAIT.observe(seconds)


def metrics_port(base: int | None, process: str) -> int | None:
    """The port ``process`` serves its metrics on, or None when metrics ports are off (0 or null)."""
    if not base:
        return None
    return base + PORT_OFFSETS[process]


def start_metrics_server(host: str, base: int | None, process: str) -> int | None:
    """Serve the default registry over HTTP from a daemon thread; the port, or None when off.

    A port already taken fails start-up (``OSError``) rather than leaving a process no one can scrape.
    """
    port = metrics_port(base, process)
    if port is None:
        return None
    start_http_server(port, addr=host)
    log.info("%s metrics at http://%s:%d/metrics", process, host, port)
    return port

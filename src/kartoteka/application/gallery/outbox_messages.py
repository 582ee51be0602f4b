"""Outbox destinations of the gallery and the shapes of their messages.

``embedding.jobs`` becomes a TaskIQ job on the ``embedding`` queue; the live
``gallery`` channel goes to Redis pub/sub, from where every api process forwards it to its SSE
streams and WebSockets (it may be lost: clients re-read the gallery).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from kartoteka.application.shared.live_messages import Channel, GalleryEvent, encode
from kartoteka.application.shared.outbox import OutboundMessage

EMBED_JOBS = "embedding.jobs"
EMBED_JOB = "kartoteka.embed_images"  # the worker's task name
QUERY_JOB = "kartoteka.embed_query"


def embed_job(image_ids: Sequence[UUID]) -> OutboundMessage:
    ids = [str(i) for i in image_ids]
    return OutboundMessage(EMBED_JOBS, ids[0] if ids else "", {"image_ids": ids})


def gallery_event(event: GalleryEvent) -> OutboundMessage:
    payload = encode(event)
    return OutboundMessage(Channel.GALLERY, payload["event"], payload)

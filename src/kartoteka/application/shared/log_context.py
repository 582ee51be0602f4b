"""Ids bound to everything logged while one card or image is handled.

Bound where the work starts (a job, a request for one card), read by the log
formatter, so every line about a card names it without each call site
repeating the id. Context variables follow the work into the tasks it starts.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping

CONTEXT_FIELDS = ("task_id", "image_id", "batch_id")
# Never mutated in place: each binding sets a new mapping, so the shared default is safe.
_bound: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("kartoteka_log_context", default={})  # noqa: B039


@contextlib.contextmanager
def log_context(**ids: object) -> Iterator[None]:
    """Bind ids (``task_id=...``) to every record logged inside the block."""
    token = _bound.set({**_bound.get(), **{k: str(v) for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _bound.reset(token)


def bound_ids() -> Mapping[str, str]:
    return _bound.get()

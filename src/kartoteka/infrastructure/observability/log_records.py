"""Log records for operators: text for a terminal, one JSON object per line for a log pipeline.

Every record made while a card or an image is being handled carries its id
(``task_id``, ``image_id``, ``batch_id``), bound once with
:func:`kartoteka.application.shared.log_context.log_context` where the work
starts, so a search for one card finds every line about it, from every module.
Access log lines (and uvicorn's WebSocket handshake lines) keep the method, path and
status but never a query value that could be a credential, and no cookie or header is logged.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from kartoteka.application.shared.log_context import CONTEXT_FIELDS, bound_ids

_SECRET_QUERY = re.compile(r"(?i)([?&](?:[^=&]*(?:token|code|session|secret|password|key)[^=&]*)=)[^&\s\"]*")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"


def redact(text: str) -> str:
    """Query values whose names suggest a credential become ``***``."""
    return _SECRET_QUERY.sub(r"\1***", text)


class ContextFilter(logging.Filter):
    """Adds the bound ids to each record, and redacts credentials from uvicorn's request lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = bound_ids()
        for name in CONTEXT_FIELDS:
            if name in bound and not hasattr(record, name):
                setattr(record, name, bound[name])
        record.context = "".join(f" [{n}={getattr(record, n)}]" for n in CONTEXT_FIELDS if hasattr(record, n))
        # Not only the access log: uvicorn logs each WebSocket handshake ("WebSocket /api/ws?token=…
        # [accepted]") on uvicorn.error, with its query string.
        if record.name.startswith("uvicorn") and isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(fmt: Literal["text", "json"], level: str = "INFO", stream: TextIO | None = None) -> None:
    """One handler on the root logger for the whole process (stderr); uvicorn's loggers propagate to it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True

"""Sketch-Search's ``ImageSearchQuery``, accepting everything its web UI really sends.

The UI sends dates as JavaScript's ``Date.toString()`` (``Mon Jan 01 2024 00:00:00
GMT+0100 (Central European Standard Time)``), sort keys named after column headers
(``Created At``), and ``directory=""`` for "all folders". All of it is accepted;
anything else that cannot be understood is a 422 naming the field.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from kartoteka.application.ports.gallery import ImageFilter, Ordering, PageRequest
from kartoteka.domain.gallery.image import InvalidGalleryPathError, normalize_directory

MAX_PAGE_SIZE = 500
MAX_TOP_K = 10_000

_ORDERS = {
    "created_at": Ordering.CREATED,
    "created at": Ordering.CREATED,
    "createdat": Ordering.CREATED,
    "modified_at": Ordering.MODIFIED,
    "modified at": Ordering.MODIFIED,
    "modifiedat": Ordering.MODIFIED,
    "user_visible_name": Ordering.NAME,
    "name": Ordering.NAME,
    "user visible name": Ordering.NAME,
}
_JS_DATE = re.compile(r"^\w{3} (\w{3} \d{2} \d{4} \d{2}:\d{2}:\d{2}) GMT([+-]\d{4})")


class QueryError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def parse_datetime(field: str, value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    match = _JS_DATE.match(text)
    try:
        if match:
            parsed = datetime.strptime(f"{match.group(1)} {match.group(2)}", "%b %d %Y %H:%M:%S %z")
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(field, f"{text!r} is not a date") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_int(field: str, value: Any, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise QueryError(field, f"{value!r} is not a whole number") from None
    if not low <= number <= high:
        raise QueryError(field, f"must be between {low} and {high}")
    return number


def parse_directory(value: Any) -> str | None:
    if value is None or value == "":
        return None  # every folder
    try:
        return normalize_directory(str(value))
    except InvalidGalleryPathError as exc:
        raise QueryError("directory", str(exc)) from None


def parse_filter(values: dict[str, Any]) -> ImageFilter:
    name = values.get("name_contains")
    return ImageFilter(
        directory=parse_directory(values.get("directory")),
        name_contains=str(name) if name not in (None, "") else None,
        created_min=parse_datetime("created_min", values.get("created_min")),
        created_max=parse_datetime("created_max", values.get("created_max")),
        modified_min=parse_datetime("modified_min", values.get("modified_min")),
        modified_max=parse_datetime("modified_max", values.get("modified_max")),
    )


def parse_page(values: dict[str, Any]) -> PageRequest:
    size = values.get("items_per_page", values.get("page_size", values.get("pageSize")))
    return PageRequest(
        page=parse_int("page", values.get("page"), 1, 1, 10**9),
        items_per_page=parse_int("items_per_page", size, 10, 1, MAX_PAGE_SIZE),
    )


def parse_order(values: dict[str, Any]) -> tuple[Ordering, bool]:
    raw = str(values.get("order_by") or "modified_at").strip()
    order = _ORDERS.get(raw.lower())
    if order is None:
        raise QueryError("order_by", f"{raw!r} is not one of created_at, modified_at, user_visible_name")
    direction = str(values.get("direction") or "descending").strip().lower()
    if direction not in {"ascending", "descending", "asc", "desc"}:
        raise QueryError("direction", "use ascending or descending")
    return order, direction.startswith("desc")


def parse_query_json(text: str | None) -> dict[str, Any]:
    if text is None or text.strip() == "":
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise QueryError("query_json", "is not JSON") from None
    if not isinstance(value, dict):
        raise QueryError("query_json", "must be a JSON object")
    return value


def parse_min_score(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise QueryError("min_score", f"{value!r} is not a number") from None
    if not -1.0 <= score <= 1.0:
        raise QueryError("min_score", "a cosine similarity lies between -1 and 1")
    return score

"""Sketch-Search's ``ImageSearchQuery``, accepting everything its web UI really sends.

The UI sends dates as JavaScript's ``Date.toString()`` (``Mon Jan 01 2024 00:00:00
GMT+0100 (Central European Standard Time)``), sort keys named after column headers
(``Created At``), and ``directory=""`` for "all folders". All of it is accepted
(docs/contracts.md); anything else that cannot be understood is a 422 naming the field.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from kartoteka.application.gallery.ports.store import ImageFilter, Ordering, PageRequest
from kartoteka.domain.errors import Refusal
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
# ``Date.toString()``; the offset's "+" may arrive as a space when a client put it in a URL unescaped.
_JS_DATE = re.compile(
    r"^\w{3} (?P<month>\w{3}) (?P<day>\d{1,2}) (?P<year>\d{4}) (?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
    r" GMT(?P<sign>[+\- ])(?P<oh>\d{2})(?P<om>\d{2})(?: \(.*\))?$"
)
# JavaScript's month names, whatever the server's locale (strptime's %b follows LC_TIME).
_MONTHS = {
    name: n
    for n, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1
    )
}
# An ISO offset whose "+" became a space the same way: ``2024-01-01T10:00:00 01:00``.
_ISO_SPACED_OFFSET = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


class QueryError(Refusal, ValueError):
    """A filter, page or search option the gallery cannot use; names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", {"field": field})
        self.field = field


def parse_text(field: str, value: Any) -> str | None:
    """A free-text filter; absent or empty is no filter. PostgreSQL text cannot hold NUL."""
    if value is None or value == "":
        return None
    text = str(value)
    if "\x00" in text:
        raise QueryError(field, "may not contain a NUL character")
    return text


def parse_datetime(field: str, value: Any) -> datetime | None:
    """ISO 8601 (``Z`` or an offset; without one it is UTC) or JavaScript's ``Date.toString()``."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    match = _JS_DATE.match(text)
    try:
        if match:
            parsed = _js_date(match)
        else:
            spaced = _ISO_SPACED_OFFSET.match(text)
            if spaced:
                text = f"{spaced.group(1)}+{spaced.group(2)}"
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        # In UTC, as the database compares it; a moment beyond year 1..9999 there is no date at all.
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise QueryError(field, f"{str(value)!r} is not a date (use ISO 8601)") from None


def _js_date(match: re.Match[str]) -> datetime:
    month = _MONTHS.get(match["month"])
    if month is None:
        raise ValueError(f"no month {match['month']!r}")
    offset = timedelta(hours=int(match["oh"]), minutes=int(match["om"]))
    return datetime(
        int(match["year"]),
        month,
        int(match["day"]),
        int(match["h"]),
        int(match["m"]),
        int(match["s"]),
        tzinfo=timezone(-offset if match["sign"] == "-" else offset),
    )


def parse_int(field: str, value: Any, default: int, low: int, high: int) -> int:
    """A whole number from a query string, a form field or JSON (where ``5.0`` is 5, ``5.5`` and ``true`` are not)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise QueryError(field, f"{value!r} is not a whole number")
    try:
        number = int(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
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
    return ImageFilter(
        directory=parse_directory(values.get("directory")),
        name_contains=parse_text("name_contains", values.get("name_contains")),
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
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise QueryError("query_json", "is not JSON") from None
    if not isinstance(value, dict):
        raise QueryError("query_json", "must be a JSON object")
    return value


def parse_min_score(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise QueryError("min_score", f"{value!r} is not a number")
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise QueryError("min_score", f"{value!r} is not a number") from None
    if not -1.0 <= score <= 1.0:
        raise QueryError("min_score", "a cosine similarity lies between -1 and 1")
    return score

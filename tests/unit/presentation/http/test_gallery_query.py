"""What ``/api/images`` and the searches take from a query: everything Sketch-Search's web UI sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from kartoteka.application.gallery.ports.store import ImageFilter, Ordering, PageRequest
from kartoteka.presentation.http.gallery_query import (
    MAX_PAGE_SIZE,
    QueryError,
    parse_datetime,
    parse_directory,
    parse_filter,
    parse_int,
    parse_min_score,
    parse_order,
    parse_page,
    parse_query_json,
)

NOON = datetime(2024, 1, 1, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "Mon Jan 01 2024 12:00:00 GMT+0100 (Central European Standard Time)",  # Date.toString() in Warsaw
        "Mon Jan 01 2024 06:00:00 GMT-0500 (Eastern Standard Time)",
        "Mon Jan 01 2024 16:30:00 GMT+0530 (India Standard Time)",
        "Mon Jan 01 2024 12:00:00 GMT+0100",  # no zone name
        "Mon Jan 01 2024 12:00:00 GMT 0100 (CET)",  # "+" decoded to a space by an unescaped URL
        "2024-01-01T11:00:00Z",
        "2024-01-01T11:00:00.000Z",  # Date.toISOString()
        "2024-01-01T12:00:00+01:00",
        "2024-01-01T12:00:00 01:00",
        "2024-01-01T11:00:00",  # no offset: UTC
        "2024-01-01 11:00",
        "  2024-01-01T11:00:00Z  ",
    ],
)
def test_dates_in_every_spelling_the_ui_or_a_client_sends(text: str) -> None:
    parsed = parse_datetime("created_min", text)
    assert parsed == NOON
    assert parsed is not None
    assert parsed.utcoffset() == timedelta(0)


def test_a_date_alone_is_its_midnight_in_utc() -> None:
    assert parse_datetime("created_min", "2024-01-01") == datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, ""])
def test_no_date_is_no_bound(value: Any) -> None:
    assert parse_datetime("created_min", value) is None


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "Invalid Date",  # what Date.toString() prints for a date it could not make
        "Mon Foo 01 2024 12:00:00 GMT+0100 (CET)",
        "Mon Jan 32 2024 12:00:00 GMT+0100 (CET)",
        "Mon Jan 01 2024 25:00:00 GMT+0100 (CET)",
        "2024-13-01",
        "9999-12-31T23:59:59-01:00",  # past year 9999 once in UTC
        "0001-01-01T00:00:00+01:00",  # before year 1 once in UTC
        "1700000000",
    ],
)
def test_what_is_not_a_date_names_its_field(text: str) -> None:
    with pytest.raises(QueryError) as error:
        parse_datetime("modified_max", text)
    assert error.value.field == "modified_max"
    assert "modified_max" in str(error.value)


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("created_at", Ordering.CREATED),
        ("Created At", Ordering.CREATED),  # the UI's column header as the sort key
        ("createdAt", Ordering.CREATED),
        ("modified_at", Ordering.MODIFIED),
        ("Modified At", Ordering.MODIFIED),
        ("user_visible_name", Ordering.NAME),
        ("Name", Ordering.NAME),
        (" created_at ", Ordering.CREATED),
    ],
)
def test_sort_keys_include_the_ui_column_headers(order_by: str, expected: Ordering) -> None:
    assert parse_order({"order_by": order_by}) == (expected, True)


def test_sorting_defaults_to_the_newest_modification_first() -> None:
    assert parse_order({}) == (Ordering.MODIFIED, True)
    assert parse_order({"order_by": "", "direction": ""}) == (Ordering.MODIFIED, True)


@pytest.mark.parametrize(
    ("direction", "descending"),
    [("ascending", False), ("descending", True), ("ASC", False), ("desc", True), ("Descending", True)],
)
def test_directions(direction: str, descending: bool) -> None:
    assert parse_order({"order_by": "created_at", "direction": direction}) == (Ordering.CREATED, descending)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"order_by": "size"}, "order_by"),
        ({"order_by": "created_at; DROP TABLE x"}, "order_by"),
        ({"direction": "sideways"}, "direction"),
    ],
)
def test_unknown_orders_are_refused(values: dict[str, str], field: str) -> None:
    with pytest.raises(QueryError) as error:
        parse_order(values)
    assert error.value.field == field


def test_paging_defaults_and_the_ui_page_size_spellings() -> None:
    assert parse_page({}) == PageRequest(1, 10)
    assert parse_page({"page": "3", "items_per_page": "12"}) == PageRequest(3, 12)
    assert parse_page({"page_size": "24"}) == PageRequest(1, 24)
    assert parse_page({"pageSize": "48"}) == PageRequest(1, 48)
    assert parse_page({"items_per_page": "", "page": ""}) == PageRequest(1, 10)
    assert parse_page({"page": 2, "items_per_page": 5.0}) == PageRequest(2, 5)  # JSON numbers
    assert parse_page({"page": 4, "items_per_page": 5}).offset == 15


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page": 1.5}, "page"),
        ({"page": True}, "page"),
        ({"page": "two"}, "page"),
        ({"page": [1]}, "page"),
        ({"items_per_page": "0"}, "items_per_page"),
        ({"items_per_page": str(MAX_PAGE_SIZE + 1)}, "items_per_page"),
        ({"page_size": "-3"}, "items_per_page"),
    ],
)
def test_pages_out_of_range_are_refused(values: dict[str, Any], field: str) -> None:
    with pytest.raises(QueryError) as error:
        parse_page(values)
    assert error.value.field == field


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 7), ("", 7), ("12", 12), (" 12 ", 12), (12, 12), (12.0, 12), ("1", 1), ("100", 100)],
)
def test_whole_numbers(value: Any, expected: int) -> None:
    assert parse_int("top_k", value, 7, 1, 100) == expected


@pytest.mark.parametrize("value", ["0", "-1", "101", "1e3", "five", 2.5, True, False, float("inf"), float("nan"), {}])
def test_what_is_not_a_whole_number_in_range(value: Any) -> None:
    with pytest.raises(QueryError) as error:
        parse_int("top_k", value, 7, 1, 100)
    assert error.value.field == "top_k"


def test_folders_top_children_and_all() -> None:
    assert parse_directory(".") == "."
    assert parse_directory("./") == "."
    assert parse_directory("") is None  # the UI's "all folders"
    assert parse_directory(None) is None
    assert parse_directory("a/b") == "a/b"
    assert parse_directory("a/b/") == "a/b"
    assert parse_directory("x" * 2048) == "x" * 2048
    assert parse_directory("./a//b") == "a/b"
    assert parse_directory("a\\b") == "a/b"
    assert parse_directory("x" * 2048) == "x" * 2048


@pytest.mark.parametrize("value", ["../x", "a/../../x", "..", "/etc", "a\x00b", "x" * 2049, "ж/" * 700, "\ud800"])
def test_folders_leaving_the_gallery_are_refused(value: str) -> None:
    with pytest.raises(QueryError) as error:
        parse_directory(value)
    assert error.value.field == "directory"


def test_the_whole_filter() -> None:
    where = parse_filter(
        {
            "directory": "fruit",
            "name_contains": "App",
            "created_min": "Mon Jan 01 2024 12:00:00 GMT+0100 (CET)",
            "created_max": "2024-02-01T00:00:00Z",
            "modified_min": "2024-01-02",
            "modified_max": None,
            "page": "1",  # paging fields are not filters
        }
    )
    assert where == ImageFilter(
        directory="fruit",
        name_contains="App",
        created_min=NOON,
        created_max=datetime(2024, 2, 1, tzinfo=UTC),
        modified_min=datetime(2024, 1, 2, tzinfo=UTC),
    )
    assert parse_filter({}) == ImageFilter()
    assert parse_filter({"name_contains": "", "directory": None}) == ImageFilter()


def test_a_nul_in_a_name_filter_is_refused() -> None:
    with pytest.raises(QueryError) as error:
        parse_filter({"name_contains": "a\x00"})
    assert error.value.field == "name_contains"


def test_query_json_is_an_object_or_nothing() -> None:
    assert parse_query_json(None) == {}
    assert parse_query_json("  ") == {}
    sent = '{"page":1,"items_per_page":12,"order_by":"user_visible_name","direction":"ascending","directory":null}'
    assert parse_query_json(sent)["directory"] is None
    for bad in ("{not json", "[1, 2]", '"text"', "12", "[" * 100_000):
        with pytest.raises(QueryError) as error:
            parse_query_json(bad)
        assert error.value.field == "query_json"


def test_min_score_is_a_cosine_similarity() -> None:
    assert parse_min_score(None) is None
    assert parse_min_score("") is None
    assert parse_min_score("0.5") == 0.5
    assert parse_min_score(-1) == -1.0
    assert parse_min_score(1) == 1.0
    for bad in ("high", "1.01", -1.5, "nan", "inf", True):
        with pytest.raises(QueryError) as error:
            parse_min_score(bad)
        assert error.value.field == "min_score"


def test_js_dates_keep_their_offset_sign() -> None:
    east = parse_datetime("d", "Tue Jul 02 2024 00:30:00 GMT+0930 (Australian Central Standard Time)")
    west = parse_datetime("d", "Mon Jul 01 2024 05:00:00 GMT-1000 (Hawaii-Aleutian Standard Time)")
    assert east == datetime(2024, 7, 2, 0, 30, tzinfo=timezone(timedelta(hours=9, minutes=30)))
    assert west == datetime(2024, 7, 1, 15, 0, tzinfo=UTC)
    assert east == datetime(2024, 7, 1, 15, 0, tzinfo=UTC)

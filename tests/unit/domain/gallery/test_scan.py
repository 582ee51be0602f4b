"""The relative-path helpers of a scan."""

from __future__ import annotations

from kartoteka.domain.gallery.scan import is_within, join, parent_of


def test_relative_path_helpers() -> None:
    assert parent_of("a.jpg") == "."
    assert parent_of("a/b/c.jpg") == "a/b"
    assert join(".", "a") == "a"
    assert join("a", "b") == "a/b"
    assert is_within("a/b.jpg", "a")
    assert not is_within("ab/c.jpg", "a")
    assert is_within("x", ".")

"""Which paths the gallery indexes: extensions in any case, exclusions by glob."""

from __future__ import annotations

import pytest

from kartoteka.domain.gallery.selection import FileSelection, normalise_extension


@pytest.mark.parametrize("name", ["a.jpg", "A.JPG", "b.Tiff", "c.tif", "d.JpEg", "e.webp", "f.BMP", "g.gif", "h.png"])
def test_image_extensions_match_in_any_case(name: str) -> None:
    assert FileSelection().has_image_name(name)


@pytest.mark.parametrize("name", ["a.txt", "jpg", "a.jpg.part", "a.", ".jpg.swp", "noext"])
def test_other_names_are_not_images(name: str) -> None:
    assert not FileSelection().has_image_name(name)


def test_extensions_are_normalised() -> None:
    assert normalise_extension(".JPG") == "jpg"
    assert FileSelection.of([".HEIC"]).has_image_name("x.heic")
    with pytest.raises(ValueError, match="extension"):
        normalise_extension(".")


def test_exclusions_match_names_at_any_depth_and_whole_paths() -> None:
    selection = FileSelection.of(exclude=[".*", "raw/*", "@eaDir"])
    assert selection.excludes(".Trash-0/x.jpg")
    assert selection.excludes("a/b/.cache/x.jpg")
    assert selection.excludes("raw/x.jpg")
    assert selection.excludes("raw/deep/x.jpg")  # under an excluded entry
    assert not selection.excludes("a/raw/x.jpg")
    assert selection.excludes("a/@eaDir/x.jpg")
    assert selection.selects_file("a/b/x.JPG")
    assert not selection.selects_file("a/.x.jpg")

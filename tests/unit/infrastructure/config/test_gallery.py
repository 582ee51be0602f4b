"""The gallery settings section: safe defaults, normalised extensions, distinct roots."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kartoteka.infrastructure.config.gallery import GallerySettings, WatchedRoot


def test_defaults_are_the_safe_choices() -> None:
    settings = GallerySettings()
    assert settings.roots == []
    assert not settings.follow_symlinks
    assert not settings.allow_empty_root_deletion
    assert settings.thumbnail_size == 256
    assert set(settings.extensions) == {"jpg", "jpeg", "png", "webp", "gif", "bmp", "tiff", "tif"}
    assert settings.selection.excludes(".Trash-1000/a.jpg")


def test_every_field_is_described() -> None:
    for model in (GallerySettings, WatchedRoot):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"


def test_extensions_are_normalised_and_roots_named() -> None:
    settings = GallerySettings.model_validate(
        {"extensions": [".JPG", "jpg", "Png"], "roots": [{"path": "/srv/photos"}, {"path": "/srv/b", "name": "B"}]}
    )
    assert settings.extensions == ("jpg", "png")
    assert settings.selection.has_image_name("x.PNG")
    assert [r.display_name for r in settings.roots] == ["photos", "B"]
    assert settings.roots[0].path == Path("/srv/photos")


@pytest.mark.parametrize(
    "roots",
    [
        [{"path": "/srv/a"}, {"path": "/srv/a/"}],
        [{"path": "/srv/a"}, {"path": "/srv/a/sub"}],
        [{"path": "/srv/x/a", "name": "n"}, {"path": "/srv/y/b", "name": "n"}],
        [{"path": "."}],
    ],
)
def test_overlapping_or_ambiguous_roots_are_refused(roots: list[dict[str, str]]) -> None:
    with pytest.raises(ValidationError):
        GallerySettings.model_validate({"roots": roots})


def test_sections_are_strict_and_frozen() -> None:
    with pytest.raises(ValidationError):
        GallerySettings.model_validate({"debounce": 5})
    settings = GallerySettings()
    with pytest.raises(ValidationError):
        settings.batch_size = 3  # type: ignore[misc]

"""The embedder registry section: Sketch-Search's entry shapes, validated before anything is imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kartoteka.infrastructure.config.embedders import EmbedderEntry, EmbedderRegistrySettings


def test_defaults_name_three_encoders_and_choose_the_offline_one() -> None:
    settings = EmbedderRegistrySettings()
    assert settings.chosen_embedder == "efficientnet_lite0"
    assert set(settings.embedders) == {"efficientnet_lite0", "convnext_clip", "sketch_search"}
    assert settings.embedders["convnext_clip"].kwargs["model_name"].startswith("hf-hub:laion/CLIP-convnext")
    assert settings.embedders["sketch_search"].kwargs["timm_backbone"] == "convnext_tiny.fb_in22k"
    assert "weights_path" in settings.embedders["sketch_search"].kwargs
    assert all(entry.target is not None for entry in settings.embedders.values())


def test_every_field_is_documented() -> None:
    for model in (EmbedderRegistrySettings, EmbedderEntry):
        undocumented = [name for name, field in model.model_fields.items() if not field.description]
        assert undocumented == [], model.__name__


def test_entries_load_from_yaml_shaped_data(tmp_path: Path) -> None:
    settings = EmbedderRegistrySettings.model_validate(
        {
            "chosen_embedder": "mine",
            "batch_size": 8,
            "embedders": {
                "mine": {"file": str(tmp_path / "x.py"), "class_name": "Mine", "args": [1], "kwargs": {"k": "v"}},
                "theirs": {"target": "pkg.mod.Theirs"},
            },
        }
    )
    assert settings.embedders["mine"].args == [1]
    assert settings.embedders["theirs"].kwargs == {}
    assert settings.batch_size == 8


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({}, "exactly one of `target`"),
        ({"target": "a.B", "file": "x.py", "class_name": "B"}, "exactly one of `target`"),
        ({"file": "x.py"}, "needs `class_name`"),
        ({"target": "a.B", "class_name": "B"}, "`class_name` goes with `file`"),
        ({"target": "NoModule"}, "dotted path"),
        ({"target": "a..B"}, "dotted path"),
        ({"file": "x.py", "class_name": "not a name"}, "class name"),
        ({"target": "a.B", "kwarg": {}}, "Extra inputs are not permitted"),
    ],
)
def test_malformed_entries_are_refused_with_the_reason(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EmbedderEntry.model_validate(entry)


def test_chosen_embedder_must_be_an_entry() -> None:
    with pytest.raises(ValidationError, match=r"chosen_embedder 'nope' is not in embedders \(known: a\)"):
        EmbedderRegistrySettings(chosen_embedder="nope", embedders={"a": EmbedderEntry(target="p.m.C")})


def test_section_is_frozen_and_strict() -> None:
    settings = EmbedderRegistrySettings()
    with pytest.raises(ValidationError):
        settings.batch_size = 3  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        EmbedderRegistrySettings.model_validate({"chosen": "x"})
    with pytest.raises(ValidationError):
        EmbedderRegistrySettings(batch_size=0)


def test_digest_cache_defaults_under_the_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert EmbedderRegistrySettings().digest_cache_path() == tmp_path / "kartoteka" / "weight-digests.json"
    assert EmbedderRegistrySettings(digest_cache=str(tmp_path / "d.json")).digest_cache_path() == tmp_path / "d.json"

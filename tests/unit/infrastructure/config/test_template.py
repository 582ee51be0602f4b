"""``.env.local.template`` is the settings model rendered: up to date, and naming every variable."""

from __future__ import annotations

from pathlib import Path

from kartoteka.infrastructure.config.settings import iter_variables
from kartoteka.infrastructure.config.template import render_env_template

ROOT = Path(__file__).resolve().parents[4]


def test_env_template_is_up_to_date() -> None:
    # Regenerate with: python -m kartoteka.infrastructure.config.template > .env.local.template
    assert (ROOT / ".env.local.template").read_text(encoding="utf-8") == render_env_template()


def test_env_template_lists_every_variable() -> None:
    template = (ROOT / ".env.local.template").read_text(encoding="utf-8")
    listed = {line.split("=", 1)[0].lstrip("# ").strip() for line in template.splitlines() if "=" in line}
    expected = {name for name, _, _ in iter_variables()}
    assert expected <= listed, f"missing from .env.local.template: {sorted(expected - listed)}"
    stale = {name for name in listed if name.startswith("KARTOTEKA__")} - expected
    assert not stale, f".env.local.template names settings that do not exist: {sorted(stale)}"

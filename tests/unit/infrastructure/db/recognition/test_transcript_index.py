"""The full-text index's trigram keys."""

from __future__ import annotations

from kartoteka.infrastructure.db.recognition.transcript_index import trigram_key


def test_trigram_keys_are_ascii_with_one_character_per_letter() -> None:
    key = trigram_key("батюшка1974x")
    assert key.isascii()
    assert len(key) == len("батюшка1974x")
    assert trigram_key("батюжка") != key[:7]

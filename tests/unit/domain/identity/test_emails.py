"""Email addresses: one stored form, and what is not one refused."""

from __future__ import annotations

import pytest

from kartoteka.domain.identity.emails import InvalidEmailError, normalize_email


@pytest.mark.parametrize(
    ("given", "stored"),
    [(" Ann@Example.COM ", "ann@example.com"), ("Иван@Пример.рф", "иван@пример.рф"), ("a.b+c@x.org", "a.b+c@x.org")],
)
def test_emails_are_stored_in_one_form(given: str, stored: str) -> None:
    assert normalize_email(given) == stored


@pytest.mark.parametrize(
    "bad", ["", "ann", "a@@b.c", "@b.c", "a@", "a b@c.d", "a@c\x00.d", "a\u200b@c.d", "x" * 250 + "@a.bc"]
)
def test_things_that_are_not_emails_are_refused(bad: str) -> None:
    with pytest.raises(InvalidEmailError):
        normalize_email(bad)

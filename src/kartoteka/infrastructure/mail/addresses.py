"""EmailValidatorSyntax: what a mail server would accept, checked with email-validator, without DNS.

Deliverability is not checked: a look-up per request would block on slow
resolvers, and the code mail itself is the real test of an address.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from kartoteka.domain.identity.emails import InvalidEmailError, normalize_email


class EmailValidatorSyntax:
    def normalize(self, value: str) -> str:
        try:
            checked = validate_email(value.strip(), check_deliverability=False)
        except EmailNotValidError as exc:
            raise InvalidEmailError(str(exc)) from None
        return normalize_email(checked.normalized)

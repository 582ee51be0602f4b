"""Why an identity request is refused, in words a client can act on."""

from __future__ import annotations

from kartoteka.application.identity.ports import UserConflictError
from kartoteka.domain.errors import ErrorKind, Refusal


class AuthenticationRequiredError(Refusal):
    """No valid session or API token came with a request that needs one."""

    kind = ErrorKind.UNAUTHENTICATED

    def __init__(self) -> None:
        super().__init__("Authentication required")


class PermissionDeniedError(Refusal):
    """The caller is known, but their role is below what the request needs."""

    kind = ErrorKind.REFUSED

    def __init__(self) -> None:
        super().__init__("Insufficient permissions")


class ChallengeMissingError(Refusal):
    kind = ErrorKind.REFUSED

    def __init__(self) -> None:
        super().__init__("Challenge token is missing. Please start the OTP process again.")


class ChallengeNotFoundError(Refusal):
    kind = ErrorKind.REFUSED

    def __init__(self) -> None:
        super().__init__("OTP code not found")


class RateLimitedError(Refusal):
    """Too many requests of this kind from this address or for this email; try after ``retry_after_s``."""

    kind = ErrorKind.RATE_LIMITED

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("Too many requests; try again later", {"retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s


class UserAlreadyExistsError(UserConflictError):
    kind = ErrorKind.MALFORMED  # what the user admin page expects for a duplicate on create

    def __init__(self) -> None:
        super().__init__("User with this email already exists")


class EmailTakenError(UserConflictError):
    def __init__(self) -> None:
        super().__init__("Another user has this email address")

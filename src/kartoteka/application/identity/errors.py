"""Why an identity request is refused, in words a client can act on; HTTP maps each to a status."""

from __future__ import annotations

from kartoteka.application.identity.ports import UserConflictError


class AuthenticationRequiredError(Exception):
    """No valid session or API token came with a request that needs one."""

    def __init__(self) -> None:
        super().__init__("Authentication required")


class PermissionDeniedError(Exception):
    """The caller is known, but their role is below what the request needs."""

    def __init__(self) -> None:
        super().__init__("Insufficient permissions")


class ChallengeMissingError(Exception):
    def __init__(self) -> None:
        super().__init__("Challenge token is missing. Please start the OTP process again.")


class ChallengeNotFoundError(Exception):
    def __init__(self) -> None:
        super().__init__("OTP code not found")


class RateLimitedError(Exception):
    """Too many requests of this kind from this address or for this email; try after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("Too many requests; try again later")
        self.retry_after_s = retry_after_s


class UserAlreadyExistsError(UserConflictError):
    def __init__(self) -> None:
        super().__init__("User with this email already exists")


class EmailTakenError(UserConflictError):
    def __init__(self) -> None:
        super().__init__("Another user has this email address")

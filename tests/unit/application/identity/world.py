"""The identity use cases wired to the in-memory identity ports, as the tests of each use case use them."""

from __future__ import annotations

import itertools
from datetime import timedelta
from uuid import UUID

from kartoteka.application.identity.otp import StartOtp, VerifyOtp
from kartoteka.application.identity.policy import IdentityPolicy, OtpPolicy
from kartoteka.application.identity.ports import RateLimit
from kartoteka.application.identity.sessions import Authenticate, GetSession, Logout, LogoutEverywhere, PurgeExpired
from kartoteka.application.identity.tokens import CreateApiToken, ListApiTokens, RevokeApiToken
from kartoteka.application.identity.users import (
    CreateUser,
    DeleteUser,
    EnsureDefaultAdmin,
    GetUser,
    ListUsers,
    UpdateUser,
)
from kartoteka.domain.identity.principal import Principal, PrincipalKind
from kartoteka.domain.identity.roles import Role
from tests.fakes.identity import (
    CountingSecrets,
    MemoryCredentialStore,
    MemoryIdentityStore,
    MemoryIdentityUnitOfWork,
    MemoryMailer,
    MemoryRateLimiter,
    PlainEmailSyntax,
)
from tests.fakes.shared import FakeClock

POLICY = IdentityPolicy(
    otp=OtpPolicy(length=8, ttl=timedelta(minutes=10), max_attempts=3),
    session_ttl=timedelta(hours=8),
    secret_key=b"s" * 32,
    start_per_email=RateLimit(3, 600),
    start_per_address=RateLimit(6, 600),
    verify_per_address=RateLimit(20, 600),
    attempts_retention=timedelta(days=30),
    default_admin_email="Root@Example.org",
)
HOME, AWAY = "192.0.2.1", "198.51.100.7"


class World:
    def __init__(self, policy: IdentityPolicy = POLICY) -> None:
        self.store = MemoryIdentityStore()
        self.clock = FakeClock()
        self.mailer = MemoryMailer()
        self.secrets = CountingSecrets()
        self.limiter = MemoryRateLimiter(self.clock)
        counter = itertools.count(1000)
        new_id = lambda: UUID(int=next(counter))  # noqa: E731
        uow = lambda: MemoryIdentityUnitOfWork(self.store)  # noqa: E731
        emails = PlainEmailSyntax()
        credentials = MemoryCredentialStore(self.store)
        self.start = StartOtp(uow, emails, self.limiter, self.mailer, self.secrets, policy, self.clock, new_id)
        self.verify = VerifyOtp(uow, self.limiter, self.secrets, policy, self.clock, new_id)
        self.authenticate = Authenticate(credentials, policy, self.clock)
        self.session = GetSession(credentials, self.authenticate, policy, self.clock)
        self.logout = Logout(uow, self.clock)
        self.logout_everywhere = LogoutEverywhere(uow, self.clock)
        self.purge = PurgeExpired(uow, policy, self.clock)
        self.list_users = ListUsers(uow)
        self.get_user = GetUser(uow)
        self.create_user = CreateUser(uow, emails, self.clock, new_id)
        self.update_user = UpdateUser(uow, emails, self.clock)
        self.delete_user = DeleteUser(uow)
        self.default_admin = EnsureDefaultAdmin(uow, emails, policy, self.clock, new_id)
        self.create_token = CreateApiToken(uow, self.secrets, self.clock, new_id)
        self.list_tokens = ListApiTokens(uow)
        self.revoke_token = RevokeApiToken(uow, self.clock)

    def last_code(self) -> str:
        return self.mailer.sent[-1].body.split("Your OTP code is: ")[1].split()[0]

    async def login(self, email: str, client: str = HOME) -> str:
        challenge = await self.start(email, client)
        return (await self.verify(challenge, self.last_code(), client)).token


SYSTEM = Principal(PrincipalKind.API_TOKEN, Role.ADMIN, token_id=UUID(int=9))

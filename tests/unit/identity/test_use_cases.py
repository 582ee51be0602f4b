"""Identity use cases with in-memory ports: the OTP flow, sessions, users admin, API tokens."""

from __future__ import annotations

import itertools
from datetime import timedelta
from uuid import UUID

import pytest

from kartoteka.application.identity.errors import (
    AuthenticationRequiredError,
    ChallengeMissingError,
    ChallengeNotFoundError,
    EmailTakenError,
    RateLimitedError,
    UserAlreadyExistsError,
)
from kartoteka.application.identity.otp import StartOtp, VerifyOtp
from kartoteka.application.identity.policy import IdentityPolicy, OtpPolicy
from kartoteka.application.identity.ports import MailUnavailableError, RateLimit, UserFilter, UserNotFoundError
from kartoteka.application.identity.sessions import (
    Authenticate,
    GetSession,
    Logout,
    LogoutEverywhere,
    PurgeExpired,
    SessionState,
)
from kartoteka.application.identity.tokens import CreateApiToken, ListApiTokens, RevokeApiToken
from kartoteka.application.identity.users import (
    CreateUser,
    DeleteUser,
    EnsureDefaultAdmin,
    GetUser,
    ListUsers,
    UpdateUser,
)
from kartoteka.domain.identity.challenges import ChallengeRefusal, ChallengeRefusedError
from kartoteka.domain.identity.emails import InvalidEmailError
from kartoteka.domain.identity.principal import Principal, PrincipalKind
from kartoteka.domain.identity.roles import Role
from kartoteka.domain.identity.users import LastAdminError, SelfLockoutError, User
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


@pytest.fixture
async def world() -> World:
    w = World()
    await w.default_admin()
    return w


async def test_the_default_admin_is_created_once_and_only_when_nobody_exists(world: World) -> None:
    users = await world.list_users(UserFilter(), 1, 10)
    assert [(u.email, u.role) for u in users.users] == [("root@example.org", Role.ADMIN)]
    assert await world.default_admin() is None
    assert (await world.list_users(UserFilter(), 1, 10)).total == 1


async def test_no_default_admin_without_authentication_or_an_address() -> None:
    assert await World(IdentityPolicy(enabled=False, default_admin_email="a@example.org")).default_admin() is None
    assert await World(IdentityPolicy(default_admin_email=None)).default_admin() is None


async def test_a_mailed_code_opens_a_session_with_the_users_role(world: World) -> None:
    token = await world.start(" ROOT@example.org ", HOME)
    mail = world.mailer.sent[-1]
    assert mail.to == "root@example.org"
    assert mail.subject == "Your OTP Code"
    assert len(world.last_code()) == 8
    assert (await world.session(token, None, None)).state is SessionState.CHALLENGE_ISSUED
    login = await world.verify(token, world.last_code().lower(), HOME)  # typed in lower case: still right
    assert login.user.role is Role.ADMIN
    who = await world.authenticate(login.token, None)
    assert (who.kind, who.role, who.email) == (PrincipalKind.SESSION, Role.ADMIN, "root@example.org")
    view = await world.session(token, login.token, None)  # the used challenge no longer counts
    assert (view.state, view.clear_challenge) == (SessionState.AUTHENTICATED, True)
    assert world.store.reasons() == ["code_sent", "authenticated"]
    stored = next(iter(world.store.state.challenges.values()))
    assert token not in repr(world.store.state)
    assert world.last_code() not in repr(world.store.state)
    assert stored.token_hash != token
    assert login.token not in repr(world.store.state.sessions)


async def test_an_unknown_email_gets_the_same_answer_and_a_challenge_that_behaves_alike(world: World) -> None:
    token = await world.start("nobody@example.org", HOME)
    assert len(token) == 64
    assert world.mailer.sent == []
    assert (await world.session(token, None, None)).state is SessionState.CHALLENGE_ISSUED
    for left in (2, 1, 0):
        with pytest.raises(ChallengeRefusedError) as refused:
            await world.verify(token, "AAAAAAAA", HOME)
        assert (refused.value.reason, refused.value.attempts_left) == (ChallengeRefusal.WRONG_CODE, left)
    assert world.store.reasons() == ["unknown_email", "wrong_code", "wrong_code", "wrong_code"]


async def test_wrong_codes_kill_the_challenge_after_max_attempts(world: World) -> None:
    token = await world.start("root@example.org", HOME)
    code = world.last_code()
    for _ in range(3):
        with pytest.raises(ChallengeRefusedError):
            await world.verify(token, "ZZZZZZZZ", HOME)
    with pytest.raises(ChallengeRefusedError) as refused:
        await world.verify(token, code, HOME)
    assert refused.value.reason is ChallengeRefusal.EXHAUSTED
    view = await world.session(token, None, None)
    assert (view.state, view.clear_challenge) == (SessionState.ANONYMOUS, True)
    assert world.store.reasons()[-1] == "too_many_attempts"
    assert not world.store.state.sessions


async def test_an_expired_code_is_refused_by_the_clock(world: World) -> None:
    token = await world.start("root@example.org", HOME)
    world.clock.advance(minutes=10)
    with pytest.raises(ChallengeRefusedError) as refused:
        await world.verify(token, world.last_code(), HOME)
    assert refused.value.reason is ChallengeRefusal.EXPIRED
    assert world.store.reasons()[-1] == "expired"


async def test_a_code_works_once(world: World) -> None:
    token = await world.start("root@example.org", HOME)
    await world.verify(token, world.last_code(), HOME)
    with pytest.raises(ChallengeRefusedError) as refused:
        await world.verify(token, world.last_code(), HOME)
    assert refused.value.reason is ChallengeRefusal.CONSUMED


async def test_verify_without_or_with_an_unknown_challenge_is_refused_and_recorded(world: World) -> None:
    with pytest.raises(ChallengeMissingError):
        await world.verify(None, "AAAAAAAA", HOME)
    with pytest.raises(ChallengeNotFoundError):
        await world.verify("f" * 64, "AAAAAAAA", HOME)
    assert world.store.reasons() == ["missing_challenge", "unknown_challenge"]


async def test_starts_are_limited_per_email_whether_it_exists_or_not(world: World) -> None:
    for email in ("root@example.org", "ghost@example.org"):
        for _ in range(3):
            await world.start(email, AWAY)
        with pytest.raises(RateLimitedError) as limited:
            await world.start(email.upper(), HOME)  # another address, another spelling: same mailbox
        assert 0 < limited.value.retry_after_s <= 600
    assert len(world.mailer.sent) == 3
    assert world.store.reasons().count("rate_limited_email") == 2
    world.clock.advance(seconds=600)
    await world.start("root@example.org", HOME)
    assert len(world.mailer.sent) == 4


async def test_starts_are_limited_per_client_address(world: World) -> None:
    for n in range(6):
        await world.start(f"p{n}@example.org", AWAY)
    with pytest.raises(RateLimitedError):
        await world.start("p9@example.org", AWAY)
    with pytest.raises(RateLimitedError):
        await world.start("not an email", AWAY)  # malformed floods count too
    await world.start("p9@example.org", HOME)
    assert world.store.reasons().count("rate_limited_address") == 2


async def test_a_malformed_email_is_refused_and_recorded(world: World) -> None:
    with pytest.raises(InvalidEmailError):
        await world.start("root(at)example", HOME)
    assert world.store.reasons() == ["invalid_email"]


async def test_a_mail_failure_leaves_no_challenge(world: World) -> None:
    world.mailer.down = True
    with pytest.raises(MailUnavailableError):
        await world.start("root@example.org", HOME)
    assert world.store.state.challenges == {}
    assert world.store.reasons() == ["mail_failed"]


async def test_logout_revokes_the_session_server_side(world: World) -> None:
    token = await world.login("root@example.org")
    other = await world.login("root@example.org")
    assert await world.logout(token) is True
    assert not (await world.authenticate(token, None)).authenticated
    assert (await world.authenticate(other, None)).authenticated
    assert await world.logout(token) is False
    view = await world.session(None, token, None)
    assert (view.state, view.clear_session) == (SessionState.ANONYMOUS, True)


async def test_logout_everywhere_ends_every_session_of_the_user(world: World) -> None:
    tokens = [await world.login("root@example.org") for _ in range(3)]
    await world.create_user("ed@example.org", Role.EDITOR, SYSTEM)
    eds = await world.login("ed@example.org")
    assert await world.logout_everywhere(await world.authenticate(tokens[0], None)) == 3
    assert [(await world.authenticate(t, None)).authenticated for t in tokens] == [False] * 3
    assert (await world.authenticate(eds, None)).authenticated
    with pytest.raises(AuthenticationRequiredError):
        await world.logout_everywhere(Principal.anonymous())


async def test_a_session_expires_by_the_clock(world: World) -> None:
    token = await world.login("root@example.org")
    world.clock.advance(hours=8)
    assert not (await world.authenticate(token, None)).authenticated


async def test_purge_deletes_what_can_never_be_used_again(world: World) -> None:
    kept = await world.login("root@example.org")
    gone = await world.login("root@example.org")
    await world.logout(gone)
    assert (await world.purge()).sessions == 1
    world.clock.advance(days=31)
    purged = await world.purge()
    assert (purged.challenges, purged.sessions, purged.attempts) == (2, 1, 4)
    assert not (await world.authenticate(kept, None)).authenticated


async def test_roles_come_from_the_user_row_now_not_from_login_time(world: World) -> None:
    root = await world.authenticate(await world.login("root@example.org"), None)
    ann = await world.create_user("ann@example.org", Role.ADMIN, root)
    ann_session = await world.login("ann@example.org")
    await world.update_user(ann.id, None, Role.USER, root)
    assert (await world.authenticate(ann_session, None)).role is Role.USER
    await world.delete_user(ann.id, root)
    assert not (await world.authenticate(ann_session, None)).authenticated


async def test_users_are_listed_with_filters_and_a_filtered_total(world: World) -> None:
    for n in range(7):
        await world.create_user(f"reader{n}@example.org", Role.USER, SYSTEM)
    await world.create_user("writer@example.org", Role.EDITOR, SYSTEM)
    page = await world.list_users(UserFilter(email_contains="READER"), 2, 3)
    assert page.total == 7
    assert [u.email for u in page.users] == [f"reader{n}@example.org" for n in (3, 4, 5)]
    assert (await world.list_users(UserFilter(role=Role.EDITOR), 1, 10)).total == 1
    assert (await world.list_users(UserFilter(email_contains="er", role=Role.USER), 1, 2)).total == 7
    with pytest.raises(ValueError, match="page"):
        await world.list_users(UserFilter(), 0, 10)


async def test_creating_users_validates_and_normalises_emails(world: World) -> None:
    user = await world.create_user(" Ann@Example.ORG", Role.EDITOR, SYSTEM)
    assert user.email == "ann@example.org"
    assert (await world.get_user(user.id)).role is Role.EDITOR
    with pytest.raises(UserAlreadyExistsError):
        await world.create_user("ANN@example.org", Role.USER, SYSTEM)
    with pytest.raises(InvalidEmailError):
        await world.create_user("ann", Role.USER, SYSTEM)
    with pytest.raises(UserNotFoundError):
        await world.get_user(UUID(int=1))


async def test_updating_a_user_changes_email_and_role_and_refuses_a_taken_email(world: World) -> None:
    ann = await world.create_user("ann@example.org", Role.USER, SYSTEM)
    await world.create_user("bob@example.org", Role.USER, SYSTEM)
    ann = await world.update_user(ann.id, "Anna@Example.org", Role.EDITOR, SYSTEM)
    assert (ann.email, ann.role) == ("anna@example.org", Role.EDITOR)
    with pytest.raises(EmailTakenError):
        await world.update_user(ann.id, "bob@example.org", None, SYSTEM)
    with pytest.raises(UserNotFoundError):
        await world.update_user(UUID(int=1), None, Role.USER, SYSTEM)


async def test_the_last_admin_survives_every_attempt(world: World) -> None:
    root = (await world.list_users(UserFilter(), 1, 1)).users[0]
    with pytest.raises(LastAdminError):
        await world.update_user(root.id, None, Role.EDITOR, SYSTEM)
    with pytest.raises(LastAdminError):
        await world.delete_user(root.id, SYSTEM)
    me = await world.authenticate(await world.login("root@example.org"), None)
    with pytest.raises(SelfLockoutError):
        await world.delete_user(root.id, me)
    ann = await world.create_user("ann@example.org", Role.ADMIN, me)
    with pytest.raises(SelfLockoutError):
        await world.update_user(root.id, None, Role.USER, me)
    await world.update_user(root.id, None, Role.USER, await world.authenticate(await world.login(ann.email), None))
    assert (await world.get_user(root.id)).role is Role.USER
    with pytest.raises(LastAdminError):
        await world.update_user(ann.id, None, Role.USER, SYSTEM)


async def test_api_tokens_carry_a_role_are_stored_hashed_and_can_be_revoked(world: World) -> None:
    issued = await world.create_token("nightly export", Role.EDITOR, SYSTEM)
    assert issued.raw.startswith("kt_")
    assert issued.raw not in repr(world.store.state)
    who = await world.authenticate(None, issued.raw)
    assert (who.kind, who.role, who.token_id) == (PrincipalKind.API_TOKEN, Role.EDITOR, issued.token.id)
    session = await world.login("root@example.org")
    assert not (await world.authenticate(session, "kt_wrong")).authenticated  # a bad bearer never falls back
    view = await world.session(None, session, "kt_wrong")
    assert (view.state, view.clear_session) == (SessionState.ANONYMOUS, False)  # nor costs the cookie
    await world.revoke_token(issued.token.id, SYSTEM)
    assert not (await world.authenticate(None, issued.raw)).authenticated
    assert [t.revoked_at is not None for t in await world.list_tokens()] == [True]


async def test_without_authentication_everyone_is_an_admin() -> None:
    world = World(IdentityPolicy(enabled=False))
    who = await world.authenticate(None, None)
    assert (who.kind, who.role) == (PrincipalKind.OPEN, Role.ADMIN)
    view = await world.session(None, None, None)
    assert (view.state, view.principal.role) == (SessionState.AUTHENTICATED, Role.ADMIN)


async def test_users_that_do_not_exist_cannot_be_deleted(world: World) -> None:
    with pytest.raises(UserNotFoundError):
        await world.delete_user(UUID(int=5), SYSTEM)
    assert isinstance((await world.list_users(UserFilter(), 1, 1)).users[0], User)

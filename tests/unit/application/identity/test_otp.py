"""StartOtp and VerifyOtp with in-memory ports: codes by mail, wrong and expired codes, rate limits."""

from __future__ import annotations

import pytest

from kartoteka.application.identity.errors import ChallengeMissingError, ChallengeNotFoundError, RateLimitedError
from kartoteka.application.identity.ports import MailUnavailableError
from kartoteka.application.identity.sessions import SessionState
from kartoteka.domain.identity.challenges import ChallengeRefusal, ChallengeRefusedError
from kartoteka.domain.identity.emails import InvalidEmailError
from kartoteka.domain.identity.principal import PrincipalKind
from kartoteka.domain.identity.roles import Role
from tests.unit.application.identity.world import AWAY, HOME, World


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

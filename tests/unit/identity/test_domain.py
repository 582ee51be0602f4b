"""The identity domain's rules, with no port at all."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from kartoteka.domain.identity.api_tokens import ApiToken, InvalidTokenNameError
from kartoteka.domain.identity.challenges import ChallengeRefusal, ChallengeRefusedError, OtpChallenge
from kartoteka.domain.identity.digests import code_digest, hash_token, same_digest
from kartoteka.domain.identity.emails import InvalidEmailError, normalize_email
from kartoteka.domain.identity.principal import Principal
from kartoteka.domain.identity.roles import Role, UnknownRoleError, parse_role
from kartoteka.domain.identity.sessions import Session
from kartoteka.domain.identity.users import LastAdminError, SelfLockoutError, User
from tests.fakes.shared import START

KEY = b"k" * 32
ANN, BOB = UUID(int=1), UUID(int=2)


def test_roles_are_ordered_by_rank_not_by_spelling() -> None:
    assert Role.USER < Role.EDITOR < Role.ADMIN
    assert sorted([Role.ADMIN, Role.USER, Role.EDITOR]) == [Role.USER, Role.EDITOR, Role.ADMIN]
    assert Role.ADMIN >= Role.EDITOR
    assert Role.EDITOR > Role.USER
    assert Role.USER <= Role.USER
    assert Role.EDITOR.at_least(Role.USER)
    assert not Role.EDITOR.at_least(Role.ADMIN)
    assert max(Role) is Role.ADMIN
    assert Role.ADMIN == "admin"  # still a string for storage and JSON
    with pytest.raises(TypeError):
        assert Role.USER < "editor"  # alphabetically true, by rank meaningless: refused
    with pytest.raises(TypeError):
        sorted(["user", Role.ADMIN])  # the string on the left: still refused


def test_role_names_are_parsed_forgivingly_and_unknown_ones_refused() -> None:
    assert parse_role(" Editor ") is Role.EDITOR
    with pytest.raises(UnknownRoleError):
        parse_role("root")


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


def test_the_last_admin_can_be_neither_demoted_nor_deleted() -> None:
    ann = User.register(ANN, "ann@example.com", Role.ADMIN, START)
    with pytest.raises(LastAdminError):
        ann.change_role(Role.EDITOR, START, admins=1, acting=None)
    with pytest.raises(LastAdminError):
        ann.check_deletable(admins=1, acting=BOB)
    ann.change_role(Role.EDITOR, START + timedelta(seconds=1), admins=2, acting=BOB)
    assert ann.role is Role.EDITOR
    assert ann.updated_at > ann.created_at


def test_an_admin_cannot_lock_themselves_out_even_with_other_admins() -> None:
    ann = User.register(ANN, "ann@example.com", Role.ADMIN, START)
    with pytest.raises(SelfLockoutError):
        ann.change_role(Role.USER, START, admins=3, acting=ANN)
    with pytest.raises(SelfLockoutError):
        ann.check_deletable(admins=3, acting=ANN)
    ann.change_role(Role.ADMIN, START, admins=1, acting=ANN)  # no change is always fine


def test_promotions_and_non_admins_need_no_admin_count() -> None:
    bob = User.register(BOB, "bob@example.com", Role.USER, START)
    bob.change_role(Role.ADMIN, START, admins=0, acting=ANN)
    assert bob.role is Role.ADMIN
    User.register(ANN, "ann@example.com", Role.EDITOR, START).check_deletable(admins=0, acting=BOB)


def challenge(code: str = "ABCD2345", ttl_s: int = 600, user: UUID | None = ANN) -> OtpChallenge:
    cid = UUID(int=77)
    return OtpChallenge.issue(
        cid, hash_token("t"), user, "ann@example.com", code_digest(KEY, cid, code), START, timedelta(seconds=ttl_s)
    )


def test_a_right_code_logs_in_once() -> None:
    c = challenge()
    assert c.redeem(code_digest(KEY, c.id, "ABCD2345"), START, 5) == ANN
    with pytest.raises(ChallengeRefusedError) as refused:
        c.redeem(code_digest(KEY, c.id, "ABCD2345"), START, 5)
    assert refused.value.reason is ChallengeRefusal.CONSUMED


def test_wrong_codes_count_down_and_then_even_the_right_one_is_refused() -> None:
    c = challenge()
    left = []
    for _ in range(5):
        with pytest.raises(ChallengeRefusedError) as refused:
            c.redeem(code_digest(KEY, c.id, "WRONG000"), START, 5)
        assert refused.value.reason is ChallengeRefusal.WRONG_CODE
        left.append(refused.value.attempts_left)
    assert left == [4, 3, 2, 1, 0]
    assert not c.is_open(START, 5)
    with pytest.raises(ChallengeRefusedError) as refused:
        c.redeem(code_digest(KEY, c.id, "ABCD2345"), START, 5)
    assert refused.value.reason is ChallengeRefusal.EXHAUSTED
    assert c.attempts == 5
    assert c.consumed_at is None


def test_a_code_is_refused_from_the_moment_it_expires() -> None:
    c = challenge(ttl_s=60)
    assert c.is_open(START + timedelta(seconds=59), 5)
    with pytest.raises(ChallengeRefusedError) as refused:
        c.redeem(code_digest(KEY, c.id, "ABCD2345"), START + timedelta(seconds=60), 5)
    assert refused.value.reason is ChallengeRefusal.EXPIRED
    assert c.attempts == 0  # an expired challenge is not worth counting against


def test_a_code_digest_is_bound_to_its_challenge_and_key() -> None:
    a, b = UUID(int=1), UUID(int=2)
    assert code_digest(KEY, a, "X") != code_digest(KEY, b, "X")
    assert code_digest(KEY, a, "X") != code_digest(b"other", a, "X")
    assert same_digest(code_digest(KEY, a, "X"), code_digest(KEY, a, "X"))
    assert len(hash_token("t")) == 64
    assert hash_token("t") != "t"


def test_a_session_ends_at_expiry_or_revocation() -> None:
    s = Session.open(UUID(int=5), hash_token("s"), ANN, START, timedelta(hours=1))
    assert s.is_active(START + timedelta(minutes=59))
    assert not s.is_active(START + timedelta(hours=1))
    s.revoke(START)
    first = s.revoked_at
    s.revoke(START + timedelta(minutes=1))
    assert not s.is_active(START)
    assert s.revoked_at == first


def test_api_tokens_need_a_name_and_stay_revoked() -> None:
    with pytest.raises(InvalidTokenNameError):
        ApiToken.issue(UUID(int=9), "  ", "h", Role.USER, START, None)
    t = ApiToken.issue(UUID(int=9), " backup script ", "h", Role.EDITOR, START, ANN)
    assert t.name == "backup script"
    assert t.active
    t.revoke(START)
    assert not t.active


def test_principals_know_what_they_may_do() -> None:
    assert Principal.open_admin().may(Role.ADMIN)
    assert not Principal.anonymous().may(Role.USER)
    assert not Principal.anonymous().authenticated

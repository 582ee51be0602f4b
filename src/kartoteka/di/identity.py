"""Identity for the api: logins, sessions, users and API tokens.

``Clock`` comes from the servers provider like everywhere else; tests pass a provider of their own
after this one (a later provider of the same type wins) and move time instead of sleeping.
"""

from __future__ import annotations

from datetime import timedelta

from dishka import Provider, Scope, from_context, provide, provide_all
from redis.asyncio import Redis

from kartoteka.application.identity.otp import StartOtp, VerifyOtp
from kartoteka.application.identity.policy import IdentityPolicy, OtpPolicy, SecretSource, SystemSecrets
from kartoteka.application.identity.ports import CredentialStore, EmailSyntax, Mailer, RateLimit, RateLimiter
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
from kartoteka.application.shared.clock import Clock
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.db.identity.credentials import SqlCredentialStore
from kartoteka.infrastructure.mail.addresses import EmailValidatorSyntax
from kartoteka.infrastructure.mail.smtp import SmtpMailer
from kartoteka.infrastructure.ratelimit.redis_rate_limiter import RedisRateLimiter
from kartoteka.presentation.http.auth import AuthOptions


class IdentityProvider(Provider):
    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    use_cases = provide_all(
        StartOtp,
        VerifyOtp,
        Authenticate,
        GetSession,
        Logout,
        LogoutEverywhere,
        PurgeExpired,
        ListUsers,
        GetUser,
        CreateUser,
        UpdateUser,
        DeleteUser,
        EnsureDefaultAdmin,
        CreateApiToken,
        ListApiTokens,
        RevokeApiToken,
    )
    credentials = provide(SqlCredentialStore, provides=CredentialStore)
    email_syntax = provide(EmailValidatorSyntax, provides=EmailSyntax)
    secrets = provide(SystemSecrets, provides=SecretSource)

    @provide
    def policy(self, settings: Settings) -> IdentityPolicy:
        a = settings.auth
        window = a.rate_window_s
        return IdentityPolicy(
            enabled=a.kind == "otp",
            otp=OtpPolicy(
                length=a.otp_length,
                alphabet=a.otp_alphabet,
                ttl=timedelta(seconds=a.otp_ttl_s),
                max_attempts=a.max_attempts,
            ),
            session_ttl=timedelta(seconds=a.session_ttl_s),
            secret_key=a.secret_key.get_secret_value().encode("utf-8"),
            start_per_email=RateLimit(a.start_limit_per_email, window),
            start_per_address=RateLimit(a.start_limit_per_address, window),
            verify_per_address=RateLimit(a.verify_limit_per_address, window),
            attempts_retention=timedelta(days=a.attempts_retention_days),
            default_admin_email=a.default_user_email,
            open_author=a.open_author,
        )

    @provide
    def auth_options(self, settings: Settings) -> AuthOptions:
        """Synchronous on purpose: the app reads it with ``get_sync`` to know which routes to mount."""
        a = settings.auth
        return AuthOptions(
            enabled=a.kind == "otp",
            cookie_secure=a.cookie_secure,
            purge_interval_s=a.purge_interval_s,
            session_recheck_s=a.session_recheck_s,
        )

    @provide
    def rate_limiter(self, redis: Redis, clock: Clock) -> RateLimiter:
        return RedisRateLimiter(redis, clock)

    @provide
    def mailer(self, settings: Settings) -> Mailer:
        return SmtpMailer(settings.auth.smtp)

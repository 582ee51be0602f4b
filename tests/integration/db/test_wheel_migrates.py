"""A built wheel, installed in a venv of its own, migrates an empty database with no checkout around it.

Everything runs offline: the wheel is built with ``--no-build-isolation`` by the locked
``hatchling`` that ``uv sync`` put in the dev environment, and the locked dependencies are
installed from the uv cache that ``scripts/bootstrap.sh`` filled (a ``pylock.toml`` export
carries each wheel's URL and hash, so no index page is needed). ``triton`` is skipped, as
bootstrap skips it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from kartoteka.infrastructure.db.migrate import alembic_config, script_location
from kartoteka.infrastructure.db.schema import metadata

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
STEP_TIMEOUT = 300
PACKAGE_MIGRATIONS = "kartoteka/infrastructure/db/migrations"

# Print the head of the installed package's own script directory, and where that package is.
HEAD_PROBE = """
import kartoteka
from alembic.script import ScriptDirectory
from kartoteka.infrastructure.db.migrate import alembic_config
scripts = ScriptDirectory.from_config(alembic_config(""))
print(kartoteka.__file__)
print(scripts.get_current_head())
print(" ".join(sorted(r.revision for r in scripts.walk_revisions())))
"""


def uv_command() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    private = Path(__file__).resolve().parents[3] / ".venv-tools" / "bin" / "uv"  # where bootstrap installs it
    if private.is_file():
        return [str(private)]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    pytest.fail("uv is neither on PATH nor importable; run scripts/bootstrap.sh")


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without anything that could point a child at the checkout."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "KARTOTEKA_CONFIG"}
        and not key.startswith("KARTOTEKA__")
    }
    env["UV_OFFLINE"] = "1"
    env.update(extra)
    return env


def run(args: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{args} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def public_tables(url: str) -> set[str]:
    async def query() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
                return {r[0] for r in rows}
        finally:
            await engine.dispose()

    return asyncio.run(query())


def stamped_revisions(url: str) -> list[str]:
    async def query() -> list[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return [r[0] for r in await conn.execute(text("SELECT version_num FROM alembic_version"))]
        finally:
            await engine.dispose()

    return asyncio.run(query())


def link_mode(uv: list[str], scratch: Path, env: dict[str, str]) -> str:
    """Hard links when the uv cache shares a filesystem with the scratch venv, else symlinks.

    uv would fall back to copying, which is the ~5 GB of torch and CUDA libraries; symlinks
    into the cache are fine for a venv that lives as long as this test.
    """
    cache = Path(run([*uv, "cache", "dir"], cwd=scratch, env=env).strip())
    return "hardlink" if cache.stat().st_dev == scratch.stat().st_dev else "symlink"


def migrate_installed_wheel(venv: Path, work: Path, url: str) -> None:
    python = venv / "bin" / "python"

    # The package the venv imports is the wheel's, and its scripts are the checkout's.
    location, head, revisions = run([python, "-c", HEAD_PROBE], cwd=work, env=clean_environment()).splitlines()
    assert Path(location).resolve().is_relative_to(venv.resolve()), location
    checkout_scripts = ScriptDirectory.from_config(alembic_config(url))
    assert head == checkout_scripts.get_current_head()
    assert revisions.split() == sorted(r.revision for r in checkout_scripts.walk_revisions())

    migrate_env = clean_environment(KARTOTEKA__DATABASE__URL=url)
    run([venv / "bin" / "kartoteka", "migrate"], cwd=work, env=migrate_env)

    assert stamped_revisions(url) == [head]
    tables = public_tables(url)
    assert {"recognition_tasks", "outbox", "gallery_images", "image_vectors", "transcript_revisions", "users"} <= tables
    assert tables == set(metadata.tables) | {"alembic_version"}


def test_an_installed_wheel_migrates_an_empty_database(tmp_path: Path, fresh_database: str) -> None:
    assert not tmp_path.resolve().is_relative_to(REPO), "the scratch directory must be outside the checkout"
    uv = uv_command()
    env = clean_environment()

    # Build the wheel from the working tree with the locked backend in this environment.
    dist = tmp_path / "dist"
    run(
        [*uv, "build", "--wheel", "--offline", "--no-build-isolation", "--python", sys.executable, "--out-dir", dist],
        cwd=REPO,
        env=env,
    )
    (wheel,) = dist.glob("kartoteka-*.whl")
    versions = sorted(p.name for p in (script_location() / "versions").glob("*.py"))
    assert versions, "no migration versions in the checkout"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected = {f"{PACKAGE_MIGRATIONS}/env.py", f"{PACKAGE_MIGRATIONS}/script.py.mako"}
    expected |= {f"{PACKAGE_MIGRATIONS}/versions/{name}" for name in versions}
    assert expected <= names, f"the wheel lacks {sorted(expected - names)}"

    # A venv of its own: the locked dependencies (offline, from the uv cache), then the wheel alone.
    lock = tmp_path / "pylock.toml"
    run(
        [
            *uv, "export", "--locked", "--offline", "--format", "pylock.toml", "--no-dev", "--no-emit-project",
            "--no-emit-package", "triton", "--output-file", lock,
        ],
        cwd=REPO,
        env=env,
    )  # fmt: skip
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    work = tmp_path / "elsewhere"
    work.mkdir()
    try:
        run([*uv, "venv", "--quiet", "--python", sys.executable, venv], cwd=work, env=env)
        install = [*uv, "pip", "install", "--offline", "--python", python]
        run([*install, "--link-mode", link_mode(uv, tmp_path, env), "-r", lock], cwd=work, env=env)
        run([*install, "--no-deps", wheel], cwd=work, env=env)
        migrate_installed_wheel(venv, work, fresh_database)
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # pytest keeps the last runs' tmp_path; this is gigabytes

"""The scanner on real directories: what it lists, what it skips, and what it reports instead of failing.

Tests run as root in CI, where ``chmod 000`` does not stop a read. The permission tests therefore run
the scan in a child process as ``nobody`` (through ``setpriv``) when the tests are root, and in-process
when they are not; they are skipped only where neither is possible.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kartoteka.domain.gallery.scan import DirectoryScan, ProblemKind, RootState
from kartoteka.domain.gallery.selection import FileSelection
from kartoteka.infrastructure.watcher.scanner import (
    ScanOptions,
    hash_file,
    hash_file_async,
    hash_files,
    hash_files_async,
    scan_root,
    scan_root_async,
)


def write(path: Path, data: bytes = b"img") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def paths(scan: DirectoryScan) -> list[str]:
    return [f.path for f in scan.files]


def problems(scan: DirectoryScan) -> dict[str, ProblemKind]:
    return {p.path: p.kind for p in scan.problems}


def test_lists_images_in_any_letter_case_with_stat_facts(tmp_path: Path) -> None:
    for name in ["a.JPG", "b.Tiff", "c.tif", "d.png", "e.txt", "sub/f.JpEg", "sub/deeper/g.WEBP", "sub/h"]:
        write(tmp_path / name, name.encode())
    scan = scan_root(tmp_path)
    assert scan.state is RootState.OK
    assert paths(scan) == ["a.JPG", "b.Tiff", "c.tif", "d.png", "sub/deeper/g.WEBP", "sub/f.JpEg"]
    info = os.stat(tmp_path / "sub/f.JpEg")
    [f] = [f for f in scan.files if f.path == "sub/f.JpEg"]
    assert (f.size, f.mtime_ns, f.device, f.inode) == (info.st_size, info.st_mtime_ns, info.st_dev, info.st_ino)
    assert [d.path for d in scan.directories] == [".", "sub", "sub/deeper"]
    root_info = os.stat(tmp_path)
    assert scan.directories[0].mtime_ns == root_info.st_mtime_ns
    assert scan.directories[0].ctime_ns == root_info.st_ctime_ns
    assert (scan.root_device, scan.root_inode) == (root_info.st_dev, root_info.st_ino)
    assert scan.problems == ()


def test_exclusions_skip_files_and_whole_directories(tmp_path: Path) -> None:
    for name in ["keep.jpg", ".hidden.jpg", ".cache/x.jpg", "thumbs/t.jpg", "a/thumbs/deep.jpg", "a/ok.jpg"]:
        write(tmp_path / name)
    options = ScanOptions(FileSelection.of(exclude=[".*", "thumbs"]))
    scan = scan_root(tmp_path, options)
    assert paths(scan) == ["a/ok.jpg", "keep.jpg"]
    assert [d.path for d in scan.directories] == [".", "a"]


def test_symlinks_are_skipped_unless_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    write(root / "own.jpg")
    write(outside / "far.jpg")
    (root / "ext").symlink_to(outside, target_is_directory=True)
    (root / "alias.jpg").symlink_to(root / "own.jpg")

    assert paths(scan_root(root)) == ["own.jpg"]
    followed = scan_root(root, ScanOptions(follow_symlinks=True))
    assert paths(followed) == ["alias.jpg", "ext/far.jpg", "own.jpg"]


def test_a_symlink_loop_is_walked_once_and_reported(tmp_path: Path) -> None:
    write(tmp_path / "a/b/pic.jpg")
    (tmp_path / "a/b/up").symlink_to(tmp_path, target_is_directory=True)  # back to the root
    (tmp_path / "a/again").symlink_to(tmp_path / "a", target_is_directory=True)  # a second way into a
    (tmp_path / "self.jpg").symlink_to(tmp_path / "self.jpg")  # a link to itself

    scan = scan_root(tmp_path, ScanOptions(follow_symlinks=True))
    assert paths(scan) == ["a/b/pic.jpg"]
    assert problems(scan) == {
        "a/b/up": ProblemKind.SYMLINK_LOOP,
        "a/again": ProblemKind.SYMLINK_LOOP,
        "self.jpg": ProblemKind.SYMLINK_LOOP,
    }
    # A scan of a subdirectory knows the root above it, so a link up does not walk the root again.
    sub = scan_root(tmp_path, ScanOptions(follow_symlinks=True), start="a/b")
    assert paths(sub) == ["a/b/pic.jpg"]
    assert problems(sub) == {"a/b/up": ProblemKind.SYMLINK_LOOP}


def test_dangling_link_and_fifo_with_image_names_are_reported_not_listed(tmp_path: Path) -> None:
    write(tmp_path / "real.jpg")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")

    followed = scan_root(tmp_path, ScanOptions(follow_symlinks=True))
    assert paths(followed) == ["real.jpg"]
    assert problems(followed) == {
        "dangling.jpg": ProblemKind.BROKEN_SYMLINK,
        "pipe.jpg": ProblemKind.NOT_A_REGULAR_FILE,
    }
    # Not following links, the dangling one is just a skipped link; the FIFO is still no file.
    assert problems(scan_root(tmp_path)) == {"pipe.jpg": ProblemKind.NOT_A_REGULAR_FILE}


def test_root_missing_or_not_a_directory(tmp_path: Path) -> None:
    assert scan_root(tmp_path / "absent").state is RootState.MISSING
    write(tmp_path / "file.jpg")
    assert scan_root(tmp_path / "file.jpg").state is RootState.NOT_A_DIRECTORY
    assert scan_root(tmp_path / "file.jpg" / "below").state is RootState.MISSING


def test_subtree_scan_gives_root_relative_paths(tmp_path: Path) -> None:
    write(tmp_path / "top.jpg")
    write(tmp_path / "moved/in/x.png")
    scan = scan_root(tmp_path, start="moved")
    assert paths(scan) == ["moved/in/x.png"]
    assert [d.path for d in scan.directories] == ["moved", "moved/in"]
    assert scan_root(tmp_path, start="not-there").state is RootState.MISSING


# --- permissions -------------------------------------------------------------------------------------

_SCAN_AS_CHILD = """
import json, sys
from kartoteka.infrastructure.watcher.scanner import scan_root
scan = scan_root(sys.argv[1])
print(json.dumps({"state": scan.state.value, "files": [f.path for f in scan.files],
                  "problems": {p.path: p.kind.value for p in scan.problems}}))
"""


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary directory that another user can enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="kartoteka-scan-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for directory, _, _ in os.walk(path):
            os.chmod(directory, 0o755)
        shutil.rmtree(path)


def _scan_unprivileged(root: Path) -> dict[str, object]:
    if os.geteuid() != 0:
        scan = scan_root(root)
        return {
            "state": scan.state.value,
            "files": paths(scan),
            "problems": {p.path: p.kind.value for p in scan.problems},
        }
    assert shutil.which("setpriv"), "setpriv (util-linux) is needed to scan as an unprivileged user"
    # The checkout may sit in a directory only root can enter (CI clones into a mode-700 mktemp dir),
    # so the child gets its own world-readable copy of the package.
    source = Path(tempfile.mkdtemp(prefix="kartoteka-src-"))
    try:
        shutil.copytree(
            Path(__file__).resolve().parents[3] / "src" / "kartoteka",
            source / "kartoteka",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        for directory, _, _ in os.walk(source):
            os.chmod(directory, 0o755)
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", _SCAN_AS_CHILD]
        done = subprocess.run(
            [*command, str(root)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "PYTHONPATH": str(source), "PYTHONDONTWRITEBYTECODE": "1"},
        )
    finally:
        shutil.rmtree(source, ignore_errors=True)
    assert done.returncode == 0, f"the scan as nobody failed: {done.stderr.strip()[-1000:]}"
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_unreadable_directory_and_file_are_reported_as_problems(shared_tmp: Path) -> None:
    write(shared_tmp / "open/ok.jpg")
    write(shared_tmp / "locked/inside.jpg")
    write(shared_tmp / "secret.jpg")
    for entry in shared_tmp.rglob("*"):
        entry.chmod(0o755 if entry.is_dir() else 0o644)
    (shared_tmp / "locked").chmod(0o000)
    (shared_tmp / "secret.jpg").chmod(0o000)

    result = _scan_unprivileged(shared_tmp)
    assert result["state"] == "ok"
    assert result["files"] == ["open/ok.jpg"]
    assert result["problems"] == {"locked": "unreadable_directory", "secret.jpg": "unreadable_file"}


def test_unreadable_root_is_a_state_not_an_exception(shared_tmp: Path) -> None:
    root = shared_tmp / "root"
    write(root / "a.jpg")
    root.chmod(0o000)
    result = _scan_unprivileged(root)
    assert result["state"] == "unreadable"
    assert result["files"] == []


# --- hashing -----------------------------------------------------------------------------------------


def test_hash_is_sha256_of_the_bytes_across_chunks(tmp_path: Path) -> None:
    data = os.urandom(2 * 1024 * 1024 + 12345)
    big = write(tmp_path / "big.jpg", data)
    empty = write(tmp_path / "empty.jpg", b"")
    assert hash_file(big) == hashlib.sha256(data).hexdigest()
    assert hash_file(big, chunk_size=4096) == hashlib.sha256(data).hexdigest()
    assert hash_file(empty) == hashlib.sha256(b"").hexdigest()


def test_hash_files_reuses_its_buffer_correctly_across_sizes(tmp_path: Path) -> None:
    contents = {"small.jpg": b"s", "big.jpg": os.urandom(3 * 1024 * 1024 + 1), "empty.jpg": b"", "mid.jpg": b"m" * 5000}
    for name, data in contents.items():
        write(tmp_path / name, data)
    order = ["small.jpg", "big.jpg", "empty.jpg", "mid.jpg", "small.jpg"]
    assert hash_files(tmp_path, order) == {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}


def test_hash_files_leaves_out_what_cannot_be_read(tmp_path: Path) -> None:
    write(tmp_path / "a/x.jpg", b"x")
    hashes = hash_files(tmp_path, ["a/x.jpg", "vanished.jpg"])
    assert hashes == {"a/x.jpg": hashlib.sha256(b"x").hexdigest()}


async def test_async_wrappers_run_off_the_loop(tmp_path: Path) -> None:
    write(tmp_path / "p.png", b"p")
    scan = await scan_root_async(tmp_path)
    assert paths(scan) == ["p.png"]
    assert await hash_file_async(tmp_path / "p.png") == hashlib.sha256(b"p").hexdigest()
    assert await hash_files_async(tmp_path, ["p.png"]) == {"p.png": hashlib.sha256(b"p").hexdigest()}

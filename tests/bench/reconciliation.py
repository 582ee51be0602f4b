"""Start-up reconciliation of a large root: stat-only planning against hashing every file, in one run.

    python -m tests.bench.reconciliation [--files 100000] [--cache /var/tmp/kartoteka-bench-gallery] [--repeat 3]

A tree of small files (1–4 KiB of random bytes, ``.jpg``/``.JPG``/``.png`` names, 100 files per
directory two levels deep) is generated once and cached under ``--cache`` (generation takes a while;
later runs reuse it). Then, on the same warm page cache:

- hash all: what a reconciliation that trusts no metadata does (the reference decoded and hashed
  every image on every start; hashing the bytes alone is a lower bound of that): a scan, then SHA-256
  of every file. Its result is the index the next step reconciles against.
- reconcile: Kartoteka's path for an unchanged tree: the same scan, ``plan_reconciliation`` against
  the full index, and ``resolve`` of the (empty) hash set. It must ask to hash nothing.
- 1 % changed: 1 % of the files rewritten, then scan + plan + hashing what the plan asks + resolve.

Printed: the times, files per second, the ratios, and whether 100 000 unchanged files reconcile
within the 10 s target. The system page cache is not dropped (that needs privileges and would disturb
other work on the machine). Hash-all is timed twice: once after evicting the tree's file *data* from
the cache with ``posix_fadvise(DONTNEED)`` (so the bytes come from the disk, as after a reboot, while
directory metadata stays cached as it does for the reconcile side), and once fully warm.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from kartoteka.domain.gallery.reconciliation import IndexedFile, plan_reconciliation
from kartoteka.domain.gallery.scan import DirectoryScan
from kartoteka.infrastructure.watcher.scanner import hash_files, scan_root

T = TypeVar("T")
FILES_PER_DIRECTORY = 100
DIRECTORIES_PER_LEVEL = 10
TARGET_S = 10.0


def timed(action: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def ensure_tree(cache: Path, files: int) -> Path:
    """The cached tree of ``files`` files, generated when it is missing or incomplete."""
    root = cache / f"tree-{files}"
    marker = cache / f"tree-{files}.complete"
    if marker.exists() and root.is_dir():
        return root
    print(f"generating {files} files under {root} (cached for later runs)…", flush=True)
    if root.exists():
        import shutil

        shutil.rmtree(root)
    rng = random.Random(files)
    suffixes = (".jpg", ".JPG", ".png")
    start = time.perf_counter()
    for index in range(files):
        directory_index = index // FILES_PER_DIRECTORY
        outer, inner = divmod(directory_index, DIRECTORIES_PER_LEVEL)
        directory = root / f"batch-{outer:04d}" / f"roll-{inner:02d}"
        if index % FILES_PER_DIRECTORY == 0:
            directory.mkdir(parents=True, exist_ok=True)
        size = rng.randint(1024, 4096)
        (directory / f"img-{index:06d}{suffixes[index % 3]}").write_bytes(rng.randbytes(size))
        if index and index % 20000 == 0:
            print(f"  {index} files, {time.perf_counter() - start:.1f} s", flush=True)
    marker.write_text(f"{files}\n")
    print(f"generated in {time.perf_counter() - start:.1f} s", flush=True)
    return root


def evict_data(root: Path, paths: list[str]) -> None:
    """Drop these files' data (not their metadata) from the page cache: our files only, no privileges."""
    for path in paths:
        fd = os.open(root / path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def build_index(scan: DirectoryScan, hashes: dict[str, str]) -> list[IndexedFile]:
    return [IndexedFile(uuid.uuid4(), f.path, f.size, f.mtime_ns, hashes[f.path]) for f in scan.files]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--cache", type=Path, default=Path("/var/tmp/kartoteka-bench-gallery"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    root = ensure_tree(args.cache, args.files)
    timed(lambda: scan_root(root))  # warm the dentry and inode caches for both sides alike

    # Hash everything: the trust-nothing reconciliation, and the source of the index.
    def hash_everything() -> tuple[DirectoryScan, dict[str, str]]:
        scan = scan_root(root)
        return scan, hash_files(root, [f.path for f in scan.files])

    evict_data(root, [f.path for f in scan_root(root).files])
    _, hash_cold_s = timed(hash_everything)
    (scan, hashes), hash_all_s = timed(hash_everything)
    if len(scan.files) != args.files or len(hashes) != args.files:
        raise SystemExit(f"expected {args.files} files, scanned {len(scan.files)}, hashed {len(hashes)}")
    index = build_index(scan, hashes)
    total_bytes = sum(f.size for f in scan.files)
    directories = len(scan.directories)

    # Kartoteka: scan + stat-only plan; nothing changed, so nothing is hashed.
    scan_times: list[float] = []
    plan_times: list[float] = []
    totals: list[float] = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        fresh = scan_root(root)
        scanned = time.perf_counter()
        plan = plan_reconciliation(index, fresh)
        result = plan.resolve({})
        done = time.perf_counter()
        if plan.to_hash or len(result.unchanged) != args.files or result.deleted or result.warnings:
            raise SystemExit("an unchanged tree did not reconcile as unchanged")
        scan_times.append(scanned - start)
        plan_times.append(done - scanned)
        totals.append(done - start)
    best = min(totals)

    # 1 % of the files rewritten with new content.
    rng = random.Random()
    changed = rng.sample(range(len(index)), max(1, len(index) // 100))
    for position in changed:
        path = root / index[position].path
        path.write_bytes(rng.randbytes(rng.randint(1024, 4096)))

    def reconcile_with_changes() -> int:
        fresh = scan_root(root)
        plan = plan_reconciliation(index, fresh)
        result = plan.resolve(hash_files(root, plan.paths_to_hash))
        return len(result.modified) + len(result.touched)

    updated, changed_s = timed(reconcile_with_changes)
    if updated != len(changed):
        raise SystemExit(f"expected {len(changed)} changed files, the reconciliation found {updated}")

    print()
    print(f"tree: {args.files} files in {directories} directories, {total_bytes / 2**20:.0f} MiB, at {root}")
    print("single thread; times in seconds")
    print(
        f"  scan + hash all (SHA-256 of every file):     {hash_all_s:7.2f} s   "
        f"({args.files / hash_all_s:,.0f} files/s, {total_bytes / 2**20 / hash_all_s:.0f} MiB/s)"
    )
    print(
        f"  the same, file data evicted from the cache:  {hash_cold_s:7.2f} s   "
        f"({args.files / hash_cold_s:,.0f} files/s; posix_fadvise DONTNEED, metadata still cached)"
    )
    print(
        f"  scan + plan, nothing changed (best of {args.repeat}):   {best:7.2f} s   "
        f"({args.files / best:,.0f} files/s; scan {min(scan_times):.2f} s + plan/resolve {min(plan_times):.2f} s; "
        f"median {statistics.median(totals):.2f} s)"
    )
    print(
        f"  1 % changed: scan + plan + hash {len(changed)} + resolve: {changed_s:7.2f} s   "
        f"({updated} files found changed)"
    )
    print(
        f"  ratio hash-all / reconcile:                  {hash_all_s / best:7.1f} × warm, "
        f"{hash_cold_s / best:.1f} × with file data evicted"
    )
    scaled = best * 100_000 / args.files
    verdict = "met" if scaled <= TARGET_S else "NOT met"
    print(f"  target: 100 000 unchanged files in ≤ {TARGET_S:.0f} s: {verdict} ({scaled:.2f} s per 100 000 files)")


if __name__ == "__main__":
    main()

"""Bringing the index of one root back in line with the directory, without trusting a bad scan.

Reconciliation runs at start-up (and whenever the watcher lost track, e.g. after its root came back)
in two pure steps around the only expensive operation, hashing:

1. :func:`plan_reconciliation` compares the index with a scan by ``stat`` facts alone. A file whose
   size and modification time (to the nanosecond) are what the index recorded is *unchanged*: it is
   neither decoded nor hashed, so a restart over 100 000 untouched images costs one directory walk,
   not 100 000 file reads. Everything else that
   exists — new paths, and indexed paths whose size or mtime moved — is listed in ``to_hash``.
2. :meth:`ReconciliationPlan.resolve` takes the content hashes of exactly those files and decides:

   - *touched*: same path, same content, only size/mtime to record (a ``touch``, a copy-over);
   - *modified*: same path, new content — the row keeps its id and is re-embedded;
   - *moved*: an indexed file that is no longer at its path and whose content hash equals a new
     file's hash keeps its ``image_id`` (and so its vectors and anything that refers to it) at the
     new path — this is how a renamed directory keeps every id;
   - *created*: the other new files;
   - *deleted*: indexed files that are gone and were not moved.

Safety comes before tidiness. A scan that cannot be trusted must never erase the index:

- the root missing, not a directory, or unreadable deletes nothing (an unreadable root always: we
  know nothing about its files; a missing one only when ``allow_empty_root_deletion`` says that a
  vanished root means a deliberately emptied gallery);
- a root that held at least one indexed file and now scans empty *looks unmounted* — an empty mount
  point is indistinguishable from a disk that was wiped, and the first is far more common — so it
  deletes nothing unless ``allow_empty_root_deletion`` is set;
- an index row whose path, or a directory above it, could not be read during the scan is kept
  (*unverified*), because an unreadable file still exists;
- a file that was to be hashed but could not be (it vanished or became unreadable meanwhile) changes
  nothing: a changed file keeps its old row, a new one waits for the next pass.

Every refusal comes back as a warning so the operator sees why nothing happened.

Order of application, for an index with one row per path: ``deleted``, then ``moved`` (a move never
targets a path that still has a row: its target is always a path the index did not have), then
``modified``/``touched``, then ``created``.
"""

from __future__ import annotations

import enum
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from uuid import UUID

from kartoteka.domain.gallery.scan import ROOT_PATH, DirectoryScan, RootState, ScannedFile, ScanProblem, parent_of


@dataclass(frozen=True, slots=True)
class IndexedFile:
    """The index's memory of one file of the root."""

    image_id: UUID
    path: str
    size: int
    mtime_ns: int
    content_hash: str

    def matches(self, scanned: ScannedFile) -> bool:
        """Same size and mtime: taken as the same bytes without reading them (see module notes)."""
        return self.size == scanned.size and self.mtime_ns == scanned.mtime_ns


class WarningCode(enum.StrEnum):
    ROOT_MISSING = "root_missing"
    ROOT_NOT_A_DIRECTORY = "root_not_a_directory"
    ROOT_UNREADABLE = "root_unreadable"
    ROOT_LOOKS_UNMOUNTED = "root_looks_unmounted"
    ROOT_EMPTIED = "root_emptied"
    ENTRY_SKIPPED = "entry_skipped"
    NOT_HASHED = "not_hashed"


@dataclass(frozen=True, slots=True)
class ReconciliationWarning:
    code: WarningCode
    message: str
    path: str | None = None


@dataclass(frozen=True, slots=True)
class ChangedFile:
    """An indexed path whose size or mtime differs from the index: its hash decides what happened."""

    indexed: IndexedFile
    scanned: ScannedFile


@dataclass(frozen=True, slots=True)
class MovedFile:
    """An indexed image found at a new path by its content: it keeps its id."""

    indexed: IndexedFile
    scanned: ScannedFile
    content_hash: str

    @property
    def image_id(self) -> UUID:
        return self.indexed.image_id

    @property
    def old_path(self) -> str:
        return self.indexed.path

    @property
    def new_path(self) -> str:
        return self.scanned.path


@dataclass(frozen=True, slots=True)
class ModifiedFile:
    """Same path, different content: same id, new vectors."""

    indexed: IndexedFile
    scanned: ScannedFile
    content_hash: str


@dataclass(frozen=True, slots=True)
class TouchedFile:
    """Same path and content; only size/mtime in the index are out of date."""

    indexed: IndexedFile
    scanned: ScannedFile


@dataclass(frozen=True, slots=True)
class CreatedFile:
    scanned: ScannedFile
    content_hash: str


@dataclass(frozen=True, slots=True)
class ReconciliationResult:
    """Everything to apply to the index, after hashing (see the module notes for the order)."""

    unchanged: tuple[IndexedFile, ...]
    moved: tuple[MovedFile, ...]
    modified: tuple[ModifiedFile, ...]
    touched: tuple[TouchedFile, ...]
    created: tuple[CreatedFile, ...]
    deleted: tuple[IndexedFile, ...]
    kept: tuple[IndexedFile, ...]
    """Rows left as they are although their file was not confirmed: unverified, unhashed or protected."""
    unhashed: tuple[ScannedFile, ...]
    warnings: tuple[ReconciliationWarning, ...]
    deletions_blocked: bool


@dataclass(frozen=True, slots=True)
class ReconciliationPlan:
    """The first, hash-free step: what is unchanged and what must be hashed to decide the rest."""

    unchanged: tuple[IndexedFile, ...]
    to_hash: tuple[ScannedFile, ...]
    warnings: tuple[ReconciliationWarning, ...]
    deletions_blocked: bool
    """True when the scan cannot be trusted for absences (see the module notes): nothing is deleted."""
    changed: tuple[ChangedFile, ...] = field(default=())
    new: tuple[ScannedFile, ...] = field(default=())
    missing: tuple[IndexedFile, ...] = field(default=())
    """Indexed files not found, candidates for moved or deleted."""
    unverified: tuple[IndexedFile, ...] = field(default=())
    """Indexed files not found at a path the scan could not read: always kept."""

    @property
    def paths_to_hash(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.to_hash)

    def resolve(self, hashes: Mapping[str, str]) -> ReconciliationResult:
        """Decide moved/modified/touched/created/deleted from the hashes of ``to_hash``.

        ``hashes`` maps a relative path to its content hash; a path of ``to_hash`` that is absent
        could not be hashed and changes nothing (see the module notes).
        """
        warnings = list(self.warnings)
        kept = list(self.unverified)
        unhashed: list[ScannedFile] = []
        modified: list[ModifiedFile] = []
        touched: list[TouchedFile] = []
        for change in self.changed:
            content_hash = hashes.get(change.scanned.path)
            if content_hash is None:
                unhashed.append(change.scanned)
                kept.append(change.indexed)
                warnings.append(_not_hashed(change.scanned.path, "its index row is left as it was"))
            elif content_hash == change.indexed.content_hash:
                touched.append(TouchedFile(change.indexed, change.scanned))
            else:
                modified.append(ModifiedFile(change.indexed, change.scanned, content_hash))

        new_by_hash: dict[str, list[ScannedFile]] = defaultdict(list)
        unhashed_new: list[ScannedFile] = []
        for scanned in self.new:
            content_hash = hashes.get(scanned.path)
            if content_hash is None:
                unhashed_new.append(scanned)
                warnings.append(_not_hashed(scanned.path, "it is not indexed yet"))
            else:
                new_by_hash[content_hash].append(scanned)
        missing_by_hash: dict[str, list[IndexedFile]] = defaultdict(list)
        for indexed in self.missing:
            missing_by_hash[indexed.content_hash].append(indexed)

        moved: list[MovedFile] = []
        created: list[CreatedFile] = []
        gone: list[IndexedFile] = []
        for content_hash in sorted(new_by_hash.keys() | missing_by_hash.keys()):
            pairs, arrived, left = pair_moves(missing_by_hash.get(content_hash, ()), new_by_hash.get(content_hash, ()))
            moved.extend(MovedFile(old, new, content_hash) for old, new in pairs)
            created.extend(CreatedFile(new, content_hash) for new in arrived)
            gone.extend(left)
        gone.sort(key=lambda f: f.path)
        if self.deletions_blocked:
            kept.extend(gone)
            deleted: list[IndexedFile] = []
        else:
            # A new file that could not be hashed may be where a missing one went; one of the same
            # size keeps its row (and id) until a later pass can tell.
            unhashed_sizes = {f.size for f in unhashed_new}
            deleted = [f for f in gone if f.size not in unhashed_sizes]
            kept.extend(f for f in gone if f.size in unhashed_sizes)

        return ReconciliationResult(
            unchanged=self.unchanged,
            moved=tuple(sorted(moved, key=lambda m: m.new_path)),
            modified=tuple(modified),
            touched=tuple(touched),
            created=tuple(sorted(created, key=lambda c: c.scanned.path)),
            deleted=tuple(deleted),
            kept=tuple(sorted(kept, key=lambda f: f.path)),
            unhashed=tuple(sorted(unhashed + unhashed_new, key=lambda f: f.path)),
            warnings=tuple(warnings),
            deletions_blocked=self.deletions_blocked,
        )


def pair_moves(
    missing: Iterable[IndexedFile], arrivals: Iterable[ScannedFile]
) -> tuple[list[tuple[IndexedFile, ScannedFile]], list[ScannedFile], list[IndexedFile]]:
    """Match missing indexed files to new files of the same content, each at most once.

    Identical copies make the match ambiguous, so it is made deterministic and plausible: first a
    missing file and a new one with the same file name (a renamed or moved directory keeps names),
    both taken in path order; then whatever is left, pairwise in path order. Returns the pairs, the
    new files left without a partner (to be created) and the missing files left (to be deleted).
    """
    olds = sorted(missing, key=lambda f: f.path)
    news = sorted(arrivals, key=lambda f: f.path)
    by_name: dict[str, deque[int]] = defaultdict(deque)
    for i, old in enumerate(olds):
        by_name[_name(old.path)].append(i)
    taken = [False] * len(olds)
    pairs: list[tuple[IndexedFile, ScannedFile]] = []
    unpaired: list[ScannedFile] = []
    for new in news:
        same_name = by_name.get(_name(new.path))
        if same_name:
            i = same_name.popleft()
            taken[i] = True
            pairs.append((olds[i], new))
        else:
            unpaired.append(new)
    remaining = [old for i, old in enumerate(olds) if not taken[i]]
    count = min(len(remaining), len(unpaired))
    pairs.extend(zip(remaining[:count], unpaired[:count], strict=True))
    return pairs, unpaired[count:], remaining[count:]


def plan_reconciliation(
    indexed: Iterable[IndexedFile],
    scan: DirectoryScan,
    *,
    allow_empty_root_deletion: bool = False,
) -> ReconciliationPlan:
    """Compare the index of one root with a fresh scan of it, without reading any file.

    Raises ``ValueError`` when a path occurs twice on either side: the index keeps one row per path
    and a scan lists each path once, so a duplicate is a bug in the caller, not something to guess about.
    """
    by_path: dict[str, IndexedFile] = {}
    for entry in indexed:
        if entry.path in by_path:
            raise ValueError(f"the index lists {entry.path!r} twice")
        by_path[entry.path] = entry
    warnings: list[ReconciliationWarning] = []

    if not scan.root_ok:
        return _untrusted_root(by_path, scan.state, allow_empty_root_deletion)

    unchanged: list[IndexedFile] = []
    changed: list[ChangedFile] = []
    new: list[ScannedFile] = []
    seen: set[str] = set()
    for scanned in scan.files:
        if scanned.path in seen:
            raise ValueError(f"the scan lists {scanned.path!r} twice")
        seen.add(scanned.path)
        row = by_path.get(scanned.path)
        if row is None:
            new.append(scanned)
        elif row.matches(scanned):
            unchanged.append(row)
        else:
            changed.append(ChangedFile(row, scanned))

    guard = _UnverifiedPaths(scan.problems)
    missing: list[IndexedFile] = []
    unverified: list[IndexedFile] = []
    for path, entry in by_path.items():
        if path in seen:
            continue
        if guard.covers(path):
            unverified.append(entry)
        else:
            missing.append(entry)
    for problem in scan.problems:
        warnings.append(guard.warning(problem))

    deletions_blocked = False
    if by_path and not scan.files:
        if allow_empty_root_deletion:
            warnings.append(
                ReconciliationWarning(
                    WarningCode.ROOT_EMPTIED,
                    f"the root scans empty; its {len(missing)} indexed files are deleted because "
                    "allow_empty_root_deletion is set",
                    ROOT_PATH,
                )
            )
        else:
            deletions_blocked = True
            warnings.append(
                ReconciliationWarning(
                    WarningCode.ROOT_LOOKS_UNMOUNTED,
                    f"the root scans empty but {len(by_path)} files are indexed; it looks unmounted, so "
                    "nothing is deleted (set allow_empty_root_deletion if it was emptied on purpose)",
                    ROOT_PATH,
                )
            )

    return ReconciliationPlan(
        unchanged=tuple(unchanged),
        to_hash=tuple(sorted([c.scanned for c in changed] + new, key=lambda f: f.path)),
        warnings=tuple(warnings),
        deletions_blocked=deletions_blocked,
        changed=tuple(changed),
        new=tuple(new),
        missing=tuple(sorted(missing, key=lambda f: f.path)),
        unverified=tuple(sorted(unverified, key=lambda f: f.path)),
    )


def _untrusted_root(by_path: dict[str, IndexedFile], state: RootState, allow: bool) -> ReconciliationPlan:
    """A root that could not be walked: keep everything, except a vanished root when allowed."""
    rows = tuple(sorted(by_path.values(), key=lambda f: f.path))
    code, what = {
        RootState.MISSING: (WarningCode.ROOT_MISSING, "does not exist"),
        RootState.NOT_A_DIRECTORY: (WarningCode.ROOT_NOT_A_DIRECTORY, "is not a directory"),
        RootState.UNREADABLE: (WarningCode.ROOT_UNREADABLE, "cannot be read"),
    }[state]
    # An unreadable root still holds its files; only a root that is really gone may empty the index.
    deletable = allow and state is not RootState.UNREADABLE
    if deletable:
        message = f"the root {what}; its {len(rows)} indexed files are deleted because allow_empty_root_deletion is set"
    else:
        message = f"the root {what}; nothing is deleted ({len(rows)} indexed files kept)"
    return ReconciliationPlan(
        unchanged=(),
        to_hash=(),
        warnings=(ReconciliationWarning(code, message, ROOT_PATH),),
        deletions_blocked=not deletable,
        missing=rows,
    )


class _UnverifiedPaths:
    """Index paths the scan could not confirm or deny, because of the problems it met."""

    def __init__(self, problems: Iterable[ScanProblem]) -> None:
        self._files = {p.path for p in problems if p.kind.leaves_file_unverified}
        self._trees = {p.path for p in problems if p.kind.hides_subtree}
        self._kept: dict[str, int] = defaultdict(int)

    def covers(self, path: str) -> bool:
        if path in self._files:
            self._kept[path] += 1
            return True
        directory = path
        while self._trees and directory != ROOT_PATH:
            directory = parent_of(directory)
            if directory in self._trees:
                self._kept[directory] += 1
                return True
        return False

    def warning(self, problem: ScanProblem) -> ReconciliationWarning:
        message = f"skipped: {problem.kind.value}"
        if problem.detail:
            message += f" ({problem.detail})"
        kept = self._kept.get(problem.path, 0)
        if kept:
            message += f"; {kept} indexed file{'s' if kept != 1 else ''} there kept, unverified"
        return ReconciliationWarning(WarningCode.ENTRY_SKIPPED, message, problem.path)


def _not_hashed(path: str, consequence: str) -> ReconciliationWarning:
    return ReconciliationWarning(WarningCode.NOT_HASHED, f"could not be hashed; {consequence}", path)


def _name(path: str) -> str:
    return path.rpartition("/")[2]

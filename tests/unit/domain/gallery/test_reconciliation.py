"""Reconciliation of a root's index with a scan: every outcome, and every refusal to delete."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from kartoteka.domain.gallery.reconciliation import (
    IndexedFile,
    ReconciliationPlan,
    ReconciliationResult,
    WarningCode,
    pair_moves,
    plan_reconciliation,
)
from kartoteka.domain.gallery.scan import (
    DirectoryScan,
    ProblemKind,
    RootState,
    ScannedFile,
    ScanProblem,
)


def row(path: str, content: str = "", size: int = 100, mtime_ns: int = 1_000) -> IndexedFile:
    return IndexedFile(uuid4(), path, size, mtime_ns, content or f"hash:{path}")


def seen(path: str, size: int = 100, mtime_ns: int = 1_000) -> ScannedFile:
    return ScannedFile(path, size, mtime_ns)


def scan(*files: ScannedFile, problems: tuple[ScanProblem, ...] = ()) -> DirectoryScan:
    return DirectoryScan(RootState.OK, files=files, problems=problems)


def resolve(
    index: list[IndexedFile], result_of_scan: DirectoryScan, hashes: dict[str, str], **kwargs: bool
) -> tuple[ReconciliationPlan, ReconciliationResult]:
    plan = plan_reconciliation(index, result_of_scan, **kwargs)
    return plan, plan.resolve(hashes)


def codes(result: ReconciliationPlan | ReconciliationResult) -> list[WarningCode]:
    return [w.code for w in result.warnings]


# --- the hash-free step ------------------------------------------------------------------------------


def test_unchanged_files_are_not_hashed() -> None:
    index = [row(f"d/{i}.jpg", mtime_ns=10 + i) for i in range(50)]
    plan = plan_reconciliation(index, scan(*(seen(f.path, f.size, f.mtime_ns) for f in index)))
    assert plan.to_hash == ()
    assert plan.unchanged == tuple(index)
    result = plan.resolve({})
    assert result.unchanged == tuple(index)
    assert result.moved == result.modified == result.touched == result.created == result.deleted == ()
    assert result.warnings == ()


def test_only_new_and_changed_paths_are_hashed() -> None:
    same, grown, retimed = row("same.jpg"), row("grown.jpg"), row("retimed.jpg")
    plan = plan_reconciliation(
        [same, grown, retimed],
        scan(seen("same.jpg"), seen("grown.jpg", size=101), seen("retimed.jpg", mtime_ns=2_000), seen("new.jpg")),
    )
    assert plan.unchanged == (same,)
    assert plan.paths_to_hash == ("grown.jpg", "new.jpg", "retimed.jpg")


# --- after hashing -----------------------------------------------------------------------------------


def test_same_path_new_content_is_modified_and_keeps_its_id() -> None:
    old = row("a.jpg", "h1")
    _, result = resolve([old], scan(seen("a.jpg", size=120)), {"a.jpg": "h2"})
    [modified] = result.modified
    assert modified.indexed.image_id == old.image_id
    assert (modified.content_hash, modified.scanned.size) == ("h2", 120)
    assert result.deleted == result.created == result.touched == ()


def test_same_path_same_content_is_only_touched() -> None:
    old = row("a.jpg", "h1")
    _, result = resolve([old], scan(seen("a.jpg", mtime_ns=5_000)), {"a.jpg": "h1"})
    [touched] = result.touched
    assert touched.indexed == old
    assert touched.scanned.mtime_ns == 5_000
    assert result.modified == result.created == result.deleted == ()


def test_new_file_is_created() -> None:
    _, result = resolve([], scan(seen("b.jpg")), {"b.jpg": "h"})
    [created] = result.created
    assert (created.scanned.path, created.content_hash) == ("b.jpg", "h")


def test_missing_file_is_deleted() -> None:
    keep, lost = row("keep.jpg"), row("lost.jpg")
    _, result = resolve([keep, lost], scan(seen("keep.jpg")), {})
    assert result.deleted == (lost,)
    assert result.unchanged == (keep,)
    assert result.warnings == ()


def test_moved_file_keeps_its_id() -> None:
    old = row("old/name.jpg", "h1")
    plan, result = resolve([old], scan(seen("new/other.jpg")), {"new/other.jpg": "h1"})
    assert plan.paths_to_hash == ("new/other.jpg",)
    [moved] = result.moved
    assert (moved.image_id, moved.old_path, moved.new_path) == (old.image_id, "old/name.jpg", "new/other.jpg")
    assert result.created == result.deleted == ()


def test_renamed_directory_keeps_every_id() -> None:
    index = [row(f"2023/trip/{i:03}.JPG", f"h{i}", mtime_ns=i) for i in range(200)]
    moved_scan = scan(*(seen(f"2024/trip-renamed/{i:03}.JPG", mtime_ns=i) for i in range(200)))
    hashes = {f"2024/trip-renamed/{i:03}.JPG": f"h{i}" for i in range(200)}
    _, result = resolve(index, moved_scan, hashes)
    assert len(result.moved) == 200
    assert {m.image_id for m in result.moved} == {r.image_id for r in index}
    assert all(m.old_path.rsplit("/", 1)[1] == m.new_path.rsplit("/", 1)[1] for m in result.moved)
    assert result.created == result.deleted == ()


def test_identical_copies_move_deterministically_and_each_id_at_most_once() -> None:
    # Three identical files were indexed; two were moved and renamed, one was deleted, and a fourth
    # copy appeared. Every id is used once; names decide where they can, path order elsewhere.
    a, b, c = row("x/a.jpg", "same"), row("x/b.jpg", "same"), row("x/c.jpg", "same")
    files = scan(seen("y/b.jpg"), seen("y/z.jpg"), seen("y/zz.jpg"))
    hashes = {"y/b.jpg": "same", "y/z.jpg": "same", "y/zz.jpg": "same"}
    _, first = resolve([c, b, a], files, hashes)
    _, again = resolve([a, b, c], scan(*reversed(files.files)), hashes)
    pairs = {(m.old_path, m.new_path) for m in first.moved}
    assert pairs == {("x/b.jpg", "y/b.jpg"), ("x/a.jpg", "y/z.jpg"), ("x/c.jpg", "y/zz.jpg")}
    assert {(m.old_path, m.new_path) for m in again.moved} == pairs
    assert len({m.image_id for m in first.moved}) == 3

    # More copies than missing files: the extra ones are created, never sharing an id.
    _, extra = resolve([a], scan(seen("p.jpg"), seen("q.jpg")), {"p.jpg": "same", "q.jpg": "same"})
    assert [(m.old_path, m.new_path) for m in extra.moved] == [("x/a.jpg", "p.jpg")]
    assert [c.scanned.path for c in extra.created] == ["q.jpg"]


def test_a_copy_of_a_still_present_file_is_created_not_moved() -> None:
    original = row("a.jpg", "h")
    _, result = resolve([original], scan(seen("a.jpg"), seen("copy.jpg")), {"copy.jpg": "h"})
    assert result.unchanged == (original,)
    assert [c.scanned.path for c in result.created] == ["copy.jpg"]
    assert result.moved == ()


def test_move_pairing_prefers_equal_names_then_path_order() -> None:
    olds = [row("a/2.jpg", "h"), row("a/1.jpg", "h"), row("a/3.jpg", "h")]
    news = [seen("b/3.jpg"), seen("b/9.jpg"), seen("b/1.jpg")]
    pairs, created, deleted = pair_moves(olds, news)
    expected = [("a/1.jpg", "b/1.jpg"), ("a/3.jpg", "b/3.jpg"), ("a/2.jpg", "b/9.jpg")]
    assert [(o.path, n.path) for o, n in pairs] == expected
    assert created == deleted == []


def test_mixed_changes_in_one_pass() -> None:
    unchanged, modified, touched, moved, deleted = (
        row("u.jpg"),
        row("m.jpg", "m1"),
        row("t.jpg", "t1"),
        row("old.jpg", "mv"),
        row("gone.jpg"),
    )
    files = scan(seen("u.jpg"), seen("m.jpg", size=7), seen("t.jpg", mtime_ns=7), seen("new.jpg"), seen("c.jpg"))
    plan, result = resolve(
        [unchanged, modified, touched, moved, deleted],
        files,
        {"m.jpg": "m2", "t.jpg": "t1", "new.jpg": "mv", "c.jpg": "c"},
    )
    assert plan.paths_to_hash == ("c.jpg", "m.jpg", "new.jpg", "t.jpg")
    assert result.unchanged == (unchanged,)
    assert [m.indexed for m in result.modified] == [modified]
    assert [t.indexed for t in result.touched] == [touched]
    assert [(m.image_id, m.new_path) for m in result.moved] == [(moved.image_id, "new.jpg")]
    assert [c.scanned.path for c in result.created] == ["c.jpg"]
    assert result.deleted == (deleted,)


# --- refusing to delete ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (RootState.MISSING, WarningCode.ROOT_MISSING),
        (RootState.NOT_A_DIRECTORY, WarningCode.ROOT_NOT_A_DIRECTORY),
        (RootState.UNREADABLE, WarningCode.ROOT_UNREADABLE),
    ],
)
def test_root_that_cannot_be_walked_deletes_nothing(state: RootState, code: WarningCode) -> None:
    index = [row("a.jpg"), row("b/c.jpg")]
    plan, result = resolve(index, DirectoryScan(state), {})
    assert plan.to_hash == ()
    assert plan.deletions_blocked
    assert result.deleted == ()
    assert set(result.kept) == set(index)
    assert codes(result) == [code]


def test_root_that_scans_empty_looks_unmounted_and_deletes_nothing() -> None:
    index = [row("a.jpg"), row("b/c.jpg")]
    plan, result = resolve(index, scan(), {})
    assert plan.deletions_blocked
    assert result.deleted == ()
    assert set(result.kept) == set(index)
    assert codes(result) == [WarningCode.ROOT_LOOKS_UNMOUNTED]


def test_empty_root_with_an_empty_index_is_no_warning() -> None:
    _, result = resolve([], scan(), {})
    assert result.warnings == ()
    assert not result.deletions_blocked


def test_allowing_empty_root_deletion_deletes_and_still_says_so() -> None:
    index = [row("a.jpg"), row("b/c.jpg")]
    _, result = resolve(index, scan(), {}, allow_empty_root_deletion=True)
    assert set(result.deleted) == set(index)
    assert codes(result) == [WarningCode.ROOT_EMPTIED]

    _, vanished = resolve(index, DirectoryScan(RootState.MISSING), {}, allow_empty_root_deletion=True)
    assert set(vanished.deleted) == set(index)
    assert codes(vanished) == [WarningCode.ROOT_MISSING]


def test_an_unreadable_root_deletes_nothing_even_when_allowed() -> None:
    index = [row("a.jpg")]
    _, result = resolve(index, DirectoryScan(RootState.UNREADABLE), {}, allow_empty_root_deletion=True)
    assert result.deleted == ()
    assert result.kept == tuple(index)


def test_files_under_an_unreadable_directory_are_kept_unverified() -> None:
    hidden = [row("locked/a.jpg"), row("locked/deep/b.jpg")]
    gone, fine = row("gone.jpg"), row("open/c.jpg")
    problems = (ScanProblem("locked", ProblemKind.UNREADABLE_DIRECTORY, "Permission denied"),)
    plan, result = resolve([*hidden, gone, fine], scan(seen("open/c.jpg"), problems=problems), {})
    assert set(plan.unverified) == set(hidden)
    assert result.deleted == (gone,)
    assert set(result.kept) == set(hidden)
    [warning] = result.warnings
    assert (warning.code, warning.path) == (WarningCode.ENTRY_SKIPPED, "locked")
    assert "2 indexed files there kept" in warning.message


def test_an_unreadable_or_dangling_file_is_kept_but_a_fifo_row_goes() -> None:
    locked, dangling, fifo = row("locked.jpg"), row("link.jpg"), row("pipe.jpg")
    problems = (
        ScanProblem("locked.jpg", ProblemKind.UNREADABLE_FILE),
        ScanProblem("link.jpg", ProblemKind.BROKEN_SYMLINK),
        ScanProblem("pipe.jpg", ProblemKind.NOT_A_REGULAR_FILE),
    )
    _, result = resolve([locked, dangling, fifo], scan(seen("other.jpg"), problems=problems), {"other.jpg": "o"})
    assert set(result.kept) == {locked, dangling}
    assert result.deleted == (fifo,)
    assert [w.code for w in result.warnings] == [WarningCode.ENTRY_SKIPPED] * 3


def test_a_file_that_could_not_be_hashed_changes_nothing() -> None:
    changed, missing = row("changed.jpg", "h1", size=10), row("was-here.jpg", "h2", size=55)
    files = scan(seen("changed.jpg", size=11), seen("arrived.jpg", size=55))
    _, result = resolve([changed, missing], files, {})
    assert result.modified == result.touched == result.created == result.deleted == ()
    # The unhashable arrival has the missing file's size: it may be that file moved, so the row stays.
    assert set(result.kept) == {changed, missing}
    assert [f.path for f in result.unhashed] == ["arrived.jpg", "changed.jpg"]
    assert codes(result) == [WarningCode.NOT_HASHED, WarningCode.NOT_HASHED]


def test_duplicate_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="index lists"):
        plan_reconciliation([row("a.jpg"), row("a.jpg")], scan())
    with pytest.raises(ValueError, match="scan lists"):
        plan_reconciliation([], scan(seen("a.jpg"), seen("a.jpg")))


def test_ids_are_uuids_carried_through() -> None:
    image_id = UUID(int=7)
    old = IndexedFile(image_id, "a.jpg", 1, 1, "h")
    _, result = resolve([old], scan(seen("b.jpg", 1, 1)), {"b.jpg": "h"})
    assert result.moved[0].image_id == image_id

"""Telling a rename from a deletion and a creation: what vanished is paired with what arrived.

Both functions take the picture and the work in progress of a :class:`~.tree_state.TreeState`, take
the pairs they accept out of the work in progress, and apply them to the picture.
"""

from __future__ import annotations

from kartoteka.domain.gallery.changes import FileMoved
from kartoteka.domain.gallery.scan import ROOT_PATH, parent_of
from kartoteka.infrastructure.watcher.tree_facts import FileStat, Identity
from kartoteka.infrastructure.watcher.tree_picture import (
    Arrival,
    NewDirectory,
    Picture,
    depth_first,
    map_path,
    name_of,
)


def pair_files(picture: Picture, gone: dict[str, float], arrivals: dict[str, Arrival]) -> list[FileMoved]:
    """A vanished file and a new path with its (device, inode, size, mtime): a rename, one id."""
    if not gone or not arrivals:
        return []
    candidates: dict[FileStat, list[str]] = {}
    for path in sorted(gone):
        candidates.setdefault(picture.files[path], []).append(path)
    moves: list[FileMoved] = []
    # An existing path that changed is a modification, never a move target.
    matching = sorted(p for p, a in arrivals.items() if a.stat in candidates and p not in picture.files)
    for path in matching:
        arrival = arrivals[path]
        olds = candidates.get(arrival.stat)
        if not olds:
            continue
        old = olds.pop(0)
        del gone[old]
        del arrivals[path]
        picture.remove_file(old)
        picture.add_file(path, arrival.stat)
        moves.append(FileMoved(old, path, arrival.stat.size, arrival.stat.mtime_ns))
    return moves


def pair_directories(
    picture: Picture,
    gone_dirs: dict[str, float],
    new_dirs: dict[str, NewDirectory],
    file_moves: list[FileMoved],
    had_files: set[str],
    had_arrivals: set[str],
) -> list[tuple[str, str]]:
    """A vanished directory and a new one with its (device, inode): a renamed directory.

    Inode numbers are reused at once, so the identity alone does not prove a rename (``rm -r a;
    mkdir b`` gives ``b`` the inode of ``a``). A pair is taken when a file moved between them
    under the same relative path, when it follows from a parent's rename, or when both hold no
    image (``had_files``: the directories above a vanished file; ``had_arrivals``: those above a new
    one). Returns the moves as the index sees them: an old path below a directory moved in this
    batch is given under that directory's new path. Subdirectories that moved with their parent
    are not listed (they follow from it); vanished ones below a moved directory are re-filed
    under its new path, so their deletion names a path the index has.
    """
    if not gone_dirs or not new_dirs:
        return []
    new_by_identity: dict[Identity, str] = {}
    for path in sorted(new_dirs, key=depth_first):
        new_by_identity.setdefault(new_dirs[path].identity, path)
    evidence: set[tuple[str, str]] = set()
    for move in file_moves:
        before, after = parent_of(move.old_path), parent_of(move.new_path)
        while before != ROOT_PATH and after != ROOT_PATH:
            evidence.add((before, after))
            if name_of(before) != name_of(after):
                break
            before, after = parent_of(before), parent_of(after)

    accepted: list[tuple[str, str]] = []
    emitted: list[tuple[str, str]] = []
    for old in sorted(gone_dirs, key=depth_first):
        identity = picture.dirs.get(old)
        new = new_by_identity.get(identity) if identity is not None else None
        if identity is None or new is None:
            continue
        seen_as = map_path(old, accepted)
        implied = seen_as == new
        empty = old not in had_files and new not in had_arrivals
        if not (implied or (old, new) in evidence or empty):
            continue
        del new_by_identity[identity]
        del new_dirs[new]
        del gone_dirs[old]
        gone_dirs.pop(new, None)  # an empty directory the rename replaced
        picture.remove_dir(old)
        picture.add_dir(new, identity)
        accepted.append((old, new))
        if not implied:
            emitted.append((seen_as, new))
    if accepted:
        for old in [p for p in gone_dirs if map_path(p, accepted) != p]:
            since = gone_dirs.pop(old)
            identity = picture.dirs.get(old)
            picture.remove_dir(old)
            refiled = map_path(old, accepted)
            if identity is not None and refiled not in picture.dirs:
                picture.add_dir(refiled, identity)
            gone_dirs.setdefault(refiled, since)
    return emitted

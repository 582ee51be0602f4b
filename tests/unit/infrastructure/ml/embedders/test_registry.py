"""Registry: entries by dotted target or by file, errors that name the key, versions that follow the weights."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from kartoteka.application.shared.models import ModelUnavailableError
from kartoteka.infrastructure.config.embedders import EmbedderEntry, EmbedderRegistrySettings
from kartoteka.infrastructure.ml.embedders.digests import WeightDigests
from kartoteka.infrastructure.ml.embedders.registry import EmbedderLoadError, EmbedderRegistry
from kartoteka.infrastructure.ml.runtime import Device
from tests.fakes.embedders import PixelStatsEmbedder

FAKES = "tests.fakes.embedders"

USER_EMBEDDER = '''
import numpy as np

class UserEmbedder:
    """A Sketch-Search style user embedder living in a loose file."""

    def __init__(self, scale, *, offset=0.0):
        self.scale = scale
        self.offset = offset

    def embed(self, images):
        return np.ones((len(images), 4)) * self.scale + self.offset
'''


def registry(tmp_path: Path, embedders: dict[str, EmbedderEntry], **kwargs: Any) -> EmbedderRegistry:
    settings = EmbedderRegistrySettings(
        chosen_embedder=next(iter(embedders)), embedders=embedders, digest_cache=str(tmp_path / "digests.json")
    )
    return EmbedderRegistry(settings, **kwargs)


def test_dotted_target_is_built_with_args_and_kwargs(tmp_path: Path) -> None:
    reg = registry(
        tmp_path, {"stats": EmbedderEntry(target=f"{FAKES}.PixelStatsEmbedder", args=[1, "a"], kwargs={"k": 2})}
    )
    embedder = reg.create()
    assert isinstance(embedder, PixelStatsEmbedder)
    assert embedder.args == (1, "a")
    assert embedder.kwargs == {"k": 2}


def test_file_entry_is_imported_once_under_a_unique_module_name(tmp_path: Path) -> None:
    source = tmp_path / "user_embedder.py"
    source.write_text(USER_EMBEDDER, encoding="utf-8")
    entry = EmbedderEntry(file=str(source), class_name="UserEmbedder", args=[2.0], kwargs={"offset": 0.5})
    reg = registry(tmp_path, {"user": entry, "again": entry})
    first, second = reg.create("user"), reg.create("again")
    assert (first.scale, first.offset) == (2.0, 0.5)
    assert type(first) is type(second)
    module_name = type(first).__module__
    assert module_name.startswith("kartoteka_user_embedder_user_embedder_")
    assert sys.modules[module_name].__file__ == str(source.resolve())

    # Another file with the same name elsewhere is another module.
    other = tmp_path / "elsewhere" / "user_embedder.py"
    other.parent.mkdir()
    other.write_text(USER_EMBEDDER.replace("np.ones", "np.zeros"), encoding="utf-8")
    reg2 = registry(tmp_path, {"other": EmbedderEntry(file=str(other), class_name="UserEmbedder", args=[1])})
    assert type(reg2.create()).__module__ != module_name


def test_only_the_requested_key_is_imported(tmp_path: Path) -> None:
    reg = registry(
        tmp_path,
        {
            "good": EmbedderEntry(target=f"{FAKES}.PixelStatsEmbedder"),
            "broken": EmbedderEntry(target="no_such_package_anywhere.mod.Cls"),
        },
    )
    assert isinstance(reg.create("good"), PixelStatsEmbedder)
    assert "no_such_package_anywhere" not in sys.modules


def test_the_registry_passes_its_device_to_constructors_that_take_one(tmp_path: Path) -> None:
    source = tmp_path / "with_device.py"
    source.write_text(
        "class WithDevice:\n"
        "    def __init__(self, device=None):\n        self.device = device\n"
        "    def embed(self, images):\n        return images\n",
        encoding="utf-8",
    )
    device = Device("cpu")
    entry = EmbedderEntry(file=str(source), class_name="WithDevice")
    assert registry(tmp_path, {"d": entry}, device=device).create().device is device
    # An entry's own device wins; constructors without the parameter are left alone.
    own = EmbedderEntry(file=str(source), class_name="WithDevice", kwargs={"device": "cpu"})
    assert registry(tmp_path, {"d": own}, device=device).create().device == "cpu"
    stats = registry(tmp_path, {"s": EmbedderEntry(target=f"{FAKES}.PixelStatsEmbedder")}, device=device).create()
    assert stats.kwargs == {}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            EmbedderEntry(target="no_such_package_anywhere.mod.Cls"),
            r"cannot import module 'no_such_package_anywhere\.mod'",
        ),
        (EmbedderEntry(target=f"{FAKES}.Missing"), r"module 'tests\.fakes\.embedders' has no class 'Missing'"),
        (EmbedderEntry(target=f"{FAKES}.not_a_class"), "is a function, not a class"),
        (EmbedderEntry(target=f"{FAKES}.NotAnEmbedder"), r"has no embed\(images\) method"),
        (
            EmbedderEntry(target=f"{FAKES}.PixelStatsEmbedder", kwargs={"fail": True}),
            "PixelStatsEmbedder.*ValueError: asked to fail",
        ),
        (
            EmbedderEntry(target=f"{FAKES}.PixelStatsEmbedder", kwargs={"weights": "missing"}),
            "model weights unavailable: no such file: weights.bin",
        ),
        (
            EmbedderEntry(file="/no/such/dir/embedder.py", class_name="E"),
            "embedder file '/no/such/dir/embedder.py' does not exist",
        ),
    ],
)
def test_every_failure_names_the_key_and_the_cause(tmp_path: Path, entry: EmbedderEntry, message: str) -> None:
    reg = registry(tmp_path, {"the-key": entry})
    with pytest.raises(EmbedderLoadError, match=rf"^embedder 'the-key': .*{message}") as caught:
        reg.create()
    assert caught.value.key == "the-key"
    # The process commands report ModelUnavailableError as a start-up error.
    assert isinstance(caught.value, ModelUnavailableError)


def test_a_file_that_fails_to_execute_is_reported_and_not_left_half_imported(tmp_path: Path) -> None:
    source = tmp_path / "broken.py"
    source.write_text("import numpy\nraise RuntimeError('boom at import')\n", encoding="utf-8")
    reg = registry(tmp_path, {"broken": EmbedderEntry(file=str(source), class_name="X")})
    with pytest.raises(EmbedderLoadError, match=r"executing embedder file .*broken\.py' failed: RuntimeError: boom"):
        reg.create()
    assert not [name for name in sys.modules if name.startswith("kartoteka_user_embedder_broken_")]


def test_unknown_key_lists_the_known_ones(tmp_path: Path) -> None:
    reg = registry(tmp_path, {"a": EmbedderEntry(target=f"{FAKES}.PixelStatsEmbedder")})
    with pytest.raises(EmbedderLoadError, match=r"embedder 'zzz': no such entry .*known: a"):
        reg.create("zzz")
    with pytest.raises(EmbedderLoadError, match="embedder 'zzz'"):
        reg.version_of("zzz")


# --- versions -------------------------------------------------------------------------------------


def weights_entry(weights: Path, target: str = f"{FAKES}.PixelStatsEmbedder") -> EmbedderEntry:
    return EmbedderEntry(target=target, kwargs={"weights_path": str(weights), "size": 3})


def test_version_is_stable_across_restarts(tmp_path: Path) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"weights v1")
    first = registry(tmp_path, {"k": weights_entry(weights)}).version_of("k")
    # A new registry with a new digest cache object over the same file: a restarted process.
    again = registry(tmp_path, {"k": weights_entry(weights)}).version_of("k")
    assert first == again
    assert len(first) == 16
    # And without any cache at all, from the bytes alone.
    uncached = EmbedderRegistry(
        EmbedderRegistrySettings(chosen_embedder="k", embedders={"k": weights_entry(weights)}),
        digests=WeightDigests(None),
    )
    assert uncached.version_of() == first


def test_version_follows_weight_content_not_location(tmp_path: Path) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"weights v1")
    before = registry(tmp_path, {"k": weights_entry(weights)}).version_of("k")

    weights.write_bytes(b"weights v2, retrained")
    changed = registry(tmp_path, {"k": weights_entry(weights)}).version_of("k")
    assert changed != before

    moved = tmp_path / "moved" / "w.bin"
    moved.parent.mkdir()
    moved.write_bytes(b"weights v2, retrained")
    assert registry(tmp_path, {"k": weights_entry(moved)}).version_of("k") == changed


def test_version_changes_with_the_configuration_and_the_class_version(tmp_path: Path) -> None:
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w")
    base = registry(tmp_path, {"k": weights_entry(weights)}).version_of("k")
    other_kwargs = EmbedderEntry(target=f"{FAKES}.PixelStatsEmbedder", kwargs={"weights_path": str(weights), "size": 4})
    assert registry(tmp_path, {"k": other_kwargs}).version_of("k") != base
    other_class = weights_entry(weights, target=f"{FAKES}.OtherVersionEmbedder")
    assert registry(tmp_path, {"k": other_class}).version_of("k") != base


def test_weight_files_reported_by_the_class_count_too(tmp_path: Path) -> None:
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "weights.bin").write_bytes(b"one")
    # The argument names a directory, which the registry does not hash; only the class knows the file.
    entry = EmbedderEntry(target=f"{FAKES}.WeightsHookEmbedder", kwargs={"hidden_dir": str(hidden)})
    before = registry(tmp_path, {"k": entry}).version_of("k")
    (hidden / "weights.bin").write_bytes(b"two")
    assert registry(tmp_path, {"k": entry}).version_of("k") != before


def test_version_never_builds_the_model(tmp_path: Path) -> None:
    # The constructor would fail; the version is still computed.
    reg = registry(tmp_path, {"k": EmbedderEntry(target=f"{FAKES}.PixelStatsEmbedder", kwargs={"fail": True})})
    assert len(reg.version_of("k")) == 16


def test_strings_naming_directories_are_not_hashed(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    entry = EmbedderEntry(target=f"{FAKES}.PixelStatsEmbedder", kwargs={"root": str(folder)})
    before = registry(tmp_path, {"k": entry}).version_of("k")
    (folder / "new.bin").write_bytes(b"x")
    assert registry(tmp_path, {"k": entry}).version_of("k") == before


def test_load_errors_survive_pickling(tmp_path: Path) -> None:
    import pickle

    error = EmbedderLoadError("k", "weights missing")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.key, copy.cause) == (str(error), "k", "weights missing")


def test_a_version_imports_no_model_library() -> None:
    """The api process may name the active vector space without importing torch."""
    import subprocess

    code = (
        "import sys\n"
        "from kartoteka.infrastructure.config.embedders import EmbedderRegistrySettings\n"
        "from kartoteka.infrastructure.ml.embedders.digests import WeightDigests\n"
        "from kartoteka.infrastructure.ml.embedders.registry import EmbedderRegistry\n"
        "settings = EmbedderRegistrySettings()\n"
        "print(EmbedderRegistry(settings, digests=WeightDigests(None)).version_of())\n"
        "print(sorted(m for m in ('torch', 'timm', 'open_clip') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    version, imported = result.stdout.splitlines()
    assert len(version) == 16
    assert imported == "[]"

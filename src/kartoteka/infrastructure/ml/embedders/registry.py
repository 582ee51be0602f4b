"""Embedders by registry key: import the configured class, build it, and name its vector space.

Only the requested key is imported and instantiated, so a broken or
weightless entry elsewhere in the configuration never stops a worker. Every
failure becomes an EmbedderLoadError that names the key and the cause; it is
a ModelUnavailableError, which the process commands already report as a
start-up error.

The version of a key is computed from configuration and file contents without
building the model, so it is cheap enough to compare at every start and
decides whether the gallery must be re-embedded.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kartoteka.application.shared.models import ModelUnavailableError
from kartoteka.infrastructure.config.embedders import EmbedderEntry, EmbedderRegistrySettings
from kartoteka.infrastructure.ml.embedders.digests import WeightDigests
from kartoteka.infrastructure.ml.embedders.preprocessing import TRANSFORM_VERSION
from kartoteka.infrastructure.ml.runtime import Device

log = logging.getLogger(__name__)

_VERSION_SCHEME = 1


class EmbedderLoadError(ModelUnavailableError):
    """A registry entry could not be imported or built; the message names the key and the cause."""

    def __init__(self, key: str, cause: str) -> None:
        super().__init__(f"embedder {key!r}: {cause}")
        self.key = key
        self.cause = cause

    def __reduce__(self) -> tuple[type[EmbedderLoadError], tuple[str, str]]:
        return type(self), (self.key, self.cause)


class EmbedderRegistry:
    """The configured embedders, built on demand.

    Built-in embedders take a ``device`` argument; when an entry does not set
    one itself, the registry passes the process's resolved inference device.
    """

    def __init__(
        self,
        settings: EmbedderRegistrySettings,
        *,
        device: Device | None = None,
        digests: WeightDigests | None = None,
    ) -> None:
        self._settings = settings
        self._device = device
        self._digests = digests if digests is not None else WeightDigests(settings.digest_cache_path())

    @property
    def settings(self) -> EmbedderRegistrySettings:
        return self._settings

    @property
    def chosen(self) -> str:
        return self._settings.chosen_embedder

    def known_keys(self) -> list[str]:
        return list(self._settings.embedders)

    def entry(self, key: str) -> EmbedderEntry:
        try:
            return self._settings.embedders[key]
        except KeyError:
            known = ", ".join(sorted(self._settings.embedders)) or "none"
            raise EmbedderLoadError(key, f"no such entry in embedder_registry.embedders (known: {known})") from None

    def load_class(self, key: str) -> type[Any]:
        """The entry's class, imported but not instantiated."""
        entry = self.entry(key)
        if entry.target is not None:
            module_name, _, class_name = entry.target.rpartition(".")
            module = self._import_module(key, module_name)
            origin = f"module {module_name!r}"
        elif entry.file is not None and entry.class_name is not None:
            class_name = entry.class_name
            module = self._import_file(key, Path(entry.file).expanduser())
            origin = f"file {entry.file!r}"
        else:  # EmbedderEntry's validator rules this out
            raise EmbedderLoadError(key, "an entry needs `target`, or `file` with `class_name`")
        cls = getattr(module, class_name, None)
        if cls is None:
            raise EmbedderLoadError(key, f"{origin} has no class {class_name!r}")
        if not inspect.isclass(cls):
            raise EmbedderLoadError(key, f"{class_name!r} in {origin} is a {type(cls).__name__}, not a class")
        if not callable(getattr(cls, "embed", None)):
            raise EmbedderLoadError(key, f"{class_name!r} in {origin} has no embed(images) method")
        return cls

    def create(self, key: str | None = None) -> Any:
        """Build the embedder for ``key`` (the chosen one by default)."""
        key = self.chosen if key is None else key
        entry = self.entry(key)
        cls = self.load_class(key)
        kwargs = dict(entry.kwargs)
        if self._device is not None and "device" not in kwargs and _accepts(cls, "device"):
            kwargs["device"] = self._device
        try:
            embedder = cls(*entry.args, **kwargs)
        except ModelUnavailableError as exc:
            raise EmbedderLoadError(key, f"model weights unavailable: {exc}") from exc
        except FileNotFoundError as exc:
            raise EmbedderLoadError(key, f"model weights unavailable: {exc}") from exc
        except Exception as exc:
            raise EmbedderLoadError(key, f"{cls.__name__}(...) failed: {type(exc).__name__}: {exc}") from exc
        log.info("embedder %r built from %s", key, entry.describe())
        return embedder

    def version_of(self, key: str | None = None) -> str:
        """A stable identifier of the vectors ``key`` produces, without building the model.

        It covers the entry (class, args, kwargs), the content of every weight
        file the entry names (a string argument that is an existing file, and
        whatever the class's ``weight_files`` reports), and the
        class's own ``version`` attribute, which an embedder bumps when its
        preprocessing or forward pass changes (code is not hashed: a user
        embedder file that changes what it computes must bump it too), and the
        shared image transform's version. Weight files count by content only,
        so moving a checkpoint does not re-embed the gallery.
        """
        key = self.chosen if key is None else key
        entry = self.entry(key)
        cls = self.load_class(key)
        try:
            declared = [Path(p) for p in _declared_weight_files(cls, entry)]
        except Exception as exc:
            raise EmbedderLoadError(key, f"cannot locate model weights: {type(exc).__name__}: {exc}") from exc
        try:
            payload = {
                "scheme": _VERSION_SCHEME,
                "source": entry.target if entry.target is not None else {"file": entry.file, "class": entry.class_name},
                "args": [self._fingerprint(a) for a in entry.args],
                "kwargs": {k: self._fingerprint(v) for k, v in sorted(entry.kwargs.items())},
                "weights": sorted({self._digest_of_path(p) for p in declared}),
                "class_version": _class_version(cls),
                "transform": TRANSFORM_VERSION,
            }
        except OSError as exc:
            raise EmbedderLoadError(key, f"cannot read model weights: {exc}") from exc
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=repr)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def _fingerprint(self, value: Any) -> Any:
        """JSON-able identity of an argument, with existing paths replaced by their content digest."""
        if isinstance(value, str) and value and len(value) < 4096:
            path = Path(value).expanduser()
            try:
                is_file = path.is_file()
            except OSError:
                is_file = False
            # Files only: a string that happens to name a directory ("." or "/") must not hash a tree.
            if is_file:
                return {"content": self._digest_of_path(path)}
            return value
        if isinstance(value, list | tuple):
            return [self._fingerprint(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self._fingerprint(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
        return value

    def _digest_of_path(self, path: Path) -> str:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            parts = [f"{p.relative_to(path).as_posix()}={self._digests.digest(p)}" for p in files]
            return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()
        return self._digests.digest(path)

    def _import_module(self, key: str, module_name: str) -> Any:
        try:
            return importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise EmbedderLoadError(key, f"cannot import module {module_name!r}: {exc}") from exc
        except Exception as exc:
            raise EmbedderLoadError(
                key, f"importing module {module_name!r} failed: {type(exc).__name__}: {exc}"
            ) from exc

    def _import_file(self, key: str, path: Path) -> Any:
        if not path.is_file():
            raise EmbedderLoadError(key, f"embedder file {str(path)!r} does not exist")
        resolved = path.resolve()
        # One module per file, however many keys or registries name it; the path hash keeps two
        # files with the same name apart.
        tag = hashlib.sha256(str(resolved).encode("utf-8")).hexdigest()[:10]
        stem = "".join(c if c.isalnum() else "_" for c in resolved.stem)
        module_name = f"kartoteka_user_embedder_{stem}_{tag}"
        existing = sys.modules.get(module_name)
        if existing is not None:
            return existing
        spec = importlib.util.spec_from_file_location(module_name, resolved)
        if spec is None or spec.loader is None:
            raise EmbedderLoadError(key, f"{str(path)!r} cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise EmbedderLoadError(
                key, f"executing embedder file {str(path)!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
        return module


def _accepts(cls: type[Any], name: str) -> bool:
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
    parameter = parameters.get(name)
    return parameter is not None and parameter.kind in {
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    }


def _declared_weight_files(cls: type[Any], entry: EmbedderEntry) -> Iterable[str | Path]:
    """Files the class says it will read for these arguments (e.g. packaged or hub-cached weights)."""
    locate = getattr(cls, "weight_files", None)
    if not callable(locate):
        return []
    return list(locate(*entry.args, **entry.kwargs))


def _class_version(cls: type[Any]) -> str | None:
    version = getattr(cls, "version", None)
    return None if version is None or callable(version) else str(version)

"""The configured models and the hub: what is needed, what is here, and fetching what is not.

Nothing at run time downloads (see :mod:`model_files`); getting the checkpoints
onto a machine is this explicit step, run once where the hub is reachable
(``kartoteka models pull``), into the hub cache the workers read or into a
directory the configuration then names.
"""

from __future__ import annotations

import os
from pathlib import Path

from kartoteka.application.shared.models import BUNDLED, ConfiguredModel, ModelPresence, ModelUnavailableError
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.ml.model_files import is_hub_id, resolve_model_path, revision_of

HUB_PREFIX = "hf-hub:"
#: The published ONNX export of a published recogniser, for ``recognizer.backend: onnx``.
ONNX_VARIANTS = {"Daniil-Domino/trocr-base-ru-dialectic-stackmix": "CherryJam/trocr-base-ru-dialectic-stackmix-onnx"}


class ModelDownloadError(Exception):
    """The hub could not give the model; the message says which model, which hub, and why."""


def configured_models(settings: Settings, *, with_onnx: bool = False) -> list[ConfiguredModel]:
    """The detector, the recogniser (and its ONNX export if asked), and the chosen gallery encoder's weights."""
    recognition = settings.recognition
    models = [ConfiguredModel("detector", recognition.detector.model)]
    models.append(ConfiguredModel("recognizer", recognition.recognizer.model))
    onnx = ONNX_VARIANTS.get(recognition.recognizer.model)
    if with_onnx and onnx is not None:
        models.append(ConfiguredModel("recognizer-onnx", onnx))
    registry = settings.embedding
    entry = registry.embedders.get(registry.chosen_embedder)
    if entry is not None:
        weights = [v for k, v in entry.kwargs.items() if isinstance(v, str) and k in {"model_name", "weights_path"}]
        reference = weights[0].removeprefix(HUB_PREFIX) if weights else BUNDLED
        models.append(ConfiguredModel(f"embedder:{registry.chosen_embedder}", reference))
    return models


def locate(model: ConfiguredModel) -> ModelPresence:
    if model.reference == BUNDLED:
        return ModelPresence(model, None, "package", None)
    try:
        path = resolve_model_path(model.reference, role=model.role)
    except ModelUnavailableError as exc:
        return ModelPresence(model, None, None, str(exc))
    return ModelPresence(model, path, revision_of(path), None)


def pull(reference: str, *, revision: str | None = None, to: Path | None = None) -> Path:
    """Download a hub model (resuming a partial download) into the hub cache, or ``to/<owner>/<name>``.

    The hub client must have been imported with offline mode off: the command sets
    ``HF_HUB_OFFLINE=0`` before anything imports it.
    """
    if not is_hub_id(reference):
        raise ModelDownloadError(f"{reference!r} is a local path, not a hub id (owner/name): nothing to download")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    missing = f"{reference}: no such model on {endpoint} (or it needs a token: HF_TOKEN)"
    target = None if to is None else to / reference
    try:
        return Path(snapshot_download(reference, revision=revision, local_dir=target))
    except RevisionNotFoundError as exc:
        raise ModelDownloadError(f"{reference}: no revision {revision!r} on {endpoint}") from exc
    except RepositoryNotFoundError as exc:
        raise ModelDownloadError(missing) from exc
    except LocalEntryNotFoundError as exc:
        # The client falls back to the local cache when the hub answers with an error, and reports
        # the miss; what the hub said is the cause.
        if isinstance(exc.__cause__, RepositoryNotFoundError):
            raise ModelDownloadError(
                f"{reference}: no such model on {endpoint} (or it needs a token: HF_TOKEN)"
            ) from exc
        if isinstance(exc.__cause__, HfHubHTTPError):
            raise ModelDownloadError(f"{reference}: download from {endpoint} failed: {exc.__cause__}") from exc
        raise ModelDownloadError(f"{reference}: {endpoint} cannot be reached from here") from exc
    except (HfHubHTTPError, OSError) as exc:
        raise ModelDownloadError(f"{reference}: download from {endpoint} failed: {exc}") from exc

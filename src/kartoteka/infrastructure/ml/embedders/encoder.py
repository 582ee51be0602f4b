"""RegistryImageEncoder: the ImageEncoder port over any registry embedder.

The gallery and the queries go through this one object, so an image is
decoded, oriented, flattened onto white, resized and normalised the same
way whichever side of a search it is on. Decoding happens per item (one bad
file becomes a NotEmbedded with its reason, the rest of the batch goes on);
the model sees one call per batch, always on the model's own inference
thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kartoteka.application.gallery.ports.embedding import (
    Embedded,
    EmbeddingModelId,
    EmbeddingOutcome,
    ImageKind,
    NotEmbedded,
    TextSearchUnsupportedError,
)
from kartoteka.infrastructure.ml.embedders.preprocessing import ImageRejectedError, Preprocessing, prepare
from kartoteka.infrastructure.ml.embedders.registry import EmbedderRegistry
from kartoteka.infrastructure.ml.runtime import InferenceThread

log = logging.getLogger(__name__)

_NORM_FLOOR = 1e-12


class EmbedderOutputError(RuntimeError):
    """The model answered with something other than one finite vector of the right size per input.

    Not an input problem, so not a NotEmbedded: the model or its configuration is wrong.
    """


class RegistryImageEncoder:
    """ImageEncoder for one registry embedder; the model's vectors are re-checked and L2-normalised here.

    An embedder is anything with ``embed(batch) -> [B, D]``; ``embed_sketch``
    (same input, sketch statistics) and ``embed_text(list[str]) -> [N, D]`` are
    used when present. ``dimension`` comes from the embedder's attribute or is
    given; :func:`load_image_encoder` probes it for embedders that do not say.
    """

    def __init__(
        self,
        embedder: Any,
        model: EmbeddingModelId,
        *,
        batch_size: int,
        max_pixels: int,
        dimension: int | None = None,
        thread: InferenceThread | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        declared = dimension if dimension is not None else getattr(embedder, "dimension", None)
        if not isinstance(declared, int) or declared < 1:
            raise ValueError(
                f"embedder {model.key!r} does not say its dimension; pass dimension= or use load_image_encoder"
            )
        self._embedder = embedder
        self._model = model
        self._dimension = declared
        self._batch_size = batch_size
        self._max_pixels = max_pixels
        self._preprocessing = Preprocessing.of(embedder)
        self._thread = thread if thread is not None else InferenceThread(f"embedder-{model.key}")

    @property
    def model(self) -> EmbeddingModelId:
        return self._model

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def supports_text(self) -> bool:
        return callable(getattr(self._embedder, "embed_text", None))

    @property
    def preprocessing(self) -> Preprocessing:
        return self._preprocessing

    @property
    def embedder(self) -> Any:
        return self._embedder

    async def embed_images(self, images: Sequence[bytes], kind: ImageKind = ImageKind.PHOTO) -> list[EmbeddingOutcome]:
        chunks = [images[s : s + self._batch_size] for s in range(0, len(images), self._batch_size)]
        outcomes: list[EmbeddingOutcome] = []
        # Decoding the next batch overlaps the model's work on the current one.
        pending = self._prepare_soon(chunks[0], kind) if chunks else None
        try:
            for index in range(len(chunks)):
                assert pending is not None
                prepared = await pending
                pending = self._prepare_soon(chunks[index + 1], kind) if index + 1 < len(chunks) else None
                outcomes.extend(await self._embed_prepared(prepared, kind))
        finally:
            if pending is not None:
                pending.cancel()
        return outcomes

    def _prepare_soon(
        self, chunk: Sequence[bytes], kind: ImageKind
    ) -> asyncio.Future[list[NDArray[np.float32] | NotEmbedded]]:
        return asyncio.ensure_future(asyncio.to_thread(self._prepare_all, chunk, kind))

    async def _embed_prepared(
        self, prepared: list[NDArray[np.float32] | NotEmbedded], kind: ImageKind
    ) -> list[EmbeddingOutcome]:
        usable = [(i, p) for i, p in enumerate(prepared) if not isinstance(p, NotEmbedded)]
        results: dict[int, EmbeddingOutcome] = {}
        if usable:
            batch = np.stack([p for _, p in usable])
            rows = await self._thread.run(self._embed_batch, batch, kind)
            results = {i: row for (i, _), row in zip(usable, rows, strict=True)}
        return [p if isinstance(p, NotEmbedded) else results[i] for i, p in enumerate(prepared)]

    async def embed_text(self, text: str) -> list[float]:
        if not self.supports_text:
            raise TextSearchUnsupportedError(f"embedder {self._model.key!r} has no text tower")
        raw = await self._thread.run(self._embedder.embed_text, [text])
        rows = _as_matrix(raw, expected_rows=1, dimension=self._dimension)
        outcome = _outcome(rows[0])
        if isinstance(outcome, NotEmbedded):
            raise EmbedderOutputError(f"embedder {self._model.key!r} text vector: {outcome.reason}")
        return outcome.vector

    def close(self) -> None:
        self._thread.close()

    def _prepare_all(self, chunk: Sequence[bytes], kind: ImageKind) -> list[NDArray[np.float32] | NotEmbedded]:
        prepared: list[NDArray[np.float32] | NotEmbedded] = []
        for data in chunk:
            try:
                prepared.append(prepare(data, self._preprocessing, kind, max_pixels=self._max_pixels))
            except ImageRejectedError as exc:
                prepared.append(NotEmbedded(str(exc)))
        return prepared

    def _model_call(self, kind: ImageKind) -> Callable[[NDArray[np.float32]], Any]:
        if kind is ImageKind.SKETCH:
            sketch = getattr(self._embedder, "embed_sketch", None)
            if callable(sketch):
                return sketch  # type: ignore[no-any-return]
        return self._embedder.embed  # type: ignore[no-any-return]

    def _embed_batch(self, batch: NDArray[np.float32], kind: ImageKind) -> list[EmbeddingOutcome]:
        """One model call for the batch (on the inference thread).

        If the call fails, each input is retried alone, so an input that trips
        the model costs only its own vector; a failure that every input shares
        is the model's, and is raised.
        """
        call = self._model_call(kind)
        try:
            return [_outcome(r) for r in _as_matrix(call(batch), expected_rows=len(batch), dimension=self._dimension)]
        except EmbedderOutputError:
            raise
        except Exception as batch_error:
            if len(batch) == 1:
                raise
            log.warning(
                "embedder %r failed on a batch of %d (%s); retrying one by one",
                self._model.key,
                len(batch),
                batch_error,
            )
        outcomes: list[EmbeddingOutcome] = []
        errors: list[Exception] = []
        for item in batch:
            try:
                row = _as_matrix(call(item[np.newaxis]), expected_rows=1, dimension=self._dimension)[0]
                outcomes.append(_outcome(row))
            except EmbedderOutputError:
                raise
            except Exception as exc:
                errors.append(exc)
                outcomes.append(NotEmbedded(f"the model failed on this image: {type(exc).__name__}: {exc}"))
        if len(errors) == len(batch):
            raise errors[0]
        return outcomes


def _as_matrix(raw: Any, *, expected_rows: int, dimension: int) -> NDArray[np.float64]:
    matrix = np.asarray(raw, dtype=np.float64)
    if matrix.ndim == 1 and expected_rows == 1:
        matrix = matrix[np.newaxis]
    if matrix.shape != (expected_rows, dimension):
        raise EmbedderOutputError(
            f"expected {expected_rows} vectors of dimension {dimension}, the model returned shape {matrix.shape}"
        )
    return matrix


def _outcome(row: NDArray[np.float64]) -> EmbeddingOutcome:
    if not np.all(np.isfinite(row)):
        return NotEmbedded("the model produced non-finite values for this image")
    norm = float(np.linalg.norm(row))
    if norm < _NORM_FLOOR:
        return NotEmbedded("the model produced a zero vector for this image")
    return Embedded([float(x) for x in (row / norm).astype(np.float32)])


async def load_image_encoder(registry: EmbedderRegistry, key: str | None = None) -> RegistryImageEncoder:
    """Build the registry's embedder on its inference thread and wrap it as an ImageEncoder.

    Loading runs on the thread that will run the model (CUDA state stays on
    one thread, the event loop stays free), as does hashing the weights for
    the version, which can take seconds the first time.
    """
    key = registry.chosen if key is None else key
    thread = InferenceThread(f"embedder-{key}")
    try:
        embedder = await thread.run(registry.create, key)
        version = await thread.run(registry.version_of, key)
        dimension = getattr(embedder, "dimension", None)
        if not isinstance(dimension, int):
            dimension = await thread.run(_probe_dimension, embedder)
    except BaseException:
        thread.close()
        raise
    settings = registry.settings
    return RegistryImageEncoder(
        embedder,
        EmbeddingModelId(key=key, version=version),
        batch_size=settings.batch_size,
        max_pixels=settings.max_pixels,
        dimension=dimension,
        thread=thread,
    )


def _probe_dimension(embedder: Any) -> int:
    spec = Preprocessing.of(embedder)
    shape = (1, spec.size, spec.size, 3) if spec.channels_last else (1, 3, spec.size, spec.size)
    output = np.asarray(embedder.embed(np.zeros(shape, dtype=np.float32)))
    if output.ndim != 2 or output.shape[0] != 1 or output.shape[1] < 1:
        raise EmbedderOutputError(f"embed() of one image returned shape {output.shape}, expected [1, D]")
    return int(output.shape[1])

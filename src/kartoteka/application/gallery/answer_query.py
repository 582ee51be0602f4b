"""AnswerQuery: a worker embeds one search query with the model the index was built with.

The api asks for a model by key and version; a worker that has loaded other
weights says so instead of answering from another vector space.
"""

from __future__ import annotations

from dataclasses import dataclass

from kartoteka.application.gallery.ports.embedding import (
    EmbeddingModelId,
    ImageEncoder,
    ImageKind,
    NotEmbedded,
    QueryInbox,
    TextSearchUnsupportedError,
)


@dataclass(frozen=True, slots=True)
class QueryAnswer:
    vector: list[float] | None = None
    unusable: str | None = None  # the query itself is bad: the client's fault
    unavailable: str | None = None  # this worker cannot answer for that model


class AnswerQuery:
    def __init__(self, encoder: ImageEncoder, inbox: QueryInbox) -> None:
        self._encoder = encoder
        self._inbox = inbox

    async def image(self, key: str, kind: ImageKind, model: EmbeddingModelId) -> QueryAnswer:
        if model != self._encoder.model:
            return self._other_model(model)
        data = await self._inbox.take(key)
        if data is None:
            return QueryAnswer(unavailable="the query image expired before a worker took it")
        (outcome,) = await self._encoder.embed_images([data], kind)
        if isinstance(outcome, NotEmbedded):
            return QueryAnswer(unusable=outcome.reason)
        return QueryAnswer(vector=outcome.vector)

    async def text(self, text: str, model: EmbeddingModelId) -> QueryAnswer:
        if model != self._encoder.model:
            return self._other_model(model)
        try:
            return QueryAnswer(vector=await self._encoder.embed_text(text))
        except TextSearchUnsupportedError as exc:
            return QueryAnswer(unusable=str(exc) or "the model cannot read text")

    def _other_model(self, model: EmbeddingModelId) -> QueryAnswer:
        loaded = self._encoder.model
        return QueryAnswer(
            unavailable=f"the index is {model.key}/{model.version} but the worker has {loaded.key}/{loaded.version}"
        )

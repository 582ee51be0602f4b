"""The gallery: its store and search (api, embedding worker, watcher), the encoder (worker), the watcher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from dishka import Provider, Scope, from_context, provide, provide_all
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.gallery.answer_query import AnswerQuery
from kartoteka.application.gallery.cards import SyncCardImage
from kartoteka.application.gallery.indexing import IndexImages, PrepareModel
from kartoteka.application.gallery.manage_images import DeleteImage, GalleryLimits, UploadImage
from kartoteka.application.gallery.ports.embedding import ImageEncoder, QueryEncoder, QueryInbox
from kartoteka.application.gallery.ports.files import FileHasher, ImageBytes, ThumbnailMaker
from kartoteka.application.gallery.ports.store import GalleryReader, GalleryUnitOfWork, ModelRegistry, VectorIndex
from kartoteka.application.gallery.search_images import (
    FindNearDuplicates,
    SearchByExample,
    SearchByImage,
    SearchByText,
)
from kartoteka.application.gallery.watching import ApplyFileChanges, ReconcileRoot
from kartoteka.application.shared.clock import Clock, NewId
from kartoteka.application.shared.storage import ObjectStorage
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.db.engine import listen_dsn
from kartoteka.infrastructure.db.gallery.models import SqlModelRegistry
from kartoteka.infrastructure.db.gallery.reader import PgVectorIndex, SqlGalleryReader
from kartoteka.infrastructure.imaging.gallery_files import GalleryFiles
from kartoteka.infrastructure.imaging.inspector import GALLERY_ACCEPTED, PillowImageInspector
from kartoteka.infrastructure.imaging.thumbnails import PillowThumbnailMaker
from kartoteka.infrastructure.messaging.jobs import make_broker
from kartoteka.infrastructure.messaging.query_embedding import RedisQueryInbox, TaskiqQueryEncoder
from kartoteka.infrastructure.ml.embedders.encoder import load_image_encoder
from kartoteka.infrastructure.ml.embedders.registry import EmbedderRegistry
from kartoteka.infrastructure.ml.runtime import resolve_device
from kartoteka.infrastructure.watcher.follow import WatchRoots
from kartoteka.infrastructure.watcher.hashing import RootFileHasher


class GalleryStoreProvider(Provider):
    """The gallery's rows, vectors and bytes: the api, the embedding worker and the watcher share them."""

    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    reader = provide(SqlGalleryReader, provides=GalleryReader)

    @provide
    def models(self, engine: AsyncEngine) -> ModelRegistry:
        return SqlModelRegistry(engine)

    @provide
    def vector_index(self, engine: AsyncEngine) -> VectorIndex:
        return PgVectorIndex(engine)

    @provide
    def thumbnails(self, settings: Settings) -> ThumbnailMaker:
        return PillowThumbnailMaker(settings.gallery.thumbnail_size, settings.embedding.max_pixels)

    @provide
    def image_bytes(self, settings: Settings, storage: ObjectStorage) -> ImageBytes:
        return GalleryFiles({root.display_name: root.path for root in settings.gallery.roots}, storage)


class GalleryApiProvider(Provider):
    """Search, upload and delete; query images are embedded by a worker, never in the api."""

    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    use_cases = provide_all(SearchByImage, SearchByText, FindNearDuplicates, DeleteImage)

    @provide
    def search_by_example(
        self,
        settings: Settings,
        models: ModelRegistry,
        index: VectorIndex,
        encoder: QueryEncoder,
        reader: GalleryReader,
    ) -> SearchByExample:
        inspector = PillowImageInspector(GALLERY_ACCEPTED)
        return SearchByExample(models, index, encoder, reader, inspector, settings.embedding.max_pixels)

    @provide
    async def query_encoder(self, settings: Settings, redis: Redis) -> AsyncIterator[QueryEncoder]:
        broker = make_broker(settings.broker, settings.redis.url, ("embedding",), results=True)
        encoder = TaskiqQueryEncoder(broker, redis, settings.embedding.query_timeout_s)
        yield encoder
        await encoder.close()

    @provide
    def limits(self, settings: Settings) -> GalleryLimits:
        return GalleryLimits(max_upload_bytes=settings.api.max_upload_bytes, max_pixels=settings.embedding.max_pixels)

    @provide
    def upload_image(
        self,
        uow: Callable[[], GalleryUnitOfWork],
        storage: ObjectStorage,
        limits: GalleryLimits,
        clock: Clock,
        new_id: NewId,
    ) -> UploadImage:
        return UploadImage(uow, storage, PillowImageInspector(GALLERY_ACCEPTED), limits, clock, new_id)


class EmbeddingWorkerProvider(Provider):
    """The embedding worker: the chosen encoder (loaded on first use) and the jobs that need it."""

    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    use_cases = provide_all(IndexImages, SyncCardImage, AnswerQuery)
    inbox = provide(RedisQueryInbox, provides=QueryInbox)

    @provide
    async def encoder(self, settings: Settings) -> AsyncIterator[ImageEncoder]:
        registry = EmbedderRegistry(settings.embedding, device=resolve_device(settings.inference))
        encoder = await load_image_encoder(registry)
        yield encoder
        encoder.close()

    @provide
    def prepare_model(
        self, settings: Settings, uow: Callable[[], GalleryUnitOfWork], encoder: ImageEncoder, models: ModelRegistry
    ) -> PrepareModel:
        return PrepareModel(uow, encoder, models, settings.embedding.batch_size)


class WatcherProvider(Provider):
    """The index following the watched roots."""

    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    @provide
    def hasher(self, settings: Settings) -> FileHasher:
        return RootFileHasher({root.display_name: root.path for root in settings.gallery.roots})

    @provide
    def apply_file_changes(
        self, settings: Settings, uow: Callable[[], GalleryUnitOfWork], hasher: FileHasher, clock: Clock, new_id: NewId
    ) -> ApplyFileChanges:
        return ApplyFileChanges(uow, hasher, clock, new_id, settings.gallery.batch_size)

    @provide
    def reconcile_root(
        self, settings: Settings, uow: Callable[[], GalleryUnitOfWork], hasher: FileHasher, clock: Clock, new_id: NewId
    ) -> ReconcileRoot:
        return ReconcileRoot(uow, hasher, clock, new_id, settings.gallery.batch_size)

    @provide
    def watch_roots(self, settings: Settings, reconcile: ReconcileRoot, apply: ApplyFileChanges) -> WatchRoots:
        return WatchRoots(reconcile, apply, settings.gallery, listen_dsn(settings.database.url))

"""Composition root: the only module that knows both the ports and their adapters.

One container per process kind. The recognition pipeline's models load when
the container is built, so a missing model stops a worker (or the CLI) at
start-up with a message naming it, instead of failing the first job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from uuid import uuid4

from dishka import AsyncContainer, Provider, Scope, from_context, make_async_container, provide
from PIL import Image
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from kartoteka.application.gallery.answer_query import AnswerQuery
from kartoteka.application.gallery.cards import SyncCardImage
from kartoteka.application.gallery.indexing import IndexImages, PrepareModel
from kartoteka.application.gallery.manage_images import DeleteImage, GalleryLimits, UploadImage
from kartoteka.application.gallery.ports.embedding import ImageEncoder, QueryEncoder
from kartoteka.application.gallery.ports.files import ImageBytes, ThumbnailMaker
from kartoteka.application.gallery.ports.store import GalleryReader, GalleryUnitOfWork, ModelRegistry, VectorIndex
from kartoteka.application.gallery.search_images import FindNearDuplicates, SearchByExample, SearchByImage, SearchByText
from kartoteka.application.identity.otp import StartOtp, VerifyOtp
from kartoteka.application.identity.policy import IdentityPolicy, OtpPolicy, SecretSource, SystemSecrets
from kartoteka.application.identity.ports import (
    CredentialStore,
    EmailSyntax,
    IdentityUnitOfWork,
    Mailer,
    RateLimit,
    RateLimiter,
)
from kartoteka.application.identity.sessions import Authenticate, GetSession, Logout, LogoutEverywhere, PurgeExpired
from kartoteka.application.identity.tokens import CreateApiToken, ListApiTokens, RevokeApiToken
from kartoteka.application.identity.users import (
    CreateUser,
    DeleteUser,
    EnsureDefaultAdmin,
    GetUser,
    ListUsers,
    UpdateUser,
)
from kartoteka.application.recognition.batches import CancelBatch, DeleteBatch, GetBatch, RetryFailedCards
from kartoteka.application.recognition.corrections import CorrectTranscript, GetTranscript, ListRevisions
from kartoteka.application.recognition.exports import ExportBatch, ExportTranscript
from kartoteka.application.recognition.manage_tasks import CancelTask, DeleteTask, GetTask, RetryTask
from kartoteka.application.recognition.outbox_messages import messages_for
from kartoteka.application.recognition.ports.exports import ExportBundler, ExportFormats
from kartoteka.application.recognition.ports.pages import PageSplitter
from kartoteka.application.recognition.ports.progress import CancellationProbe, ProgressFeed
from kartoteka.application.recognition.ports.task_reader import TaskReader
from kartoteka.application.recognition.ports.tasks import UnitOfWork
from kartoteka.application.recognition.ports.transcript_index import TranscriptIndex
from kartoteka.application.recognition.process_card import ProcessCard
from kartoteka.application.recognition.recognize_card import RecognizeCard
from kartoteka.application.recognition.search_transcripts import SearchTranscripts
from kartoteka.application.recognition.submit_cards import SubmitCards, UploadLimits
from kartoteka.application.shared.clock import Clock
from kartoteka.application.shared.health import DependencyCheck
from kartoteka.application.shared.storage import ObjectStorage
from kartoteka.domain.recognition.layout import LayoutRules
from kartoteka.infrastructure.clock import utc_now
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.db.engine import create_engine
from kartoteka.infrastructure.db.gallery.models import SqlModelRegistry
from kartoteka.infrastructure.db.gallery.reader import PgVectorIndex, SqlGalleryReader
from kartoteka.infrastructure.db.gallery.unit_of_work import SqlGalleryUnitOfWork
from kartoteka.infrastructure.db.identity.credentials import SqlCredentialStore
from kartoteka.infrastructure.db.identity.unit_of_work import SqlIdentityUnitOfWork
from kartoteka.infrastructure.db.recognition.cancellation import SqlCancellationProbe
from kartoteka.infrastructure.db.recognition.progress_store import SqlProgressStore
from kartoteka.infrastructure.db.recognition.task_reader import SqlTaskReader
from kartoteka.infrastructure.db.recognition.transcript_index import SqlTranscriptIndex
from kartoteka.infrastructure.db.recognition.unit_of_work import SqlUnitOfWork
from kartoteka.infrastructure.export.registry import default_export_formats
from kartoteka.infrastructure.export.zip_bundle import ZipBundler
from kartoteka.infrastructure.health.checks import DatabaseCheck, RabbitCheck, RedisCheck, StorageCheck
from kartoteka.infrastructure.imaging.gallery_files import GalleryFiles
from kartoteka.infrastructure.imaging.inspector import GALLERY_ACCEPTED, PillowImageInspector
from kartoteka.infrastructure.imaging.pages import PillowPdfiumPageSplitter
from kartoteka.infrastructure.imaging.thumbnails import PillowThumbnailMaker
from kartoteka.infrastructure.mail.addresses import EmailValidatorSyntax
from kartoteka.infrastructure.mail.smtp import SmtpMailer
from kartoteka.infrastructure.messaging.jobs import make_broker
from kartoteka.infrastructure.messaging.live_events import RedisGalleryEventSource, RedisLiveEventSource
from kartoteka.infrastructure.messaging.progress_feed import RedisProgressFeed
from kartoteka.infrastructure.messaging.query_embedding import RedisQueryInbox, TaskiqQueryEncoder
from kartoteka.infrastructure.ml.embedders.encoder import load_image_encoder
from kartoteka.infrastructure.ml.embedders.registry import EmbedderRegistry
from kartoteka.infrastructure.ml.images import PillowCardImageLoader
from kartoteka.infrastructure.ml.runtime import Device, resolve_device
from kartoteka.infrastructure.ml.trocr_recognizer import TrOcrRecognizer
from kartoteka.infrastructure.ml.yolo_detector import YoloWordDetector
from kartoteka.infrastructure.ratelimit.redis_rate_limiter import RedisRateLimiter
from kartoteka.infrastructure.storage.s3 import S3ObjectStorage
from kartoteka.presentation.http.auth import AuthOptions
from kartoteka.presentation.http.gallery_events import GalleryEventHub
from kartoteka.presentation.http.live import LiveHub
from kartoteka.presentation.http.memory import MemoryReleaser

CardRecognition = RecognizeCard[Image.Image]
UnitOfWorkFactory = Callable[[], UnitOfWork]
GalleryUnitOfWorkFactory = Callable[[], GalleryUnitOfWork]
IdentityUnitOfWorkFactory = Callable[[], IdentityUnitOfWork]


class RecognitionPipelineProvider(Provider):
    """Models and the RecognizeCard use case, for the worker and the CLI."""

    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    @provide
    def device(self, settings: Settings) -> Device:
        return resolve_device(settings.inference)

    @provide
    def layout_rules(self, settings: Settings) -> LayoutRules:
        s = settings.recognition.layout
        return LayoutRules(
            containment_threshold=s.containment_threshold,
            line_overlap_threshold=s.line_overlap_threshold,
            merge_overlapping=s.merge_overlapping,
        )

    @provide
    def loader(self, settings: Settings) -> PillowCardImageLoader:
        return PillowCardImageLoader(max_pixels=settings.recognition.max_pixels)

    @provide
    def detector(self, settings: Settings, device: Device) -> Iterator[YoloWordDetector]:
        detector = YoloWordDetector(settings.recognition.detector, device)
        yield detector
        detector.close()

    @provide
    def recognizer(self, settings: Settings, device: Device) -> Iterator[TrOcrRecognizer]:
        recognizer = TrOcrRecognizer(settings.recognition.recognizer, device)
        yield recognizer
        recognizer.close()

    @provide
    def recognize_card(
        self,
        loader: PillowCardImageLoader,
        detector: YoloWordDetector,
        recognizer: TrOcrRecognizer,
        rules: LayoutRules,
    ) -> CardRecognition:
        return RecognizeCard(loader, detector, recognizer, rules)


class ServicesProvider(Provider):
    """Connections to the servers every process kind uses: PostgreSQL, S3, Redis."""

    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    @provide
    async def engine(self, settings: Settings) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(settings.database)
        yield engine
        await engine.dispose()

    @provide
    def unit_of_work(self, engine: AsyncEngine) -> UnitOfWorkFactory:
        return lambda: SqlUnitOfWork(engine, messages_for)

    @provide
    async def storage(self, settings: Settings) -> AsyncIterator[ObjectStorage]:
        storage = S3ObjectStorage(settings.s3)
        try:
            await storage.ensure_bucket()
        except BaseException:
            await storage.close()
            raise
        yield storage
        await storage.close()

    @provide
    async def redis(self, settings: Settings) -> AsyncIterator[Redis]:
        client = Redis.from_url(settings.redis.url)
        yield client
        await client.aclose()


class WorkerProvider(Provider):
    """The recognition worker's use case, on top of the pipeline and the services."""

    scope = Scope.APP

    @provide
    def feed(self, redis: Redis) -> ProgressFeed:
        return RedisProgressFeed(redis)

    @provide
    def probe(self, engine: AsyncEngine) -> CancellationProbe:
        return SqlCancellationProbe(engine)

    @provide
    def process_card(
        self,
        uow: UnitOfWorkFactory,
        storage: ObjectStorage,
        recognize: CardRecognition,
        feed: ProgressFeed,
        probe: CancellationProbe,
        engine: AsyncEngine,
    ) -> ProcessCard:
        return ProcessCard(uow, storage, recognize, feed, probe, utc_now, store=SqlProgressStore(engine))


class GalleryProvider(Provider):
    """The gallery's store, search and files: shared by the api, the embedding worker and the watcher."""

    scope = Scope.APP

    @provide
    def gallery_unit_of_work(self, engine: AsyncEngine) -> GalleryUnitOfWorkFactory:
        return lambda: SqlGalleryUnitOfWork(engine)

    @provide
    def model_registry(self, engine: AsyncEngine) -> ModelRegistry:
        return SqlModelRegistry(engine)

    @provide
    def gallery_reader(self, engine: AsyncEngine) -> GalleryReader:
        return SqlGalleryReader(engine)

    @provide
    def vector_index(self, engine: AsyncEngine) -> VectorIndex:
        return PgVectorIndex(engine)

    @provide
    def image_bytes(self, settings: Settings, storage: ObjectStorage) -> ImageBytes:
        return GalleryFiles({root.display_name: root.path for root in settings.gallery.roots}, storage)

    @provide
    def thumbnails(self, settings: Settings) -> ThumbnailMaker:
        return PillowThumbnailMaker(settings.gallery.thumbnail_size, settings.embedding.max_pixels)


class EmbeddingProvider(Provider):
    """The embedding worker: the chosen encoder (loaded when first asked for) and its use cases."""

    scope = Scope.APP

    @provide
    async def encoder(self, settings: Settings) -> AsyncIterator[ImageEncoder]:
        registry = EmbedderRegistry(settings.embedding, device=resolve_device(settings.inference))
        encoder = await load_image_encoder(registry)
        yield encoder
        encoder.close()

    @provide
    def index_images(
        self,
        uow: GalleryUnitOfWorkFactory,
        encoder: ImageEncoder,
        files: ImageBytes,
        thumbnails: ThumbnailMaker,
        storage: ObjectStorage,
        models: ModelRegistry,
    ) -> IndexImages:
        return IndexImages(uow, encoder, files, thumbnails, storage, models)

    @provide
    def prepare_model(
        self, settings: Settings, uow: GalleryUnitOfWorkFactory, encoder: ImageEncoder, models: ModelRegistry
    ) -> PrepareModel:
        return PrepareModel(uow, encoder, models, settings.embedding.batch_size)

    @provide
    def sync_card_image(
        self, tasks: UnitOfWorkFactory, gallery: GalleryUnitOfWorkFactory, storage: ObjectStorage
    ) -> SyncCardImage:
        return SyncCardImage(tasks, gallery, storage, utc_now)

    @provide
    def answer_query(self, encoder: ImageEncoder, redis: Redis) -> AnswerQuery:
        return AnswerQuery(encoder, RedisQueryInbox(redis))


class ApiProvider(Provider):
    """Use cases the HTTP api serves; no model library is reachable from here."""

    scope = Scope.APP

    @provide
    def limits(self, settings: Settings) -> UploadLimits:
        return UploadLimits(
            max_upload_bytes=settings.api.max_upload_bytes,
            max_pixels=settings.recognition.max_pixels,
            max_files=settings.api.max_files,
            max_cards=settings.documents.max_pages,
        )

    @provide
    def page_splitter(self, settings: Settings) -> PageSplitter:
        return PillowPdfiumPageSplitter(
            max_pixels=settings.recognition.max_pixels,
            pdf_dpi=settings.documents.pdf_dpi,
            max_pages=settings.documents.max_pages,
        )

    @provide
    def submit_cards(
        self, uow: UnitOfWorkFactory, storage: ObjectStorage, limits: UploadLimits, splitter: PageSplitter
    ) -> SubmitCards:
        return SubmitCards(uow, storage, PillowImageInspector(), limits, utc_now, uuid4, splitter=splitter)

    @provide
    def export_formats(self) -> ExportFormats:
        return default_export_formats()

    @provide
    def export_bundler(self) -> ExportBundler:
        return ZipBundler()

    @provide
    def export_transcript(self, uow: UnitOfWorkFactory, formats: ExportFormats) -> ExportTranscript:
        return ExportTranscript(uow, formats)

    @provide
    def export_batch(self, uow: UnitOfWorkFactory, formats: ExportFormats, bundler: ExportBundler) -> ExportBatch:
        return ExportBatch(uow, formats, bundler, utc_now)

    @provide
    def correct_transcript(self, uow: UnitOfWorkFactory) -> CorrectTranscript:
        return CorrectTranscript(uow, utc_now)

    @provide
    def get_transcript(self, uow: UnitOfWorkFactory) -> GetTranscript:
        return GetTranscript(uow)

    @provide
    def list_revisions(self, uow: UnitOfWorkFactory) -> ListRevisions:
        return ListRevisions(uow)

    @provide
    def get_batch(self, uow: UnitOfWorkFactory) -> GetBatch:
        return GetBatch(uow)

    @provide
    def cancel_batch(self, uow: UnitOfWorkFactory) -> CancelBatch:
        return CancelBatch(uow, utc_now)

    @provide
    def retry_failed_cards(self, uow: UnitOfWorkFactory) -> RetryFailedCards:
        return RetryFailedCards(uow, utc_now)

    @provide
    def delete_batch(self, uow: UnitOfWorkFactory, storage: ObjectStorage) -> DeleteBatch:
        return DeleteBatch(uow, storage, utc_now)

    @provide
    def transcript_index(self, engine: AsyncEngine) -> TranscriptIndex:
        return SqlTranscriptIndex(engine)

    @provide
    def search_transcripts(self, index: TranscriptIndex) -> SearchTranscripts:
        return SearchTranscripts(index)

    @provide
    def get_task(self, uow: UnitOfWorkFactory) -> GetTask:
        return GetTask(uow)

    @provide
    def cancel_task(self, uow: UnitOfWorkFactory) -> CancelTask:
        return CancelTask(uow, utc_now)

    @provide
    def retry_task(self, uow: UnitOfWorkFactory) -> RetryTask:
        return RetryTask(uow, utc_now)

    @provide
    def delete_task(self, uow: UnitOfWorkFactory, storage: ObjectStorage) -> DeleteTask:
        return DeleteTask(uow, storage, utc_now)

    @provide
    def task_reader(self, engine: AsyncEngine) -> TaskReader:
        return SqlTaskReader(engine)

    @provide
    def gallery_limits(self, settings: Settings) -> GalleryLimits:
        return GalleryLimits(max_upload_bytes=settings.api.max_upload_bytes, max_pixels=settings.embedding.max_pixels)

    @provide
    def upload_image(self, uow: GalleryUnitOfWorkFactory, storage: ObjectStorage, limits: GalleryLimits) -> UploadImage:
        return UploadImage(uow, storage, PillowImageInspector(GALLERY_ACCEPTED), limits, utc_now, uuid4)

    @provide
    def delete_image(self, uow: GalleryUnitOfWorkFactory, storage: ObjectStorage) -> DeleteImage:
        return DeleteImage(uow, storage)

    @provide
    async def query_encoder(self, settings: Settings, redis: Redis) -> AsyncIterator[QueryEncoder]:
        broker = make_broker(settings.broker, settings.redis.url, ("embedding",), results=True)
        encoder = TaskiqQueryEncoder(broker, redis, settings.embedding.query_timeout_s)
        yield encoder
        await encoder.close()

    @provide
    def search_by_example(
        self, models: ModelRegistry, index: VectorIndex, encoder: QueryEncoder, reader: GalleryReader
    ) -> SearchByExample:
        return SearchByExample(models, index, encoder, reader)

    @provide
    def search_by_image(
        self, models: ModelRegistry, index: VectorIndex, encoder: QueryEncoder, reader: GalleryReader
    ) -> SearchByImage:
        return SearchByImage(models, index, encoder, reader)

    @provide
    def search_by_text(
        self, models: ModelRegistry, index: VectorIndex, encoder: QueryEncoder, reader: GalleryReader
    ) -> SearchByText:
        return SearchByText(models, index, encoder, reader)

    @provide
    def near_duplicates(self, models: ModelRegistry, index: VectorIndex) -> FindNearDuplicates:
        return FindNearDuplicates(models, index)

    @provide
    async def gallery_events(self, redis: Redis) -> AsyncIterator[GalleryEventHub]:
        hub = GalleryEventHub(RedisGalleryEventSource(redis))
        yield hub
        await hub.stop()

    @provide
    def memory_releaser(self) -> MemoryReleaser:
        return MemoryReleaser()

    @provide
    async def live_hub(self, redis: Redis, reader: TaskReader) -> AsyncIterator[LiveHub]:
        hub = LiveHub(RedisLiveEventSource(redis), reader)
        yield hub
        await hub.stop()

    @provide
    def readiness(
        self, settings: Settings, engine: AsyncEngine, redis: Redis, storage: ObjectStorage
    ) -> list[DependencyCheck]:
        checks: list[DependencyCheck] = [DatabaseCheck(engine), RedisCheck(redis), StorageCheck(storage)]
        if settings.broker.url:
            checks.append(RabbitCheck(settings.broker.url))
        return checks


class IdentityProvider(Provider):
    """Logins, sessions, users and API tokens for the api. ``Clock`` is provided here so that tests
    can replace it (a later provider of the same type wins) and move time instead of sleeping."""

    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    @provide
    def clock(self) -> Clock:
        return utc_now

    @provide
    def policy(self, settings: Settings) -> IdentityPolicy:
        a = settings.auth
        window = a.rate_window_s
        return IdentityPolicy(
            enabled=a.kind == "otp",
            otp=OtpPolicy(
                length=a.otp_length,
                alphabet=a.otp_alphabet,
                ttl=timedelta(seconds=a.otp_ttl_s),
                max_attempts=a.max_attempts,
            ),
            session_ttl=timedelta(seconds=a.session_ttl_s),
            secret_key=a.secret_key.get_secret_value().encode("utf-8"),
            start_per_email=RateLimit(a.start_limit_per_email, window),
            start_per_address=RateLimit(a.start_limit_per_address, window),
            verify_per_address=RateLimit(a.verify_limit_per_address, window),
            attempts_retention=timedelta(days=a.attempts_retention_days),
            default_admin_email=a.default_user_email,
        )

    @provide
    def auth_options(self, settings: Settings) -> AuthOptions:
        """Synchronous on purpose: the app reads it with ``get_sync`` to know which routes to mount."""
        a = settings.auth
        return AuthOptions(enabled=a.kind == "otp", cookie_secure=a.cookie_secure, purge_interval_s=a.purge_interval_s)

    @provide
    def identity_unit_of_work(self, engine: AsyncEngine) -> IdentityUnitOfWorkFactory:
        return lambda: SqlIdentityUnitOfWork(engine)

    @provide
    def credentials(self, engine: AsyncEngine) -> CredentialStore:
        return SqlCredentialStore(engine)

    @provide
    def rate_limiter(self, redis: Redis, clock: Clock) -> RateLimiter:
        return RedisRateLimiter(redis, clock)

    @provide
    def mailer(self, settings: Settings) -> Mailer:
        return SmtpMailer(settings.auth.smtp)

    @provide
    def email_syntax(self) -> EmailSyntax:
        return EmailValidatorSyntax()

    @provide
    def secrets(self) -> SecretSource:
        return SystemSecrets()

    @provide
    def start_otp(
        self,
        uow: IdentityUnitOfWorkFactory,
        emails: EmailSyntax,
        limiter: RateLimiter,
        mailer: Mailer,
        secrets: SecretSource,
        policy: IdentityPolicy,
        clock: Clock,
    ) -> StartOtp:
        return StartOtp(uow, emails, limiter, mailer, secrets, policy, clock, uuid4)

    @provide
    def verify_otp(
        self,
        uow: IdentityUnitOfWorkFactory,
        limiter: RateLimiter,
        secrets: SecretSource,
        policy: IdentityPolicy,
        clock: Clock,
    ) -> VerifyOtp:
        return VerifyOtp(uow, limiter, secrets, policy, clock, uuid4)

    @provide
    def authenticate(self, credentials: CredentialStore, policy: IdentityPolicy, clock: Clock) -> Authenticate:
        return Authenticate(credentials, policy, clock)

    @provide
    def get_session(
        self, credentials: CredentialStore, authenticate: Authenticate, policy: IdentityPolicy, clock: Clock
    ) -> GetSession:
        return GetSession(credentials, authenticate, policy, clock)

    @provide
    def logout(self, uow: IdentityUnitOfWorkFactory, clock: Clock) -> Logout:
        return Logout(uow, clock)

    @provide
    def logout_everywhere(self, uow: IdentityUnitOfWorkFactory, clock: Clock) -> LogoutEverywhere:
        return LogoutEverywhere(uow, clock)

    @provide
    def purge_expired(self, uow: IdentityUnitOfWorkFactory, policy: IdentityPolicy, clock: Clock) -> PurgeExpired:
        return PurgeExpired(uow, policy, clock)

    @provide
    def list_users(self, uow: IdentityUnitOfWorkFactory) -> ListUsers:
        return ListUsers(uow)

    @provide
    def get_user(self, uow: IdentityUnitOfWorkFactory) -> GetUser:
        return GetUser(uow)

    @provide
    def create_user(self, uow: IdentityUnitOfWorkFactory, emails: EmailSyntax, clock: Clock) -> CreateUser:
        return CreateUser(uow, emails, clock, uuid4)

    @provide
    def update_user(self, uow: IdentityUnitOfWorkFactory, emails: EmailSyntax, clock: Clock) -> UpdateUser:
        return UpdateUser(uow, emails, clock)

    @provide
    def delete_user(self, uow: IdentityUnitOfWorkFactory) -> DeleteUser:
        return DeleteUser(uow)

    @provide
    def ensure_default_admin(
        self, uow: IdentityUnitOfWorkFactory, emails: EmailSyntax, policy: IdentityPolicy, clock: Clock
    ) -> EnsureDefaultAdmin:
        return EnsureDefaultAdmin(uow, emails, policy, clock, uuid4)

    @provide
    def create_api_token(self, uow: IdentityUnitOfWorkFactory, secrets: SecretSource, clock: Clock) -> CreateApiToken:
        return CreateApiToken(uow, secrets, clock, uuid4)

    @provide
    def list_api_tokens(self, uow: IdentityUnitOfWorkFactory) -> ListApiTokens:
        return ListApiTokens(uow)

    @provide
    def revoke_api_token(self, uow: IdentityUnitOfWorkFactory, clock: Clock) -> RevokeApiToken:
        return RevokeApiToken(uow, clock)


def api_container(settings: Settings, *overrides: Provider) -> AsyncContainer:
    """``overrides`` replace what the providers before them provide (tests: a clock they move)."""
    from dishka.integrations.fastapi import FastapiProvider

    return make_async_container(
        ServicesProvider(),
        GalleryProvider(),
        ApiProvider(),
        IdentityProvider(),
        FastapiProvider(),
        *overrides,
        context={Settings: settings},
    )


def recognition_container(settings: Settings) -> AsyncContainer:
    return make_async_container(RecognitionPipelineProvider(), context={Settings: settings})


def worker_container(settings: Settings) -> AsyncContainer:
    from dishka.integrations.taskiq import TaskiqProvider

    return make_async_container(
        RecognitionPipelineProvider(),
        ServicesProvider(),
        WorkerProvider(),
        GalleryProvider(),
        EmbeddingProvider(),
        TaskiqProvider(),
        context={Settings: settings},
    )

"""Recognition: the models and the use cases of the api and the recognition worker."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from dishka import Provider, Scope, from_context, provide, provide_all
from PIL import Image

from kartoteka.application.recognition.batches import CancelBatch, DeleteBatch, GetBatch, ListBatches, RetryFailedCards
from kartoteka.application.recognition.corrections import CorrectTranscript, GetTranscript, ListRevisions
from kartoteka.application.recognition.exports import ExportBatch, ExportTranscript
from kartoteka.application.recognition.ground_truth import CorrectionsAsGroundTruth
from kartoteka.application.recognition.manage_tasks import CancelTask, DeleteTask, GetTask, RetryTask
from kartoteka.application.recognition.ports.batch_reader import BatchReader
from kartoteka.application.recognition.ports.corrected_cards import CorrectedCards
from kartoteka.application.recognition.ports.exports import ExportBundler, ExportFormats
from kartoteka.application.recognition.ports.leases import LeaseKeeper
from kartoteka.application.recognition.ports.metrics import JobMetrics
from kartoteka.application.recognition.ports.pages import PageSplitter
from kartoteka.application.recognition.ports.progress import CancellationProbe, ProgressFeed, ProgressStore
from kartoteka.application.recognition.ports.task_reader import TaskReader
from kartoteka.application.recognition.ports.tasks import UnitOfWork
from kartoteka.application.recognition.ports.transcript_index import TranscriptIndex
from kartoteka.application.recognition.process_card import CardRecognizer, ProcessCard
from kartoteka.application.recognition.recognize_card import RecognizeCard
from kartoteka.application.recognition.search_transcripts import SearchTranscripts
from kartoteka.application.recognition.submit_cards import SubmitCards, UploadLimits
from kartoteka.application.shared.clock import Clock, NewId
from kartoteka.application.shared.storage import ObjectStorage
from kartoteka.domain.recognition.layout import LayoutRules
from kartoteka.domain.recognition.retries import RetryPolicy
from kartoteka.infrastructure.config.settings import Settings
from kartoteka.infrastructure.db.recognition.batch_reader import SqlBatchReader
from kartoteka.infrastructure.db.recognition.cancellation import SqlCancellationProbe
from kartoteka.infrastructure.db.recognition.corrected_cards import SqlCorrectedCards
from kartoteka.infrastructure.db.recognition.leases import SqlLeaseKeeper
from kartoteka.infrastructure.db.recognition.progress_store import SqlProgressStore
from kartoteka.infrastructure.db.recognition.task_reader import SqlTaskReader
from kartoteka.infrastructure.db.recognition.transcript_index import SqlTranscriptIndex
from kartoteka.infrastructure.export.registry import default_export_formats
from kartoteka.infrastructure.export.zip_bundle import ZipBundler
from kartoteka.infrastructure.imaging.inspector import PillowImageInspector
from kartoteka.infrastructure.imaging.pages import PillowPdfiumPageSplitter
from kartoteka.infrastructure.messaging.progress_feed import RedisProgressFeed
from kartoteka.infrastructure.ml.images import PillowCardImageLoader
from kartoteka.infrastructure.ml.runtime import Device, resolve_device
from kartoteka.infrastructure.ml.trocr_recognizer import TrOcrRecognizer
from kartoteka.infrastructure.ml.yolo_detector import YoloWordDetector
from kartoteka.infrastructure.observability.metrics import PrometheusJobMetrics

CardRecognition = RecognizeCard[Image.Image]


class RecognitionModelsProvider(Provider):
    """The detector and recogniser, loaded when the container is first asked for them, so a missing
    model stops the worker (or the CLI) at start-up with a message naming it."""

    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    @provide
    def device(self, settings: Settings) -> Device:
        return resolve_device(settings.inference)

    @provide
    def layout_rules(self, settings: Settings) -> LayoutRules:
        s = settings.recognition.layout
        return LayoutRules(s.containment_threshold, s.line_overlap_threshold, s.merge_overlapping)

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
    def job_metrics(self) -> JobMetrics:
        """Prometheus's default registry; outside a worker (the CLI) nothing serves it, which costs nothing."""
        return PrometheusJobMetrics()

    @provide
    def recognize_card(
        self,
        loader: PillowCardImageLoader,
        detector: YoloWordDetector,
        recognizer: TrOcrRecognizer,
        rules: LayoutRules,
        metrics: JobMetrics,
    ) -> CardRecognition:
        return RecognizeCard(loader, detector, recognizer, rules, metrics)


class RecognitionWorkerProvider(Provider):
    """What a recognition job needs around the models: progress, cancellation, the task store."""

    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    feed = provide(RedisProgressFeed, provides=ProgressFeed)
    probe = provide(SqlCancellationProbe, provides=CancellationProbe)
    store = provide(SqlProgressStore, provides=ProgressStore)
    leases = provide(SqlLeaseKeeper, provides=LeaseKeeper)

    @provide
    def process_card(
        self,
        settings: Settings,
        uow: Callable[[], UnitOfWork],
        storage: ObjectStorage,
        recognize: CardRecognizer,
        feed: ProgressFeed,
        probe: CancellationProbe,
        clock: Clock,
        store: ProgressStore,
        leases: LeaseKeeper,
        policy: RetryPolicy,
        metrics: JobMetrics,
    ) -> ProcessCard:
        return ProcessCard(
            uow, storage, recognize, feed, probe, clock, store, leases, policy, settings.broker.job_timeout_s, metrics
        )

    @provide
    def recognizer(self, recognize: CardRecognition) -> CardRecognizer:
        return recognize


class GroundTruthProvider(Provider):
    """The archive's corrected cards as ground truth (``kartoteka eval --from-corrections``)."""

    scope = Scope.APP

    cards = provide(SqlCorrectedCards, provides=CorrectedCards)
    samples = provide(CorrectionsAsGroundTruth)


class RecognitionApiProvider(Provider):
    """The use cases the api serves for recognition; no model library is reachable from here."""

    scope = Scope.APP
    settings = from_context(provides=Settings, scope=Scope.APP)

    use_cases = provide_all(
        GetTask,
        CancelTask,
        RetryTask,
        DeleteTask,
        ListBatches,
        GetBatch,
        CancelBatch,
        RetryFailedCards,
        DeleteBatch,
        CorrectTranscript,
        GetTranscript,
        ListRevisions,
        ExportTranscript,
        ExportBatch,
        SearchTranscripts,
    )
    reader = provide(SqlTaskReader, provides=TaskReader)
    batch_reader = provide(SqlBatchReader, provides=BatchReader)
    index = provide(SqlTranscriptIndex, provides=TranscriptIndex)
    bundler = provide(ZipBundler, provides=ExportBundler)

    @provide
    def export_formats(self) -> ExportFormats:
        return default_export_formats()

    @provide
    def page_splitter(self, settings: Settings) -> PageSplitter:
        return PillowPdfiumPageSplitter(
            max_pixels=settings.recognition.max_pixels,
            pdf_dpi=settings.documents.pdf_dpi,
            max_pages=min(settings.documents.max_pages_per_file, settings.documents.max_pages),
        )

    @provide
    def limits(self, settings: Settings) -> UploadLimits:
        return UploadLimits(
            max_upload_bytes=settings.api.max_upload_bytes,
            max_pixels=settings.recognition.max_pixels,
            max_files=settings.api.max_files,
            max_cards=settings.documents.max_pages,
            max_request_bytes=settings.api.max_request_bytes,
        )

    @provide
    def submit_cards(
        self,
        uow: Callable[[], UnitOfWork],
        storage: ObjectStorage,
        limits: UploadLimits,
        splitter: PageSplitter,
        clock: Clock,
        new_id: NewId,
    ) -> SubmitCards:
        return SubmitCards(uow, storage, PillowImageInspector(), limits, clock, new_id, splitter)

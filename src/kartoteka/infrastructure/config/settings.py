"""Configuration: a YAML file, overridden by ``KARTOTEKA__SECTION__KEY`` variables.

Every setting has a safe default so that ``kartoteka`` runs with no file at
all; deployments override only what differs. A bad value stops start-up with
a message that names the setting and the variable that would set it.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from kartoteka.infrastructure.config.auth import AuthSettings
from kartoteka.infrastructure.config.documents import DocumentSettings
from kartoteka.infrastructure.config.embedders import EmbedderRegistrySettings
from kartoteka.infrastructure.config.gallery import GallerySettings
from kartoteka.infrastructure.config.s3 import S3Settings

ENV_PREFIX = "KARTOTEKA__"
ENV_DELIMITER = "__"
CONFIG_PATH_VARIABLE = "KARTOTEKA_CONFIG"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectorSettings(Section):
    """YOLO word detector (ultralytics)."""

    model: str = Field(
        "Daniil-Domino/yolo11x-dialectic",
        description="Local .pt/.onnx file or directory, or a hub id resolved from the local hub cache.",
    )
    filename: str = Field("model.pt", description="File to use when `model` is a directory or hub id.")
    conf: float = Field(0.3, ge=0.0, le=1.0, description="Confidence threshold: a box scored below it is not a word.")
    iou: float = Field(0.7, ge=0.0, le=1.0, description="NMS IoU threshold.")
    imgsz: int = Field(640, ge=32, le=4096, description="Network input size in pixels.")
    max_det: int = Field(300, ge=1, le=10_000, description="Most boxes kept per card.")
    input_width: int | None = Field(
        1280,
        ge=32,
        description="Cards are resized to this width for detection (its training size); null keeps the scan's.",
    )
    input_height: int | None = Field(
        900,
        ge=32,
        description="Cards are resized to this height for detection (its training size); null keeps the scan's.",
    )


class LayoutSettings(Section):
    """Line grouping rules; the defaults are the thresholds the published models were tuned with."""

    containment_threshold: float = Field(0.9, gt=0.0, le=1.0)
    line_overlap_threshold: float = Field(0.6, gt=0.0, le=1.0)
    merge_overlapping: bool = True


class GenerationSettings(Section):
    """Decoding settings; null means the checkpoint's own generation_config value."""

    num_beams: int | None = Field(None, ge=1, le=32)
    max_length: int | None = Field(None, ge=1, le=1024)
    max_new_tokens: int | None = Field(None, ge=1, le=1024)
    no_repeat_ngram_size: int | None = Field(None, ge=0)
    length_penalty: float | None = None
    early_stopping: bool | None = None

    def overrides(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class RecognizerSettings(Section):
    """TrOCR word recogniser."""

    backend: Literal["pytorch", "onnx"] = "pytorch"
    model: str = Field(
        "Daniil-Domino/trocr-base-ru-dialectic-stackmix",
        description="Local directory or hub id (ONNX: CherryJam/trocr-base-ru-dialectic-stackmix-onnx).",
    )
    batch_size: int = Field(
        8, ge=1, le=512, description="Word crops per generate() call (CPU: 4-8 is fastest; GPU: larger)."
    )
    quantize: Literal["none", "int8"] = Field(
        "none",
        description="ONNX only: int8 dynamic quantization of the model, made once at start-up and cached "
        "(faster on a CPU; measure its CER with kartoteka eval before relying on it).",
    )
    generation: GenerationSettings = GenerationSettings()

    @model_validator(mode="after")
    def _quantize_needs_onnx(self) -> RecognizerSettings:
        if self.quantize != "none" and self.backend != "onnx":
            raise ValueError("recognizer.quantize int8 needs recognizer.backend onnx")
        return self


class InferenceSettings(Section):
    """Where and how models run."""

    device: str = Field("auto", description="auto, cpu, cuda or cuda:N.")
    precision: Literal["fp32", "fp16", "bf16", "auto"] = Field(
        "fp32",
        description="PyTorch weights precision: fp32; fp16 (CUDA only); bf16 (CUDA, or CPUs with native bf16); "
        "auto = fp16 on CUDA, bf16 on CPUs with native bf16, else fp32.",
    )
    torch_threads: int | None = Field(
        None, ge=1, description="torch intra-op threads; null uses every CPU this process may run on."
    )
    torch_interop_threads: int | None = Field(None, ge=1, description="torch inter-op threads.")
    detector_threads: int | None = Field(
        None,
        ge=1,
        description="torch intra-op threads of the detector on a CPU. It works on the next card while the "
        "recogniser reads the current one (broker.prefetch 2), so it takes a share of the cores, not all of "
        "them; null: half of torch_threads, at least 1.",
    )

    @field_validator("device")
    @classmethod
    def _known_device(cls, value: str) -> str:
        v = value.strip().lower()
        if v in {"auto", "cpu", "cuda"}:
            return v
        if v.startswith("cuda:") and v[5:].isdigit():
            return v
        raise ValueError("must be auto, cpu, cuda or cuda:N")


class RecognitionSettings(Section):
    detector: DetectorSettings = DetectorSettings()
    layout: LayoutSettings = LayoutSettings()
    recognizer: RecognizerSettings = RecognizerSettings()
    max_pixels: int = Field(100_000_000, ge=1, description="Largest image (width × height) accepted for decoding.")


class DatabaseSettings(Section):
    """PostgreSQL (with pgvector): the source of truth."""

    url: str = Field(
        "postgresql+asyncpg://kartoteka:kartoteka@127.0.0.1:5432/kartoteka",
        description="SQLAlchemy async URL (postgresql+asyncpg://user:password@host:port/db).",
    )
    pool_size: int = Field(10, ge=1, le=200, description="Connections kept open per process.")
    connect_timeout_s: float = Field(5.0, gt=0, description="Give up connecting after this many seconds.")


class RedisSettings(Section):
    """Redis (or Valkey): live progress, status pub/sub, and the job broker when RabbitMQ is absent."""

    url: str = Field("redis://127.0.0.1:6379/0", description="redis://host:port/db")


class BrokerSettings(Section):
    """Where jobs queue for workers (TaskIQ)."""

    url: str | None = Field(
        None, description="amqp://user:password@host:port/vhost for RabbitMQ; null uses TaskIQ's Redis list broker."
    )
    prefetch: int = Field(
        2,
        ge=1,
        le=1000,
        description="Recognition jobs a worker runs at once and holds unacknowledged. 2 decodes and detects the "
        "next card while the current one is read (each model still takes one card at a time); more only queues "
        "cards in the worker's memory. 1 runs cards strictly one after another.",
    )
    job_timeout_s: float = Field(
        600.0,
        gt=0,
        description="A job running longer than this is stopped and retried (with several cards in flight, "
        "the time a card waits for the recogniser counts).",
    )
    max_retries: int = Field(
        3,
        ge=0,
        le=20,
        description="Retries of a recognition job after a transient failure (an unreachable server, the time "
        "limit, a lost worker); after the last the task fails with the reason.",
    )
    retry_backoff_s: float = Field(
        2.0, ge=0, description="Wait before the first retry; each further retry waits twice as long."
    )
    retry_backoff_max_s: float = Field(60.0, ge=0, description="Longest wait between two runs of a job.")
    lease_s: float = Field(
        30.0,
        gt=0,
        description="How long a running job's lease lasts; its worker renews it every third of that. A task "
        "whose lease lapsed (its worker is gone) is queued again by the relay's sweeper.",
    )
    sweep_interval_s: float = Field(
        5.0, gt=0, description="How often the relay's sweeper looks for due retries, lapsed leases and lost jobs."
    )
    stuck_queued_s: float = Field(
        600.0,
        gt=0,
        description="A task queued, or an image pending indexing, this long with no change and no job waiting "
        "to be sent gets its job sent again (its message may have been lost). A duplicate is harmless (the "
        "first claim wins, the rest are dropped), but a queue that takes longer than this to drain gets one "
        "per waiting task per interval: keep it above the longest queue wait expected.",
    )
    orphan_sweep_interval_s: float = Field(
        3600.0,
        gt=0,
        description="How often the relay lists the stored scans, uploads and thumbnails and removes those no "
        "card or image refers to (left by a process killed between storing and committing).",
    )
    orphan_grace_s: float = Field(
        3600.0,
        ge=1.0,
        description="Only objects older than this are removed by the orphan sweep: a request still in flight "
        "has written its objects moments ago. Keep it far above the longest upload request.",
    )


class ApiSettings(Section):
    """The HTTP api process."""

    host: str = Field("127.0.0.1", description="Address uvicorn binds to (0.0.0.0 in containers).")
    port: int = Field(8000, ge=1, le=65535, description="Port uvicorn listens on.")
    max_upload_bytes: int = Field(30 * 1024 * 1024, ge=1, description="Largest card scan accepted, in bytes.")
    max_files: int = Field(
        100,
        ge=1,
        le=10_000,
        description="Most files in one submission (a PDF or multi-page TIFF counts once here; its pages count "
        "against documents.max_pages).",
    )
    max_request_bytes: int = Field(
        256 * 1024 * 1024,
        ge=1024,
        description="Largest request body, in bytes, all files of a submission together: refused with a 413 "
        "as soon as the declared length or the bytes received pass it, so no request makes the api hold or "
        "spool more. Files over 1 MiB are spooled to temporary files while a request is read.",
    )
    ws_per_message_deflate: bool = Field(
        False,
        description="Compress WebSocket messages. Off by default: status events are small, and compression "
        "state roughly doubles the memory each open socket costs.",
    )
    web_dir: str = Field(
        "",
        description="The built card workbench (what `npm run build` writes to web/dist), served at /. "
        "Empty: the checkout's web/dist. With no build there, / says how to build it.",
    )
    forwarded_allow_ips: str = Field(
        "",
        description="Proxies trusted to say who the client is (X-Forwarded-For, X-Forwarded-Proto): "
        "comma-separated addresses or networks, or * for any. Empty trusts none, so a client cannot "
        "pick the address its rate limits count against; set it to the reverse proxy's address.",
    )

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses(cls, value: str) -> str:
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"{entry!r} is not an IP address or network (or *)") from None
        return ",".join(entries)


class MetricsSettings(Section):
    """Prometheus metrics (see the README's Metrics section for the names)."""

    api_endpoint: bool = Field(
        True,
        description="Serve GET /metrics on the api, without a login: it holds counts by route template and "
        "status, never an id, a path or a user, and Prometheus scrapes without a session. Turn it off, or "
        "keep /metrics from the public at the reverse proxy, where even that is too much to show.",
    )
    host: str = Field(
        "127.0.0.1",
        description="Address the relay's, workers' and watcher's metrics ports bind to (0.0.0.0 in containers).",
    )
    port: int = Field(
        0,
        ge=0,
        le=65532,
        description="Base metrics port of the processes other than the api: relay at port, recognition worker "
        "at port+1, embedding worker at port+2, watcher at port+3. 0 serves none.",
    )


class EmbeddedSettings(Section):
    """The servers ``kartoteka serve`` starts itself (PostgreSQL, Valkey, S3, RabbitMQ)."""

    host: str = Field(
        "127.0.0.1",
        description="Address they listen on. Loopback by default: only this machine reaches them. 0.0.0.0 (or "
        "one interface's address) lets other machines in, e.g. workers elsewhere; PostgreSQL and S3 keep their "
        "generated passwords (in the data directory's secrets/); Valkey has none, so its protected mode keeps "
        "answering loopback only, and RabbitMQ's guest user works from loopback only. Firewall the ports.",
    )

    @field_validator("host")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            return str(ipaddress.IPv4Address(value.strip()))
        except ValueError:
            raise ValueError(f"{value!r} is not an IPv4 address (0.0.0.0 for every interface)") from None


class LoggingSettings(Section):
    """What every process logs, and how."""

    format: Literal["text", "json"] = Field(
        "text", description="text for a terminal; json: one object per line, with task_id/image_id where known."
    )
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        env_parse_none_str="null",
        extra="forbid",
        frozen=True,
    )

    api: ApiSettings = ApiSettings()
    database: DatabaseSettings = DatabaseSettings()
    s3: S3Settings = S3Settings()
    redis: RedisSettings = RedisSettings()
    broker: BrokerSettings = BrokerSettings()
    recognition: RecognitionSettings = RecognitionSettings()
    documents: DocumentSettings = DocumentSettings()
    inference: InferenceSettings = InferenceSettings()
    embedding: EmbedderRegistrySettings = EmbedderRegistrySettings()
    gallery: GallerySettings = GallerySettings()
    auth: AuthSettings = AuthSettings()
    logging: LoggingSettings = LoggingSettings()
    metrics: MetricsSettings = MetricsSettings()
    embedded: EmbeddedSettings = EmbeddedSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first: a variable overrides what the YAML file (passed
        # as init values) says, so one image runs in many deployments.
        return (env_settings, init_settings)


class ConfigurationError(Exception):
    """A configuration file or variable is unusable; the message says which and why."""


def load_settings(config_path: Path | str | None = None) -> Settings:
    """Read the YAML file (argument, else ``$KARTOTEKA_CONFIG``, else none) and the environment."""
    path = config_path or os.environ.get(CONFIG_PATH_VARIABLE) or None
    values: dict[str, Any] = {}
    if path:
        values = _read_yaml(Path(path))
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc, path)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read configuration file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"configuration file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"configuration file {path} must hold a mapping at the top level")
    return data


def _describe(exc: ValidationError, path: str | Path | None) -> str:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        dotted = ".".join(loc)
        variable = ENV_PREFIX + ENV_DELIMITER.join(p.upper() for p in loc)
        problems.append(f"  {dotted} (or {variable}): {err['msg']}")
    source = f" (file {path} and environment)" if path else " (environment)"
    return "invalid configuration" + source + ":\n" + "\n".join(problems)


def iter_variables(model: type[BaseModel] = Settings, prefix: str = ENV_PREFIX) -> list[tuple[str, Any, str]]:
    """Every environment variable a setting can be given by, with its default and description."""
    found: list[tuple[str, Any, str]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        variable = prefix + name.upper()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(iter_variables(annotation, variable + ENV_DELIMITER))
        else:
            found.append((variable, field.get_default(call_default_factory=True), field.description or ""))
    return found

"""The JetStream stream every service publishes to, and the connection to NATS."""

from __future__ import annotations

import nats
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from infra.settings import NatsSettings

log = structlog.get_logger("jetstream")

# Long enough to cover a relay restart; past it the consumer's own de-duplication still holds.
DUPLICATE_WINDOW_SECONDS = 15 * 60


async def connect(settings: NatsSettings, name: str) -> Client:
    async def on_error(exc: Exception) -> None:
        log.warning("nats_error", error=repr(exc))

    return await nats.connect(
        servers=settings.servers, name=name, max_reconnect_attempts=-1, error_cb=on_error
    )


def stream_config(settings: NatsSettings) -> StreamConfig:
    return StreamConfig(
        name=settings.stream,
        subjects=[f"{settings.subject_root}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        deny_delete=True,
        deny_purge=False,
        num_replicas=settings.replicas,
    )


async def ensure_stream(js: JetStreamContext, settings: NatsSettings) -> None:
    config = stream_config(settings)
    try:
        await js.stream_info(settings.stream)
    except NotFoundError:
        await js.add_stream(config)
        log.info("stream_created", stream=settings.stream, subjects=config.subjects)
    else:
        await js.update_stream(config)

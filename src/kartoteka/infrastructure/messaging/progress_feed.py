"""RedisProgressFeed: progress ticks of running jobs, straight to Redis pub/sub.

Progress is not state worth a transaction per tick: it goes out directly,
and whoever subscribes late reads the last committed state from PostgreSQL.
"""

from __future__ import annotations

import json
import logging
from uuid import UUID

from redis.asyncio import Redis
from redis.exceptions import RedisError

from kartoteka.application.shared.live_messages import Channel, TaskProgressed, encode
from kartoteka.domain.recognition.task import Progress
from kartoteka.infrastructure.messaging.redis_publisher import channel_for

log = logging.getLogger(__name__)


class RedisProgressFeed:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def publish(self, task_id: UUID, attempt: int, progress: Progress) -> None:
        tick = TaskProgressed(task_id, attempt, progress.stage, progress.done, progress.total)
        try:
            await self._redis.publish(channel_for(Channel.PROGRESS), json.dumps(encode(tick)))
        except (RedisError, OSError) as exc:  # a lost tick must never fail the job
            log.warning("progress of %s not published: %s", task_id, exc)

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

from kartoteka.application.recognition.ports.progress import Progress
from kartoteka.infrastructure.messaging.redis_publisher import channel_for

log = logging.getLogger(__name__)

PROGRESS = "progress"


class RedisProgressFeed:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def publish(self, task_id: UUID, attempt: int, progress: Progress) -> None:
        body = {
            "type": "task.progress",
            "task_id": str(task_id),
            "attempt": attempt,
            "stage": progress.stage,
            "done": progress.done,
            "total": progress.total,
        }
        try:
            await self._redis.publish(channel_for(PROGRESS), json.dumps(body))
        except (RedisError, OSError) as exc:  # a lost tick must never fail the job
            log.warning("progress of %s not published: %s", task_id, exc)

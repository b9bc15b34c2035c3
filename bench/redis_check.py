"""Whether a Redis server answers at a URL (the bench settings choose their cache by it)."""

import redis


def redis_answers(url: str) -> bool:
    try:
        return bool(
            redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
        )
    except (redis.RedisError, OSError, ValueError):
        return False

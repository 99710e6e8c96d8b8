"""The service fixtures really reach Redis and PostgreSQL and isolate tests."""

import asyncpg
import pytest

pytestmark = pytest.mark.services


async def test_redis_round_trip_under_own_prefix(redis_client, redis_prefix):
    await redis_client.set(f"{redis_prefix}k", "v", ex=60)
    assert await redis_client.get(f"{redis_prefix}k") == b"v"


async def test_postgres_database_is_fresh_and_writable(postgres_dsn):
    connection = await asyncpg.connect(postgres_dsn)
    try:
        tables = await connection.fetchval(
            "select count(*) from information_schema.tables where table_schema = 'public'"
        )
        assert tables == 0
        await connection.execute("create table t (id int primary key)")
        await connection.execute("insert into t values (1), (2)")
        assert await connection.fetchval("select count(*) from t") == 2
    finally:
        await connection.close()


def test_private_redis_can_be_killed(private_redis):
    import redis

    client = redis.Redis.from_url(private_redis.url)
    assert client.ping()
    private_redis.stop()
    with pytest.raises(redis.ConnectionError):
        client.ping()

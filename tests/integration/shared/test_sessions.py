from redis.asyncio import Redis

from shared.sessions import SessionStore


async def test_session_round_trip_and_forgery(redis: Redis, namespace: str) -> None:
    store = SessionStore(redis, f"{namespace}:", "s3cret-for-tests", ttl_seconds=60)
    session = await store.create(7, "octocat", None, None)
    cookie = store.cookie_value(session)
    assert await store.from_cookie(cookie) == session
    assert session.csrf_matches(session.csrf_token) and not session.csrf_matches("x")
    assert await store.from_cookie(session.id + ".forged") is None
    assert await store.from_cookie(cookie + "x") is None
    other = SessionStore(redis, f"{namespace}:", "another-secret", ttl_seconds=60)
    assert await other.from_cookie(cookie) is None
    assert 0 < await redis.ttl(f"{namespace}:session:{session.id}") <= 60
    await store.delete(session.id)
    assert await store.from_cookie(cookie) is None

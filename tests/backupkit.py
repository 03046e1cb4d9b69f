"""Data for backup round trips: seed each service with varied data, digest it exactly, destroy it.

Used by tests/stack/test_backup*.py and tests/bench/bench_backup.py. A digest covers everything a
restore must bring back: every row of every table (md5 of the rows in key order), roles and
grants, sequence positions; every Redis key with its type, full value and whether it has a TTL;
every bucket and object with its bytes (sha256), content type, metadata and kept headers.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import stackkit

from liar_tui.stack.compose import Stack
from liar_tui.stack.project import Project

BUCKETS = ("game-logs", "user-uploads", "replays")
MULTIPART_SIZE = 6 * 1024 * 1024 + 12345  # above the SDK's 5 MiB part size: a multipart upload
BIG_VALUE = 1536 * 1024  # Redis values above 1 MB


# -- postgres -------------------------------------------------------------------------------------
PG_SCHEMA = """
CREATE TABLE players (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, created timestamptz NOT NULL,
                      profile jsonb, tags text[]);
CREATE TABLE games (id bigserial PRIMARY KEY, player_id int NOT NULL REFERENCES players(id), score numeric(12,3),
                    payload bytea, finished boolean);
CREATE TABLE events (id bigserial PRIMARY KEY, game_id bigint REFERENCES games(id), kind text, at timestamptz, note text);
CREATE SCHEMA stats;
CREATE TABLE stats.daily (day date PRIMARY KEY, players int, games int);
CREATE INDEX events_kind ON events(kind);
CREATE VIEW top_scores AS SELECT player_id, max(score) AS best FROM games GROUP BY player_id;
CREATE ROLE game_reader LOGIN PASSWORD 'reader-pw-not-a-stack-secret';
GRANT USAGE ON SCHEMA stats TO game_reader;
GRANT SELECT ON players, games, stats.daily TO game_reader;
"""


def seed_postgres(project: Project, players: int = 10000, games: int = 15000, events: int = 24000, days: int = 1000) -> int:
    """~50k rows over four tables, generated server-side (fast); returns the row count."""
    with stackkit.pg_connect(project) as conn:
        conn.execute(PG_SCHEMA)
        conn.execute(
            "INSERT INTO players (name, email, created, profile, tags) "
            "SELECT 'player ' || g || CASE WHEN g % 97 = 0 THEN ' ünïcödé ✓' ELSE '' END, 'p' || g || '@example.org', "
            "timestamptz '2024-01-01 00:00+00' + g * interval '37 seconds', "
            "CASE WHEN g % 5 = 0 THEN NULL ELSE jsonb_build_object('level', g % 50, 'nick', md5(g::text)) END, "
            f"ARRAY['t' || (g % 7), 'x''y']::text[] FROM generate_series(1, {int(players)}) g"
        )
        conn.execute(
            "INSERT INTO games (player_id, score, payload, finished) "
            "SELECT 1 + (g::bigint * 7919) %% %s, (g * 13.125) %% 100000, decode(md5(g::text) || md5((g+1)::text), 'hex'), g %% 3 <> 0 "
            "FROM generate_series(1, %s) g" % (players, games)
        )
        conn.execute(
            "INSERT INTO events (game_id, kind, at, note) "
            "SELECT 1 + (g::bigint * 104729) %% %s, (ARRAY['start','vote','accuse','reveal','end'])[1 + g %% 5], "
            "timestamptz '2024-02-01 00:00+00' + g * interval '1 second', "
            "CASE WHEN g %% 11 = 0 THEN NULL ELSE repeat(md5(g::text), 1 + g %% 4) END "
            "FROM generate_series(1, %s) g" % (games, events)
        )
        conn.execute(
            f"INSERT INTO stats.daily SELECT date '2022-01-01' + g, g % 500, g % 900 FROM generate_series(1, {int(days)}) g"
        )
        conn.execute("SELECT setval('players_id_seq', (SELECT max(id) FROM players) + 100)")
    return players + games + events + days


PG_TABLES = ("players", "games", "events", "stats.daily")


def pg_digest(project: Project) -> dict[str, Any]:
    with stackkit.pg_connect(project) as conn:
        result: dict[str, Any] = {}
        for table in PG_TABLES:
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
                result[table] = None
                continue
            key = "day" if table == "stats.daily" else "id"
            row = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY {key}), '')) FROM {table} t"
            ).fetchone()
            result[table] = tuple(row)
        result["tables"] = sorted(
            r[0] for r in conn.execute(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r','v','i','S') AND n.nspname NOT IN ('pg_catalog','information_schema') "
                "AND n.nspname NOT LIKE 'pg_toast%'"
            ).fetchall()
        )
        result["roles"] = sorted(
            tuple(r) for r in conn.execute(
                "SELECT rolname, rolcanlogin, rolsuper, rolpassword IS NOT NULL FROM pg_authid WHERE rolname !~ '^pg_' "
            ).fetchall()
        )
        result["grants"] = sorted(
            tuple(r) for r in conn.execute(
                "SELECT grantee, table_schema, table_name, privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = 'game_reader'"
            ).fetchall()
        )
        if result["players"] is not None:
            result["seq"] = conn.execute("SELECT last_value FROM players_id_seq").fetchone()[0]
            result["view"] = conn.execute("SELECT count(*), sum(best) FROM top_scores").fetchone()
        return result


def destroy_postgres(project: Project) -> None:
    with stackkit.pg_connect(project) as conn:
        conn.execute("DROP VIEW IF EXISTS top_scores")
        conn.execute("DROP TABLE IF EXISTS events, games, players, stats.daily, counter, ledger CASCADE")
        conn.execute("DROP SCHEMA IF EXISTS stats CASCADE")
        conn.execute("DROP ROLE IF EXISTS game_reader")
        conn.execute("CREATE TABLE junk (a int)")  # must be gone after the restore
        # roles made after the backup must be gone too (one owning a table of the database)
        conn.execute("CREATE ROLE late_login LOGIN")
        conn.execute('CREATE ROLE "Late ""Owner"""')
        conn.execute('ALTER TABLE junk OWNER TO "Late ""Owner"""')


# -- redis ----------------------------------------------------------------------------------------
def seed_redis(project: Project, keys: int = 20000) -> int:
    """`keys` keys: strings, hashes, lists, sets, zsets and streams; some with TTLs, a few 1.5 MB values."""
    r = stackkit.redis_client(project)
    rnd = random.Random(7)
    split = {"string": 0.55, "hash": 0.15, "list": 0.1, "set": 0.08, "zset": 0.07, "stream": 0.05}
    counts = {k: int(keys * v) for k, v in split.items()}
    counts["string"] += keys - sum(counts.values())
    pipe = r.pipeline(transaction=False)
    n = 0

    def flush() -> None:
        nonlocal pipe
        pipe.execute()
        pipe = r.pipeline(transaction=False)

    for i in range(counts["string"]):
        value = f"value-{i}-" + "x" * rnd.randint(0, 200)
        if i % 10 == 0:
            pipe.set(f"session:{i}", value, ex=3600 + i)  # TTLs (long enough to outlive the test)
        else:
            pipe.set(f"str:{i}", value)
        n += 1
        if n % 1000 == 0:
            flush()
    for i in range(counts["hash"]):
        pipe.hset(f"game:{i}", mapping={"state": "vote", "round": str(i % 9), "liar": f"p{i % 6}", "n": str(i), "bin": bytes([i % 256, 0, 255])})
        if i % 20 == 0:
            pipe.pexpire(f"game:{i}", 7200000 + i)
        n += 1
        if n % 1000 == 0:
            flush()
    for i in range(counts["list"]):
        pipe.rpush(f"queue:{i}", *[f"item{j}" for j in range(1 + i % 10)])
        n += 1
        if n % 1000 == 0:
            flush()
    for i in range(counts["set"]):
        pipe.sadd(f"room:{i}:members", *[f"player{j}" for j in range(1 + i % 8)])
        n += 1
        if n % 1000 == 0:
            flush()
    for i in range(counts["zset"]):
        pipe.zadd(f"leaderboard:{i}", {f"player{j}": (j * 1.5 + i) for j in range(1 + i % 12)})
        n += 1
        if n % 1000 == 0:
            flush()
    for i in range(counts["stream"]):
        for j in range(3):
            pipe.xadd(f"events:{i}", {"kind": "vote", "n": str(j)}, id=f"{1700000000000 + i}-{j}")
        n += 1
        if n % 1000 == 0:
            flush()
    flush()
    # Large values (> 1 MB): replace a string, a hash field and a list element's worth of keys.
    big = os.urandom(BIG_VALUE // 2).hex().encode()
    r.set("str:1", big)
    r.hset("game:0", "replay", big)
    r.rpush("queue:0", big)
    assert r.dbsize() == keys, r.dbsize()
    return keys


def redis_digest(project: Project) -> dict[str, Any]:
    r = stackkit.redis_client(project)
    names = sorted(r.scan_iter(count=2000))
    h = hashlib.sha256()
    types: dict[str, int] = {}
    ttls = 0
    for start in range(0, len(names), 500):
        batch = names[start : start + 500]
        pipe = r.pipeline(transaction=False)
        for k in batch:
            pipe.type(k)
            pipe.pttl(k)
        meta = pipe.execute()
        pipe = r.pipeline(transaction=False)
        for i, k in enumerate(batch):
            t = meta[2 * i].decode()
            if t == "string":
                pipe.get(k)
            elif t == "hash":
                pipe.hgetall(k)
            elif t == "list":
                pipe.lrange(k, 0, -1)
            elif t == "set":
                pipe.smembers(k)
            elif t == "zset":
                pipe.zrange(k, 0, -1, withscores=True)
            elif t == "stream":
                pipe.xrange(k)
            else:
                pipe.type(k)
        values = pipe.execute()
        for i, k in enumerate(batch):
            t = meta[2 * i].decode()
            has_ttl = meta[2 * i + 1] > 0
            ttls += has_ttl
            types[t] = types.get(t, 0) + 1
            v = values[i]
            if isinstance(v, dict):
                v = sorted(v.items())
            elif isinstance(v, set):
                v = sorted(v)
            h.update(repr((k, t, v, has_ttl)).encode())
    return {"keys": len(names), "types": types, "ttls": ttls, "sha256": h.hexdigest()}


def destroy_redis(project: Project) -> None:
    r = stackkit.redis_client(project)
    r.flushall()
    r.set("junk", "must be gone after the restore")


# -- minio ----------------------------------------------------------------------------------------
def _object_plan(count: int) -> list[dict[str, Any]]:
    rnd = random.Random(11)
    plan: list[dict[str, Any]] = []
    specials = [
        {"key": "replays/big-game.bin", "data": os.urandom(MULTIPART_SIZE), "ct": "application/octet-stream",
         "meta": {"x-amz-meta-game": "big"}},
        {"key": "empty.txt", "data": b"", "ct": "text/plain", "meta": {}},
        {"key": "weird names/ünï cödé & co/#1?x=y%20.txt", "data": b"weird key", "ct": "text/plain; charset=utf-8",
         "meta": {"x-amz-meta-origin": "weird"}},
        {"key": "dup-a.bin", "data": b"same bytes" * 100, "ct": "application/octet-stream", "meta": {}},
        {"key": "dup-b.bin", "data": b"same bytes" * 100, "ct": "application/octet-stream", "meta": {}},
        {"key": "logs/compressed.json.gz", "data": gzip.compress(b'{"a": 1}' * 1000, mtime=0), "ct": "application/json",
         "meta": {"content-encoding": "gzip", "cache-control": "max-age=60", "content-disposition": "attachment; filename=\"c.json\"",
                  "x-amz-meta-compressed": "yes"}},
    ]
    for i in range(3):
        specials.append({"key": f"uploads/avatar-big-{i}.png", "data": os.urandom(1024 * 1024 + i), "ct": "image/png",
                         "meta": {"x-amz-meta-owner": f"player{i}"}})
    for i, s in enumerate(specials):
        plan.append({**s, "bucket": BUCKETS[i % len(BUCKETS)]})
    for i in range(count - len(specials)):
        size = rnd.randint(0, 20000)
        plan.append({
            "bucket": BUCKETS[i % len(BUCKETS)],
            "key": f"{['logs', 'uploads', 'replays'][i % 3]}/{i // 50}/obj-{i:04d}.dat",
            "data": rnd.randbytes(size),
            "ct": ["application/octet-stream", "text/plain", "application/json"][i % 3],
            "meta": {"x-amz-meta-index": str(i), "x-amz-meta-kind": "seed"} if i % 2 == 0 else {},
        })
    return plan


def seed_minio(project: Project, count: int = 200) -> dict[str, str]:
    """`count` objects in three buckets; returns {key: etag} of the multipart object (checked by callers)."""
    s3 = stackkit.s3_client(project)
    for b in BUCKETS:
        if not s3.bucket_exists(b):
            s3.make_bucket(b)
    plan = _object_plan(count)

    def put(o: dict[str, Any]) -> tuple[str, str]:
        res = s3.put_object(o["bucket"], o["key"], io.BytesIO(o["data"]), len(o["data"]), content_type=o["ct"],
                            metadata=o["meta"] or None)
        return o["key"], res.etag

    with ThreadPoolExecutor(4) as pool:
        etags = dict(pool.map(put, plan))
    return {"replays/big-game.bin": etags["replays/big-game.bin"]}


def minio_digest(project: Project) -> dict[str, Any]:
    s3 = stackkit.s3_client(project)
    objects: dict[tuple[str, str], Any] = {}
    buckets = sorted(b.name for b in s3.list_buckets())
    listing = [(b, o.object_name) for b in buckets for o in s3.list_objects(b, recursive=True) if not o.is_dir]

    def get(item: tuple[str, str]) -> tuple[tuple[str, str], Any]:
        b, k = item
        resp = s3.get_object(b, k)
        try:
            data = b"".join(resp.stream(1 << 20, decode_content=False))
            headers = {x.lower(): v for x, v in resp.headers.items()}
        finally:
            resp.close()
            resp.release_conn()
        kept = {x: headers[x] for x in sorted(headers) if x.startswith("x-amz-meta-") or x in
                ("content-type", "content-encoding", "cache-control", "content-disposition", "content-language")}
        return (b, k), (len(data), hashlib.sha256(data).hexdigest(), kept)

    with ThreadPoolExecutor(4) as pool:
        objects = dict(pool.map(get, listing))
    return {"buckets": buckets, "objects": objects}


def destroy_minio(project: Project) -> None:
    from minio.deleteobjects import DeleteObject

    s3 = stackkit.s3_client(project)
    for b in s3.list_buckets():
        names = [o.object_name for o in s3.list_objects(b.name, recursive=True)]
        for start in range(0, len(names), 1000):
            errors = list(s3.remove_objects(b.name, [DeleteObject(n) for n in names[start:start + 1000]]))
            assert not errors, errors
        s3.remove_bucket(b.name)
    # junk that must be gone after the restore: a bucket of the set with a stray object, and a stray bucket
    for b in (BUCKETS[0], "junk-bucket"):
        s3.make_bucket(b)
        s3.put_object(b, "junk.txt", io.BytesIO(b"junk"), 4)


def seed_all(project: Project) -> None:
    seed_postgres(project)
    seed_redis(project)
    etags = seed_minio(project)
    assert "-" in etags["replays/big-game.bin"], f"expected a multipart upload, got ETag {etags}"


def digest_all(project: Project) -> dict[str, Any]:
    return {"postgres": pg_digest(project), "redis": redis_digest(project), "minio": minio_digest(project)}


def destroy_all(project: Project) -> None:
    destroy_postgres(project)
    destroy_redis(project)
    destroy_minio(project)


@contextmanager
def seeded_stack(directory: Path) -> Iterator[Project]:
    """An isolated stack in `directory`, all four services healthy and seeded with data (a
    postgres dump and an RDB of several MiB: a check of them takes a while); removed after."""
    project = stackkit.make_project(directory)
    stackkit.destroy(project)
    try:
        result = Stack(project).up(wait=True, wait_timeout=240)
        assert result.ok, result.message
        stackkit.wait_all_healthy(project)
        seed_all(project)
        yield project
    finally:
        stackkit.destroy(project)

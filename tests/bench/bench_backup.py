"""Backup time of each service against the bare tool doing the same work. Not a test: run it.

    .venv/bin/python tests/bench/bench_backup.py [--reps 7] [--scale 4]

Writes tests/bench/results/backup-<UTC time>.json and backup-latest.json.
    .venv/bin/python tests/bench/bench_backup.py --project-dir DIR --project-name NAME   # an existing stack

Without --project-dir it creates an isolated stack (own project name, ports, passwords, tmp
folder), seeds it (tests/backupkit.py, times --scale) and removes it at the end.

Per service and repetition (ours and bare alternate, so drift hits both):
  postgres  ours: BackupManager.backup(["postgres"])  (pg_dump -Fc + pg_dumpall -g, sha256, fsync, manifest)
            bare: docker exec CONTAINER pg_dump -Fc -U USER -d DB > file
  redis     ours: BackupManager.backup(["redis"])     (BGSAVE, wait, copy of dump.rdb, sha256, fsync, manifest)
            bare: BGSAVE + wait (redis-py), then docker exec CONTAINER cat /data/dump.rdb > file
  minio     ours: BackupManager.backup(["minio"])     (every object, sha256 each, index, fsync, manifest)
            bare: list + get_object of every object to a file, same number of parallel workers
The table shows the median of each and ours/bare (target: at most 1.2x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))  # tests/: stackkit, backupkit
sys.path.insert(0, str(HERE.parents[2]))  # the package

import backupkit  # noqa: E402
import stackkit  # noqa: E402

from liar_tui.stack.backup import S3_WORKERS, BackupManager, StackAccess  # noqa: E402
from liar_tui.stack.compose import Stack  # noqa: E402
from liar_tui.stack.engine import Engine  # noqa: E402
from liar_tui.stack.project import Project  # noqa: E402


class Known:
    """What an operator running the bare tools already knows (container names, users, ports):
    looked up once, outside the timed region."""

    def __init__(self, project: Project) -> None:
        access = StackAccess(project, Engine())
        self.pg = access.running("postgres").container_id
        self.pg_user, self.pg_db = access.pg_identity(access.running("postgres"))
        self.redis = access.running("redis").container_id
        self.redis_addr = access.address("redis", 6379, "REDIS_PORT")
        self.minio_addr = access.address("minio", 9000, "MINIO_API_PORT")
        self.env = project.env()


def bare_postgres(k: Known, out: Path) -> int:
    with open(out, "wb") as fh:
        subprocess.run(["docker", "exec", k.pg, "pg_dump", "-Fc", "-U", k.pg_user, "-d", k.pg_db], stdout=fh, check=True)
    return out.stat().st_size


def bare_redis(k: Known, out: Path) -> int:
    import redis

    client = redis.Redis(host=k.redis_addr[0], port=k.redis_addr[1], password=k.env["REDIS_PASSWORD"])
    before = int(client.info("persistence")["rdb_saves"])
    client.execute_command("BGSAVE", "SCHEDULE")
    while True:
        info = client.info("persistence")
        if not int(info["rdb_bgsave_in_progress"]) and int(info["rdb_saves"]) > before:
            break
        time.sleep(0.02)
    with open(out, "wb") as fh:
        subprocess.run(["docker", "exec", k.redis, "cat", "/data/dump.rdb"], stdout=fh, check=True)
    return out.stat().st_size


def bare_minio(k: Known, out: Path) -> int:
    from minio import Minio

    s3 = Minio(f"{k.minio_addr[0]}:{k.minio_addr[1]}", access_key=k.env["MINIO_ROOT_USER"],
               secret_key=k.env["MINIO_ROOT_PASSWORD"], secure=False, region="us-east-1")
    items = [(b.name, o.object_name) for b in s3.list_buckets() for o in s3.list_objects(b.name, recursive=True)]
    out.mkdir(parents=True, exist_ok=True)

    def get(i_item: tuple[int, tuple[str, str]]) -> int:
        i, (bucket, key) = i_item
        resp = s3.get_object(bucket, key)
        n = 0
        try:
            with open(out / str(i), "wb") as fh:
                for block in resp.stream(1 << 20, decode_content=False):
                    fh.write(block)
                    n += len(block)
        finally:
            resp.close()
            resp.release_conn()
        return n

    with ThreadPoolExecutor(S3_WORKERS) as pool:
        return sum(pool.map(get, enumerate(items)))


BARE: dict[str, Callable[[Known, Path], int]] = {"postgres": bare_postgres, "redis": bare_redis, "minio": bare_minio}


def ours(project: Project, service: str, backup_dir: Path) -> int:
    bset = BackupManager(project, backup_dir=backup_dir).backup([service])
    return sum(f.size for f in bset.files)


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    t0 = time.perf_counter()
    size = fn()
    return time.perf_counter() - t0, size


def run(project: Project, reps: int, work: Path) -> list[dict[str, Any]]:
    rows = []
    known = Known(project)
    for service in ("postgres", "redis", "minio"):
        ours_t: list[float] = []
        bare_t: list[float] = []
        sizes = (0, 0)
        # one warm-up of each (page cache, connection pools, first exec)
        ours(project, service, work / f"warm-{service}")
        BARE[service](known, work / f"warm-bare-{service}")
        for rep in range(reps):
            order = ("ours", "bare") if rep % 2 == 0 else ("bare", "ours")
            for which in order:
                target = work / f"{service}-{which}-{rep}"
                if which == "ours":
                    t, size = timed(lambda: ours(project, service, target))
                    ours_t.append(t)
                    sizes = (size, sizes[1])
                else:
                    t, size = timed(lambda: BARE[service](known, target))
                    bare_t.append(t)
                    sizes = (sizes[0], size)
                shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
        rows.append({
            "service": service, "ours": statistics.median(ours_t), "bare": statistics.median(bare_t),
            "ours_all": ours_t, "bare_all": bare_t, "ours_bytes": sizes[0], "bare_bytes": sizes[1],
        })
        print(f"  {service}: ours {[round(x, 3) for x in ours_t]}  bare {[round(x, 3) for x in bare_t]}", flush=True)
    return rows


def print_table(rows: list[dict[str, Any]], reps: int) -> None:
    print(f"\nmedian of {reps} repetitions (seconds)")
    head = f"{'service':<9} {'ours':>8} {'bare':>8} {'ratio':>6}  {'ours bytes':>12} {'bare bytes':>12}"
    print(head)
    print("-" * len(head))
    for r in rows:
        ratio = r["ours"] / r["bare"] if r["bare"] else float("nan")
        flag = "" if ratio <= 1.2 else "  (> 1.2x)"
        print(f"{r['service']:<9} {r['ours']:>8.3f} {r['bare']:>8.3f} {ratio:>5.2f}x  {r['ours_bytes']:>12,} {r['bare_bytes']:>12,}{flag}")


def save_results(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    import json
    from datetime import datetime, timezone

    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    data = {
        "at": stamp,
        "reps": args.reps,
        "scale": args.scale,
        "load_average": os.getloadavg(),
        "rows": [{**r, "ratio": r["ours"] / r["bare"] if r["bare"] else None} for r in rows],
    }
    text = json.dumps(data, indent=2)
    (out / f"backup-{stamp}.json").write_text(text)
    (out / "backup-latest.json").write_text(text)
    print(f"bench: results in {out / f'backup-{stamp}.json'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project-dir", help="an existing, running liar-game checkout (default: make an isolated stack)")
    parser.add_argument("--project-name", help="its compose project name")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--scale", type=int, default=4, help="data = tests' round-trip data x SCALE (own stack only)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    own = args.project_dir is None
    if own:
        project = stackkit.make_project(work / "stack")
        print(f"bench: isolated stack {project.name} in {project.root}", flush=True)
        result = Stack(project).up(wait=True, wait_timeout=240)
        if not result.ok:
            print(f"bench: stack did not come up: {result.message}", file=sys.stderr)
            stackkit.destroy(project)
            return 1
        stackkit.wait_all_healthy(project)
        t0 = time.perf_counter()
        s = args.scale
        backupkit.seed_postgres(project, players=10000 * s, games=15000 * s, events=24000 * s, days=1000)
        backupkit.seed_redis(project, keys=20000 * s)
        backupkit.seed_minio(project, count=200 * s)
        print(f"bench: seeded x{s} in {time.perf_counter() - t0:.1f}s", flush=True)
    else:
        project = Project(root=Path(args.project_dir).resolve(), name=args.project_name or "liar-game")
    try:
        rows = run(project, args.reps, work / "out")
        print_table(rows, args.reps)
        save_results(rows, args)
    finally:
        if own:
            stackkit.destroy(project)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("COMPOSE_PROGRESS", "json")
    sys.exit(main())

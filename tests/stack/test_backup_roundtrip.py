"""Backup -> destroy -> restore -> compare, on a real stack of its own (restores are destructive,
so this module does not share `running_stack` with other modules).

A backup counts only when it has been restored and compared: every test here restores.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import backupkit
import pytest
import stackkit

from liar_tui.stack.backup import BackupCancelled, BackupManager, BackupProgress
from liar_tui.stack.backupset import BackupSet, list_sets
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine

REPO = Path(__file__).resolve().parents[2]


cli = stackkit.cli


def secrets_of(project: Project) -> list[str]:
    env = project.env()
    return [env[k] for k in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "MINIO_ROOT_PASSWORD")]


def assert_no_secret(project: Project, *texts: str) -> None:
    for secret in secrets_of(project):
        for text in texts:
            assert secret not in text


@pytest.fixture(scope="module")
def stack(engine_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    with backupkit.seeded_stack(tmp_path_factory.mktemp("backup-stack")) as project:
        yield project


@pytest.fixture(scope="module")
def full_set(stack: Project) -> tuple[BackupSet, dict, list[BackupProgress]]:
    """One backup of the seeded stack through the stack-layer API, with the digest of that moment."""
    before = backupkit.digest_all(stack)
    events: list[BackupProgress] = []
    mgr = BackupManager(stack)
    bset = mgr.backup(progress=events.append, cancel=threading.Event())
    return bset, before, events


def test_round_trip_every_service(stack: Project, full_set: tuple[BackupSet, dict, list[BackupProgress]]) -> None:
    bset, before, events = full_set
    assert before["postgres"]["players"][0] == 10000
    assert before["redis"]["keys"] == 20000 and set(before["redis"]["types"]) == {"string", "hash", "list", "set", "zset", "stream"}
    assert before["redis"]["ttls"] > 1000
    assert sum(1 for _ in before["minio"]["objects"]) == 200

    # Progress: every service reported bytes and finished; totals are known where they can be.
    done = {e.service for e in events if e.phase == "done"}
    assert done == {"postgres", "redis", "minio"}
    for svc in ("postgres", "redis", "minio"):
        moving = [e.bytes_done for e in events if e.service == svc and e.phase not in ("done", "snapshot")]
        assert moving == sorted(moving) and moving[-1] > 0, (svc, moving)
    assert any(e.service == "minio" and e.bytes_total and e.bytes_total > backupkit.MULTIPART_SIZE for e in events)

    # The set: one folder, manifest last, private modes, no secret anywhere in it.
    assert bset.complete and bset.status == "complete"
    assert (bset.path / "manifest.json").is_file()
    assert stat.S_IMODE(bset.path.stat().st_mode) == 0o700
    for p in bset.path.rglob("*"):
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))
        if p.is_file() and p.stat().st_size < 50_000_000:
            data = p.read_bytes()
            for secret in secrets_of(stack):
                assert secret.encode() not in data, p
    # the S3 server that held the objects, by its own name (the stand-in's nginx front said "nginx")
    assert bset.tools.get("s3-server", "").split(" ")[0] in ("SeaweedFS", "MinIO"), bset.tools
    kinds = {(f.service, f.kind) for f in bset.files}
    assert {("postgres", "dump"), ("postgres", "globals"), ("redis", "rdb"), ("minio", "index"), ("minio", "objects")} <= kinds
    assert 1 <= len([f for f in bset.files if f.kind == "objects"]) <= 4  # one pack per download worker

    # Wreck everything (and add junk that must vanish), then restore with the CLI, which verifies first.
    backupkit.destroy_all(stack)
    assert backupkit.digest_all(stack) != before

    restore = cli(stack, "restore", bset.id, "--yes")
    assert restore.returncode == 0, restore.stdout + restore.stderr
    verified = restore.stdout.split("\nrestore ")[0]
    assert "ok    postgres" in verified and "20000 keys" in verified and "200 objects" in verified
    assert "FAIL" not in restore.stdout
    assert_no_secret(stack, restore.stdout, restore.stderr)
    stackkit.wait_all_healthy(stack)
    after = backupkit.digest_all(stack)
    assert after["postgres"] == before["postgres"]
    assert after["redis"] == before["redis"]
    assert after["minio"] == before["minio"]

    # Redis keeps the restored data in its AOF: a restart (which loads only the AOF) still has it.
    r = stackkit.redis_client(stack)
    assert r.config_get("appendonly")["appendonly"] == "yes"
    redis_id = stackkit.state_of(stack, "redis").container_id
    stackkit.Engine().api.restart(redis_id, timeout=30)
    stackkit.wait_health(stack, "redis", "healthy")
    stackkit.wait_for(lambda: _redis_loaded(stack), 60, what="redis loaded after restart")
    assert backupkit.redis_digest(stack) == before["redis"]
    aof_dir = stack.data_dir / "redis" / "appendonlydir"
    assert (aof_dir / "appendonly.aof.manifest").is_file()


def _redis_loaded(project: Project) -> bool:
    try:
        return int(stackkit.redis_client(project).info("persistence")["loading"]) == 0
    except Exception:  # noqa: BLE001
        return False


def test_backup_while_writes_continue_is_a_consistent_snapshot(stack: Project, tmp_path: Path) -> None:
    with stackkit.pg_connect(stack) as conn:
        conn.execute("DROP TABLE IF EXISTS counter, ledger")
        conn.execute("CREATE TABLE counter (id int PRIMARY KEY, n bigint NOT NULL)")
        conn.execute("CREATE TABLE ledger (id bigserial PRIMARY KEY, amount int NOT NULL)")
        conn.execute("INSERT INTO counter VALUES (1, 0)")
    r = stackkit.redis_client(stack)
    r.delete("tx:counter", "tx:ledger")
    stop = threading.Event()
    errors: list[BaseException] = []

    def pg_writer() -> None:
        try:
            with stackkit.pg_connect(stack) as conn:
                conn.autocommit = False
                i = 0
                while not stop.is_set():
                    i += 1
                    conn.execute("INSERT INTO ledger (amount) VALUES (%s)", (1 + i % 5,))
                    conn.execute("UPDATE counter SET n = n + %s WHERE id = 1", (1 + i % 5,))
                    conn.commit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def redis_writer() -> None:
        try:
            rc = stackkit.redis_client(stack)
            while not stop.is_set():
                with rc.pipeline(transaction=True) as p:
                    p.incr("tx:counter")
                    p.rpush("tx:ledger", "x")
                    p.execute()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=pg_writer), threading.Thread(target=redis_writer)]
    for t in threads:
        t.start()
    try:
        stackkit.wait_for(lambda: int(r.get("tx:counter") or 0) > 200, 30, what="writers running")
        pg_start, redis_start = _pg_counter(stack), int(r.get("tx:counter") or 0)
        mgr = BackupManager(stack, backup_dir=tmp_path / "sets")
        bset = mgr.backup(["postgres", "redis"])
        pg_end, redis_end = _pg_counter(stack), int(r.get("tx:counter") or 0)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    assert pg_end > pg_start and redis_end > redis_start  # writes really went on during the backup

    report = mgr.restore(bset.id, ["postgres", "redis"])
    assert [s.service for s in report.services] == ["postgres", "redis"]
    with stackkit.pg_connect(stack) as conn:
        n = conn.execute("SELECT n FROM counter").fetchone()[0]
        total, rows = conn.execute("SELECT coalesce(sum(amount), 0), count(*) FROM ledger").fetchone()
    assert n == total  # the counter and the ledger are from the same instant
    assert pg_start <= n <= pg_end and rows > 0
    rc = stackkit.redis_client(stack)
    counter = int(rc.get("tx:counter") or 0)
    assert counter == rc.llen("tx:ledger")
    assert redis_start <= counter <= redis_end


def test_objects_deleted_while_a_minio_backup_runs_are_left_out_not_fatal(stack: Project, tmp_path: Path) -> None:
    # The stack keeps serving during a backup: an object listed and then deleted before its
    # download is simply not in the set (counted in its manifest); the rest is backed up whole.
    import io

    s3 = stackkit.s3_client(stack)
    bucket, gone = "churn-during-backup", "churn-gone-during-backup"
    keys = [f"obj-{i:03d}" for i in range(40)]
    for b, names in ((bucket, keys), (gone, keys[:5])):
        if not s3.bucket_exists(b):
            s3.make_bucket(b)
        for k in names:
            body = k.encode() * 500
            s3.put_object(b, k, io.BytesIO(body), len(body))
    doomed = keys[::4]
    deleted: list[str] = []

    def progress(p: BackupProgress) -> None:
        # Sent once every object is listed, before the first download: some objects go, and a
        # whole bucket.
        if p.service == "minio" and "objects in" in p.message and not deleted:
            for k in doomed:
                s3.remove_object(bucket, k)
            for k in keys[:5]:
                s3.remove_object(gone, k)
            s3.remove_bucket(gone)
            deleted.extend(doomed)

    try:
        mgr = BackupManager(stack, backup_dir=tmp_path / "sets")
        bset = mgr.backup(["minio"], progress=progress)
        assert deleted == doomed
        assert bset.complete
        said = bset.meta["minio"]["deleted_during_backup"]
        assert [v for v in said if v.startswith(bucket + "/")] == sorted(f"{bucket}/{k}" for k in doomed)
        assert f"{gone}/" in said
        assert mgr.verify(bset.id).ok
        mgr.restore(bset.id, ["minio"])
        restored = sorted(o.object_name for o in s3.list_objects(bucket, recursive=True))
        assert restored == sorted(set(keys) - set(doomed))
        assert s3.get_object(bucket, "obj-001").read() == b"obj-001" * 500
        assert not s3.bucket_exists(gone)  # deleted during the backup: not brought back
    finally:
        for b in (bucket, gone):
            if s3.bucket_exists(b):
                for o in s3.list_objects(b, recursive=True):
                    s3.remove_object(b, o.object_name)
                s3.remove_bucket(b)


def _pg_counter(project: Project) -> int:
    with stackkit.pg_connect(project) as conn:
        return int(conn.execute("SELECT n FROM counter").fetchone()[0])


def _copy_set(bset: BackupSet, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    dest = root / bset.path.name
    shutil.copytree(bset.path, dest)
    (dest / "verify.json").unlink(missing_ok=True)
    return dest


def _flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0x5A]))


def _fix_manifest(set_dir: Path, rel: str) -> None:
    """Make the manifest agree with a changed file, so only the service's own tool can notice."""
    import hashlib
    import json

    manifest = json.loads((set_dir / "manifest.json").read_text())
    for f in manifest["files"]:
        if f["path"] == rel:
            f["sha256"] = hashlib.sha256((set_dir / rel).read_bytes()).hexdigest()
    (set_dir / "manifest.json").write_text(json.dumps(manifest))


def test_verify_with_the_stack_down_says_so_and_does_not_mark_the_set_failed(
        stack: Project, full_set: tuple[BackupSet, dict, list[BackupProgress]], tmp_path: Path) -> None:
    # The content checks run the services' own tools in their containers. A stack that is not
    # running (here: a project name with no containers) cannot check them: that is not a bad set.
    dirs = tmp_path / "sets"
    copy = _copy_set(full_set[0], dirs)
    out = subprocess.run(
        [sys.executable, "-m", "liar_tui", "--project-dir", str(stack.root), "--project-name", f"{stack.name}-down",
         "verify", copy.name, "--backup-dir", str(dirs)],
        input="", capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 1
    assert "has no container" in out.stdout and "NOT FINISHED" in out.stderr and "liar-tui up" in out.stderr, out
    assert "FAILED" not in out.stderr
    assert not (copy / "verify.json").exists()
    assert "skip  postgres: not checked" in out.stdout, out.stdout
    [listed] = list_sets(dirs)
    assert listed.status == "complete"  # not "verify failed"

    # A real problem found as well (a corrupt object pack): that is recorded, stack or not.
    pack = max((f for f in full_set[0].files if f.kind == "objects"), key=lambda f: f.size).path
    _flip(copy / pack, 100)
    out = subprocess.run(
        [sys.executable, "-m", "liar_tui", "--project-dir", str(stack.root), "--project-name", f"{stack.name}-down",
         "verify", copy.name, "--backup-dir", str(dirs)],
        input="", capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 1 and "FAILED" in out.stderr and "NOT FINISHED" not in out.stderr, out
    [listed] = list_sets(dirs)
    assert listed.status == "verify failed"


@pytest.mark.parametrize("service", ["postgres", "redis", "minio"])
def test_verify_fails_on_a_flipped_byte(stack: Project, full_set: tuple[BackupSet, dict, list[BackupProgress]],
                                        tmp_path: Path, service: str) -> None:
    bset = full_set[0]
    rel = _artefact(bset, service)
    dirs = tmp_path / "sets"
    copy = _copy_set(bset, dirs)  # an intact copy verifies: test_round_trip_every_service shows it

    size = (copy / rel).stat().st_size
    _flip(copy / rel, size // 2)
    bad = cli(stack, "verify", copy.name, "--backup-dir", str(dirs))
    assert bad.returncode == 1
    assert f"{rel}: sha256 mismatch" in bad.stdout, bad.stdout
    assert "FAILED" in bad.stderr
    listed = cli(stack, "backup", "list", "--backup-dir", str(dirs))
    assert "verify failed" in listed.stdout

    # Same damage with a manifest that agrees: the service's own reader must still refuse it.
    _flip(copy / rel, size // 2)
    header = {"postgres": 8, "redis": size // 2, "minio": size // 2}[service]
    _flip(copy / rel, header)
    _fix_manifest(copy, rel)
    bad = cli(stack, "verify", copy.name, "--backup-dir", str(dirs))
    assert bad.returncode == 1, bad.stdout
    expected = {"postgres": "pg_restore cannot read", "redis": "redis-check-rdb rejects", "minio": "sha256 mismatch"}[service]
    assert expected in bad.stdout, bad.stdout


def _artefact(bset: BackupSet, service: str) -> str:
    """The set's main file of a service (for minio, its biggest object pack)."""
    return {
        "postgres": "postgres/database.dump",
        "redis": "redis/dump.rdb",
        "minio": max((f for f in bset.files if f.kind == "objects"), key=lambda f: f.size).path,
    }[service]


@pytest.mark.parametrize("service", ["postgres", "redis", "minio"])
def test_verify_and_restore_name_a_missing_file(stack: Project, full_set: tuple[BackupSet, dict, list[BackupProgress]],
                                               tmp_path: Path, service: str) -> None:
    """A file of the set deleted: verify reports it (FAIL, exit 1, the set marked 'verify
    failed'), not an OSError about folder permissions; restore refuses the same way."""
    bset = full_set[0]
    rel = _artefact(bset, service)
    dirs = tmp_path / "sets"
    copy = _copy_set(bset, dirs)
    (copy / rel).unlink()
    bad = cli(stack, "verify", copy.name, "--backup-dir", str(dirs))
    assert bad.returncode == 1, bad.stderr
    assert f"{rel}: missing" in bad.stdout and "FAILED" in bad.stderr and "permissions" not in bad.stderr, bad
    assert list_sets(dirs)[0].status == "verify failed"
    as_json = cli(stack, "verify", copy.name, "--backup-dir", str(dirs), "--json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["ok"] is False, as_json
    refused = cli(stack, "restore", copy.name, service, "--backup-dir", str(dirs), "--yes")
    assert refused.returncode == 1 and "permissions" not in refused.stderr and "Traceback" not in refused.stderr, refused


@pytest.mark.parametrize("service,phase", [("postgres", "dump"), ("redis", "copy"), ("minio", "objects")])
def test_cancel_from_another_thread_leaves_no_complete_set(stack: Project, tmp_path: Path, service: str, phase: str) -> None:
    cancel = threading.Event()
    seen: list[BackupProgress] = []

    def progress(p: BackupProgress) -> None:
        seen.append(p)
        if p.service == service and p.phase == phase and p.bytes_done > 0:
            # For minio this runs in a download worker: another thread than the backup's, as the
            # console's Cancel button would be. Set at the first bytes, so the service is mid-way.
            cancel.set()

    mgr = BackupManager(stack, backup_dir=tmp_path / "sets")
    started = time.monotonic()
    with pytest.raises(BackupCancelled, match="nothing was kept"):
        mgr.backup(progress=progress, cancel=cancel)
    assert time.monotonic() - started < 60
    assert not any(p.service == service and p.phase == "done" for p in seen)  # stopped inside that service
    assert list((tmp_path / "sets").iterdir()) == []
    assert mgr.list() == []
    # the command in the container ended with the cancel (closing the exec's connection alone
    # left pg_dump running to the end: the engine keeps draining its output)
    command = {"postgres": "pg_dump -Fc", "redis": "cat /proc/self/fd/3"}.get(service)
    if command:
        cid = stackkit.state_of(stack, service).container_id

        def gone() -> bool:
            rows = stackkit.Engine().api.top(cid, ps_args="-eo pid,args")["Processes"]
            return not any(command in " ".join(row) for row in rows)

        assert gone(), f"{command} still runs in {service} after the cancel returned"
    # the stack still serves: nothing was left locked or stopped
    assert stackkit.redis_client(stack).ping()


def test_ctrl_c_in_a_minio_backup_stops_the_downloads(stack: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C in `liar-tui backup` (SIGINT to the CLI's main thread, while it waits for the
    download workers) must stop them at their next block, not when every object is fetched, keep
    nothing, say so in one line, exit 130 and record it; a second Ctrl-C ends it too."""
    import signal

    from liar_tui import cli, cli_backup
    from liar_tui.stack import backup as backup_module

    # Every block reports, and once Ctrl-C is sent each report takes 200 ms: the downloads left
    # would take ten seconds or more, so whether they stop does not depend on how busy this
    # machine is (at 50 ms, one run of the whole suite saw every object fetched: ~2.5 s).
    monkeypatch.setattr(backup_module, "PROGRESS_INTERVAL", 0.0)
    main = threading.get_ident()
    seen: list[BackupProgress] = []
    sent: list[int] = []

    def progress(self: object, p: BackupProgress) -> None:
        seen.append(p)
        if p.service == "minio" and p.phase == "objects" and p.bytes_done > 0:
            if not sent:
                sent.append(p.bytes_done)
                signal.pthread_kill(main, signal.SIGINT)  # what Ctrl-C does to the CLI
            time.sleep(0.2)

    monkeypatch.setattr(cli_backup._ProgressPrinter, "__call__", progress)
    sets = tmp_path / "sets"
    previous = signal.getsignal(signal.SIGINT)
    code = cli.main(["--project-dir", str(stack.root), "--project-name", stack.name, "backup", "minio", "--backup-dir", str(sets)])
    assert signal.getsignal(signal.SIGINT) is previous  # the CLI's handler is gone afterwards
    err = capfd.readouterr().err
    assert code == 130, err
    assert "cancelling the backup" in err and "backup cancelled: nothing was kept" in err.splitlines()[-1], err
    objects = [p for p in seen if p.service == "minio" and p.phase == "objects"]
    total = objects[-1].bytes_total or 0
    assert sent and total > 0
    # after Ctrl-C, at most a block or so per worker more
    assert objects[-1].bytes_done - sent[0] < (backup_module.S3_WORKERS + 1) * (1 << 20), (sent, objects[-1].bytes_done, total)
    assert objects[-1].bytes_done < total, (sent, objects[-1].bytes_done, total)
    assert list(sets.iterdir()) == []
    assert "backup of minio cancelled" in cli_output(stack, "activity")

    # a second Ctrl-C raises KeyboardInterrupt ("interrupted"; should a finalizer running in the
    # main thread swallow it, the first one's cancel still ends the backup)
    sent.clear()

    def twice(self: object, p: BackupProgress) -> None:
        if p.service == "minio" and p.phase == "objects" and p.bytes_done > 0 and not sent:
            sent.append(p.bytes_done)
            signal.pthread_kill(main, signal.SIGINT)
            signal.pthread_kill(main, signal.SIGINT)

    monkeypatch.setattr(cli_backup._ProgressPrinter, "__call__", twice)
    code = cli.main(["--project-dir", str(stack.root), "--project-name", stack.name, "backup", "minio", "--backup-dir", str(sets)])
    last = capfd.readouterr().err.splitlines()[-1]
    assert code == 130 and last in ("liar-tui: interrupted", "liar-tui: backup cancelled: nothing was kept"), last
    assert list(sets.iterdir()) == []


def cli_output(project: Project, *args: str) -> str:
    out = cli(project, *args)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_cli_backup_list_prune(stack: Project, tmp_path: Path) -> None:
    sets = tmp_path / "cron-sets"
    first = cli(stack, "backup", "postgres", "redis", "-q", env={"LIAR_TUI_BACKUP_DIR": str(sets)})
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("backup ") and " complete: postgres " in first.stdout and first.stderr == ""
    second = cli(stack, "backup", "redis", "--backup-dir", str(sets))
    assert second.returncode == 0, second.stderr
    (sets / ".20000101T000000Z.partial").mkdir()  # what a killed backup leaves
    listed = cli(stack, "backup", "list", "--backup-dir", str(sets))
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert sum(" complete" in ln and "postgres,redis" in ln for ln in lines) == 1
    assert sum(ln.rstrip().endswith("complete") and " redis " in f" {ln} " for ln in lines) >= 1
    assert any("incomplete" in ln and ln.startswith("20000101T000000Z") for ln in lines)
    pruned = cli(stack, "backup", "prune", "--keep", "1", "--backup-dir", str(sets))
    assert pruned.returncode == 0, pruned.stderr
    # --keep 1 keeps the newest good set of each service: the redis-only one for redis, the first
    # one still for postgres (the only postgres backup); the killed backup's folder goes.
    remaining = list_sets(sets)
    assert [(s.services, s.complete) for s in remaining] == [(("postgres", "redis"), True), (("redis",), True)]
    assert f"kept for postgres: {remaining[0].id}\nkept for redis: {remaining[1].id}\n" in pruned.stdout, pruned.stdout
    assert "removed .20000101T000000Z.partial" in pruned.stdout and "newest good one holding each service" in pruned.stdout
    assert_no_secret(stack, first.stdout, second.stdout, listed.stdout, pruned.stdout)


def _on_a_terminal(project: Project, args: list[str], answer: str, end: str = "\n") -> subprocess.CompletedProcess[str]:
    """Run the CLI with a pseudo-terminal as stdin (so it asks) and type `answer` (then `end`:
    Enter, or Ctrl-D)."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "liar_tui", "--project-dir", str(project.root), "--project-name", project.name, *args],
            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        os.close(slave)
        os.write(master, (answer + end).encode())
        out, err = proc.communicate(timeout=300)
    finally:
        os.close(master)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_restore_asks_on_a_terminal(stack: Project, full_set: tuple[BackupSet, dict, list[BackupProgress]]) -> None:
    bset = full_set[0]
    r = stackkit.redis_client(stack)
    r.set("asked:marker", "still here")
    declined = _on_a_terminal(stack, ["restore", bset.id, "redis"], "no")
    assert declined.returncode == 1, declined.stdout + declined.stderr
    assert "Type the project name to confirm" in declined.stdout
    assert declined.stderr.strip().splitlines()[-1] == "liar-tui: not confirmed: nothing was changed"
    assert r.get("asked:marker") == b"still here"

    accepted = _on_a_terminal(stack, ["restore", bset.id, "redis"], stack.name)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "redis: 20000 keys loaded" in accepted.stdout
    r = stackkit.redis_client(stack)
    assert r.get("asked:marker") is None  # not in the set: gone
    assert backupkit.redis_digest(stack) == full_set[1]["redis"]


def test_ctrl_d_at_the_down_volumes_prompt_removes_nothing(stack: Project) -> None:
    marker = stack.data_dir / "redis" / "ctrl-d-marker"
    marker.write_text("kept")
    try:
        out = _on_a_terminal(stack, ["down", "--volumes"], "", end="\x04")
        assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
        assert out.stderr.strip().splitlines() == ["liar-tui: not confirmed: nothing was removed"], out.stderr
        assert marker.read_text() == "kept"
        assert stackkit.state_of(stack, "redis").running
    finally:
        marker.unlink(missing_ok=True)


def test_sigterm_cancels_a_headless_backup_and_keeps_nothing(stack: Project, tmp_path: Path) -> None:
    """`timeout`, cron or systemd end a job with SIGTERM: the backup is cancelled as by Ctrl-C,
    not killed with a half-written set left behind; it exits 143 (128 + SIGTERM, not Ctrl-C's
    130) and its note names the signal, not Ctrl-C."""
    import signal

    sets = tmp_path / "sets"
    proc = subprocess.Popen(
        [sys.executable, "-m", "liar_tui", "--project-dir", str(stack.root), "--project-name", stack.name,
         "backup", "--backup-dir", str(sets), "-q"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        stackkit.wait_for(lambda: sets.is_dir() and any(sets.iterdir()), 60, interval=0.02, what="the set folder")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, (out, err)
    assert "Traceback" not in err and err.strip().splitlines() == [
        "liar-tui: SIGTERM: cancelling the backup (another SIGTERM or Ctrl-C stops it at once)",
        "liar-tui: backup cancelled: nothing was kept"], err
    assert list(sets.iterdir()) == []

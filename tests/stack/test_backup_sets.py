"""Backup sets on disk, without an engine: layout, statuses, prune, the roles-file rewrite."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import shutil
from pathlib import Path
from typing import Any

import pytest

from liar_tui.stack.backup import idempotent_globals
from liar_tui.stack.backupset import (
    LOCK_FILE,
    BackupDirNotWritable,
    SetWriter,
    UnknownBackupSet,
    ensure_backup_dir,
    find_set,
    list_sets,
    prune_sets,
    resolve_backup_dir,
    write_json_file,
)


def make_set(root: Path, set_id: str, project: str = "liar-game", payload: bytes = b"data",
             services: tuple[str, ...] = ("redis",)) -> Path:
    w = SetWriter(root, set_id, project, list(services)).open()
    for svc in services:
        hw = w.writer(f"{svc}/data", svc, "rdb" if svc == "redis" else "dump")
        hw.write(payload)
        w.add(hw.commit())
    return w.finish({svc: {"bytes": len(payload)} for svc in services}, {"liar-tui": "test"})


def make_partial(root: Path, set_id: str, project: str = "liar-game", hold: bool = False) -> tuple[SetWriter, int | None]:
    w = SetWriter(root, set_id, project, ["postgres"]).open()
    hw = w.writer("postgres/database.dump", "postgres", "dump")
    hw.write(b"PGDMP half")
    if hold:
        return w, None
    w._unlock()  # the process died: nobody holds the lock any more
    return w, None


def test_a_finished_set_is_private_and_complete(tmp_path: Path) -> None:
    path = make_set(tmp_path, "20240101T000000Z")
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for p in path.rglob("*"):
        assert stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600), p
    assert not list(path.rglob("*.tmp-*")) and not (path / LOCK_FILE).exists()
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["files"] == [{
        "path": "redis/data", "size": 4, "sha256": "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7",
        "service": "redis", "kind": "rdb"}]
    assert {"id", "created_at", "project", "services", "files", "tools", "meta"} <= set(manifest)
    [s] = list_sets(tmp_path)
    assert s.complete and s.status == "complete" and s.services == ("redis",) and s.project == "liar-game"


def test_partial_sets_are_incomplete_in_progress_ones_are_not_pruned(tmp_path: Path) -> None:
    make_set(tmp_path, "20240101T000000Z")
    make_set(tmp_path, "20240102T000000Z")
    make_set(tmp_path, "20240103T000000Z")
    make_partial(tmp_path, "20240104T000000Z")  # a crashed backup
    running, _ = make_partial(tmp_path, "20240105T000000Z", hold=True)  # a backup writing now
    make_set(tmp_path, "20240102T000000Z-2")  # a second set in the same second
    make_set(tmp_path, "20240102T000000Z-10")
    sets = list_sets(tmp_path)
    # in the order they were started, complete or not (an incomplete one has no creation time)
    assert [s.id for s in sets] == ["20240101T000000Z", "20240102T000000Z", "20240102T000000Z-2", "20240102T000000Z-10",
                                    "20240103T000000Z", "20240104T000000Z", "20240105T000000Z"]
    for extra in ("20240102T000000Z-2", "20240102T000000Z-10"):
        shutil.rmtree(tmp_path / extra)
    statuses = {s.id: s.status for s in list_sets(tmp_path)}
    assert statuses == {
        "20240101T000000Z": "complete", "20240102T000000Z": "complete", "20240103T000000Z": "complete",
        "20240104T000000Z": "incomplete", "20240105T000000Z": "in progress",
    }
    with pytest.raises(Exception, match="incomplete"):
        from liar_tui.stack.backup import BackupManager  # noqa: F401 - verify refuses incomplete sets
        from liar_tui.stack.project import Project

        BackupManager(Project(tmp_path), backup_dir=tmp_path).verify("20240104T000000Z")
    result = prune_sets(tmp_path, keep=2)
    assert set(result.removed) == {"20240101T000000Z", ".20240104T000000Z.partial"}
    assert result.skipped == ("20240105T000000Z",)
    assert {s.id for s in list_sets(tmp_path)} == {"20240102T000000Z", "20240103T000000Z", "20240105T000000Z"}
    running.abandon()
    assert [s.id for s in list_sets(tmp_path)] == ["20240102T000000Z", "20240103T000000Z"]


def test_prune_only_touches_this_projects_sets(tmp_path: Path) -> None:
    make_set(tmp_path, "20240101T000000Z", project="other")
    make_set(tmp_path, "20240102T000000Z")
    make_set(tmp_path, "20240103T000000Z")
    result = prune_sets(tmp_path, keep=1, project="liar-game")
    assert result.removed == ("20240102T000000Z",)
    assert [s.id for s in list_sets(tmp_path)] == ["20240101T000000Z", "20240103T000000Z"]


@pytest.mark.parametrize("keep", [3, 4, 5, 7])
def test_prune_keeps_everything_when_asked_to_keep_more_sets_than_there_are(tmp_path: Path, keep: int) -> None:
    # A nightly `prune --keep 7` on a host with three sets so far must remove none of them.
    for day in (1, 2, 3):
        make_set(tmp_path, f"2024010{day}T000000Z")
    result = prune_sets(tmp_path, keep=keep)
    assert result.removed == ()
    assert [s.id for s in list_sets(tmp_path)] == ["20240101T000000Z", "20240102T000000Z", "20240103T000000Z"]


def test_a_set_without_manifest_is_incomplete(tmp_path: Path) -> None:
    path = make_set(tmp_path, "20240101T000000Z")
    (path / "manifest.json").unlink()
    [s] = list_sets(tmp_path)
    assert s.status == "incomplete" and "no manifest" in s.problem


def test_verified_status_follows_the_manifest(tmp_path: Path) -> None:
    import hashlib

    path = make_set(tmp_path, "20240101T000000Z")
    digest = hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()
    write_json_file(path / "verify.json", {"verified_at": "2024-01-01T00:00:00+00:00", "manifest_sha256": digest, "ok": True})
    assert list_sets(tmp_path)[0].status == "verified"
    write_json_file(path / "verify.json", {"verified_at": "2024-01-01T00:00:00+00:00", "manifest_sha256": digest, "ok": False})
    assert list_sets(tmp_path)[0].status == "verify failed"
    write_json_file(path / "verify.json", {"verified_at": "2024-01-01T00:00:00+00:00", "manifest_sha256": "0" * 64, "ok": True})
    assert list_sets(tmp_path)[0].status == "complete"  # verified a different manifest: stale


def test_find_set(tmp_path: Path) -> None:
    make_set(tmp_path, "20240101T000000Z")
    make_set(tmp_path, "20240102T000000Z")
    make_partial(tmp_path, "20240103T000000Z")
    assert find_set(tmp_path, "latest").id == "20240102T000000Z"
    assert find_set(tmp_path, "20240101T000000Z").id == "20240101T000000Z"
    assert find_set(tmp_path, str(tmp_path / "20240101T000000Z")).id == "20240101T000000Z"
    with pytest.raises(UnknownBackupSet, match=r"no backup set 'x' in .* `liar-tui backup list`"):
        find_set(tmp_path, "x")


def test_backup_dir_resolution_and_unwritable_paths(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    assert resolve_backup_dir(root, None, {}) == root / "backups"
    assert resolve_backup_dir(root, None, {"LIAR_TUI_BACKUP_DIR": str(tmp_path / "env")}) == tmp_path / "env"
    assert resolve_backup_dir(root, str(tmp_path / "cli"), {"LIAR_TUI_BACKUP_DIR": "x"}) == tmp_path / "cli"
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(BackupDirNotWritable, match=r"backup dir .*afile/sets is not writable: .*choose another with --backup-dir"):
        ensure_backup_dir(afile / "sets")
    ensure_backup_dir(tmp_path / "new" / "deep")
    assert stat.S_IMODE((tmp_path / "new" / "deep").stat().st_mode) == 0o700
    assert list((tmp_path / "new" / "deep").iterdir()) == []


def test_lock_is_really_held_while_writing(tmp_path: Path) -> None:
    w, _ = make_partial(tmp_path, "20240101T000000Z", hold=True)
    fd = os.open(w.path / LOCK_FILE, os.O_RDONLY)
    try:
        with pytest.raises(OSError):
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    finally:
        os.close(fd)
        w.abandon()
    assert not w.path.exists()


GLOBALS = '''\
SET default_transaction_read_only = off;
CREATE ROLE app;
ALTER ROLE app WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:aa==$bb=:cc=';
CREATE ROLE liaruser;
ALTER ROLE liaruser WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:dd==$ee=:ff=';
CREATE ROLE "Odd ""Name""";
ALTER ROLE "Odd ""Name""" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
GRANT app TO "Odd ""Name""" GRANTED BY liaruser;
'''


def test_roles_replay_keeps_the_stack_users_current_password() -> None:
    out = idempotent_globals(GLOBALS, "liaruser")
    lines = out.splitlines()
    assert "DO $liar$ BEGIN CREATE ROLE app; EXCEPTION WHEN duplicate_object THEN NULL; END $liar$;" in lines
    assert 'DO $liar$ BEGIN CREATE ROLE "Odd ""Name"""; EXCEPTION WHEN duplicate_object THEN NULL; END $liar$;' in lines
    # app's password comes back; the stack user's stays what compose/.env says.
    assert any(ln.startswith("ALTER ROLE app WITH") and "PASSWORD 'SCRAM-SHA-256$4096:aa==$bb=:cc='" in ln for ln in lines)
    assert "ALTER ROLE liaruser WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;" in lines
    assert "ff=" not in out
    assert 'GRANT app TO "Odd ""Name""" GRANTED BY liaruser;' in lines


def test_the_roles_of_a_set_are_read_from_either_form_of_its_roles_file() -> None:
    from liar_tui.stack.backup import set_roles

    expected = {"app", "liaruser", 'Odd "Name"'}
    assert set_roles(GLOBALS) == expected
    assert set_roles(idempotent_globals(GLOBALS, "liaruser")) == expected


def _mark_verified(path: Path, ok: bool) -> None:
    from liar_tui.stack.backupset import MANIFEST, sha256_file

    write_json_file(path / "verify.json", {"set": path.name, "ok": ok, "verified_at": "2024-01-09T00:00:00+00:00",
                                           "manifest_sha256": sha256_file(path / MANIFEST)})


def test_prune_never_keeps_a_bad_set_in_place_of_a_good_one(tmp_path: Path) -> None:
    good = make_set(tmp_path, "20240101T000000Z")
    _mark_verified(good, True)
    bad = make_set(tmp_path, "20240102T000000Z")  # newer, but its last verify failed
    _mark_verified(bad, False)
    make_partial(tmp_path, "20240103T000000Z")
    assert [s.status for s in list_sets(tmp_path)] == ["verified", "verify failed", "incomplete"]
    result = prune_sets(tmp_path, keep=1)
    assert result.kept == ("20240101T000000Z",)
    assert set(result.removed) == {"20240102T000000Z", ".20240103T000000Z.partial"} and result.bad == ("20240102T000000Z",)
    assert [s.id for s in list_sets(tmp_path)] == ["20240101T000000Z"] and not result.failed


@pytest.mark.parametrize("keep", [0, -1])
def test_prune_refuses_to_keep_no_set(tmp_path: Path, keep: int) -> None:
    make_set(tmp_path, "20240101T000000Z")
    with pytest.raises(Exception, match="--keep must be 1 or more"):
        prune_sets(tmp_path, keep=keep)
    assert len(list_sets(tmp_path)) == 1


PRUNE_IN_A_READ_ONLY_PLACE = r"""
import json, subprocess, sys
import shutil
from pathlib import Path
from liar_tui.stack.backupset import list_sets, prune_sets
root, ro = Path(sys.argv[1]), sys.argv[2]
subprocess.run(["mount", "--bind", ro, ro], check=True)
subprocess.run(["mount", "-o", "remount,bind,ro", ro], check=True)
r = prune_sets(root, keep=1)
print(json.dumps({"removed": r.removed, "failed": r.failed, "sets": [[s.id, s.status] for s in list_sets(root)]}))
"""


def _prune_with_read_only(tmp_path: Path, root: Path, ro: Path) -> dict:
    import shutil
    import subprocess
    import sys

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.fail("needs root and unshare: a read-only bind mount is the only folder root cannot write")
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c", PRUNE_IN_A_READ_ONLY_PLACE,
                        str(root), str(ro)], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_prune_in_a_read_only_folder_removes_nothing_and_says_so(tmp_path: Path) -> None:
    root = tmp_path / "sets"
    root.mkdir()
    make_set(root, "20240101T000000Z")
    make_set(root, "20240102T000000Z")
    out = _prune_with_read_only(tmp_path, root, root)
    assert out["removed"] == [] and [f[0] for f in out["failed"]] == ["20240101T000000Z"]
    assert "Read-only" in out["failed"][0][1]
    assert out["sets"] == [["20240101T000000Z", "complete"], ["20240102T000000Z", "complete"]]


def test_a_set_prune_could_only_half_delete_reads_as_incomplete(tmp_path: Path) -> None:
    """The old set's redis folder cannot be emptied (read-only): the set was renamed first, so
    what is left is an incomplete set, never a 'complete' one with its files gone."""
    root = tmp_path / "sets"
    root.mkdir()
    old = make_set(root, "20240101T000000Z")
    make_set(root, "20240102T000000Z")
    out = _prune_with_read_only(tmp_path, root, old / "redis")
    assert out["removed"] == [] and [f[0] for f in out["failed"]] == ["20240101T000000Z"]
    assert out["sets"] == [["20240101T000000Z", "incomplete"], ["20240102T000000Z", "complete"]]


# -- QA pass: prune per service, set ids are folder names, id prefixes, `latest` for a restore ----------
FULL = ("postgres", "redis", "minio")


def test_prune_keeps_the_newest_good_sets_of_each_service(tmp_path: Path) -> None:
    """Full backups, then many `backup redis`: `prune --keep 3` kept three redis-only sets and
    removed every postgres and minio backup. It keeps, for each service, the 3 newest good sets
    holding it."""
    make_set(tmp_path, "20240101T000000Z", services=FULL)
    make_set(tmp_path, "20240102T000000Z", services=FULL)
    bad_full = make_set(tmp_path, "20240103T000000Z", services=FULL)
    _mark_verified(bad_full, False)  # a failed full set keeps nothing for anyone
    for i in range(20):
        make_set(tmp_path, f"20240104T0000{i:02d}Z")
    result = prune_sets(tmp_path, keep=3)
    redis_newest = ("20240104T000017Z", "20240104T000018Z", "20240104T000019Z")
    left = [(s.id, s.services) for s in list_sets(tmp_path)]
    assert left == [("20240101T000000Z", FULL), ("20240102T000000Z", FULL)] + [(i, ("redis",)) for i in redis_newest]
    assert dict(result.kept_for) == {
        "postgres": ("20240101T000000Z", "20240102T000000Z"),
        "redis": redis_newest,
        "minio": ("20240101T000000Z", "20240102T000000Z"),
    }
    assert "20240103T000000Z" in result.bad and len(result.removed) == 18
    # --keep 1: the newest full set stays for postgres and minio, the newest redis-only set for redis
    result = prune_sets(tmp_path, keep=1)
    assert [s.id for s in list_sets(tmp_path)] == ["20240102T000000Z", "20240104T000019Z"]


def test_a_copied_set_folder_is_its_own_set(tmp_path: Path) -> None:
    """A set folder copied (or renamed) inside the backup dir was listed under its manifest's id:
    two rows with one id, and verify/restore by that id picked the (corrupt) copy. The folder's
    name is the id; the copy says whose copy it is."""
    import shutil

    original = make_set(tmp_path, "20240101T000000Z", payload=b"good")
    _mark_verified(original, True)
    copy = tmp_path / "20240101T000001Z"
    shutil.copytree(original, copy)
    (copy / "redis" / "data").write_bytes(b"BAD!")
    sets = list_sets(tmp_path)
    assert [(s.id, s.path.name) for s in sets] == [("20240101T000000Z", "20240101T000000Z"), ("20240101T000001Z", "20240101T000001Z")]
    assert find_set(tmp_path, "20240101T000000Z").path == original
    assert find_set(tmp_path, "20240101T000001Z").path == copy
    assert [s.manifest_id for s in sets] == ["", "20240101T000000Z"]
    assert [s.status for s in sets] == ["verified", "complete"]  # the copy was never verified where it is
    assert "copied or renamed" in sets[1].problem and sets[1].to_dict()["manifest_id"] == "20240101T000000Z"
    result = prune_sets(tmp_path, keep=1)  # the newest by id goes on, the older one goes
    assert result.removed == ("20240101T000000Z",) and [s.id for s in list_sets(tmp_path)] == ["20240101T000001Z"]


def test_a_set_is_found_by_the_unique_start_of_its_id(tmp_path: Path) -> None:
    for set_id in ("20261127T035200Z", "20261127T035201Z", "20261127T035959Z", "20261127T040000Z"):
        make_set(tmp_path, set_id)
    assert find_set(tmp_path, "20261127T04").id == "20261127T040000Z"
    assert find_set(tmp_path, "20261127T035959").id == "20261127T035959Z"
    assert find_set(tmp_path, "20261127T035200Z").id == "20261127T035200Z"  # exact wins
    with pytest.raises(UnknownBackupSet, match=r"'20261127T0352' is the start of 2 backup sets in .* "
                                               r"\(20261127T035200Z, 20261127T035201Z\): give more of the id"):
        find_set(tmp_path, "20261127T0352")
    with pytest.raises(UnknownBackupSet, match=r"is the start of 4 backup sets .*give more"):
        find_set(tmp_path, "2026")
    # the ids it offers instead are the newest three, newest first (they came oldest first)
    with pytest.raises(UnknownBackupSet, match=r"no backup set '20251' in .* \(newest: 20261127T040000Z, "
                                               r"20261127T035959Z, 20261127T035201Z\)"):
        find_set(tmp_path, "20251")


def test_latest_for_a_restore_skips_failed_sets_and_needs_the_services(tmp_path: Path) -> None:
    full = make_set(tmp_path, "20240101T000000Z", services=FULL)
    _mark_verified(full, True)
    make_set(tmp_path, "20240102T000000Z")  # redis only, never verified
    failed = make_set(tmp_path, "20240103T000000Z", services=FULL)
    _mark_verified(failed, False)
    assert find_set(tmp_path, "latest").id == "20240103T000000Z"  # verify latest: the newest complete set
    assert find_set(tmp_path, "latest", restorable=True).id == "20240102T000000Z"
    assert find_set(tmp_path, "latest", restorable=True, services=("postgres",)).id == "20240101T000000Z"
    assert find_set(tmp_path, "latest", restorable=True, services=("redis", "minio")).id == "20240101T000000Z"
    _mark_verified(full, False)
    with pytest.raises(UnknownBackupSet, match="no backup set holding postgres in .* that can be restored"):
        find_set(tmp_path, "latest", restorable=True, services=("postgres",))


def test_an_empty_or_file_backup_dir_is_refused(tmp_path: Path) -> None:
    from liar_tui.stack.backupset import BackupError, check_backup_dir

    with pytest.raises(BackupError, match="--backup-dir is empty"):
        resolve_backup_dir(tmp_path, "", {})
    with pytest.raises(BackupError, match="--backup-dir is empty"):
        resolve_backup_dir(tmp_path, "  ", {"LIAR_TUI_BACKUP_DIR": str(tmp_path)})
    assert resolve_backup_dir(tmp_path, None, {"LIAR_TUI_BACKUP_DIR": ""}) == tmp_path / "backups"
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(BackupError, match=r"backup dir .*afile is not a folder \(it is a file\)"):
        check_backup_dir(afile)
    with pytest.raises(BackupError, match=r"afile/sets is not a folder \(it lies under .*afile, which is a file\)"):
        check_backup_dir(afile / "sets")
    check_backup_dir(tmp_path / "not" / "yet")  # a folder still to be made is fine


def test_backups_started_at_once_each_get_their_own_set(tmp_path: Path) -> None:
    """Two backups in the same second (cron and a console) both found the same id free; the one
    whose mkdir lost said the backup folder was not writable."""
    import threading

    from liar_tui.stack.backup import open_new_set

    for round_ in range(20):
        root = tmp_path / str(round_)
        root.mkdir()
        barrier = threading.Barrier(6)
        writers: list[Any] = []
        errors: list[BaseException] = []

        def start() -> None:
            barrier.wait()
            try:
                writers.append(open_new_set(root, "liar-game", ["redis"]))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=start) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            assert errors == [], errors
            assert len({w.id for w in writers}) == 6
        finally:
            for w in writers:
                w.abandon()


def test_an_s3_server_gone_mid_way_is_one_line_naming_where_to_look(tmp_path: Path) -> None:
    """QA: the S3 server was OOM-killed during a restore's uploads and the console showed
    urllib3's MaxRetryError, upload id and all, over four lines."""
    import urllib3.connection
    import urllib3.exceptions

    from liar_tui.stack.backup import StackAccess
    from liar_tui.stack.project import Project

    access = StackAccess(Project(root=tmp_path), engine=None)  # type: ignore[arg-type]
    exc = urllib3.exceptions.MaxRetryError(
        None, "/replays/big-1.bin?uploadId=a7e43d057df0394894e26ea3f0f68696",  # type: ignore[arg-type]
        urllib3.exceptions.ResponseError("too many 502 error responses"))
    text = str(access.s3_error(exc, "minio restore"))
    assert text == ("minio restore: MinIO stopped answering (too many 502 error responses): see `liar-tui status` and "
                    "`liar-tui logs minio`"), text
    refused = urllib3.exceptions.MaxRetryError(
        None, "/replays/x", urllib3.exceptions.NewConnectionError(  # type: ignore[arg-type]
            urllib3.connection.HTTPConnection("127.0.0.1", 9000),
            "Failed to establish a new connection: [Errno 111] Connection refused"))
    text = str(access.s3_error(refused, "minio restore"))
    assert text.startswith("minio restore: MinIO stopped answering (Failed to establish a new connection: [Errno 111] "
                           "Connection refused at 127.0.0.1:9000): see"), text


def test_a_verifys_checksum_progress_ends_at_its_total(tmp_path: Path) -> None:
    """QA: the console's checksums bar stopped a half cell short of full at '100%': progress
    goes out at most every 0.1 s, and the last files' bytes never did."""
    from liar_tui.stack.backup import BackupManager, BackupProgress
    from liar_tui.stack.project import Project

    root = tmp_path / "sets"
    root.mkdir()
    make_set(root, "20240101T000000Z", payload=b"x" * 1000, services=("postgres", "redis", "minio"))
    seen: list[BackupProgress] = []
    report = BackupManager(Project(root=tmp_path), backup_dir=root).verify("20240101T000000Z", progress=seen.append,
                                                                           content=False)
    assert report.ok, report.problems
    checksums = [p for p in seen if p.service == "set"]
    assert checksums and checksums[-1].bytes_done == checksums[-1].bytes_total == 3000, checksums


def test_a_set_carries_its_last_verify_s_words_and_when_it_finished(tmp_path: Path) -> None:
    """What the Backups view's detail shows of a set: each check of its last verify (service, ok,
    the tool's words), what that verify found wrong, and when the backup finished; none of it once
    the manifest changed (that verify was of another manifest)."""
    from liar_tui.stack.backupset import MANIFEST, read_set, sha256_file

    path = make_set(tmp_path, "20240101T000000Z", services=("postgres", "redis"))
    bset = read_set(path)
    assert bset.finished_at is not None and bset.created_at is not None and bset.finished_at >= bset.created_at
    assert bset.verify_checks == () and bset.verify_problems == ()
    write_json_file(path / "verify.json", {
        "set": path.name, "ok": False, "verified_at": "2024-01-09T00:00:00+00:00",
        "manifest_sha256": sha256_file(path / MANIFEST),
        "problems": ["redis/data: sha256 differs from the manifest", "redis: redis-check-rdb: bad CRC"],
        "checks": [{"service": "postgres", "ok": True, "summary": "pg_restore reads 3 TOC entries, 1 tables", "details": {}},
                   {"service": "redis", "ok": False, "summary": "redis-check-rdb: bad CRC", "details": {}}],
    })
    bset = read_set(path)
    assert bset.status == "verify failed"
    assert bset.verify_checks == (("postgres", True, "pg_restore reads 3 TOC entries, 1 tables"),
                                  ("redis", False, "redis-check-rdb: bad CRC"))
    assert bset.verify_problems == ("redis/data: sha256 differs from the manifest", "redis: redis-check-rdb: bad CRC")
    listed = bset.to_dict()  # `backup list --json`: a monitoring script reads why too
    assert listed["status"] == "verify failed" and listed["verify_problems"] == list(bset.verify_problems)
    assert listed["finished_at"] == bset.finished_at.isoformat()
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["tools"]["edited"] = "yes"
    (path / MANIFEST).write_text(json.dumps(manifest))
    bset = read_set(path)
    assert bset.verified is None and bset.verify_checks == () and bset.verify_problems == ()

"""Backups meeting a stack that moves: a service restarted or stopped under a verify, two restores
at once, MinIO "folder" objects, `restore latest` next to a failed set, Ctrl-D at the prompt. On a
real stack of its own (restores and restarts are destructive; this module shares it with nobody).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import backupkit
import pytest
import stackkit

from liar_tui.stack.backup import BackupError, BackupManager, BackupProgress
from liar_tui.stack.backupset import MANIFEST, BackupSet, list_sets, sha256_file, write_json_file
from liar_tui.stack.project import Project

pytestmark = pytest.mark.engine

REPO = Path(__file__).resolve().parents[2]


cli = stackkit.cli


@pytest.fixture(scope="module")
def stack(engine_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    with backupkit.seeded_stack(tmp_path_factory.mktemp("backup-concurrent")) as project:
        yield project


@pytest.fixture(scope="module")
def full_set(stack: Project, tmp_path_factory: pytest.TempPathFactory) -> BackupSet:
    return BackupManager(stack, backup_dir=tmp_path_factory.mktemp("full") / "sets").backup()


def _copy(bset: BackupSet, root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    dest = root / bset.path.name
    shutil.copytree(bset.path, dest)
    (dest / "verify.json").unlink(missing_ok=True)
    return dest


def _disturb(project: Project, service: str, how: str) -> None:
    """What QA did by hand: `docker restart -t 1` (or stop) of the service's container."""
    api = stackkit.Engine().api
    cid = stackkit.state_of(project, service).container_id
    if how == "restart":
        api.restart(cid, timeout=1)
    else:
        api.stop(cid, timeout=1)


def _heal(project: Project, service: str) -> None:
    st = stackkit.state_of(project, service)
    if not st.running:
        stackkit.Engine().api.start(st.container_id)
    stackkit.wait_health(project, service, "healthy", timeout=120)


# -- 1. a verify disturbed by a restart is not a failed set ------------------------------------------
@pytest.mark.parametrize("service,how", [("postgres", "restart"), ("redis", "restart"), ("postgres", "stop")])
def test_a_service_restarted_under_a_verify_is_not_checked_and_the_set_not_failed(
        stack: Project, full_set: BackupSet, tmp_path: Path, service: str, how: str) -> None:
    """The tool in the container is killed with it (exit 137, 126, a broken pipe): that says
    nothing about the set. It was marked 'verify failed' and `prune` then deleted it."""
    dirs = tmp_path / "sets"
    copy = _copy(full_set, dirs)
    disturbed: list[int] = []

    def progress(p: BackupProgress) -> None:
        # the file is being fed to the tool in the container (the first MiB sent, more to come)
        if p.service == service and p.phase == "verify" and p.bytes_done and not disturbed:
            disturbed.append(p.bytes_done)
            assert p.bytes_total and p.bytes_done < p.bytes_total
            _disturb(stack, service, how)

    try:
        report = BackupManager(stack, backup_dir=dirs).verify(copy.name, progress=progress)
    finally:
        _heal(stack, service)
    assert disturbed
    word = "restarted" if how == "restart" else "stopped"
    check = report.check(service)
    assert check is not None and check.details.get("not_checked"), report.checks
    assert check.summary == f"not checked ({service} {word} during verify)", check.summary
    assert not report.ok and report.unfinished and report.unchecked == (service,), report.problems
    assert [c.ok for c in report.checks if c.service != service] == [True, True]
    [listed] = list_sets(dirs)
    assert listed.status == "complete" and not (copy / "verify.json").exists()
    out = cli(stack, "backup", "prune", "--keep", "1", "--backup-dir", str(dirs))
    assert out.returncode == 0 and [s.id for s in list_sets(dirs)] == [copy.name], out


def test_cli_verify_with_postgres_restarted_says_not_finished(stack: Project, full_set: BackupSet, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capfd: pytest.CaptureFixture[str]) -> None:
    """`liar-tui backup verify SET` while postgres restarts: exit 1, 'not checked (postgres
    restarted during verify)', NOT FINISHED, the set still 'complete', and a later verify passes."""
    from liar_tui import cli as cli_main
    from liar_tui import cli_backup

    dirs = tmp_path / "sets"
    copy = _copy(full_set, dirs)
    disturbed: list[int] = []

    def progress(self: object, p: BackupProgress) -> None:
        if p.service == "postgres" and p.phase == "verify" and p.bytes_done and not disturbed:
            disturbed.append(p.bytes_done)
            _disturb(stack, "postgres", "restart")

    monkeypatch.setattr(cli_backup._ProgressPrinter, "__call__", progress)
    try:
        code = cli_main.main(["--project-dir", str(stack.root), "--project-name", stack.name,
                              "backup", "verify", copy.name, "--backup-dir", str(dirs)])
    finally:
        _heal(stack, "postgres")
    out, err = capfd.readouterr()
    assert disturbed and code == 1, (out, err)
    assert "skip  postgres: not checked (postgres restarted during verify)" in out, out
    assert "FAIL" not in out and "exit code" not in out and "Bad file descriptor" not in out, out
    assert err.strip().splitlines() == [
        f"verify {copy.name}: NOT FINISHED (postgres restarted during verify: content not checked; the set is not "
        f"marked failed): verify again once it runs steadily (`liar-tui status`)"], err
    assert list_sets(dirs)[0].status == "complete"
    again = cli(stack, "verify", copy.name, "--backup-dir", str(dirs))
    assert again.returncode == 0 and list_sets(dirs)[0].status == "verified", again


# -- 3. one restore at a time -------------------------------------------------------------------------
def _at_the_prompt(project: Project, args: list[str]) -> tuple[subprocess.Popen[str], int]:
    """A restore on a pseudo-terminal, left waiting at its confirmation prompt."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "liar_tui", "--project-dir", str(project.root), "--project-name", project.name, *args],
        stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={k: v for k, v in os.environ.items() if k != "LIAR_TUI_BACKUP_DIR"},
    )
    os.close(slave)
    return proc, master


def _read_until(proc: subprocess.Popen[str], needle: str, timeout: float = 120) -> str:
    seen = ""
    box: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        text = ""
        while needle not in text:
            ch = proc.stdout.read(1)
            if not ch:
                break
            text += ch
        box.append(text)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout)
    seen = box[0] if box else ""
    assert needle in seen, (seen, proc.poll())
    return seen


def test_a_second_restore_waits_for_the_first(stack: Project, full_set: BackupSet) -> None:
    """Two restores at once fought over the same containers ('Bad file descriptor: … run with
    sudo'). The second one now says who runs and exits 1; the console's path (the manager) too."""
    dirs = full_set.path.parent
    first, master = _at_the_prompt(stack, ["restore", full_set.id, "redis", "--backup-dir", str(dirs)])
    try:
        _read_until(first, "Type the project name to confirm: ")
        second = cli(stack, "restore", full_set.id, "redis", "--yes", "--backup-dir", str(dirs))
        assert second.returncode == 1, second
        assert second.stderr.strip().splitlines() == [
            f"liar-tui: a restore of {stack.name} is running (pid {first.pid}): wait for it"], second.stderr
        assert "verifying" not in second.stdout
        with pytest.raises(BackupError, match=f"a restore of {stack.name} is running \\(pid {first.pid}\\)"):
            BackupManager(stack, backup_dir=dirs).restore(full_set.id, ["redis"])
        os.write(master, (stack.name + "\n").encode())
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, (out, err)
    finally:
        if first.poll() is None:
            first.kill()
        os.close(master)
    # the lock went with the first restore
    again = cli(stack, "restore", full_set.id, "redis", "--yes", "-q", "--backup-dir", str(dirs))
    assert again.returncode == 0, again


def test_ctrl_d_at_the_restore_prompt_ends_the_prompt_line(stack: Project, full_set: BackupSet) -> None:
    proc, master = _at_the_prompt(stack, ["restore", full_set.id, "redis", "--backup-dir", str(full_set.path.parent)])
    try:
        seen = _read_until(proc, "Type the project name to confirm: ")
        os.write(master, b"\x04")
        out, err = proc.communicate(timeout=120)
        out = seen + out
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 1 and out.endswith("Type the project name to confirm: \n"), repr(out[-80:])
    assert err.strip().splitlines() == ["liar-tui: not confirmed: nothing was changed"], err


# -- 5. MinIO "folder" objects -------------------------------------------------------------------------
def _listing(s3: object) -> dict[str, list[tuple[str, int]]]:
    return {b.name: sorted((o.object_name, int(o.size or 0)) for o in s3.list_objects(b.name, recursive=True))  # type: ignore[attr-defined]
            for b in s3.list_buckets()}  # type: ignore[attr-defined]


def test_minio_folder_objects_are_backed_up_and_restored(stack: Project, tmp_path: Path) -> None:
    """Keys ending in '/' are real objects (a console's 'create folder'): backup skipped them, and a
    restore left one behind, so removing a bucket holding only `x/` failed (BucketNotEmpty) after
    other objects were already deleted: a half-restored MinIO."""
    s3 = stackkit.s3_client(stack)
    made = ("folders", "only-a-folder", "later-folder-bucket")
    try:
        for b in made[:2]:
            s3.make_bucket(b)
        s3.put_object("folders", "x/", io.BytesIO(b""), 0, content_type="application/x-directory")
        s3.put_object("folders", "x/inner.txt", io.BytesIO(b"inner"), 5, content_type="text/plain")
        s3.put_object("folders", "empty-dir/", io.BytesIO(b""), 0)
        s3.put_object("only-a-folder", "z/", io.BytesIO(b""), 0)
        before = _listing(s3)
        assert ("x/", 0) in before["folders"] and before["only-a-folder"] == [("z/", 0)]

        mgr = BackupManager(stack, backup_dir=tmp_path / "sets")
        bset = mgr.backup(["minio"])
        index = json.loads((bset.path / "minio" / "index.json").read_text())
        keys = {(e["bucket"], e["key"]) for e in index["objects"]}
        assert {("folders", "x/"), ("folders", "empty-dir/"), ("only-a-folder", "z/")} <= keys
        assert next(e for e in index["objects"] if e["key"] == "x/")["content_type"] == "application/x-directory"

        # After the backup: a folder gone, others made, and a bucket holding only a folder object.
        s3.remove_object("folders", "x/")
        s3.put_object("folders", "junk/", io.BytesIO(b""), 0)
        s3.remove_object("only-a-folder", "z/")
        s3.make_bucket("later-folder-bucket")
        s3.put_object("later-folder-bucket", "d/", io.BytesIO(b""), 0)

        report = mgr.restore(bset.id, ["minio"])
        assert "restored" in report.services[0].summary
        assert _listing(s3) == before  # later-folder-bucket gone, junk/ gone, x/ and z/ back
        assert s3.stat_object("folders", "x/").content_type == "application/x-directory"
        assert s3.get_object("folders", "x/inner.txt").read() == b"inner"
    finally:
        for b in made:
            if s3.bucket_exists(b):
                for o in s3.list_objects(b, recursive=True):
                    s3.remove_object(b, o.object_name)
                s3.remove_bucket(b)


def test_restore_removes_a_bucket_holding_only_a_folder_object(stack: Project, tmp_path: Path) -> None:
    """A set without folder objects, then a bucket made holding only `d/`: the restore deleted
    the other extra objects, then failed removing that bucket (BucketNotEmpty) - half restored."""
    s3 = stackkit.s3_client(stack)
    mgr = BackupManager(stack, backup_dir=tmp_path / "sets")
    bset = mgr.backup(["minio"])
    before = _listing(s3)
    first = sorted(before)[0]
    try:
        s3.put_object(first, "added-after-the-backup", io.BytesIO(b"junk"), 4)
        s3.make_bucket("zz-only-a-folder")
        s3.put_object("zz-only-a-folder", "d/", io.BytesIO(b""), 0)
        mgr.restore(bset.id, ["minio"])
        assert _listing(s3) == before
    finally:
        if s3.bucket_exists("zz-only-a-folder"):
            for o in s3.list_objects("zz-only-a-folder", recursive=True):
                s3.remove_object("zz-only-a-folder", o.object_name)
            s3.remove_bucket("zz-only-a-folder")


# -- 6. `restore latest` passes over a set whose last verify failed -----------------------------------
def test_restore_latest_skips_a_set_whose_last_verify_failed(stack: Project, full_set: BackupSet, tmp_path: Path) -> None:
    dirs = tmp_path / "sets"
    good = _copy(full_set, dirs)
    bad = dirs / "29991231T235959Z"  # newer, and its last verify failed
    shutil.copytree(good, bad)
    manifest = json.loads((bad / MANIFEST).read_text())
    write_json_file(bad / MANIFEST, {**manifest, "id": bad.name})  # a set of its own, not a copy
    write_json_file(bad / "verify.json", {"ok": False, "verified_at": "2999-12-31T23:59:59+00:00",
                                          "manifest_sha256": sha256_file(bad / MANIFEST), "problems": ["redis: broken"]})
    out = cli(stack, "restore", "latest", "redis", "--yes", "--backup-dir", str(dirs))
    assert out.returncode == 0, out
    assert f"restore {good.name} done" in out.stdout and bad.name not in out.stdout, out.stdout


def test_minio_gone_in_the_middle_of_a_restore_says_it_holds_part_of_the_set(stack: Project, full_set: BackupSet) -> None:
    """QA: the S3 server died during a restore's uploads (OOM-killed) and the console showed
    urllib3's retry error over four lines, not that minio now held part of the set. Restoring
    again once it is back gives exactly the set."""
    expected = backupkit.minio_digest(stack)
    mgr = BackupManager(stack, backup_dir=full_set.path.parent)
    stopped = threading.Event()

    def progress(p: BackupProgress) -> None:
        if p.service == "minio" and p.phase == "restore" and p.bytes_done > 0 and not stopped.is_set():
            stopped.set()  # some objects are in: take the server away under the others, at once
            # (killed, as the OOM killer did, and before this upload goes on: a graceful stop in a
            # thread of its own could let the other uploads finish first on a loaded machine)
            stackkit.Engine().api.kill(stackkit.state_of(stack, "minio").container_id)

    try:
        with pytest.raises(BackupError) as caught:
            mgr.restore(full_set.id, ["minio"], progress=progress)
        assert stopped.is_set(), "minio was never seen uploading"
        text = str(caught.value)
        assert text.startswith("minio restore: MinIO stopped answering ("), text
        assert text.endswith("minio holds part of the set now: restore it again once minio is healthy"), text
        assert "\n" not in text and "uploadId" not in text, text
    finally:
        _heal(stack, "minio")
    mgr.restore(full_set.id, ["minio"])
    assert backupkit.minio_digest(stack) == expected

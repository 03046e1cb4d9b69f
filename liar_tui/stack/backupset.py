"""Backup sets on disk: layout, durable writes, the manifest, listing and pruning.

A set is one folder `<backup dir>/<id>/` (mode 0700) holding the service artefacts and, written
last, `manifest.json` (every file with size and sha256). While a backup runs the folder is
`<backup dir>/.<id>.partial/` with an `in-progress.json` and a held lock; only after the manifest
is on disk is it renamed to `<id>`. So:
  - a set whose folder name ends in `.partial`, or that has no manifest, is incomplete (a crash,
    a cancel, a full disk) and `prune` removes it;
  - a rename is atomic, so nothing half-written ever carries a complete set's name.
Every file is written to a temporary name, fsync'ed and renamed; files are 0600.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

from . import locks
from .errors import StackError
from .model import BACKUP_DIR_ENV, BACKUP_SERVICES, format_bytes

FORMAT = "liar-tui-backup/1"
MANIFEST = "manifest.json"
VERIFY_FILE = "verify.json"
PROGRESS_FILE = "in-progress.json"
LOCK_FILE = ".lock"
PARTIAL_SUFFIX = ".partial"
DIR_MODE = 0o700
FILE_MODE = 0o600

_ID_RE = re.compile(r"^\d{8}T\d{6}Z(?:-\d+)?$")
_SERVICE_ORDER = tuple(BACKUP_SERVICES)
_ID_PREFIX_RE = re.compile(r"^\d[\dTZ-]*$")  # what the start of a set id can look like


# -- errors ---------------------------------------------------------------------------------------
class BackupError(StackError):
    """A backup, verify or restore problem the user can act on (one line)."""


class BackupDirNotWritable(BackupError):
    pass


class BackupDirFull(BackupError):
    pass


class UnknownBackupSet(BackupError):
    pass


class BackupCancelled(BackupError):
    exit_code = 130


class BackupDirNotAFolder(BackupError):
    pass


def not_writable_message(path: Path, exc: BaseException) -> str:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"backup dir {path} is not writable: {reason}: choose another with --backup-dir (or {BACKUP_DIR_ENV})"


def full_message(path: Path, written: int) -> str:
    # bytes handed to the set's files, some perhaps still buffered when the disk said no
    after = f" after about {format_bytes(written)} of this backup" if written else ""
    return (
        f"backup dir {path} is full (no space left on device){after}: "
        f"nothing was kept; free space there or choose another with --backup-dir (or {BACKUP_DIR_ENV})"
    )


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def is_not_writable(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (
        errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.ENOENT,
    )


def resolve_backup_dir(project_root: Path, cli_value: str | None = None, environ: dict[str, str] | None = None) -> Path:
    """--backup-dir, then LIAR_TUI_BACKUP_DIR, then <project>/backups. An empty --backup-dir is
    refused (a script whose variable came out empty must not write to the default place); an
    empty LIAR_TUI_BACKUP_DIR counts as unset, as environment variables usually do."""
    if cli_value is not None and not cli_value.strip():
        raise BackupError(f"--backup-dir is empty: name a folder, or leave the option out for the default "
                          f"(${BACKUP_DIR_ENV}, else <project>/backups)")
    env = os.environ if environ is None else environ
    value = cli_value or env.get(BACKUP_DIR_ENV)
    if value:
        return Path(value).expanduser().absolute()
    return project_root / "backups"


def check_backup_dir(path: Path) -> None:
    """A backup dir that is a file (or lies under one) is said as such, not listed as 'no sets'."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "is a file" if probe == path else f"lies under {probe}, which is a file"
        raise BackupDirNotAFolder(f"backup dir {path} is not a folder (it {where}): choose another with --backup-dir "
                                  f"(or {BACKUP_DIR_ENV})")


# -- data -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BackupFile:
    """One artefact of a set, as the manifest records it."""

    path: str  # relative to the set folder, '/'-separated
    size: int
    sha256: str
    service: str
    kind: str  # dump | globals | rdb | index | object

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256, "service": self.service, "kind": self.kind}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "BackupFile":
        return cls(str(d["path"]), int(d["size"]), str(d["sha256"]), str(d["service"]), str(d["kind"]))


@dataclass(frozen=True)
class BackupSet:
    """A set folder as found on disk (complete or not)."""

    id: str
    path: Path
    complete: bool
    created_at: datetime | None = None
    project: str = ""
    services: tuple[str, ...] = ()
    files: tuple[BackupFile, ...] = ()
    size: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    tools: dict[str, str] = field(default_factory=dict)
    verified: bool | None = None  # None: never verified; False: last verify failed
    verified_at: datetime | None = None
    in_progress: bool = False
    problem: str = ""  # why an incomplete set is incomplete
    manifest_id: str = ""  # the id its manifest gives, when not the folder's name (a copied or renamed set)
    finished_at: datetime | None = None
    # the last verify of this manifest: (service, ok, summary) per check, and what it found wrong
    verify_checks: tuple[tuple[str, bool, str], ...] = ()
    verify_problems: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        if self.in_progress:
            return "in progress"
        if not self.complete:
            return "incomplete"
        if self.verified is True:
            return "verified"
        if self.verified is False:
            return "verify failed"
        return "complete"

    @property
    def restorable(self) -> bool:
        """Complete and not failed by its last verify (a restore verifies again anyway)."""
        return self.complete and self.verified is not False

    def files_of(self, service: str) -> list[BackupFile]:
        return [f for f in self.files if f.service == service]

    def file(self, service: str, kind: str) -> BackupFile | None:
        for f in self.files:
            if f.service == service and f.kind == kind:
                return f
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": str(self.path),
            "status": self.status,
            "complete": self.complete,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "project": self.project,
            "services": list(self.services),
            "size": self.size,
            "files": len(self.files),
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
            "verify_problems": list(self.verify_problems),  # what the last verify found wrong
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "problem": self.problem,
            "manifest_id": self.manifest_id or None,
        }


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_set_id(now: datetime | None = None) -> str:
    return (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


# -- durable writes -------------------------------------------------------------------------------
def make_dirs(path: Path) -> None:
    """mkdir -p where every created level is 0700 (Path.mkdir gives parents the umask's mode)."""
    if path.is_dir():
        return
    make_dirs(path.parent)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, f"{path} is a file, not a folder", str(path)) from None


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class HashingWriter:
    """A file being written under a temporary name; `commit()` fsyncs, renames and returns its record."""

    def __init__(self, final: Path, rel: str, service: str, kind: str, owner: "SetWriter | None" = None) -> None:
        self.owner = owner
        self.final = final
        self.rel = rel
        self.service = service
        self.kind = kind
        self.tmp = final.with_name(f".{final.name}.tmp-{secrets.token_hex(4)}")
        make_dirs(final.parent)
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        self._fh: BinaryIO | None = os.fdopen(fd, "wb", buffering=CHUNK_BUFFER)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert self._fh is not None
        self._fh.write(data)
        self._hash.update(data)
        self.size += len(data)
        if self.owner is not None:
            self.owner.bytes_written += len(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def commit(self, final: Path | None = None, rel: str | None = None) -> BackupFile:
        """Flush, fsync, rename to the final name (optionally a name decided now, e.g. a hash)."""
        assert self._fh is not None
        fh, self._fh = self._fh, None
        try:
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fh.close()
        target = final or self.final
        make_dirs(target.parent)
        os.replace(self.tmp, target)
        return BackupFile(rel or self.rel, self.size, self.sha256, self.service, self.kind)

    def discard(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError:
                pass
            self._fh = None
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass


CHUNK_BUFFER = 1 << 20


def write_json_file(path: Path, data: Any) -> None:
    """JSON to a 0600 file, atomically and durably."""
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False, sort_keys=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        while True:
            block = fh.read(CHUNK_BUFFER)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


# -- the store ------------------------------------------------------------------------------------
class SetWriter:
    """A set being written: a `.ID.partial` folder, locked, renamed to ID by `finish()`."""

    def __init__(self, root: Path, set_id: str, project: str, services: list[str]) -> None:
        self.root = root
        self.id = set_id
        self.project = project
        self.services = services
        self.path = root / f".{set_id}{PARTIAL_SUFFIX}"
        self.final_path = root / set_id
        self.files: list[BackupFile] = []
        self.bytes_written = 0  # including files not finished yet (for "full after N MiB")
        self._lock_fd: int | None = None
        self.started_at = utcnow()

    def open(self) -> "SetWriter":
        os.mkdir(self.path, DIR_MODE)
        os.chmod(self.path, DIR_MODE)
        self._lock_fd = os.open(self.path / LOCK_FILE, os.O_WRONLY | os.O_CREAT, FILE_MODE)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        write_json_file(
            self.path / PROGRESS_FILE,
            {"format": FORMAT, "id": self.id, "project": self.project, "services": self.services,
             "started_at": self.started_at.isoformat(), "pid": os.getpid()},
        )
        return self

    def writer(self, rel: str, service: str, kind: str) -> HashingWriter:
        return HashingWriter(self.path / rel, rel, service, kind, owner=self)

    def add(self, record: BackupFile) -> None:
        self.files.append(record)

    def written_bytes(self) -> int:
        return self.bytes_written

    def finish(self, meta: dict[str, Any], tools: dict[str, str]) -> Path:
        """Write the manifest (last), fsync, and give the folder its final name."""
        manifest = {
            "format": FORMAT,
            "id": self.id,
            "created_at": self.started_at.isoformat(),
            "finished_at": utcnow().isoformat(),
            "project": self.project,
            "services": self.services,
            "files": [f.to_dict() for f in sorted(self.files, key=lambda f: (f.service, f.path))],
            "meta": meta,
            "tools": tools,
        }
        for sub in sorted({p.parent for p in self.path.rglob("*") if p.is_file()}, key=lambda p: len(p.parts), reverse=True):
            fsync_dir(sub)
        write_json_file(self.path / MANIFEST, manifest)
        (self.path / PROGRESS_FILE).unlink(missing_ok=True)
        fsync_dir(self.path)
        os.rename(self.path, self.final_path)
        fsync_dir(self.root)
        self._unlock()
        (self.final_path / LOCK_FILE).unlink(missing_ok=True)
        return self.final_path

    def abandon(self) -> bool:
        """Remove the partial folder; True when nothing is left behind."""
        self._unlock()
        shutil.rmtree(self.path, ignore_errors=True)
        return not self.path.exists()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            try:
                os.close(self._lock_fd)
            except OSError:
                pass
            self._lock_fd = None


def ensure_backup_dir(path: Path) -> None:
    """Create the backup dir (0700) and prove a file can be written there; one-line errors."""
    try:
        make_dirs(path)
        if not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path))
        probe = path / f".write-test-{secrets.token_hex(4)}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            os.write(fd, b"x")
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink(missing_ok=True)
    except OSError as exc:
        if is_disk_full(exc):
            raise BackupDirFull(full_message(path, 0)) from None
        raise BackupDirNotWritable(not_writable_message(path, exc)) from None


def _is_locked(path: Path) -> bool:
    """A running backup holds its set's lock file (SetWriter.open)."""
    return locks.held(path / LOCK_FILE)


def read_set(path: Path) -> BackupSet:
    """What a set folder holds; never raises for a damaged set (it is listed as incomplete)."""
    name = path.name
    partial = name.endswith(PARTIAL_SUFFIX)
    set_id = name[1 : -len(PARTIAL_SUFFIX)] if partial and name.startswith(".") else name
    size = 0
    for p in path.rglob("*"):
        try:
            if p.is_file():
                size += p.stat().st_size
        except OSError:
            pass
    manifest_path = path / MANIFEST
    if partial or not manifest_path.is_file():
        info: dict[str, Any] = {}
        try:
            info = json.loads((path / PROGRESS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        return BackupSet(
            id=set_id, path=path, complete=False, created_at=_parse_time(info.get("started_at")),
            project=str(info.get("project") or ""), services=tuple(info.get("services") or ()), size=size,
            in_progress=_is_locked(path),
            problem="no manifest: the backup did not finish (cancelled, failed or interrupted)",
        )
    try:
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = tuple(BackupFile.from_dict(f) for f in data.get("files") or [])
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return BackupSet(id=set_id, path=path, complete=False, size=size, problem=f"unreadable manifest: {exc}")
    verified: bool | None = None
    verified_at = None
    checks: tuple[tuple[str, bool, str], ...] = ()
    problems: tuple[str, ...] = ()
    try:
        v = json.loads((path / VERIFY_FILE).read_text(encoding="utf-8"))
        # A verify of this manifest, in this folder (a copied set was not verified where it is now)
        if v.get("manifest_sha256") == sha256_file(manifest_path) and v.get("set", set_id) == set_id:
            verified = bool(v.get("ok"))
            verified_at = _parse_time(v.get("verified_at"))
            checks = tuple((str(c.get("service", "")), bool(c.get("ok")), str(c.get("summary", "")))
                           for c in v.get("checks") or [] if isinstance(c, dict))
            problems = tuple(str(p) for p in v.get("problems") or [])
    except (OSError, ValueError, AttributeError):
        pass
    # The folder's name is the set's id everywhere (list, verify, restore, prune): a set copied or
    # renamed inside the backup dir is its own row, never a second row under the original's id.
    manifest_id = str(data.get("id") or "")
    return BackupSet(
        id=set_id, path=path, complete=True, created_at=_parse_time(data.get("created_at")),
        project=str(data.get("project") or ""), services=tuple(data.get("services") or ()), files=files,
        size=size, meta=dict(data.get("meta") or {}), tools=dict(data.get("tools") or {}),
        verified=verified, verified_at=verified_at, finished_at=_parse_time(data.get("finished_at")),
        verify_checks=checks, verify_problems=problems,
        manifest_id=manifest_id if manifest_id and manifest_id != set_id else "",
        problem=f"its manifest names set {manifest_id} (a copied or renamed folder)" if manifest_id and manifest_id != set_id else "",
    )


def list_sets(root: Path) -> list[BackupSet]:
    """Every set folder under `root`, oldest first (complete or not)."""
    if not root.is_dir():
        return []
    result = []
    for entry in root.iterdir():
        if not entry.is_dir():
            continue
        name = entry.name
        if _ID_RE.match(name) or (name.startswith(".") and name.endswith(PARTIAL_SUFFIX) and _ID_RE.match(name[1 : -len(PARTIAL_SUFFIX)])):
            result.append(read_set(entry))
    result.sort(key=lambda s: id_order(s.id))
    return result


def id_order(set_id: str) -> tuple[str, int]:
    """Sets in the order they were started: an id is its start time (`20261127T035200Z`, with
    `-2`, `-3`... for more in the same second). A set with no manifest has no creation time
    recorded; ordered by that it came first (QA)."""
    stamp, _, n = set_id.partition("-")
    return stamp, int(n) if n.isdigit() else 1


def find_set(root: Path, name: str, *, restorable: bool = False, services: tuple[str, ...] | list[str] = ()) -> BackupSet:
    """A set by id, by a unique start of an id (`20261127T0352`), by folder path, or `latest`:
    the newest complete set; with `restorable`, the newest one whose last verify did not fail
    and that holds `services` (what `restore latest [SVC...]` can use)."""
    candidate = Path(name).expanduser()
    if candidate.is_dir() and (candidate / MANIFEST).exists() and ("/" in name or candidate.is_absolute()):
        return read_set(candidate.absolute())
    sets = list_sets(root)
    if name == "latest":
        complete = [s for s in sets if s.complete]
        if not complete:
            raise UnknownBackupSet(f"no complete backup set in {root}: make one with `liar-tui backup`")
        if not restorable:
            return complete[-1]
        usable = [s for s in complete if s.verified is not False and set(services) <= set(s.services)]
        if usable:
            return usable[-1]
        holding = f" holding {', '.join(services)}" if services else ""
        raise UnknownBackupSet(
            f"no backup set{holding} in {root} that can be restored (every complete one{holding} failed its last "
            f"verify): make one with `liar-tui backup`, or name a set"
        )
    for s in sets:
        if s.id == name:
            return s
    matches = [s for s in sets if name and s.id.startswith(name)] if _ID_PREFIX_RE.match(name) else []
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(s.id for s in matches[:4]) + (f" and {len(matches) - 4} more" if len(matches) > 4 else "")
        raise UnknownBackupSet(f"{name!r} is the start of {len(matches)} backup sets in {root} ({shown}): give more of the id")
    known = ", ".join(s.id for s in reversed(sets[-3:])) or "none"  # newest first, as the words say
    raise UnknownBackupSet(
        f"no backup set {name!r} in {root} (newest: {known}): run `liar-tui backup list` to see them, "
        f"or pass --backup-dir"
    )


def allocate_set_id(root: Path, now: datetime | None = None) -> str:
    base = new_set_id(now)
    set_id = base
    n = 1
    while (root / set_id).exists() or (root / f".{set_id}{PARTIAL_SUFFIX}").exists():
        n += 1
        set_id = f"{base}-{n}"
    return set_id


def _service_rank(service: str) -> tuple[int, str]:
    return (_SERVICE_ORDER.index(service) if service in _SERVICE_ORDER else len(_SERVICE_ORDER), service)


@dataclass(frozen=True)
class PruneResult:
    kept: tuple[str, ...]
    removed: tuple[str, ...]
    skipped: tuple[str, ...]  # in progress (locked by a running backup)
    failed: tuple[tuple[str, str], ...] = ()  # (folder, why) for sets that could not be removed
    bad: tuple[str, ...] = ()  # removed sets whose last verify failed
    kept_for: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (service, the newest good sets holding it)


def prune_sets(root: Path, keep: int, project: str | None = None) -> PruneResult:
    """For each service, keep the `keep` newest good sets (complete, and not failed by their last
    verify) of `project` that hold it: a set stays when it is among them for any service it holds
    (20 `backup redis` must not push out the last postgres backup). Remove every other set that no
    running backup holds: older good ones, known-bad ones (a restore refuses them) and incomplete ones.

    A set is first renamed to its hidden '.ID.partial' name (one atomic step: from then on it
    reads as incomplete, never as a complete set with files missing), then deleted. A set that
    cannot be renamed or deleted is reported in `failed`, not as removed."""
    if keep < 1:
        raise BackupError("--keep must be 1 or more (the newest good sets to keep); to remove every set, delete the folder")
    sets = list_sets(root)
    mine = [s for s in sets if project is None or not s.project or s.project == project]
    good = [s for s in mine if s.restorable]  # oldest first
    held = sorted({svc for s in good for svc in s.services}, key=_service_rank)
    kept_for = []
    for svc in held:
        newest = [s.id for s in good if svc in s.services][-keep:]
        kept_for.append((svc, tuple(newest)))
    keep_ids = {set_id for _, ids in kept_for for set_id in ids}
    removed, skipped, failed, bad = [], [], [], []
    for s in mine:
        if s.id in keep_ids and s.restorable:
            continue
        if s.in_progress:
            skipped.append(s.id)
            continue
        path = s.path
        try:
            if not path.name.startswith("."):
                hidden = path.with_name(f".{path.name}{PARTIAL_SUFFIX}")
                if hidden.exists():
                    shutil.rmtree(hidden)
                path.rename(hidden)
                path = hidden
            shutil.rmtree(path)
        except OSError as exc:
            failed.append((s.path.name, exc.strerror or str(exc)))
            continue
        removed.append(s.path.name)
        if s.complete and s.verified is False:
            bad.append(s.path.name)
    return PruneResult(tuple(sorted(keep_ids)), tuple(removed), tuple(skipped), tuple(failed), tuple(bad), tuple(kept_for))


@contextmanager
def translate_disk_errors(root: Path, written: Any = lambda: 0) -> Iterator[None]:
    """OSError from writing into the backup dir -> one line that names the fix."""
    try:
        yield
    except OSError as exc:
        if is_disk_full(exc):
            raise BackupDirFull(full_message(root, written())) from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise BackupDirNotWritable(not_writable_message(root, exc)) from None
        raise

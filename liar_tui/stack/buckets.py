"""The object store's buckets: the ones liar-game expects, created on `up` when missing.

S3 API only (the minio SDK against the published port): it works with MinIO itself and with S3
stand-ins; MinIO's admin API is not used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minio import Minio

    from .project import Project

#: Buckets the game uses (seed: game logs, user uploads, replays).
EXPECTED_BUCKETS: tuple[str, ...] = ("game-logs", "user-uploads", "replays")

_CREDENTIAL_CODES = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken")


def s3_client(host: str, port: int, env: Mapping[str, str], *, timeout: float = 2.0) -> "Minio":
    """A minio client with short timeouts and no retries: a dead server answers in `timeout`, not minutes."""
    import urllib3

    from .s3sdk import minio

    Minio = minio().Minio
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=timeout, read=timeout),
        retries=False,
        maxsize=2,
    )
    for var in ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"):
        if not env.get(var):
            # (the SDK's own words, "Secret key must not be empty", name neither the variable nor the file)
            raise ValueError(f"{var} is empty or missing in compose/.env: set it there (the value MinIO already has)")
    endpoint = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return Minio(
        endpoint,
        access_key=env.get("MINIO_ROOT_USER", ""),
        secret_key=env.get("MINIO_ROOT_PASSWORD", ""),
        secure=False,
        region="us-east-1",  # skips the GetBucketLocation round trip
        http_client=http,
    )


def project_s3_client(project: "Project", *, timeout: float = 2.0) -> "Minio":
    from .probes import targets

    t = targets(project)["minio"]
    return s3_client(t.host, t.port, t.env, timeout=timeout)


@dataclass(frozen=True)
class BucketReport:
    """What ensure_buckets did: `created` now, `present` before; `error` when it could not finish."""

    created: tuple[str, ...] = ()
    present: tuple[str, ...] = ()
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error

    def lines(self) -> list[str]:
        out = [f"created bucket {name}" for name in self.created]
        if self.error:
            out.append(f"buckets not ready: {self.error}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"created": list(self.created), "present": list(self.present), "error": self.error}


def ensure_buckets(
    project: "Project",
    buckets: tuple[str, ...] = EXPECTED_BUCKETS,
    *,
    wait: float = 60.0,
    on_created: Callable[[str], None] | None = None,
    client: "Minio | None" = None,
    cancel: threading.Event | None = None,
) -> BucketReport:
    """Create the expected buckets that are missing.

    Waits up to `wait` seconds for the S3 API to accept requests (a fresh MinIO needs a few
    seconds); rejected credentials end the wait early. Never raises: errors are in the report.
    """
    from minio.error import S3Error

    started = time.monotonic()
    redact = project.redactor()
    try:
        client = client or project_s3_client(project)
    except ValueError as exc:
        return BucketReport(error=str(exc), seconds=time.monotonic() - started)
    deadline = started + wait
    last = ""
    rejected = 0
    names: list[str] | None = None
    while True:
        try:
            names = [b.name for b in client.list_buckets()]
            break
        except S3Error as exc:
            last = f"S3 error {exc.code}: {exc.message}"
            if exc.code in _CREDENTIAL_CODES:
                rejected += 1
                last = f"credentials rejected ({exc.code}): check MINIO_ROOT_USER/MINIO_ROOT_PASSWORD in .env"
                if rejected >= 3:  # not a startup blip
                    break
        except Exception as exc:  # noqa: BLE001 - connection refused/reset while it starts
            last = f"the S3 API does not answer ({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__})"
        if time.monotonic() >= deadline:
            break
        if cancel is not None:
            if cancel.wait(0.5):  # the console is quitting: stop waiting for MinIO
                return BucketReport(error=redact(f"stopped waiting at quit ({last})"), seconds=time.monotonic() - started)
        else:
            time.sleep(0.5)
    if names is None:
        return BucketReport(error=redact(f"{last} (waited {wait:g}s)"), seconds=time.monotonic() - started)
    created: list[str] = []
    present = [b for b in buckets if b in names]
    for name in buckets:
        if name in names:
            continue
        try:
            client.make_bucket(name)
        except S3Error as exc:
            if exc.code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                present.append(name)
                continue
            return BucketReport(
                tuple(created), tuple(present), redact(f"cannot create bucket {name}: {exc.code} {exc.message}"),
                time.monotonic() - started,
            )
        except Exception as exc:  # noqa: BLE001
            return BucketReport(
                tuple(created), tuple(present), redact(f"cannot create bucket {name}: {exc}"), time.monotonic() - started
            )
        created.append(name)
        if on_created is not None:
            on_created(name)
    return BucketReport(tuple(created), tuple(present), "", time.monotonic() - started)

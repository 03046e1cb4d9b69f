"""The minio SDK as liar-tui loads it: no admin-client crypto until it is used, and still whole."""

from __future__ import annotations

import subprocess
import sys

CRYPTO = ("argon2", "Crypto", "cffi", "pycparser", "minio.crypto")


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _loaded(names: str) -> str:
    return f"print(sorted({{m.split('.')[0] if m != 'minio.crypto' else m for m in sys.modules}} & set({names!r})))"


def test_the_console_path_loads_no_admin_crypto() -> None:
    # what the console's start-up worker imports (probes.preload_clients), then an S3 client
    out = _run(
        "import sys\n"
        "from liar_tui.stack.probes import preload_clients\n"
        "from liar_tui.stack.buckets import s3_client\n"
        "preload_clients()\n"
        "s3_client('127.0.0.1', 9, {'MINIO_ROOT_USER': 'u', 'MINIO_ROOT_PASSWORD': 'p'})\n"
        + _loaded(CRYPTO)
    )
    assert out == "[]"


def test_the_admin_client_still_works_when_used() -> None:
    out = _run(
        "import sys\n"
        "from liar_tui.stack.s3sdk import minio\n"
        "m = minio()\n"
        "from minio.credentials import StaticProvider\n"
        "admin = m.MinioAdmin(endpoint='127.0.0.1:9', credentials=StaticProvider('u', 'p'), secure=False)\n"
        "import minio.minioadmin as real\n"
        "print(type(admin) is real.MinioAdmin, m.MinioAdmin is real.MinioAdmin, hasattr(real, 'decrypt'))\n"
        + _loaded(("minio.crypto",))
    )
    assert out.splitlines() == ["True True True", "['minio.crypto']"]


def test_plain_import_minio_loads_the_crypto() -> None:
    # the cost s3sdk avoids (if a minio release drops it, s3sdk can go)
    assert _run("import sys, minio\n" + _loaded(CRYPTO)) == "['Crypto', 'argon2', 'cffi', 'minio.crypto', 'pycparser']"

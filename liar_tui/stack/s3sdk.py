"""The minio SDK, imported without its admin client until something uses that client.

`import minio` runs minio/__init__.py, which imports MinioAdmin, whose module imports
minio.crypto: argon2-cffi and pycryptodome (through cffi, which parses C declarations with
pycparser as it loads). liar-tui uses only the S3 client (Minio). In the console those imports
held 2.6 MB of RSS (67.2 -> 64.6 MB idle on the main stack, 80x24) and took 45-60 ms of the
start-up worker's import.

minio() puts a stand-in for `minio.minioadmin` in sys.modules before minio is first imported.
The stand-in loads the real module the first time anything of it is used (`minio.MinioAdmin(...)`
makes a real MinioAdmin), so the SDK stays whole; only the cost moves to first use.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Any

_ADMIN = "minio.minioadmin"
_lock = threading.Lock()


def _real_admin() -> types.ModuleType:
    """Swap the stand-in for the real minio.minioadmin (imported now) and return it."""
    with _lock:
        current = sys.modules.get(_ADMIN)
        if isinstance(current, _AdminStandIn):
            del sys.modules[_ADMIN]
        module = importlib.import_module(_ADMIN)
        parent = sys.modules.get("minio")
        if parent is not None:
            parent.minioadmin = module  # type: ignore[attr-defined]
            parent.MinioAdmin = module.MinioAdmin  # type: ignore[attr-defined]
        return module


class _AdminStandIn(types.ModuleType):
    """minio.minioadmin until first use: any attribute but MinioAdmin loads the real module."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_admin(), name)


class _LazyMinioAdmin:
    """What `from .minioadmin import MinioAdmin` binds in minio: makes the real client."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return _real_admin().MinioAdmin(*args, **kwargs)


def minio() -> types.ModuleType:
    """The minio package (imported on first call), its admin client loaded on first use."""
    if "minio" not in sys.modules:
        with _lock:
            if "minio" not in sys.modules and _ADMIN not in sys.modules:
                stand_in = _AdminStandIn(_ADMIN)
                stand_in.MinioAdmin = _LazyMinioAdmin  # type: ignore[attr-defined]
                sys.modules[_ADMIN] = stand_in
    import minio as module

    return module

"""Run one `liar-tui` command as another user, a member of the docker group (how developers
usually run it), from this root process: `python asuser.py USER ARGS...`; exits with its status.

The interpreter and its standard library may live where that user cannot read (/root/.pyenv),
so everything the commands import is imported here first, as root; the command then runs in a
forked child that has dropped to the user (groups: docker only). Not a test module: a helper
of test_docker_group_user.py.
"""

from __future__ import annotations

import grp
import importlib
import os
import pkgutil
import pwd
import sys

# the commands import these lazily: load them while still root
import _strptime  # noqa: F401
import encodings.idna  # noqa: F401
import xml.etree.ElementTree  # noqa: F401

import liar_tui
import liar_tui.cli

for _pkg in ("liar_tui", "liar_tui.stack"):
    for _m in pkgutil.iter_modules(importlib.import_module(_pkg).__path__):
        if _m.name not in ("__main__", "ui"):
            importlib.import_module(f"{_pkg}.{_m.name}")
for _name in ("minio", "psycopg", "redis", "tarfile", "hashlib", "secrets", "tempfile"):
    importlib.import_module(_name)


def main() -> int:
    user, argv = sys.argv[1], sys.argv[2:]
    pw = pwd.getpwnam(user)
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([grp.getgrnam("docker").gr_gid])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            os.environ.update(HOME=pw.pw_dir, USER=user, LOGNAME=user)
            rc = liar_tui.cli.main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001
            import traceback

            traceback.print_exc()
            rc = 99
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc or 0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())

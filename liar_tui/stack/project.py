"""Where the stack lives: project discovery and the files that make it up."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .envfile import LiveRedactor, read_env
from .errors import ProjectNotFound

COMPOSE_REL = Path("compose") / "docker-compose.yml"
DEFAULT_PROJECT_NAME = "liar-game"


@dataclass(frozen=True)
class Project:
    """A liar-game checkout: `root/compose/docker-compose.yml`, `root/nginx/`, data in `root/docker/`."""

    root: Path
    name: str = DEFAULT_PROJECT_NAME

    @property
    def compose_dir(self) -> Path:
        return self.root / "compose"

    @property
    def compose_file(self) -> Path:
        return self.root / COMPOSE_REL

    @property
    def override_file(self) -> Path:
        """compose's own convention: merged on top when present (tests use it for short intervals)."""
        return self.compose_dir / "docker-compose.override.yml"

    @property
    def env_file(self) -> Path:
        return self.compose_dir / ".env"

    @property
    def env_example(self) -> Path:
        return self.compose_dir / ".env.example"

    @property
    def data_dir(self) -> Path:
        return self.root / "docker" / "volumes"

    @property
    def images_dir(self) -> Path:
        return self.compose_dir / "images"

    def lock_path(self, what: str) -> Path:
        """docker/liar-tui-WHAT-NAME.lock: an flock every liar-tui of this project shares (see
        locks.py): `restore` (one restore at a time), `autoheal` (one healer acts)."""
        return self.root / "docker" / f"liar-tui-{what}-{self.name}.lock"

    def made_elsewhere(self, working_dir: str) -> Path | None:
        """The other checkout a container of this project name was made from (its compose
        working_dir label names another folder), or None when it is this one's (or unknown)."""
        if not working_dir:
            return None
        theirs = Path(working_dir)
        try:
            if theirs.resolve() == self.compose_dir.resolve():
                return None
        except OSError:
            pass
        return theirs.parent if theirs.name == "compose" else theirs

    def elsewhere_message(self, other: Path) -> str:
        """One line: the containers under this name belong to another checkout, and the fix."""
        return (
            f"project {self.name}'s containers were made from {other}, not {self.root}: run liar-tui there "
            f"(--project-dir {other}), or give this copy its own name (--project-name NAME)"
        )

    def compose_files(self) -> list[Path]:
        files = [self.compose_file]
        if self.override_file.exists():
            files.append(self.override_file)
        return files

    def env(self) -> dict[str, str]:
        """The project's .env ({} when missing)."""
        try:
            return read_env(self.env_file)
        except FileNotFoundError:
            return {}

    def redactor(self) -> LiveRedactor:
        """Hides the .env's secrets, and follows the file: a password changed while a long-lived
        reader (the console, `logs -f`) runs is hidden from then on, and so is the old one."""
        return LiveRedactor(self.env_file)

    def rel(self, path: Path) -> str:
        """A path as a person in the project would type it."""
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)


def _has_compose(path: Path) -> bool:
    return (path / COMPOSE_REL).is_file()


def _bundled_root() -> Path | None:
    """The stack shipped with the package: the wheel's bundled copy, or the checkout we run from."""
    here = Path(__file__).resolve().parent.parent  # liar_tui/
    bundled = here / "bundled"
    if _has_compose(bundled):
        return bundled
    checkout = here.parent
    if _has_compose(checkout):
        return checkout
    return None


STAMP = ".bundled-sha256.json"


def _materialise_bundled(bundled: Path) -> Path:
    """Data must not land in site-packages: copy a wheel's bundled stack to the XDG data folder.

    Each file is copied when missing. After an upgrade, a file the new version changed is
    replaced only if the copy is still as it was installed (the sha256 of what was copied is kept
    in STAMP); a file the user edited is left alone."""
    if not str(bundled).endswith("bundled"):
        return bundled  # a checkout: use it in place
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    target = base / "liar-tui" / "project"
    stamp_path = target / STAMP
    try:
        stamp: dict[str, str] = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        stamp = {}
    changed = False
    for src in sorted(p for p in bundled.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = src.relative_to(bundled).as_posix()
        dest = target / rel
        data = src.read_bytes()
        new_sum = hashlib.sha256(data).hexdigest()
        if dest.exists():
            have = _sha256(dest)
            if have == new_sum:  # up to date
                if stamp.get(rel) != new_sum:
                    stamp[rel], changed = new_sum, True
                continue
            if stamp.get(rel) != have:
                continue  # edited since it was copied (or copied before stamps existed): keep it
        _replace_atomically(dest, data, src.stat().st_mode)
        stamp[rel], changed = new_sum, True
    if changed:
        _replace_atomically(stamp_path, json.dumps(stamp, indent=1, sort_keys=True).encode(), 0o644)
    return target


def _replace_atomically(dest: Path, data: bytes, mode: int) -> None:
    """Write a temp file of its own next to dest, then rename it over dest: a reader (or a second
    liar-tui starting at the same moment) sees the old file or the new one, never half of one."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode & 0o777)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def discover(
    project_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
    cwd: Path | None = None,
    environ: dict[str, str] | os._Environ[str] | None = None,
) -> Project:
    """Find the project: --project-dir, then LIAR_TUI_PROJECT_DIR, then the nearest parent holding
    compose/docker-compose.yml, then the copy bundled with the package."""
    env = os.environ if environ is None else environ
    project_name = name if name is not None else (env.get("LIAR_TUI_PROJECT_NAME") or DEFAULT_PROJECT_NAME)
    if not _PROJECT_NAME.fullmatch(project_name):
        # compose's own rule; checked here so `status` does not report a project that cannot exist
        raise ProjectNotFound(
            f"project name {project_name!r} is not one compose accepts: use lowercase letters, digits, '-' and '_', "
            f"starting with a letter or digit (default {DEFAULT_PROJECT_NAME})"
        )

    for source, value in (("--project-dir", project_dir), ("LIAR_TUI_PROJECT_DIR", env.get("LIAR_TUI_PROJECT_DIR"))):
        if value:
            root = Path(value).expanduser().resolve()
            if not _has_compose(root):
                raise ProjectNotFound(
                    f"{source} {root} has no {COMPOSE_REL}: point it at the liar-game checkout "
                    f"(the folder holding compose/ and nginx/)"
                )
            return Project(root=root, name=project_name)

    start = (cwd or Path.cwd()).resolve()
    for candidate in (start, *start.parents):
        if _has_compose(candidate):
            return Project(root=candidate, name=project_name)

    bundled = _bundled_root()
    if bundled is None:
        raise ProjectNotFound(
            f"no {COMPOSE_REL} in {start} or its parents and none bundled: "
            f"run from the liar-game checkout or pass --project-dir"
        )
    return Project(root=_materialise_bundled(bundled), name=project_name)

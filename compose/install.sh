#!/usr/bin/env bash
# Set up liar-tui and this host for the liar-game stack (Debian/Ubuntu, as root):
# a virtualenv in .venv with liar-tui, then `liar-tui setup` (engine, compose v2 plugin, dockerd,
# compose/.env with fresh passwords, offline images when no registry answers).
# Safe to run again: every step skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'install: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "install: run as root (sudo bash compose/install.sh): it installs packages and starts dockerd" >&2
  exit 2
fi

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  say "installing python3-venv (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi

# The PostgreSQL probe runs psycopg on the system's libpq (lighter than the bundled one).
if ! ldconfig -p 2>/dev/null | grep -q 'libpq\.so\.5'; then
  say "installing libpq5 (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpq5 >/dev/null || say "libpq5 not installed: the probe uses psycopg's bundled libpq"
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import liar_tui, compose, pytest, mypy' >/dev/null 2>&1; then
  say "installing liar-tui into .venv (pip)"
  .venv/bin/pip install -q --disable-pip-version-check -e '.[offline,test]'
fi

# An editable install is not byte-compiled, and where PYTHONDONTWRITEBYTECODE is set nothing ever
# writes the .pyc files: every launch would compile liar_tui from source (~75 ms of a 300 ms budget).
.venv/bin/python -m compileall -q liar_tui >/dev/null

exec .venv/bin/liar-tui --project-dir . setup

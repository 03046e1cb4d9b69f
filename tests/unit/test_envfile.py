from __future__ import annotations

import stat
from pathlib import Path

from liar_tui.stack.envfile import Redactor, parse_env, set_env_values, write_private


def test_parse_env_rules() -> None:
    text = """
# comment
POSTGRES_USER=liaruser
export REDIS_PASSWORD="quoted value"   
MINIO_ROOT_PASSWORD='single # not a comment'
BIND_ADDRESS=127.0.0.1 # inline comment
EMPTY=
not a line
POSTGRES_USER=second
"""
    env = parse_env(text)
    assert env["POSTGRES_USER"] == "second"
    assert env["REDIS_PASSWORD"] == "quoted value"
    assert env["MINIO_ROOT_PASSWORD"] == "single # not a comment"
    assert env["BIND_ADDRESS"] == "127.0.0.1"
    assert env["EMPTY"] == ""
    assert "not a line" not in env


def test_set_env_values_replaces_in_place_and_appends() -> None:
    out = set_env_values("# head\nA=1\nB=2\n", {"B": "3", "C": "4"})
    assert out == "# head\nA=1\nB=3\nC=4\n"


def test_write_private_is_0600_and_atomic(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    write_private(path, "A=1\n")
    assert path.read_text() == "A=1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [".env"]


def test_redactor_hides_secret_values() -> None:
    r = Redactor.from_env({"POSTGRES_PASSWORD": "s3cretValue", "REDIS_PASSWORD": "abc", "OTHER": "x"})
    assert r("FATAL: password s3cretValue wrong") == "FATAL: password ****** wrong"
    # too short to hide without mangling text
    assert r("abc") == "abc"
    assert Redactor()("text") == "text"


def test_live_redactor_follows_a_changed_env_and_keeps_hiding_the_old_secret(tmp_path: Path) -> None:
    """A password rotated while the console runs: log lines quoting the new one, or the old one,
    stay hidden (the console's redactor was read once at start, and showed the new one)."""
    from liar_tui.stack.envfile import LiveRedactor
    from liar_tui.stack.project import Project

    env = tmp_path / "compose" / ".env"
    env.parent.mkdir()
    env.write_text("POSTGRES_PASSWORD=FirstPassw0rd11\nREDIS_PASSWORD=RedisPassw0rd22\n")
    now = [0.0]
    live = LiveRedactor(env, clock=lambda: now[0])
    assert live("pw FirstPassw0rd11") == "pw ******"
    env.write_text("POSTGRES_PASSWORD=Rotated2NewPgPassw0rd99\nREDIS_PASSWORD=RedisPassw0rd22\n")
    now[0] += 1.0
    line = "ALTER USR liaruser PASSWORD 'Rotated2NewPgPassw0rd99' (was FirstPassw0rd11)"
    assert live(line) == "ALTER USR liaruser PASSWORD '******' (was ******)"
    assert live.cut("x Rotated2NewPgPassw0rd99", 8) == "x ******…"
    env.unlink()  # a missing .env forgets nothing
    now[0] += 1.0
    assert live("FirstPassw0rd11 RedisPassw0rd22") == "****** ******"
    # what the console and `logs -f` get from the project is this live kind
    env.write_text("MINIO_ROOT_PASSWORD=MinioPassw0rd33\n")
    assert Project(root=tmp_path).redactor()("k=MinioPassw0rd33") == "k=******"


def test_values_are_read_as_compose_reads_them_and_both_forms_of_a_secret_are_hidden(tmp_path: Path) -> None:
    """QA: REDIS_PASSWORD=Pw$$Rotated2026x in .env is `Pw$Rotated2026x` in the container (compose
    interpolates `$`); liar-tui read the raw text, so the real password showed in a log line and
    the probe used the wrong one."""
    from liar_tui.stack.envfile import LiveRedactor

    text = "USER=liar\nREDIS_PASSWORD=Pw$$Rotated2026x\nPOSTGRES_PASSWORD=Abc${USER}Zz\nMINIO_ROOT_PASSWORD='lit$$kept'\n"
    env = parse_env(text)
    assert env["REDIS_PASSWORD"] == "Pw$Rotated2026x"
    assert env["POSTGRES_PASSWORD"] == "AbcliarZz"
    assert env["MINIO_ROOT_PASSWORD"] == "lit$$kept"  # single quotes: as written, like compose
    assert parse_env(text, interpolate=False)["REDIS_PASSWORD"] == "Pw$$Rotated2026x"
    path = tmp_path / ".env"
    path.write_text(text)
    live = LiveRedactor(path)
    assert live("GET /x?a=Pw$Rotated2026x&b=Pw$$Rotated2026x") == "GET /x?a=******&b=******"

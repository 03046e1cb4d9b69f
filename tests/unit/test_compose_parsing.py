from __future__ import annotations

from liar_tui.stack.compose import first_error_line, parse_progress_line


def test_progress_json_line() -> None:
    ev = parse_progress_line('{"id":"Container liar-game-redis","status":"Started","text":"Started"}')
    assert ev is not None and ev.resource == "Container liar-game-redis" and ev.status == "Started"
    assert parse_progress_line("plain text") is None
    assert parse_progress_line("{broken") is None


def test_error_line_prefers_errors_over_progress() -> None:
    text = (
        '{"id":"Container x-postgres","status":"Starting"}\n'
        "Error response from daemon: driver failed programming external connectivity on endpoint x: "
        "Bind for 127.0.0.1:5432 failed: port is already allocated\n"
    )
    assert first_error_line(text).startswith("driver failed programming")
    assert first_error_line("") == "compose failed without a message"
    assert first_error_line("no such service: foo") == "no such service: foo"

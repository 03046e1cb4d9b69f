"""LogDecoder: Docker's multiplexed log stream into clean, redacted, bounded lines, chunk by chunk.

Pure: the bytes are built here as the Engine API sends them (8-byte frame headers + payload)."""

from __future__ import annotations

import struct

from liar_tui.stack.envfile import Redactor
from liar_tui.stack.logs import LogDecoder, LogLine, to_log_lines

TS = "2026-11-26T09:58:04.117860320Z"


def frame(text: str | bytes, stream: int = 1) -> bytes:
    payload = text.encode() if isinstance(text, str) else text
    return bytes([stream, 0, 0, 0]) + struct.pack(">L", len(payload)) + payload


def decode(data: bytes, cuts: list[int] | None = None, **kw: object) -> list[str]:
    """Feed `data` cut at the given offsets (every chunk boundary is a chance to break)."""
    dec = LogDecoder(**kw)  # type: ignore[arg-type]
    out: list[str] = []
    prev = 0
    for cut in [*(cuts or []), len(data)]:
        out += dec.feed(data[prev:cut])
        prev = cut
    return out + dec.finish()


def test_frames_cut_anywhere_give_the_same_lines() -> None:
    lines = [f"{TS} line {i} é✓" for i in range(5)]
    data = b"".join(frame(ln + "\n", stream=1 + i % 2) for i, ln in enumerate(lines))
    assert decode(data) == lines
    for cut in range(1, len(data)):  # headers, payloads and multi-byte characters split
        assert decode(data, [cut]) == lines, cut


def test_a_line_spread_over_frames_and_a_last_line_without_newline() -> None:
    data = frame("hel") + frame("lo\r\nwor") + frame("ld")
    assert decode(data) == ["hello", "world"]


def test_long_lines_are_cut_and_their_rest_dropped() -> None:
    big = "x" * 100
    data = frame("a\n" + big + "\nb\n")
    assert decode(data, max_line=10) == ["a", "x" * 10 + "…", "b"]
    # a long line with no newline in sight: its start is shown once, the rest skipped
    chunks = frame("y" * 30) + frame("y" * 30) + frame("y\nc\n")
    assert decode(chunks, [38, 76], max_line=10) == ["y" * 10 + "…", "c"]


def test_secrets_are_redacted_in_clean_and_dirty_blocks() -> None:
    redact = Redactor(["s3cretpass"])
    # a clean block (redacted in one pass) ...
    assert decode(frame("a\nuser=app password=s3cretpass\nb\n"), redact=redact) == ["a", "user=app password=******", "b"]
    # ... and a block with escapes (cleaned first, then redacted line by line)
    data = frame("user=app password=s3cretpass\n") + frame("\x1b[31ms3cret\x1b[0mpass\tok\n")
    out = decode(data, redact=redact)
    assert out == ["user=app password=******", "******  ok"]  # the tab expanded before redaction
    assert all("s3cret" not in ln for ln in out)


def test_control_characters_are_replaced_and_tty_streams_pass() -> None:
    assert decode(frame("a\x07b\n")) == ["a\ufffdb"]
    assert decode(b"plain tty output\nsecond\n") == ["plain tty output", "second"]


def test_c1_controls_and_bidi_overrides_never_reach_the_terminal() -> None:
    """U+009B is CSI to xterm even in UTF-8 (a container's log could restyle the screen), and a
    right-to-left override makes a line read as something else: both are replaced, in clean and
    in dirty blocks alike; ordinary non-ASCII text passes."""
    out = decode(frame("a\u009b7mb\nuser \u202eevil\u2069 ok\n한국어 é\n"))
    assert out == ["a\ufffd7mb", "user \ufffdevil\ufffd ok", "한국어 é"]
    assert all("\u009b" not in ln and "\u202e" not in ln for ln in out)


def test_to_log_lines_splits_docker_timestamps() -> None:
    assert to_log_lines("nginx", [f"{TS} hello world", "no ts"]) == [
        LogLine("nginx", TS, "hello world"),
        LogLine("nginx", "", "no ts"),
    ]


def test_a_cut_line_never_shows_the_start_of_a_secret() -> None:
    secret = "Zq9secretPASSWORD0123456789abcdef"
    redact = Redactor([secret])
    # a line that ends before the cut but whose secret straddles it
    line = "k" * 8 + secret + " tail"
    assert decode(frame(line + "\n"), redact=redact, max_line=20) == ["k" * 8 + "****** tail…"]
    # the QA case: a long line still arriving when it is cut, the secret beginning just before the cut
    chunks = frame("y" * 14) + frame(secret[:10]) + frame(secret[10:] + " END\n")
    for cuts in ([], [22], [22, 40]):
        out = decode(chunks, cuts, redact=redact, max_line=20)
        assert out == ["y" * 14 + "******…"], (cuts, out)
        assert not any(secret[:3] in ln for ln in out)
    # a whole secret inside the kept part is redacted as everywhere, the rest of the line dropped
    assert decode(frame(secret + " " + "z" * 50 + "\n"), redact=redact, max_line=20) == ["****** " + "z" * 13 + "…"]
    # two or fewer characters that merely look like a secret's start are left alone
    assert decode(frame("y" * 19 + "Zq" + "\n"), redact=redact, max_line=20) == ["y" * 19 + "Z…"]


def test_a_replayed_stretch_of_log_is_dropped_and_the_newest_time_never_goes_back() -> None:
    """The engine can re-send part of a log when its file rotates under a follower (QA saw 2,283
    lines twice in a 100k burst): a line older than one already passed is dropped, in the same
    batch or a later one; equal timestamps in one stream are distinct lines; after a reopen,
    what the last stream showed is not shown again."""
    from liar_tui.stack.logs import only_new

    def ln(sec: int, text: str) -> LogLine:
        return LogLine("nginx", f"2026-11-27T04:00:{sec:02d}.000000000Z", text)

    batch = [ln(1, "a"), ln(2, "b"), ln(2, "b2"), ln(3, "c"), ln(2, "b again"), ln(4, "d")]
    fresh, newest = only_new(batch, "")
    assert [x.text for x in fresh] == ["a", "b", "b2", "c", "d"] and newest == ln(4, "").ts
    fresh, newest = only_new([ln(3, "c again"), ln(5, "e"), LogLine("nginx", "", "no time")], newest)
    assert [x.text for x in fresh] == ["e", "no time"] and newest == ln(5, "").ts
    # a reopened stream (since = the last time shown) starts with that line again
    fresh, newest = only_new([ln(5, "e again"), ln(6, "f")], newest, reopened_at=newest)
    assert [x.text for x in fresh] == ["f"]

"""Usage errors name what is missing, and only that: an optional list of services is not
"required" (argparse calls a `*` positional without a default required in its message)."""

from __future__ import annotations

import pytest

from liar_tui import cli


@pytest.mark.parametrize("argv, missing", [
    (["restore"], "the following arguments are required: SET"),
    (["restart"], "the following arguments are required: SVC"),
])
def test_a_missing_argument_is_named_alone(capsys: pytest.CaptureFixture[str], argv: list[str], missing: str) -> None:
    with pytest.raises(SystemExit) as ended:
        cli.main(argv)
    assert ended.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith(missing), last

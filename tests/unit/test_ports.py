"""The free-port check before `up`: a port taken is named; a privileged port a non-root user
cannot bind (the engine binds it, not us) is not mistaken for a taken one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from liar_tui.stack.compose import listening_ports, listening_sockets

PROC_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 1 1 0 100 0 0 10 0
   1: 0100007F:0050 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
"""
PROC_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
"""


def test_listening_ports_reads_listeners_only(tmp_path: Path) -> None:
    (tmp_path / "tcp").write_text(PROC_TCP)
    (tmp_path / "tcp6").write_text(PROC_TCP6)
    # 0x1538 = 5432 listening; 0x0050 = 80 is an established connection, not a listener; 0x1F90 = 8080 on v6
    assert listening_ports(str(tmp_path)) == {5432, 8080}
    assert listening_sockets(str(tmp_path)) == {("127.0.0.1", 5432), ("::", 8080)}


def _check_as_nobody(port: int) -> str:
    code = (
        "import os; from liar_tui.stack.compose import port_is_free; "
        "os.setgid(65534); os.setuid(65534); "
        f"print(port_is_free('127.0.0.1', {port}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become an unprivileged user")
def test_a_privileged_port_is_free_for_a_docker_group_user_unless_something_listens() -> None:
    if int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text()) <= 1000:
        pytest.skip("this host lets anyone bind low ports")
    port = next(p for p in range(990, 1000) if p not in listening_ports())
    assert _check_as_nobody(port) == "True"  # EACCES: not ours to bind, nobody listens
    with socket.socket() as elsewhere:  # on another address: 127.0.0.1 is still free
        elsewhere.bind(("127.0.0.2", port))
        elsewhere.listen()
        assert _check_as_nobody(port) == "True"
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        assert _check_as_nobody(port) == "False"

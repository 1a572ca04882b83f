"""The lab's WS-Management endpoint driven by a plain pywinrm `Protocol` (not exops code).

Golden files pin every message pywinrm sends and the lab answers for one command's life (create,
command, receive, signal, delete) and for the faults; regenerate them with
`EXOPS_UPDATE_GOLDEN=1 pytest tests/winrm/test_wsman_protocol.py` and review the diff.
"""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
import requests
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WSManFaultError
from winrm.protocol import Protocol

from exops.lab.wsman import CHUNK, CommandResult, MAX_COMMAND_LINE

from .conftest import LAB_PASSWORD, LAB_USER

GOLDEN = Path(__file__).parent / "golden"


def echo(command: str, arguments: str) -> CommandResult:
    return CommandResult(f"ran {command} {arguments}\r\n".encode(), b"", 0)


def client(server, lab_tls, *, transport="basic", password=LAB_PASSWORD, **options) -> Protocol:
    return Protocol(server.url, transport=transport, username=LAB_USER, password=password,
                    server_cert_validation="validate", ca_trust_path=str(lab_tls[0]), **options)


def normalised(transcript) -> str:
    """Requests and replies with their random identifiers numbered in order of appearance."""
    text = "\n".join(f"--> {req.decode()}\n<-- {status} {reply.decode()}" for req, status, reply in transcript)
    seen: dict[str, str] = {}
    return re.sub(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
                  lambda m: seen.setdefault(m.group(0).upper(), f"UUID-{len(seen) + 1}"), text) + "\n"


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("EXOPS_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"no golden file {path}: run with EXOPS_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text()


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_a_command_runs_through_its_whole_life(endpoint, lab_tls, transport):
    transcript: list = []
    server = endpoint(echo, auth=transport, transcript=transcript)
    protocol = client(server, lab_tls, transport=transport)
    shell = protocol.open_shell()
    command = protocol.run_command(shell, "powershell", ["-encodedcommand", "ZQBjAGgAbwA="])
    assert protocol.get_command_output(shell, command) == (b"ran powershell -encodedcommand ZQBjAGgAbwA=\r\n", b"", 0)
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)
    assert server.service.open_shells == 0
    assert_golden("command-life.txt", normalised(transcript))


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_wrong_password_is_refused_with_401(endpoint, lab_tls, transport):
    server = endpoint(echo, auth=transport)
    with pytest.raises(InvalidCredentialsError):
        client(server, lab_tls, transport=transport, password="wrong").open_shell()
    assert server.service.open_shells == 0


def test_a_certificate_from_another_ca_is_refused(endpoint, tmp_path):
    from exops.lab.samba import issue_ca
    server = endpoint(echo)
    other = issue_ca(tmp_path / "other")
    protocol = Protocol(server.url, transport="basic", username=LAB_USER, password=LAB_PASSWORD,
                        server_cert_validation="validate", ca_trust_path=str(other))
    with pytest.raises(requests.exceptions.SSLError):
        protocol.open_shell()


def test_receive_answers_with_the_timeout_fault_until_the_command_ends(endpoint, lab_tls):
    release = threading.Event()

    def slow(command, arguments):
        release.wait(30)
        return CommandResult(b"late\r\n", b"", 0)

    transcript: list = []
    server = endpoint(slow, transcript=transcript)
    protocol = client(server, lab_tls, operation_timeout_sec=1, read_timeout_sec=5)
    shell = protocol.open_shell()
    command = protocol.run_command(shell, "powershell", ["-encodedcommand", "cwBsAG8AdwA="])
    with pytest.raises(WinRMOperationTimeoutError):
        protocol.get_command_output_raw(shell, command)
    release.set()
    assert protocol.get_command_output(shell, command) == (b"late\r\n", b"", 0)
    timeout_fault = next(reply for _, status, reply in transcript if status == 500)
    assert b'Code="2150858793"' in timeout_fault
    protocol.close_shell(shell)


def test_large_output_arrives_over_several_receives(endpoint, lab_tls):
    big = bytes(range(256)) * (3 * CHUNK // 256 + 7)
    transcript: list = []
    server = endpoint(lambda c, a: CommandResult(big, b"warning\r\n", 3), transcript=transcript)
    protocol = client(server, lab_tls)
    shell = protocol.open_shell()
    command = protocol.run_command(shell, "powershell", ["-encodedcommand", "YgBpAGcA"])
    assert protocol.get_command_output(shell, command) == (big, b"warning\r\n", 3)
    receives = [r for r, _, _ in transcript if b"windows/shell/Receive<" in r]
    assert len(receives) == 4


def test_an_unknown_shell_is_a_fault_pywinrm_reports(endpoint, lab_tls):
    transcript: list = []
    server = endpoint(echo, transcript=transcript)
    protocol = client(server, lab_tls)
    with pytest.raises(WSManFaultError) as raised:
        protocol.run_command("00000000-0000-0000-0000-000000000000", "powershell", ["-encodedcommand", "eAA="])
    assert raised.value.code == 500
    assert raised.value.wsman_fault_code == 2150858843
    assert "shell was not found" in raised.value.reason
    assert_golden("fault-unknown-shell.txt", normalised(transcript))


def test_idle_shells_are_expired(endpoint, lab_tls):
    server = endpoint(echo, idle_timeout=0)
    protocol = client(server, lab_tls)
    abandoned = protocol.open_shell()
    protocol.open_shell()      # any request sweeps the shells idle too long
    assert server.service.open_shells == 1
    with pytest.raises(WSManFaultError):
        protocol.run_command(abandoned, "powershell", [])


def test_a_command_line_longer_than_windows_allows_fails_like_windows(endpoint, lab_tls):
    server = endpoint(echo)
    protocol = client(server, lab_tls)
    shell = protocol.open_shell()
    command = protocol.run_command(shell, "powershell", ["-encodedcommand", "A" * MAX_COMMAND_LINE])
    stdout, stderr, code = protocol.get_command_output(shell, command)
    assert (stdout, code) == (b"", 1) and b"too long" in stderr

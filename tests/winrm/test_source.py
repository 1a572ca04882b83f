"""The PowerShell source against lab endpoints whose answers the test chooses: bounds, bad answers,
cancellation, and servers read at the same time (proved with a barrier, not a clock)."""
from __future__ import annotations

import json
import threading

import pytest

from exops.config import ExchangeSettings, ServerSettings
from exops.errors import Cancelled
from exops.facts.exchange import ExchangeFacts
from exops.lab.wsman import CommandResult
from exops.plan import Step
from exops.sources.exchange import ExchangeServerSource, Fanout
from exops.sources.exchange_executor import ExchangeExecutor
from exops.sources.powershell import RemoteShell, ScriptFailed
from exops.sources.source import collect_from

from .conftest import LAB_PASSWORD, LAB_USER


def settings(lab_tls, *servers) -> ExchangeSettings:
    return ExchangeSettings(user=LAB_USER, transport="basic", ca_file=str(lab_tls[0]),
                            servers=tuple(ServerSettings(f"EX{i}", s.url, ("cas",)) for i, s in enumerate(servers, 1)))


def answering(answer: dict | bytes):
    def run(command, arguments):
        return CommandResult(answer if isinstance(answer, bytes) else json.dumps(answer).encode(), b"", 0)
    return run


def shell(endpoint, lab_tls, runner, **options) -> RemoteShell:
    exchange = settings(lab_tls, endpoint(runner))
    return RemoteShell(exchange.servers[0], exchange, LAB_PASSWORD, **options)


@pytest.mark.parametrize("answer, words", [
    (b"<html>not json</html>", "not its JSON"),
    (b"\xff\xfe binary", "not its JSON"),
    ({"script": "events", "events": []}, "is not that script's"),
    (b"[" * 100_000, "not its JSON"),
])
def test_an_answer_that_is_not_the_scripts_json_is_a_script_failure(endpoint, lab_tls, answer, words):
    remote = shell(endpoint, lab_tls, answering(answer))
    with pytest.raises(ScriptFailed, match=words):
        remote.run("server")
    remote.close()


def test_output_beyond_the_bound_is_refused_not_kept(endpoint, lab_tls):
    remote = shell(endpoint, lab_tls, answering(b" " * 200_000), max_output=100_000)
    with pytest.raises(ScriptFailed, match="answered more than"):
        remote.run("server")


def test_a_script_that_fails_on_the_server_says_why(endpoint, lab_tls):
    remote = shell(endpoint, lab_tls, lambda c, a: CommandResult(b"", b"#< CLIXML\r\nGet-ExchangeServer : Access denied\r\n", 1))
    with pytest.raises(ScriptFailed, match="server.ps1 failed \\(exit 1\\)"):
        remote.run("server")


def test_cancelling_stops_a_script_that_is_still_running(endpoint, lab_tls):
    release, cancel = threading.Event(), threading.Event()

    def slow(command, arguments):
        cancel.set()
        release.wait(30)
        return CommandResult(b"{}", b"", 0)

    remote = shell(endpoint, lab_tls, slow)
    remote.timeout = 60
    with pytest.raises(Cancelled):
        remote.run("server", cancel=cancel)
    release.set()


def test_every_server_is_read_at_the_same_time(endpoint, lab_tls):
    """Each server's first script waits until all three have started it: read one after another,
    the first would wait for the others forever (the barrier breaks, the scripts fail)."""
    barrier = threading.Barrier(3, timeout=20)

    def server(command, arguments):
        barrier.wait()
        return CommandResult(json.dumps({"script": "server", "servers": []}).encode(), b"", 0)

    exchange = settings(lab_tls, *(endpoint(server) for _ in range(3)))
    fanout = Fanout()
    sources = [ExchangeServerSource(s, exchange, LAB_PASSWORD, fanout) for s in exchange.servers]
    for source in sources:       # only the first script: the others are not what this test is about
        source.server = ServerSettings(source.server.name, source.server.url, ("edge",))
    facts = collect_from(sources)
    reports = facts.get(ExchangeFacts).servers
    assert [r.scripts for r in reports] == [("server",)] * 3 and not barrier.broken
    for source in sources:
        source.close()


def test_a_transport_this_machine_cannot_use_says_what_to_install(endpoint, lab_tls, monkeypatch):
    """As on a machine without pykerberos, whichever this one is: pywinrm decides that once, at
    import, in HAVE_KERBEROS (exops's handling of what it raises is under test)."""
    import winrm.transport
    monkeypatch.setattr(winrm.transport, "HAVE_KERBEROS", False)
    from dataclasses import replace

    from exops.sources.powershell import ExchangeError
    exchange = replace(settings(lab_tls, endpoint(answering(b"{}"))), transport="kerberos")
    remote = RemoteShell(exchange.servers[0], exchange, None)
    with pytest.raises(ExchangeError, match=r"pywinrm\[kerberos\]"):
        remote.run("server")


def test_a_store_restart_wait_reads_a_server_that_stopped_answering_and_goes_on(endpoint, lab_tls):
    running = {"script": "services", "session": "snap-in", "computer": "EX1",
               "services": [{"name": "MSExchangeIS", "state": "Running", "started": None}]}
    server = endpoint(answering(running))
    exchange = settings(lab_tls, server)
    executor = ExchangeExecutor(RemoteShell(exchange.servers[0], exchange, LAB_PASSWORD))
    wait = Step(id="w", title="wait", action="winrm.service-state", target="EX1/MSExchangeIS", endpoint="EX1",
                mode="wait", before={}, after={"state": "Running"}, params={"service": "MSExchangeIS"}, preview="")
    assert executor.same(executor.read(wait), wait.after)
    executor.shell.close()
    server.stop()
    gone = executor.read(wait)
    assert gone["state"] == "" and "does not answer" in gone["unanswered"]
    assert not executor.same(gone, wait.after)

"""Every shipped .ps1 checked without Windows: parsed with the tree-sitter PowerShell grammar, free
of what PowerShell 2.0 (Exchange 2010) lacks, calling only cmdlets Exchange 2010 SP3 on
PowerShell 2.0 has, and small enough for the WinRS command line."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import tree_sitter_powershell
from tree_sitter import Language, Parser

from exops import powershell

PARSER = Parser(Language(tree_sitter_powershell.language()))
FILES = sorted(Path(powershell.__file__).parent.glob("*.ps1"))

# Cmdlets a script may call, with where each is documented for that platform.
CORE_PS2 = "Windows PowerShell 2.0 core cmdlets (Microsoft.PowerShell.* snap-ins, TechNet 'Windows PowerShell 2.0 Cmdlets')"
E2010 = "Exchange Server 2010 SP3 cmdlet reference (TechNet, 'Exchange 2010 cmdlets')"
ALLOWED = {
    "Add-PSSnapin": CORE_PS2, "Add-Type": CORE_PS2, "New-Object": CORE_PS2, "Out-Null": CORE_PS2,
    "New-PSSession": CORE_PS2, "Import-PSSession": CORE_PS2, "Get-Item": CORE_PS2,
    "Get-Process": CORE_PS2, "Get-WmiObject": CORE_PS2, "Get-WinEvent": CORE_PS2, "Restart-Service": CORE_PS2,
    "Test-Path": CORE_PS2, "New-Item": CORE_PS2, "New-ItemProperty": CORE_PS2, "Remove-ItemProperty": CORE_PS2,
    "Set-MailboxDatabase": E2010, "Set-PublicFolder": E2010,
    "Get-ExchangeServer": E2010, "Get-PublicFolder": E2010, "Get-PublicFolderDatabase": E2010,
    "Get-MailboxDatabase": E2010, "Get-ClientAccessArray": E2010, "Get-OwaVirtualDirectory": E2010,
    "Get-WebServicesVirtualDirectory": E2010, "Get-EcpVirtualDirectory": E2010,
    "Get-OabVirtualDirectory": E2010, "Get-ActiveSyncVirtualDirectory": E2010,
    "Get-AutodiscoverVirtualDirectory": E2010,
}
FORBIDDEN_COMMANDS = {"convertto-json", "convertfrom-json", "invoke-restmethod", "invoke-webrequest"}
FORBIDDEN_TYPES = {"[ordered]", "[pscustomobject]"}
FORBIDDEN_OPERATORS = {"-in", "-notin"}


def nodes(node):
    yield node
    for child in node.children:
        yield from nodes(child)



def problems(source: bytes, known_functions: set[str]) -> list[str]:
    """What keeps this text from running on PowerShell 2.0 / Exchange 2010, one line each."""
    tree = PARSER.parse(source)
    found = []
    for node in nodes(tree.root_node):
        text = node.text.decode("utf-8", "replace") if node.text else ""
        if node.type == "ERROR" or node.is_missing:
            found.append(f"syntax error at line {node.start_point[0] + 1}: {text[:40]!r}")
        elif node.type == "command_name":
            if text.casefold() in FORBIDDEN_COMMANDS:
                found.append(f"{text} does not exist in PowerShell 2.0")
            elif text not in ALLOWED and text not in known_functions:
                found.append(f"{text} is not on the Exchange 2010 / PowerShell 2.0 allow-list")
        elif node.type == "type_literal" and text.casefold() in FORBIDDEN_TYPES:
            found.append(f"{text} is PowerShell 3.0")
        elif node.child_count == 0 and text.casefold() in FORBIDDEN_OPERATORS:
            found.append(f"operator {text} is PowerShell 3.0")
        elif node.child_count == 0 and text.casefold() == "$psitem":
            found.append("$PSItem is PowerShell 3.0")
        elif node.type == "member_name" and text.casefold() in ("new", "foreach", "where"):
            found.append(f"the .{text}() method is PowerShell 3.0 or later")
    return found


def known_functions() -> set[str]:
    names = set()
    for path in FILES:
        names |= set(m.decode() for m in re.findall(rb"(?im)^\s*function\s+([\w-]+)", path.read_bytes()))
    return names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_script_runs_on_powershell_2_and_exchange_2010(path):
    assert problems(path.read_bytes(), known_functions()) == []


@pytest.mark.parametrize("snippet, problem", [
    ("$a = @{x=1} | ConvertTo-Json", "ConvertTo-Json does not exist"),
    ("$a = '{}' | ConvertFrom-Json", "ConvertFrom-Json does not exist"),
    ("$a = [ordered]@{ x = 1 }", "[ordered] is PowerShell 3.0"),
    ("$a = [pscustomobject]@{ x = 1 }", "[pscustomobject] is PowerShell 3.0"),
    ("$a = [System.Text.StringBuilder]::new()", ".new() method"),
    # tree-sitter-powershell 0.26.4 reads .ForEach as the foreach keyword: a syntax error, still caught
    ("$a = $list.ForEach({ $_ })", "syntax error"),
    ("$a = $list.Where({ $_ })", ".Where() method"),
    ("if (1 -in 1,2) { }", "operator -in"),
    ("if (3 -notin 1,2) { }", "operator -notin"),
    ("1,2 | ForEach-Object { $PSItem }", "$PSItem"),
    ("Invoke-RestMethod -Uri https://x", "Invoke-RestMethod does not exist"),
    ("Get-Mailbox -ResultSize Unlimited", "not on the Exchange 2010 / PowerShell 2.0 allow-list"),
    ("Select-Object Name, Replicas", "syntax error"),
])
def test_each_forbidden_construct_is_caught(snippet, problem):
    assert any(problem in p for p in problems(snippet.encode(), set())), problems(snippet.encode(), set())


@pytest.mark.parametrize("name", powershell.names())
@pytest.mark.parametrize("session", sorted(powershell.SESSIONS))
def test_every_script_fits_the_command_line_with_room_for_its_argument(name, session):
    argument = {"since": "2026-11-30T04:00:00.000000+00:00", "max_events": 5000, "service": "MSExchangeRPC",
                "note": "x" * 200}
    command, arguments = powershell.command_line(name, argument, session)
    assert len(command) + 1 + len(" ".join(arguments)) <= 8191


def test_parameters_travel_as_data_and_cannot_change_the_code():
    hostile = {"service": "MSExchangeIS'; Remove-Item C:\\ -Recurse; '", "dn": "/o=x/ou=\u2019; exit"}
    script = powershell.compose("restart-service", hostile)
    first, rest = script.split("\n", 1)
    assert re.fullmatch(r"\$ExopsArgument = '[A-Za-z0-9+/=]+'", first)
    assert "Remove-Item" not in script
    assert powershell.recognise(script) == ("restart-service", "snap-in", hostile)


def test_a_script_that_is_not_exactly_exops_is_not_recognised():
    script = powershell.compose("services", {})
    assert powershell.recognise(script.replace("Get-WmiObject", "Remove-Item")) is None
    assert powershell.recognise("Get-Process") is None


AWKWARD = ['quote " and backslash \\', "new\nline\ttab\r", "Zürich ☃", "𝄞 outside the BMP", "", "\u2019'",
           None, True, False, 0, 2**40, [], {}, {"nested": ["a", None, {"b": 1}]}]


@pytest.mark.parametrize("value", AWKWARD, ids=repr)
def test_the_lab_writes_json_as_the_prelude_does_and_exops_reads_it_back(value):
    import json

    from exops.lab.exchange_emulation import powershell_json
    text = powershell_json(value)
    assert text.isascii()
    assert json.loads(text) == value


def test_the_lab_escapes_exactly_the_characters_the_prelude_escapes():
    """The lab's writer mirrors this line of ConvertTo-ExopsJson; if one changes, so must the other."""
    prelude = powershell.text("prelude")
    assert "if ($code -lt 32 -or $code -gt 126 -or $code -eq 34 -or $code -eq 92)" in prelude
    assert "AppendFormat('\\u{0:x4}', $code)" in prelude
    assert "ToUniversalTime().ToString('o')" in prelude


def test_dates_are_written_as_round_trip_utc():
    from datetime import datetime, timezone

    from exops.lab.exchange_emulation import powershell_json
    from exops.sources.powershell import parse_time
    moment = datetime(2026, 11, 30, 4, 5, 6, 789012, tzinfo=timezone.utc)
    assert powershell_json(moment) == '"2026-11-30T04:05:06.7890120Z"'
    assert parse_time("2026-11-30T04:05:06.7890120Z") == moment

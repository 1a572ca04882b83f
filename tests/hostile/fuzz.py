"""What every fuzzer here shares: its hypothesis settings and the one property.

The property: a reader given any input returns, or raises one of the project's user-facing
errors (`exops.errors.ExopsError`), whose message is one line; never another exception.
Each input is bounded in size and in time (hypothesis' deadline, generous for a shared CI
machine: the inputs take milliseconds), and a run stays within a minute or so per reader.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta

from hypothesis import HealthCheck, settings

from exops.errors import ExopsError

EXAMPLES = int(os.environ.get("EXOPS_FUZZ_EXAMPLES", "150"))

FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=5), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])


def reads_or_refuses(read: Callable[[], object]) -> object | None:
    """Run `read`; a user error is a fine answer if it is one line."""
    try:
        return read()
    except ExopsError as exc:
        assert "\n" not in str(exc), str(exc)
        return None


def file_read_or_refused(tmp_path_factory, name: str, data: bytes, reader: Callable) -> object | None:
    """Write `data` to a fresh file called `name` and check `reader(path)` reads or refuses it."""
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(data)
    return reads_or_refuses(lambda: reader(path))

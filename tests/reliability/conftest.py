"""The reliability suite's running system, shared by every scenario (tests/reliability/
test_<n>_*.py): the stack of real processes and signed-in sessions (harness.py), and the
table of figures printed at the end.

The suite runs only when GATEHOUSE_SOAK is set (`make soak`, `make soak-short`): it needs
PostgreSQL and takes minutes. GATEHOUSE_SOAK_SHORT=1 shrinks every count for CI.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.reliability.harness import FIGURES, HERE, N_EDITORS, SHORT, SOAK, ApiSession, Stack


def pytest_collection_modifyitems(config, items):
    if SOAK:
        return
    skip = pytest.mark.skip(
        reason="reliability suite: needs PostgreSQL and minutes; run `make soak` "
        "(or `make soak-short`)"
    )
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    width = max(len(s) for s, _, _ in FIGURES)
    name_width = max(len(n) for _, n, _ in FIGURES)
    terminalreporter.section("Gatehouse reliability figures" + (" (short)" if SHORT else ""))
    last = None
    for scenario, name, value in FIGURES:
        shown = scenario if scenario != last else ""
        terminalreporter.write_line(f"{shown:<{width}}  {name:<{name_width}}  {value}")
        last = scenario


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("soak"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def editors(stack) -> list[ApiSession]:
    """N_EDITORS signed-in editor sessions (each its own user), logged in concurrently."""
    sessions = [ApiSession(stack.port) for _ in range(N_EDITORS)]
    errors = []

    def login(index: int) -> None:
        reply = sessions[index].login(f"editor{index:02d}")
        if reply.status != 200:
            errors.append((index, reply.status, reply.body[:200]))

    threads = [threading.Thread(target=login, args=(i,)) for i in range(N_EDITORS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return sessions


@pytest.fixture(scope="session")
def root(stack) -> ApiSession:
    session = ApiSession(stack.port)
    assert session.login("root").status == 200
    return session


@pytest.fixture(scope="session")
def editor(stack) -> ApiSession:
    session = ApiSession(stack.port)
    assert session.login("editor").status == 200
    return session

"""The fixtures every adapter test uses, loaded with `pytest_plugins = ("tests.itsm_fixtures",)`.

A test module sets `SYSTEM = "servicenow"` (or "jira", "zendesk"); a module that runs the same
test on every system parametrizes `fake` indirectly with `tests.itsm_cases.NAMES`. `fake` is
the system's local fake with its employees, `opened(**changes)` opens the adapter with changes
to its configuration, and `system` is one opened with none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.itsm_cases import CASES, case_of
from tests.itsm_fake import FakeSystem, Opened, serving


@pytest.fixture
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    case = CASES[getattr(request, "param", None) or request.module.SYSTEM]
    async with serving(case.fake()) as started:
        case.setup(started)
        yield started


@pytest.fixture
async def opened(fake: FakeSystem) -> AsyncIterator[Opened]:
    async with Opened(case_of(fake).config(fake)) as adapters:
        yield adapters


@pytest.fixture
def system(opened: Opened) -> Any:
    return opened()

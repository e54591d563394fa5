"""Fixtures for the fake server's own tests: raw aiohttp requests, no SDK client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from fake_helpers import Raw

from helpcrunch_async.testing import FakeHelpCrunch


@pytest.fixture
async def fake_server() -> AsyncIterator[FakeHelpCrunch]:
    async with FakeHelpCrunch(rate_limit=None) as fake:
        fake.seed_customers(5)
        yield fake


@pytest.fixture
async def raw(fake_server: FakeHelpCrunch) -> AsyncIterator[Raw]:
    async with aiohttp.ClientSession() as session:
        yield Raw(fake_server, session)

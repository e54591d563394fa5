"""pytest plugin: fixtures serving a fake HelpCrunch (registered via ``pytest11``).

Loaded in every pytest run where ``helpcrunch-async`` is installed, so importing it
has no side effects and needs neither pytest-asyncio nor aiohttp.web (imported lazily).

Every fixture is a plain (sync) fixture: the fake runs on its own thread and event
loop, and an ``AsyncHelpCrunch`` opens a connection pool on whichever loop uses it. So
they work in async tests on any loop scope (function, class, module, session: a test
marked ``@pytest.mark.asyncio(loop_scope="module")``, or
``asyncio_default_fixture_loop_scope``), in pytest-asyncio's strict and auto modes, under
anyio's pytest plugin, and in plain sync tests.

Fixtures:
    ``helpcrunch_fake``             a started :class:`FakeHelpCrunch` (rate limit off)
    ``helpcrunch_client``           an ``AsyncHelpCrunch`` pointed at it (client-side
                                    rate limit off), closed after the test
    ``helpcrunch_blocking_client``  a ``HelpCrunch`` (the blocking client) pointed at it
                                    (client-side rate limit off), closed after the test

``helpcrunch_fake_thread`` and ``helpcrunch_sync_client`` are older names of
``helpcrunch_fake`` and ``helpcrunch_blocking_client``, kept so that existing tests run.

Options for the fake come from the ``helpcrunch_fake`` marker (keyword arguments of
:class:`FakeHelpCrunch`).

Example:
    >>> import pytest
    >>> @pytest.mark.helpcrunch_fake(rate_limit=(20, 2.0), retry_after=True)
    ... async def test_update(helpcrunch_fake, helpcrunch_client):
    ...     helpcrunch_fake.seed_customers(1)
    ...     await helpcrunch_client.update_customer(1, name="Ann")
    ...     assert helpcrunch_fake.customers[1]["name"] == "Ann"
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from helpcrunch_async import AsyncHelpCrunch, HelpCrunch
    from helpcrunch_async.testing import FakeHelpCrunch

__all__ = [
    "helpcrunch_blocking_client",
    "helpcrunch_client",
    "helpcrunch_fake",
    "helpcrunch_fake_thread",
    "helpcrunch_sync_client",
    "pytest_configure",
]

MARKER = "helpcrunch_fake"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``helpcrunch_fake`` marker."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**kwargs): keyword arguments for the FakeHelpCrunch behind the "
        "helpcrunch_fake fixture (e.g. rate_limit=(20, 2.0))",
    )


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = {"rate_limit": None}
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if marker.args:
            raise TypeError(f"@pytest.mark.{MARKER} takes keyword arguments only")
        options.update(marker.kwargs)
    return options


@pytest.fixture
def helpcrunch_fake(request: pytest.FixtureRequest) -> Iterator[FakeHelpCrunch]:
    """A started fake HelpCrunch on its own thread and event loop (rate limit off).

    Example:
        >>> @pytest.mark.helpcrunch_fake(rate_limit=(20, 2.0))
        ... async def test_it(helpcrunch_fake):
        ...     assert helpcrunch_fake.base_url.endswith("/v1")
    """
    from helpcrunch_async.testing import FakeHelpCrunch

    with FakeHelpCrunch(**_options(request)).in_thread() as fake:
        yield fake


@pytest.fixture
def helpcrunch_client(helpcrunch_fake: FakeHelpCrunch) -> Iterator[AsyncHelpCrunch]:
    """An ``AsyncHelpCrunch`` talking to ``helpcrunch_fake`` (client rate limit off).

    Usable on any event loop; its connection pool on a loop is closed when that loop
    ends, and the client itself after the test.

    Example:
        >>> async def test_it(helpcrunch_fake, helpcrunch_client):
        ...     helpcrunch_fake.seed_customers(1)
        ...     await helpcrunch_client.update_customer(1, name="Ann")
    """
    from helpcrunch_async import AsyncHelpCrunch

    client = AsyncHelpCrunch(
        api_key=helpcrunch_fake.api_key, base_url=helpcrunch_fake.base_url, rate_limit=None
    )
    try:
        yield client
    finally:
        # Closes the pools of loops that are still running; a pool on a loop that is
        # not running now (a module-scoped loop between tests) closes when it ends.
        asyncio.run(client.aclose())


@pytest.fixture
def helpcrunch_blocking_client(helpcrunch_fake: FakeHelpCrunch) -> Iterator[HelpCrunch]:
    """A ``HelpCrunch`` (the blocking client) talking to ``helpcrunch_fake``.

    Example:
        >>> def test_it(helpcrunch_fake, helpcrunch_blocking_client):
        ...     helpcrunch_fake.seed_customers(1)
        ...     helpcrunch_blocking_client.update_customer(1, name="Ann")
    """
    from helpcrunch_async import HelpCrunch

    with HelpCrunch(
        api_key=helpcrunch_fake.api_key, base_url=helpcrunch_fake.base_url, rate_limit=None
    ) as client:
        yield client


@pytest.fixture
def helpcrunch_fake_thread(helpcrunch_fake: FakeHelpCrunch) -> FakeHelpCrunch:
    """The older name of ``helpcrunch_fake`` (which now runs on its own thread too)."""
    return helpcrunch_fake


@pytest.fixture
def helpcrunch_sync_client(helpcrunch_blocking_client: HelpCrunch) -> HelpCrunch:
    """The older name of ``helpcrunch_blocking_client``."""
    return helpcrunch_blocking_client

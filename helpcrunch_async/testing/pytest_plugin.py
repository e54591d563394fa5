"""pytest plugin: fixtures serving a fake HelpCrunch (registered via ``pytest11``).

Loaded in every pytest run where ``helpcrunch-async`` is installed, so importing it
has no side effects and needs neither pytest-asyncio nor aiohttp.web (imported lazily).
The async fixtures exist only when pytest-asyncio is installed.

Fixtures:
    ``helpcrunch_fake``        (async) a started :class:`FakeHelpCrunch`, rate limit off
    ``helpcrunch_client``      (async) an ``AsyncHelpCrunch`` pointed at it (client-side
                               rate limit off), closed after the test
    ``helpcrunch_fake_thread`` (sync) a fake running in its own thread
    ``helpcrunch_sync_client`` (sync) a ``HelpCrunch`` pointed at the threaded fake

Options for the fake come from the ``helpcrunch_fake`` marker (keyword arguments of
:class:`FakeHelpCrunch`), for both the async and the threaded fake.

Example:
    >>> import pytest
    >>> @pytest.mark.helpcrunch_fake(rate_limit=(20, 2.0), retry_after=True)
    ... async def test_update(helpcrunch_fake, helpcrunch_client):
    ...     helpcrunch_fake.seed_customers(1)
    ...     await helpcrunch_client.update_customer(1, name="Ann")
    ...     assert helpcrunch_fake.customers[1]["name"] == "Ann"
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from helpcrunch_async import AsyncHelpCrunch, HelpCrunch
    from helpcrunch_async.testing import FakeHelpCrunch

__all__ = [
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
        "helpcrunch_fake / helpcrunch_fake_thread fixtures (e.g. rate_limit=(20, 2.0))",
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
def helpcrunch_fake_thread(request: pytest.FixtureRequest) -> Iterator[FakeHelpCrunch]:
    """A fake HelpCrunch on its own thread and event loop, for sync tests.

    Example:
        >>> def test_it(helpcrunch_fake_thread):
        ...     assert helpcrunch_fake_thread.base_url.endswith("/v1")
    """
    from helpcrunch_async.testing import FakeHelpCrunch

    with FakeHelpCrunch(**_options(request)).in_thread() as fake:
        yield fake


@pytest.fixture
def helpcrunch_sync_client(helpcrunch_fake_thread: FakeHelpCrunch) -> Iterator[HelpCrunch]:
    """A ``HelpCrunch`` (blocking) client talking to ``helpcrunch_fake_thread``.

    Example:
        >>> def test_it(helpcrunch_fake_thread, helpcrunch_sync_client):
        ...     helpcrunch_fake_thread.seed_customers(1)
        ...     helpcrunch_sync_client.update_customer(1, name="Ann")
    """
    from helpcrunch_async import HelpCrunch

    client = HelpCrunch(api_key=helpcrunch_fake_thread.api_key,
                        base_url=helpcrunch_fake_thread.base_url, rate_limit=None)
    try:
        yield client
    finally:
        client.close()


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - pytest-asyncio not installed
    pass
else:
    __all__ += ["helpcrunch_client", "helpcrunch_fake"]

    @pytest_asyncio.fixture
    async def helpcrunch_fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeHelpCrunch]:
        """A started fake HelpCrunch on the test's event loop (rate limit off by default).

        Example:
            >>> @pytest.mark.helpcrunch_fake(rate_limit=(20, 2.0))
            ... async def test_it(helpcrunch_fake):
            ...     assert helpcrunch_fake.base_url.endswith("/v1")
        """
        from helpcrunch_async.testing import FakeHelpCrunch

        async with FakeHelpCrunch(**_options(request)) as fake:
            yield fake

    @pytest_asyncio.fixture
    async def helpcrunch_client(
        helpcrunch_fake: FakeHelpCrunch,
    ) -> AsyncIterator[AsyncHelpCrunch]:
        """An ``AsyncHelpCrunch`` talking to ``helpcrunch_fake`` (client rate limit off).

        Example:
            >>> async def test_it(helpcrunch_fake, helpcrunch_client):
            ...     helpcrunch_fake.seed_customers(1)
            ...     await helpcrunch_client.update_customer(1, name="Ann")
        """
        from helpcrunch_async import AsyncHelpCrunch

        async with AsyncHelpCrunch(api_key=helpcrunch_fake.api_key,
                                   base_url=helpcrunch_fake.base_url,
                                   rate_limit=None) as client:
            yield client

"""Raw HTTP helper for the fake server's own tests (no SDK client)."""

from __future__ import annotations

from typing import Any

import aiohttp
from multidict import CIMultiDict

from helpcrunch_async.testing import FakeHelpCrunch


class Raw:
    """A raw HTTP client for one fake: ``await raw.call("PATCH", "/customers/1", {...})``."""

    def __init__(self, fake: FakeHelpCrunch, session: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.session = session
        self.auth = {"Authorization": f"Bearer {fake.api_key}"}

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> tuple[int, Any]:
        """(status, parsed JSON body or the text if not JSON)."""
        hdrs = self.auth if headers is None else headers
        kwargs: dict[str, Any] = {"headers": hdrs}
        if data is not None:
            kwargs["data"] = data
        elif body is not None:
            kwargs["json"] = body
        async with self.session.request(method, self.fake.base_url + path, **kwargs) as r:
            text = await r.text()
            if r.content_type == "application/json":
                return r.status, await r.json()
            return r.status, text

    async def response(
        self, method: str, path: str, body: Any = None
    ) -> tuple[int, CIMultiDict[str], bytes]:
        async with self.session.request(
            method, self.fake.base_url + path, json=body, headers=self.auth
        ) as r:
            return r.status, r.headers.copy(), await r.read()

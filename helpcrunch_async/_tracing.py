"""OpenTelemetry spans for the client's calls, when ``opentelemetry-api`` is there and on.

Tracing is on when the ``opentelemetry-api`` package imports (the ``[otel]`` extra) and
a tracer provider other than OpenTelemetry's default (the proxy that records nothing, or
a ``NoOpTracerProvider``) is set, whenever that happens: it is looked up for each call,
so a client made before the provider was set traces too. Otherwise nothing here runs.

Each call to the API is one span, ``helpcrunch.<method>`` (``helpcrunch.update_customer``;
for ``update_customers`` each item's request, for pagers each page's), of kind
``INTERNAL``, current while its requests are sent (so an aiohttp instrumentation's
``CLIENT`` spans are its children), with these attributes and no others:

* ``http.request.method``; ``http.response.status_code`` (the last answer's, if any);
* ``helpcrunch.attempts``: requests sent (retries included);
* ``helpcrunch.rate_limit_wait_s``: seconds spent waiting for the rate budget and for
  429 pauses;
* on failure, ``error.type`` (the error's class name, e.g. ``NotFoundError``) and the
  span's status ``ERROR`` described by that name alone.

``sync_customers`` adds one span per row, ``helpcrunch.sync_customers``, with
``helpcrunch.item_index`` and ``helpcrunch.sync.action``, around the row's calls' spans.

Never recorded: the API key, URLs' queries, request or response bodies, error messages
(HelpCrunch's may quote customer data), exceptions' text.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ._version import __version__

try:
    from opentelemetry import context as _otel_context
    from opentelemetry import trace as _otel_trace
except ImportError:  # the [otel] extra is not installed: tracing is off for good
    _otel_trace = None  # type: ignore[assignment]
    _otel_context = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

__all__ = ["AVAILABLE", "CallSpan", "active_tracer", "row_span"]

AVAILABLE = _otel_trace is not None
"""``opentelemetry-api`` imports: tracing may be switched on by setting a provider."""

_OFF_PROVIDERS: tuple[type, ...] = ()
if _otel_trace is not None:
    _OFF_PROVIDERS = (_otel_trace.ProxyTracerProvider, _otel_trace.NoOpTracerProvider)
    # The provider set, read without the public get_tracer_provider()'s look into
    # os.environ on every call (~1 µs while none is set). That function still loads a
    # provider named by $OTEL_PYTHON_TRACER_PROVIDER (and is used throughout should
    # the attribute ever go away).
    _FAST_READ = hasattr(_otel_trace, "_TRACER_PROVIDER")
    _FROM_ENV = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ

_cached: tuple[object, Tracer] | None = None  # (provider, our tracer from it)


def active_tracer() -> Tracer | None:
    """Our tracer from the provider set now; ``None`` while tracing is off."""
    global _cached
    if _otel_trace is None:
        return None
    provider: object = _otel_trace._TRACER_PROVIDER if _FAST_READ else None
    if provider is None:
        if _FAST_READ and not _FROM_ENV:
            return None
        provider = _otel_trace.get_tracer_provider()
    if isinstance(provider, _OFF_PROVIDERS):
        return None
    cached = _cached
    if cached is not None and cached[0] is provider:
        return cached[1]
    tracer = provider.get_tracer("helpcrunch_async", __version__)  # type: ignore[attr-defined]
    _cached = (provider, tracer)
    return tracer  # type: ignore[no-any-return]


class CallSpan:
    """One call's span, current (attached to the context) from creation to :meth:`end`.

    Create and end it in the same task (the requestor's frame does both).
    """

    __slots__ = ("_span", "_token")

    def __init__(self, tracer: Tracer, call: str, method: str) -> None:
        assert _otel_trace is not None
        assert _otel_context is not None
        self._span: Span = tracer.start_span(
            f"helpcrunch.{call}",
            kind=_otel_trace.SpanKind.INTERNAL,
            attributes={"http.request.method": method},
            record_exception=False,
            set_status_on_exception=False,
        )
        self._token = _otel_context.attach(_otel_trace.set_span_in_context(self._span))

    def end(
        self, *, status: int | None, attempts: int, wait_s: float, error: BaseException | None
    ) -> None:
        """Set the attributes, the status on failure, end the span and detach it."""
        assert _otel_context is not None
        try:
            span = self._span
            if span.is_recording():
                attributes: dict[str, Any] = {
                    "helpcrunch.attempts": attempts,
                    "helpcrunch.rate_limit_wait_s": wait_s,
                }
                if status is not None:
                    attributes["http.response.status_code"] = status
                if error is not None:
                    _mark_failed(span, error)
                span.set_attributes(attributes)
            span.end()
        finally:
            _otel_context.detach(self._token)


def _mark_failed(span: Span, error: BaseException) -> None:
    """``error.type`` and the status ``ERROR``, by the error's class name only."""
    assert _otel_trace is not None
    name = type(error).__name__
    span.set_attribute("error.type", name)
    span.set_status(_otel_trace.Status(_otel_trace.StatusCode.ERROR, name))


@contextlib.contextmanager
def row_span(call: str, index: int) -> Iterator[RowSpan | None]:
    """A bulk job's item span, current inside; ``None`` (and nothing done) when off."""
    tracer = active_tracer()
    if tracer is None:
        yield None
        return
    assert _otel_trace is not None
    with tracer.start_as_current_span(
        f"helpcrunch.{call}",
        kind=_otel_trace.SpanKind.INTERNAL,
        attributes={"helpcrunch.item_index": index},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        yield RowSpan(span)


class RowSpan:
    """What a bulk job's item tells its span when it is done."""

    __slots__ = ("_span",)

    def __init__(self, span: Span) -> None:
        self._span = span

    def outcome(self, action: str, error: BaseException | None) -> None:
        """The item's action (``"updated"``, ``"failed"``, ...) and its error, if any."""
        self._span.set_attribute("helpcrunch.sync.action", action)
        if error is not None:
            _mark_failed(self._span, error)

"""ASGI middleware of the app: the access log, the request body limit, the page's
security headers, the allowed ``Host`` names."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence

from emonet.serve._errors import ServeError

__all__ = ["ACCESS_LOGGER", "AccessLog", "AllowedHosts", "BodyLimit", "SecurityHeaders"]

#: The logger of the access log: one line per request (route, status, faces, ms).
ACCESS_LOGGER = "emonet.serve.access"

_PAGE_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class AccessLog:
    """One log line per request, when it ends: ``route=... status=... faces=... ms=...``
    (a WebSocket: when it closes, with its frames). No image data, no query string (it
    may hold an API key)."""

    def __init__(self, app, clock: Callable[[], float] = time.perf_counter) -> None:
        self.app = app
        self.clock = clock
        self.logger = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        start = self.clock()
        status = {"code": 0}

        async def send_status(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            elif message["type"] == "websocket.accept":
                status["code"] = 101
            elif message["type"] == "websocket.close" and not status["code"]:
                status["code"] = 403
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            line = {
                "route": scope.get("path", "")[:200],
                "method": scope.get("method", "WS"),
                "status": status["code"] or 500,
                "faces": int(scope.get("emonet.faces", 0)),
                "ms": round((self.clock() - start) * 1000, 1),
            }
            if "emonet.frames" in scope:
                line["frames"] = int(scope["emonet.frames"])
            self.logger.info(json.dumps(line))


class BodyLimit:
    """Refuse a request body over its route's limit with 413, from ``Content-Length``
    at once or while it streams in (chunked bodies too), before it is all in memory.
    ``limit_of(path, multipart)`` gives the limit."""

    def __init__(self, app, limit_of: Callable[[str, bool], int]) -> None:
        self.app = app
        self.limit_of = limit_of

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        limit = self.limit_of(scope.get("path", ""), multipart)
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _refuse(send, _too_large(int(length), limit))
            return
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(seen, limit)
            return message

        await self.app(scope, limited_receive, send)


class SecurityHeaders:
    """``X-Content-Type-Options: nosniff`` on every answer; a Content-Security-Policy
    that allows the app's own files only on its pages (nothing from elsewhere runs)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                headers.append((b"content-security-policy", _PAGE_POLICY.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_headers)


class AllowedHosts:
    """Answer only requests whose ``Host`` header names one of ``hosts``: 400 otherwise
    (a WebSocket is closed before it opens).

    A page on another site can make the browser talk to a service on this machine by
    pointing its own name at 127.0.0.1 (DNS rebinding); its requests then carry that
    name, not this machine's. ``hosts`` are names (``localhost``), addresses
    (``127.0.0.1``, ``[::1]``) or ``*.example.org`` for a domain's names, without the
    port; ``*`` allows any.
    """

    def __init__(self, app, hosts: Sequence[str]) -> None:
        self.app = app
        self.any = "*" in hosts
        self.names = frozenset(h.lower() for h in hosts if not h.startswith("*"))
        self.domains = tuple(h[1:].lower() for h in hosts if h.startswith("*."))

    def allows(self, host: str) -> bool:
        name = _host_name(host)
        return self.any or name in self.names or name.endswith(self.domains)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if self.allows(host):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            await _refuse(
                send,
                ServeError(
                    400,
                    "bad_host",
                    f"Host {host[:100]!r} is not one this service answers to; "
                    "start emonet-serve with --allowed-host for the name it is reached by",
                ),
            )


def _host_name(host: str) -> str:
    """A ``Host`` header's name or address, lower case, without the port
    (``"[::1]:8000"`` is ``"[::1]"``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _too_large(size: int, limit: int) -> ServeError:
    return ServeError(
        413,
        "too_large",
        f"a request of {size:,} bytes or more is over the limit of {limit:,} bytes for "
        "this route; send less",
    )


async def _refuse(send, error: ServeError) -> None:
    body = json.dumps(error.to_dict()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

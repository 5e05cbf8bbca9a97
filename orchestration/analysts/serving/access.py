"""Who may use the served door: anyone on this machine when it listens on loopback only, and
beyond it only those who show the token.

With a token, every request carries ``Authorization: Bearer <token>``; a browser, which cannot add
that header to a page it opens, may give the token as the password of HTTP Basic authentication
(any user name), and the 401 answer asks for it. Without a token the service listens on loopback
only, and answers only requests addressed to a loopback name, so a web page elsewhere cannot reach
it by pointing a name of its own at 127.0.0.1 (DNS rebinding).

Whatever the token, a request that a browser sends on behalf of another site is refused with 403:
one whose ``Sec-Fetch-Site`` says cross-site or same-site, or whose ``Origin`` is not the service's
own (the host it was asked by). A page elsewhere can otherwise make an analyst's browser send
queries to the service, with the Basic credentials the browser remembers. One such request is let
through: following a link to the console (a GET of ``/`` that opens a page), so a shared query's
link works from a chat or a wiki; the console then fills its editor and waits for a click to run
it (app.py). curl and scripts send neither header, and the console's own requests are same-origin.
Behind a reverse proxy, the proxy must pass the Host it was asked by.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN_ENV = "WAREHOUSE_SERVE_TOKEN"
MIN_TOKEN_LENGTH = 16
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]
# Every answer: no page of another site may frame the console, nor a browser guess a download's type.
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve to any address


def refusal_to_start(host: str, token: str | None) -> str | None:
    """Why the service must not start on ``host`` with ``token``, or None."""
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        return f"the token is too short: give one of at least {MIN_TOKEN_LENGTH} characters (for example `openssl rand -hex 24`)"
    if token is None and not is_loopback(host):
        return (
            f"refusing to listen on {host} without a token: anyone who can reach it could query the warehouse. "
            f"Set {TOKEN_ENV} (or give --token) to a secret of at least {MIN_TOKEN_LENGTH} characters; clients then "
            "send `Authorization: Bearer <token>`. Without a token, listen on 127.0.0.1 only."
        )
    return None


class Guard:
    """ASGI middleware: the token check, and the headers every answer carries."""

    def __init__(self, app: ASGIApp, token: str | None):
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not _opens_the_console(scope, headers) and (cross_site := _cross_site(headers)):
            response = JSONResponse({"error": "cross_site", "message": cross_site}, status_code=403)
            await response(scope, receive, send)
            return
        if self.token is not None and not self._shows_token(headers.get("authorization", "")):
            response = JSONResponse(
                {
                    "error": "unauthorized",
                    "message": "this warehouse needs its token: send `Authorization: Bearer <token>`",
                },
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="warehouse", charset="UTF-8"'},
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _shows_token(self, authorization: str) -> bool:
        scheme, _, credentials = authorization.partition(" ")
        given = credentials.strip()
        if scheme.lower() == "basic":
            try:
                given = base64.b64decode(given, validate=True).decode("utf-8").partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                return False
        elif scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))


def _opens_the_console(scope: Scope, headers: Headers) -> bool:
    """A link to the console followed in a browser: a GET of ``/`` for a page of its own."""
    return (
        scope["method"] == "GET"
        and scope["path"] == "/"
        and headers.get("sec-fetch-mode") == "navigate"
        and headers.get("sec-fetch-dest") == "document"
    )


def _cross_site(headers: Headers) -> str | None:
    """Why a request comes from another site's page, or None."""
    site = headers.get("sec-fetch-site", "").lower()
    if site in ("cross-site", "same-site"):
        return f"refused: a request made by a page of another site (Sec-Fetch-Site: {site})"
    origin = headers.get("origin")
    if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != headers.get("host", "").lower()):
        return f"refused: a request from the origin {origin!r}, not this service's own"
    return None

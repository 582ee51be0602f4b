"""RequestBodyLimit: a request body larger than ``api.max_request_bytes`` is a 413, found while it streams.

A declared ``Content-Length`` over the limit is refused before a byte of the body is read; a
body sent without one (chunked) is counted as it arrives and refused at the first chunk past
the limit, so no request, however many files it carries, makes the api hold or spool more
than the limit. The multipart parser behind it spools every file over 1 MiB to a temporary
file, so what is in memory while a request is read stays small.

Once the 413 is sent the application only sees the client as gone; whatever it would still
answer is dropped. Install it outside every other middleware (``add_middleware`` last).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestBodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self._max_bytes:
            await self._refuse(send, f"the request body is {declared} bytes")
            return
        received = 0
        started = refused = False

        async def counting() -> Message:
            """The body as it arrives, cut off at the limit."""
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(send, f"the request body is more than {received - 1} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._app(scope, counting, tracking)
        except Exception:
            if not refused:
                raise
            # The application met the disconnect it was shown; the client has its 413.

    async def _refuse(self, send: Send, what: str) -> None:
        message = f"{what}; at most {self._max_bytes} bytes are accepted in one request"
        body = json.dumps(
            {"error": message, "detail": {"kind": "too_large", "max_request_bytes": self._max_bytes}}
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers.append((b"connection", b"close"))  # the rest of the body is never read
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None

"""Per-connection limits that must hold before a request reaches the app: header size and header read time.

Uvicorn parses headers before any ASGI code runs and puts no bound on their size or on how long a client
may take to send them, so a client trickling header bytes holds a connection forever, and a 64 MB header is
read into memory. ``guarded_protocol`` subclasses uvicorn's httptools protocol (``uvicorn.Config(http=...)``
takes a protocol class) to answer 431 past ``max_header_bytes`` (RFC 6585 §5) and 408 when a request's head
is not complete ``header_timeout_s`` after its first byte (or after the connection opened) (RFC 9110 §15.5.9).
Bodies are bounded by ``limits.BodyLimit`` in the app.
"""

import asyncio
import json
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from avatar_service.config import Settings


@dataclass(frozen=True)
class HeaderLimits:
    max_header_bytes: int
    header_timeout_s: float


def header_limits(settings: Settings) -> HeaderLimits:
    return HeaderLimits(settings.max_header_bytes, settings.header_timeout_seconds)


def guarded_protocol(limits: HeaderLimits) -> type[HttpToolsProtocol]:
    """An HttpToolsProtocol class enforcing ``limits`` (pass it as ``uvicorn.run(..., http=...)``)."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits: HeaderLimits

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._head_tail = b""
        self._reading_head = True
        self._head_deadline: asyncio.TimerHandle | None = None
        self._arm_head_deadline()  # a connection that never sends a byte is closed too

    def data_received(self, data: bytes) -> None:
        if self._reading_head and not self._busy():
            self._head_bytes += self._head_part(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(431, f"request head over {self.limits.max_header_bytes} bytes (MAX_HEADER_BYTES)")
                return
            if self._head_deadline is None:
                self._arm_head_deadline()
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._disarm_head_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next bytes on this keep-alive connection start a new head, counted from zero.
        self._reading_head = True
        self._head_bytes = 0
        self._head_tail = b""

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _head_part(self, data: bytes) -> int:
        """How many bytes of ``data`` belong to the head: up to the blank line ending it (RFC 9112 §2.1),
        which may straddle two reads, so the last three bytes of the previous read are kept."""
        window = self._head_tail + data
        end = window.find(b"\r\n\r\n")
        self._head_tail = window[-3:]
        return len(data) if end < 0 else max(end + 4 - (len(window) - len(data)), 0)

    def _busy(self) -> bool:
        """A response is still being worked on: the head limits wait for it (pipelined bytes are not late)."""
        return self.cycle is not None and not self.cycle.response_complete

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.limits.header_timeout_s, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if not self._reading_head or self.transport.is_closing():
            return
        if self._busy():
            self._arm_head_deadline()
            return
        if self._head_bytes == 0:
            self.transport.close()  # nothing was asked: an idle connection is simply closed
            return
        self._refuse(408, f"request head not received within {self.limits.header_timeout_s:g} s (HEADER_TIMEOUT_SECONDS)")

    def _refuse(self, status: int, message: str) -> None:
        """Answer in the API's error shape and close; the parser never sees the rest."""
        self._disarm_head_deadline()
        body = json.dumps({"detail": message, "field": None}).encode()
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % (status, reason, len(body))
            + body
        )
        self.transport.close()

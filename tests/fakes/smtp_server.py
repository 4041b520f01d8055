"""A real SMTP server on 127.0.0.1 (aiosmtpd, in its own thread) that records what it accepts and can be told
to refuse: `server.refuse("451 4.3.0 try again later", times=1)` answers the next RCPT with that reply."""

from __future__ import annotations

import logging
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller

# aiosmtpd logs every connection from its own thread, where the stream a test's log handler wrote to may
# already be closed; its chatter says nothing a test checks.
logging.getLogger("mail.log").propagate = False
logging.getLogger("mail.log").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Received:
    mail_from: str
    recipients: list[str]
    message: Message


class _Handler:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refusals: deque[str] = deque()
        self.on_data: Callable[[], None] = lambda: None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refusals:
            return self.refusals.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.on_data()
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SMTPServer:
    def __init__(self) -> None:
        self._handler = _Handler()
        self.port = free_port()
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    @property
    def received(self) -> list[Received]:
        return self._handler.received

    def on_data(self, action: Callable[[], None]) -> None:
        """Run `action` as each message arrives (a slow server: the test's clock moves on)."""
        self._handler.on_data = action

    def refuse(self, reply: str, *, times: int = 1) -> None:
        self._handler.refusals.extend([reply] * times)

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._controller.stop()

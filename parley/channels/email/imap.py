"""Reading a mailbox over IMAP4rev1 (stdlib `imaplib`, each blocking call run in a worker thread).

Nothing is fetched twice or skipped: the caller keeps the mailbox's UIDVALIDITY and the highest UID it has stored
durably. A poll asks for UIDs above that one (`UID SEARCH UID n:*`, which also answers the highest existing UID
when there is none above, hence the filter) and reads them with `BODY.PEEK[]`, which leaves `\\Seen` alone. The
caller marks them `\\Seen` only after its durable write; a crash in between means the next poll fetches them again
and the inbound record's unique Message-ID makes that harmless. When UIDVALIDITY changes (the server renumbered
the mailbox), every UID is stale, so the poll starts from zero — again harmless thanks to the Message-ID.

imaplib rather than aioimaplib: it is in the standard library, complete, and a poll is a few round trips that
sit comfortably in a thread; the reconciler polls each mailbox on its own anyway.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self, TypeVar

import anyio.to_thread

_T = TypeVar("_T")
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_FETCH_UID = re.compile(rb"UID (\d+)")


class ImapError(Exception):
    """The server could not be reached, refused the login or a command; the poll is tried again next round."""


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    username: str
    password: str
    mailbox: str = "INBOX"
    security: str = "ssl"  # "ssl" (port 993), "starttls", or "none" (a local server)
    timeout: float = 30.0


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes


class ImapMailbox:
    """One logged-in, selected mailbox; use as `async with ImapMailbox(account) as box`."""

    def __init__(self, account: ImapAccount) -> None:
        self.account = account
        self.uidvalidity = 0
        self._client: imaplib.IMAP4 | None = None

    async def __aenter__(self) -> Self:
        await self._run(self._open)
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await anyio.to_thread.run_sync(self._close)

    async def new_uids(self, after: int, limit: int) -> list[int]:
        return (await self._run(self._search, after))[:limit]

    async def fetch(self, uids: list[int]) -> list[Fetched]:
        return await self._run(self._fetch, uids) if uids else []

    async def mark_seen(self, uids: list[int]) -> None:
        if uids:
            await self._run(self._store_seen, uids)

    async def _run(self, function: Callable[..., _T], *args: object) -> _T:
        try:
            return await anyio.to_thread.run_sync(function, *args)
        except (imaplib.IMAP4.error, OSError, EOFError) as exc:
            raise ImapError(f"IMAP {self.account.host}:{self.account.port}: {exc}") from exc

    def _open(self) -> None:
        account = self.account
        if account.security == "ssl":
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                account.host, account.port, ssl_context=ssl.create_default_context(), timeout=account.timeout
            )
        else:
            client = imaplib.IMAP4(account.host, account.port, timeout=account.timeout)
            if account.security == "starttls":
                client.starttls(ssl.create_default_context())
        self._client = client
        client.login(account.username, account.password)
        status, data = client.select(_quoted(account.mailbox))
        if status != "OK":
            raise imaplib.IMAP4.error(f"SELECT {account.mailbox}: {data!r}")
        self.uidvalidity = self._uidvalidity(client, account.mailbox)

    @staticmethod
    def _uidvalidity(client: imaplib.IMAP4, mailbox: str) -> int:
        # SELECT answers "* OK [UIDVALIDITY n]"; imaplib files response codes under their name.
        _, data = client.response("UIDVALIDITY")
        value = data[0] if data else None
        if isinstance(value, bytes) and value.isdigit():
            return int(value)
        status, lines = client.status(_quoted(mailbox), "(UIDVALIDITY)")
        match = _UIDVALIDITY.search(lines[0]) if status == "OK" and isinstance(lines[0], bytes) else None
        if match is None:
            raise imaplib.IMAP4.error("the server did not tell the mailbox's UIDVALIDITY")
        return int(match[1])

    def _search(self, after: int) -> list[int]:
        status, data = self._require().uid("SEARCH", f"UID {after + 1}:*")
        if status != "OK":
            raise imaplib.IMAP4.error(f"UID SEARCH: {data!r}")
        found = [int(uid) for line in data if isinstance(line, bytes) for uid in line.split()]
        return sorted(uid for uid in found if uid > after)

    def _fetch(self, uids: list[int]) -> list[Fetched]:
        status, data = self._require().uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
        if status != "OK":
            raise imaplib.IMAP4.error(f"UID FETCH: {data!r}")
        fetched = []
        for item in data:
            if isinstance(item, tuple) and (match := _FETCH_UID.search(item[0])):
                fetched.append(Fetched(int(match[1]), item[1]))
        return sorted(fetched, key=lambda f: f.uid)

    def _store_seen(self, uids: list[int]) -> None:
        status, data = self._require().uid("STORE", ",".join(map(str, uids)), "+FLAGS.SILENT", r"(\Seen)")
        if status != "OK":
            raise imaplib.IMAP4.error(f"UID STORE: {data!r}")

    def _require(self) -> imaplib.IMAP4:
        if self._client is None:
            raise imaplib.IMAP4.error("not connected")
        return self._client

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        with contextlib.suppress(imaplib.IMAP4.error, OSError, EOFError):  # the connection goes away either way
            client.logout()


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'

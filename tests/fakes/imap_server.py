"""A small but real IMAP4rev1 server on 127.0.0.1 (RFC 3501 over TCP, one thread per connection), enough for a
polling client: CAPABILITY, NOOP, LOGIN, SELECT/EXAMINE, STATUS, UID SEARCH, UID FETCH (BODY[], BODY.PEEK[],
RFC822, FLAGS), UID STORE ±FLAGS[.SILENT], LOGOUT. Mail is added with `server.deliver(raw)`; `renumber()` changes
UIDVALIDITY as a server that rebuilt its index does; `fail_next("FETCH")` answers the next such command NO."""

from __future__ import annotations

import re
import socketserver
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from tests.fakes.smtp_server import free_port


@dataclass
class StoredMail:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


@dataclass
class Mailbox:
    uidvalidity: int = 1
    next_uid: int = 1
    mails: list[StoredMail] = field(default_factory=list)


_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\([^)]*\))|(\S+)')


def _tokens(text: str) -> list[str]:
    return [
        re.sub(r"\\(.)", r"\1", quoted) if quoted or (not group and not atom) else group or atom
        for quoted, group, atom in _TOKEN.findall(text)
    ]


def _uid_set(spec: str, highest: int) -> set[int]:
    wanted: set[int] = set()
    for part in spec.split(","):
        low, _, high = part.partition(":")
        start = highest if low == "*" else int(low)
        end = start if not high else highest if high == "*" else int(high)
        if start > end:
            start, end = end, start
        wanted.update(range(start, end + 1))
    return wanted


class _Connection(socketserver.StreamRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        self.authenticated = False
        self.selected: Mailbox | None = None
        self.read_only = False
        self._send(b"* OK [CAPABILITY IMAP4rev1] Parley test IMAP server ready")
        while line := self.rfile.readline():
            tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
            command, _, arguments = rest.partition(" ")
            if not self._dispatch(tag, command.upper(), arguments):
                return

    def _dispatch(self, tag: str, command: str, arguments: str) -> bool:
        fake = self.server.fake
        if command == "UID":
            command, _, arguments = arguments.partition(" ")
            command = f"UID {command.upper()}"
        if fake.take_failure(command.split()[-1]):
            self._send(f"{tag} NO [UNAVAILABLE] {command} failed (injected)".encode())
            return True
        if command == "LOGOUT":
            self._send(b"* BYE logging out")
            self._send(f"{tag} OK LOGOUT completed".encode())
            return False
        if command in ("CAPABILITY", "NOOP"):
            if command == "CAPABILITY":
                self._send(b"* CAPABILITY IMAP4rev1")
            self._send(f"{tag} OK {command} completed".encode())
        elif command == "LOGIN":
            self._login(tag, _tokens(arguments))
        elif not self.authenticated:
            self._send(f"{tag} BAD log in first".encode())
        elif command in ("SELECT", "EXAMINE"):
            self._select(tag, _tokens(arguments)[0], read_only=command == "EXAMINE")
        elif command == "STATUS":
            self._status(tag, _tokens(arguments)[0])
        elif self.selected is None:
            self._send(f"{tag} BAD select a mailbox first".encode())
        elif command == "UID SEARCH":
            self._search(tag, arguments)
        elif command == "UID FETCH":
            self._fetch(tag, arguments)
        elif command == "UID STORE":
            self._store(tag, arguments)
        else:
            self._send(f"{tag} BAD unknown command {command}".encode())
        return True

    def _login(self, tag: str, arguments: list[str]) -> None:
        fake = self.server.fake
        if len(arguments) == 2 and (arguments[0], arguments[1]) == (fake.username, fake.password):
            self.authenticated = True
            self._send(f"{tag} OK LOGIN completed".encode())
        else:
            self._send(f"{tag} NO [AUTHENTICATIONFAILED] invalid credentials".encode())

    def _select(self, tag: str, name: str, *, read_only: bool) -> None:
        mailbox = self.server.fake.mailboxes.get(name.upper() if name.upper() == "INBOX" else name)
        if mailbox is None:
            self._send(f"{tag} NO [NONEXISTENT] no such mailbox".encode())
            return
        self.selected, self.read_only = mailbox, read_only
        with self.server.fake.lock:
            self._send(rb"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)")
            self._send(f"* {len(mailbox.mails)} EXISTS".encode())
            self._send(b"* 0 RECENT")
            self._send(f"* OK [UIDVALIDITY {mailbox.uidvalidity}] UIDs valid".encode())
            self._send(f"* OK [UIDNEXT {mailbox.next_uid}] predicted next UID".encode())
        mode = "READ-ONLY" if read_only else "READ-WRITE"
        self._send(f"{tag} OK [{mode}] SELECT completed".encode())

    def _status(self, tag: str, name: str) -> None:
        mailbox = self.server.fake.mailboxes.get(name.upper() if name.upper() == "INBOX" else name)
        if mailbox is None:
            self._send(f"{tag} NO no such mailbox".encode())
            return
        self._send(f'* STATUS "{name}" (UIDVALIDITY {mailbox.uidvalidity} UIDNEXT {mailbox.next_uid})'.encode())
        self._send(f"{tag} OK STATUS completed".encode())

    def _matching(self, spec: str) -> list[tuple[int, StoredMail]]:
        assert self.selected is not None
        mails = self.selected.mails
        highest = mails[-1].uid if mails else 0
        wanted = _uid_set(spec, highest)
        return [(number, mail) for number, mail in enumerate(mails, start=1) if mail.uid in wanted]

    def _search(self, tag: str, arguments: str) -> None:
        words = arguments.split()
        if len(words) != 2 or words[0].upper() != "UID":
            self._send(f"{tag} BAD only UID SEARCH UID <set> is supported".encode())
            return
        with self.server.fake.lock:
            uids = [str(mail.uid) for _, mail in self._matching(words[1])]
        self._send(" ".join(["* SEARCH", *uids]).encode())
        self._send(f"{tag} OK SEARCH completed".encode())

    def _fetch(self, tag: str, arguments: str) -> None:
        spec, _, items = arguments.partition(" ")
        items = items.upper()
        with self.server.fake.lock:
            for number, mail in self._matching(spec):
                parts = [f"UID {mail.uid}"]
                if "FLAGS" in items:
                    parts.append(f"FLAGS ({' '.join(sorted(mail.flags))})")
                body_item = next((i for i in ("BODY.PEEK[]", "BODY[]", "RFC822") if i in items), None)
                if body_item is None:
                    self._send(f"* {number} FETCH ({' '.join(parts)})".encode())
                    continue
                if body_item != "BODY.PEEK[]" and not self.read_only:
                    mail.flags.add("\\Seen")
                name = "RFC822" if body_item == "RFC822" else "BODY[]"
                head = f"* {number} FETCH ({' '.join(parts)} {name} {{{len(mail.raw)}}}".encode()
                self.wfile.write(head + b"\r\n" + mail.raw + b")\r\n")
        self._send(f"{tag} OK FETCH completed".encode())

    def _store(self, tag: str, arguments: str) -> None:
        spec, _, rest = arguments.partition(" ")
        action, _, flag_list = rest.partition(" ")
        flags = set(flag_list.strip("()").split())
        if self.read_only:
            self._send(f"{tag} NO mailbox is read-only".encode())
            return
        with self.server.fake.lock:
            for number, mail in self._matching(spec):
                if action.upper().startswith("+"):
                    mail.flags |= flags
                elif action.upper().startswith("-"):
                    mail.flags -= flags
                else:
                    mail.flags = set(flags)
                if not action.upper().endswith(".SILENT"):
                    listed = " ".join(sorted(mail.flags))
                    self._send(f"* {number} FETCH (UID {mail.uid} FLAGS ({listed}))".encode())
        self._send(f"{tag} OK STORE completed".encode())

    def _send(self, line: bytes) -> None:
        self.wfile.write(line + b"\r\n")


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: IMAPServer


class IMAPServer:
    def __init__(self, username: str = "inbox@example.test", password: str = "imap-secret") -> None:
        self.username = username
        self.password = password
        self.port = free_port()
        self.lock = threading.Lock()
        self.mailboxes: dict[str, Mailbox] = {"INBOX": Mailbox(uidvalidity=1_700_000_000)}
        self._failures: list[str] = []
        self._server = _TCPServer(("127.0.0.1", self.port), _Connection)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def inbox(self) -> Mailbox:
        return self.mailboxes["INBOX"]

    def deliver(self, raw: bytes, mailbox: str = "INBOX") -> int:
        with self.lock:
            box = self.mailboxes[mailbox]
            uid = box.next_uid
            box.next_uid += 1
            box.mails.append(StoredMail(uid, raw))
            return uid

    def flags(self, uid: int, mailbox: str = "INBOX") -> set[str]:
        with self.lock:
            return next(set(m.flags) for m in self.mailboxes[mailbox].mails if m.uid == uid)

    def renumber(self, mailbox: str = "INBOX") -> None:
        """A new UIDVALIDITY and fresh UIDs for the same mail, as after a server-side index rebuild."""
        with self.lock:
            box = self.mailboxes[mailbox]
            box.uidvalidity += 1
            for index, mail in enumerate(box.mails, start=1):
                mail.uid = index
            box.next_uid = len(box.mails) + 1

    def fail_next(self, command: str) -> None:
        with self.lock:
            self._failures.append(command.upper())

    def take_failure(self, command: str) -> bool:
        with self.lock:
            if command.upper() in self._failures:
                self._failures.remove(command.upper())
                return True
            return False

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

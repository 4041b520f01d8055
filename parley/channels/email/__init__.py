"""Email as a channel: inbound by IMAP polling or a provider's inbound webhook (Postmark, SendGrid), outbound
over SMTP through the outbox.

- `mime.py` reads one raw message (stdlib `email`, policy=default) into `ParsedEmail`: the reply text (plain part
  preferred, HTML reduced to safe text by `html.py`, quoted history and signatures cut by `quotes.py`),
  attachments within limits, and whether the message is automated (auto-reply, bulk, list, bounce).
- `addresses.py` makes the per-conversation reply address `reply+<conversation id>.<mac>@<inbound domain>`; the
  MAC (HMAC-SHA256 under a key derived from the master key) means a forged address cannot reach another
  conversation. Threading also follows `In-Reply-To` / `References` against the Message-IDs we sent.
- `imap.py` polls a mailbox (stdlib `imaplib`, run in a thread), tracking UIDVALIDITY and the last UID seen.
- `webhooks.py` turns Postmark's JSON and SendGrid's Inbound Parse form into the same `ParsedEmail`.
"""

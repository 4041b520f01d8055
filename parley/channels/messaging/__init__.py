"""Messaging channels: what WhatsApp (Cloud API), Twilio (SMS, WhatsApp) and email share.

The path of a message, and why each step is where it is:

1. **Accept** (`intake.record_inbound`): a provider's webhook is verified (signature), normalised into
   `InboundMessage`s and written with ONE insert each into `channel_inbound`, whose unique
   (connection, provider message id) turns a redelivered or concurrently duplicated webhook into a no-op — never a
   check-then-insert. The payload is sealed under the organisation key (the person is not known yet). The webhook
   answers 200 only after that commit, and does nothing else inline, so it is fast and never loses a message.
2. **Turn** (`turns.process_inbound`, a reconciler, also nudged in-process right after a webhook): pending rows of
   one sender on one connection are collected until no new one has arrived for `channel_burst_seconds`, then
   become ONE engine turn: ordered by the provider's timestamp (not arrival), resolved to one contact across
   channels (E.164 phone numbers, WhatsApp ids, emails), stored as messages sealed under the person's key, and
   answered once by the conversation engine. Rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL.
3. **Send** (`outbound`): the reply is written to `channel_outbound` in the same transaction that stores it; the
   delivery reconciler sends it through the connection kind's `ChannelSender`, with retries and backoff for
   errors worth retrying, a clear failure (and a flag for staff) for those that are not, WhatsApp's 24-hour window
   and opt-outs (STOP) checked at send time. Delivery reports (sent, delivered, read, failed) update the row.

A crash between any two steps loses nothing and duplicates nothing: each step is a committed row that the next
reconciler pass finds again, and each side effect is keyed (provider message id, reply id) so a replay is a no-op.
"""

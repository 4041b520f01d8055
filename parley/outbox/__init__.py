"""The outbox: side effects after commit.

An email is written to the `outbox` table in the same transaction as the change that causes it
(`service.enqueue_email`), so it exists exactly when that change committed: a rolled-back transaction sends
nothing. The delivery reconciler (`tasks.deliver_outbox`) sends it later over SMTP:

- **Claims are leases.** A worker claims a few due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers
  never take the same row; SQLite serialises writers) by setting `claimed_until` and a claim token, and commits
  before sending. A worker that dies leaves the lease to run out; the row is then offered again.
- **Settling checks the claim.** A send is settled (sent, retry later, failed) only by the claim that made it.
  A worker never starts a send whose lease is about to run out, so two workers do not send one row.
- **At least once, deduplicable.** A crash between the server's acceptance and the settle makes the row go out
  again after the lease; its `Message-ID` is derived from the row id, so receivers can recognise the resend.
- **Failures.** Connection errors and 4xx replies are retried with exponential backoff; 5xx replies, or the
  last allowed attempt, mark the row failed with the server's reply, visible to staff. Without an SMTP server
  configured, rows wait (with a note saying why) and go out once one is.
"""

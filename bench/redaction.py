"""PII redaction benchmark: chat messages redacted per second on one core.

Method
------
A corpus of `--messages` chat messages cycling over realistic customer messages: most carry no personal value
("When does the kitchen open?"), some carry one or several (an e-mail, a mobile number in national or
international format, a card number, an IBAN, an IP address), some are long. Each message gets a fresh
`Redactor` (as each request does) and is redacted, then restored, in one process on one core, after a warm-up.

Baseline, same run, same corpus: libphonenumber's matcher (`phonenumbers.PhoneNumberMatcher`) run over every
message — the one recogniser a naive implementation would run on everything; Parley runs it only where at least
seven digits appear. (Presidio with all its recognisers does ~220 messages/s on this machine according to the issue;
it is not installed here.) Target: >= 2,000 messages/s.

Run: `.venv/bin/python bench/redaction.py [--messages 20000] [--region FR]`.
"""

from __future__ import annotations

import argparse
import sys
import time

import phonenumbers

from parley.privacy.redaction import Redactor

TARGET = 2_000.0
CORPUS = [
    "When does the kitchen open on Sunday?",
    "Hi! Do you have a table for four tonight around 8?",
    "Can the chef do gluten-free pasta? My daughter is coeliac.",
    "My email is jane.doe@example.com, please send the confirmation there.",
    "You can reach me on 06 12 34 56 78 or +44 20 7946 0958 after six.",
    "Thanks, that's perfect. See you tomorrow!",
    "I paid the deposit with 4111 1111 1111 1111, could you check it went through?",
    "For the refund, my IBAN is FR76 3000 6000 0112 3456 7890 189.",
    "The booking page shows an error from 203.0.113.9, is your site down?",
    "We are a group of twelve for a birthday on the 14th of March; is the private room free, do you have a set "
    "menu for groups, and can we bring our own cake? Some guests are vegetarian and one is allergic to nuts.",
    "Do you have parking nearby?",
    "Is it possible to change my reservation from 19:30 to 20:15?",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--region", default="FR", help="region for national phone formats (default FR)")
    args = parser.parse_args(argv)
    messages = [CORPUS[i % len(CORPUS)] for i in range(args.messages)]
    region = args.region or None

    for text in messages[:500]:  # warm-up: regexes compiled, libphonenumber metadata loaded
        Redactor(region=region).redact(text)

    started = time.process_time()
    changed = 0
    for text in messages:
        redactor = Redactor(region=region)
        redacted = redactor.redact(text)
        changed += redacted != text
        if redactor.restore(redacted) != text:
            raise SystemExit(f"restore failed for: {text!r}")
    ours = len(messages) / (time.process_time() - started)

    started = time.process_time()
    for text in messages:
        list(phonenumbers.PhoneNumberMatcher(text, region))
    baseline = len(messages) / (time.process_time() - started)

    print("Parley PII redaction benchmark (one core, CPU time)")
    print(f"  corpus     {len(messages):,} messages, {changed:,} of them carrying personal values; region {region}")
    print(f"  parley     {ours:>10,.0f} messages/s  (redact + restore, every kind)")
    print(f"  baseline   {baseline:>10,.0f} messages/s  (libphonenumber's matcher alone over every message)")
    print(f"  ratio      {ours / baseline:.2f}")
    print(f"  target     >= {TARGET:,.0f} messages/s: {'PASS' if ours >= TARGET else 'BELOW TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Deadlines (Art. 12(3)): one month after receipt, a calendar month, not 30 days (received 31 January, due
28 or 29 February); extendable by up to two further months with a reason."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

SOON = timedelta(days=7)
MAX_EXTENSION_MONTHS = 2


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def flag_for(due: datetime, now: datetime) -> str:
    if now > due:
        return "overdue"
    if due - now <= SOON:
        return "soon"
    return "none"

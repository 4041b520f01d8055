"""Data-subject requests (GDPR Art. 12-22): filed by staff, by the person on the organisation's public page or
from the widget, verified, answered within a month (extendable with a reason), each step recorded."""

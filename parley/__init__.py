"""Parley: AI agents that talk to a business's customers, private by construction."""

__version__ = "0.1.0"

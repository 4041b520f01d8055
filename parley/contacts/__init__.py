"""Contacts: the people an organisation talks to, their identifiers across channels, and their rights."""

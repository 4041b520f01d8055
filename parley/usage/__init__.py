"""Usage: messages, conversations and language-model tokens per day and per agent, for the dashboard."""

"""Fake external services that speak the real wire protocols, for tests that go through the real SDK clients.

- `openai_server.FakeOpenAI` and `anthropic_server.FakeAnthropic`: local HTTP servers; script them with
  `fake.script(Reply.text("Hello", chunks=3), Reply.error(429, retry_after=0.01), ...)` and read what Parley sent
  in `fake.requests` / `fake.last.json` / `fake.last.headers`. Pytest fixtures for both are in `fixtures.py`.
- `scripted_provider.ScriptedProvider`: an in-memory `Provider` that plays back events and errors, for tests that
  are about what happens around a provider rather than about a wire protocol.
"""

"""`uvicorn parley.asgi:app`: the app configured from the environment."""

from parley.app import create_app
from parley.kit.logging import configure_logging
from parley.settings import Settings

_settings = Settings()
configure_logging(_settings.log_level, json_lines=_settings.log_json)
app = create_app(_settings)

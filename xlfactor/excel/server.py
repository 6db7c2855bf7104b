"""Run the xlwings Server project that serves the ``OF.`` custom functions.

xlwings Server is source-available: free for non-commercial use with the licence key
``noncommercial``; commercial use (including internal tools) needs your own key from
xlwings. Install with ``pip install 'xlfactor[server]'``.
"""

from __future__ import annotations

import os
from pathlib import Path

from xlfactor.errors import XlfactorError

PROJECT_DIR = Path(__file__).with_name("server_project")
NAMESPACE = "OF"


def server_environment(license_key: str | None = None) -> dict[str, str]:
    """Environment variables that make xlwings Server serve ``=OF.NAME(...)`` from this project."""
    key = license_key or os.environ.get("XLWINGS_LICENSE_KEY")
    if not key:
        raise XlfactorError(
            "set XLWINGS_LICENSE_KEY: 'noncommercial' for non-commercial use, your own xlwings key otherwise"
        )
    return {
        "XLWINGS_LICENSE_KEY": key,
        "XLWINGS_PROJECT_DIR": str(PROJECT_DIR),
        "XLWINGS_FUNCTIONS_NAMESPACE": NAMESPACE,
        "XLWINGS_ENVIRONMENT": "prod",
        "XLWINGS_ENABLE_SOCKETIO": "false",
        "XLWINGS_ENABLE_HOTRELOAD": "false",
        "XLWINGS_ON_SERVER": "true",
    }


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Start xlwings Server (uvicorn) on ``host:port``; blocks until stopped."""
    os.environ.update(server_environment())
    try:
        import uvicorn
    except ImportError:
        raise XlfactorError("xlwings Server is not installed: pip install 'xlfactor[server]'") from None
    uvicorn.run("xlwings_server.main:main_app", host=host, port=port)

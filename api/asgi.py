"""ASGI entry point for uvicorn workers: settings come from the environment (``KB_*``)."""

from __future__ import annotations

from fastapi import FastAPI

from core.offline import apply_offline_env
from core.settings import Settings


def app_factory() -> FastAPI:
    apply_offline_env()
    from .app import create_app

    return create_app(Settings())

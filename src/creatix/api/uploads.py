"""``POST /api/platform/upload``: reference images for generation, in the platform dialect."""

from __future__ import annotations

from fastapi import APIRouter

from creatix.api.platform import render_error
from creatix.api.routing import dialect_route

router = APIRouter(
    prefix="/api/platform", tags=["Platform"], route_class=dialect_route(render_error)
)

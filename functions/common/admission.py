"""What a function admits before it calls DCS: only the projects it reads, only windows it may read at once."""

from __future__ import annotations

from datetime import datetime, timedelta

from dcs_restores import InvalidQueryError

from .settings import DcsSettings


def admit_project(settings: DcsSettings, project_id: str) -> None:
    """The function's credentials are not for any project a caller names: ``InvalidQueryError`` for another."""
    if not settings.may_read(project_id):
        raise InvalidQueryError("project_id", "is not a project this function reads (see ALLOWED_PROJECT_IDS)")


def admit_window(settings: DcsSettings, begin: datetime, end: datetime) -> None:
    """A window longer than ``MAX_WINDOW_DAYS`` is refused, naming ``begin_time``."""
    if end - begin > timedelta(days=settings.max_window_days):
        raise InvalidQueryError("begin_time", f"the window is longer than {settings.max_window_days} days")

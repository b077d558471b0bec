"""What a function admits before it calls DCS: only the projects it reads (a window's length is TimeWindow's)."""

from __future__ import annotations

from dcs_restores import InvalidQueryError

from .settings import DcsSettings


def admit_project(settings: DcsSettings, project_id: str) -> None:
    """The function's credentials are not for any project a caller names: ``InvalidQueryError`` for another."""
    if not settings.may_read(project_id):
        raise InvalidQueryError("project_id", "is not a project this function reads (see ALLOWED_PROJECT_IDS)")

"""Why a submission was not stored. Raised by the ingestion service; the respondent pages,
the returns pages and the CLI each turn them into their own message."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # survey.forms imports the survey blueprint, which imports this package
    from ..survey.forms import Problem


class Duplicate(Exception):
    """This form was already submitted: the response is stored once."""


class AlreadyUsed(Exception):
    """The invitation's token has been used (or belongs to another wave)."""


class WaveNotOpen(Exception):
    """The wave closed (or has not opened) since the respondent's page was shown: nothing
    was stored."""


class NotSaved(Exception):
    """The database failed: nothing was stored; the respondent should try again."""


class Invalid(Exception):
    """The answers fail validation (a tampered session or form); ``problems`` says how."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems

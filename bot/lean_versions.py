"""Which Lean version a deployment runs: what the deploy modal offers, what it preselects, what is valid.

QuantConnect's API description of live/create says -1 (master) "can create problems with live deployments".
So the preselected version is the project's own Lean version (projects/read `leanVersionId`), else the newest
version lean/versions/read lists; -1 is offered last and only ever chosen on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.ids import VERSION_LATEST
from bot.numbers import parse_id
from bot.quantconnect.models import LeanVersion

MASTER = VERSION_LATEST  # "-1": Lean's master branch, whatever it holds on the day


def is_lean_version_id(text: str) -> bool:
    """-1 (master) or a positive Lean version id in ASCII digits that fits the store."""
    return text == MASTER or (text == text.strip() and parse_id(text) is not None)


@dataclass(frozen=True)
class LeanVersionChoices:
    """What the modal knows about Lean versions for the chosen project, and what it could not find out."""

    versions: tuple[LeanVersion, ...] = ()  # newest first, as ProjectCatalog.lean_versions returns them
    project_version: int | None = None  # the chosen project's leanVersionId, when QuantConnect gave one
    project_chosen: bool = False
    versions_error: str | None = None  # why lean/versions/read could not be read

    @property
    def newest(self) -> LeanVersion | None:
        """The newest version offered to the public, if the list was read."""
        return next((version for version in self.versions if version.public is not False), None)

    @property
    def default(self) -> str | None:
        """The version id to preselect: the project's own, else the newest; None when neither is known."""
        if self.project_version is not None and self.project_version > 0:
            return str(self.project_version)
        newest = self.newest
        return str(newest.id) if newest is not None else None

    @property
    def default_is_projects(self) -> bool:
        """True when the preselected version is the project's own."""
        return self.project_version is not None and self.project_version > 0

    def listed(self) -> tuple[LeanVersion, ...]:
        """The public versions besides the default, newest first."""
        default = self.default
        return tuple(v for v in self.versions if v.public is not False and str(v.id) != default)

"""The sandbox's repository: the PRs `showtime-bot sandbox` starts with."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.sandbox.github.state import GitHubState

SEEDED_OPEN_PRS = (36121, 36122, 36123)
SEEDED_CLOSED_PR = 36000


def seed_sandbox(standin: GitHubState) -> None:
    """Open PRs 36121-36123 (36121 with ``FEATURE_*`` lines) and closed PR 36000."""
    standin.add_pr(
        36121,
        "feat(alerts): run report schedules from the new alerts & reports UI",
        "### SUMMARY\n"
        "Moves report scheduling into the alerts & reports UI and adds a preview.\n\n"
        "### TESTING INSTRUCTIONS\n"
        "Create a report from a dashboard and check that it is delivered.\n\n"
        "### ADDITIONAL INFORMATION\n"
        "FEATURE_ALERT_REPORTS=true\n"
        "FEATURE_DASHBOARD_RBAC=false\n",
        author="betodealmeida",
    )
    standin.add_pr(
        36122,
        "fix(dashboard): keep native filter values when switching tabs",
        "### SUMMARY\nNative filter values were reset when a user switched dashboard tabs.\n\n"
        "### TESTING INSTRUCTIONS\nSet a filter, switch tabs, come back: the value stays.\n",
        author="michael-s-molina",
    )
    standin.add_pr(
        36123,
        "chore(deps): bump pandas from 2.1.4 to 2.2.3",
        "Bumps pandas to 2.2.3 for Python 3.12 wheels.\n",
        author="dependabot[bot]",
    )
    standin.add_pr(
        SEEDED_CLOSED_PR,
        "feat(sqllab): show query cost estimates before running",
        "### SUMMARY\nAdds a cost estimate button to SQL Lab.\n",
        state="closed",
        author="villebro",
        merged=True,
    )

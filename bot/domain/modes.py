"""What a start means for a PR, and how each kind is said (SPEC §6)."""

from __future__ import annotations

from enum import StrEnum


class DeployMode(StrEnum):
    FRESH = "fresh"  # no environment runs for the PR
    REDEPLOY = "redeploy"  # the requested SHA already runs: update in place, no DRAINING downtime
    ROLLING = "rolling"  # another SHA runs: new one next to it, old removed once new is healthy

    @property
    def headline(self) -> str:
        """``Deploying abc1234``, ``Redeploying abc1234``, ``Rolling update to abc1234``."""
        return _HEADLINES[self]

    @property
    def outcome(self) -> str:
        """``#36121 runs abc1234``, ``… was redeployed and runs …``, ``… now runs …``."""
        return _OUTCOMES[self]


_HEADLINES = {
    DeployMode.FRESH: "Deploying",
    DeployMode.REDEPLOY: "Redeploying",
    DeployMode.ROLLING: "Rolling update to",
}
_OUTCOMES = {
    DeployMode.FRESH: "runs",
    DeployMode.REDEPLOY: "was redeployed and runs",
    DeployMode.ROLLING: "now runs",
}

"""One line of ``check-config --live``: ✓ what works, or ✗ what does not and what to do."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One thing checked: what was found, and for a failure what to do about it."""

    ok: bool
    what: str  # "Slack: …", "GitHub: …" or "AWS: …"
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"✓ {self.what}"
        return f"✗ {self.what}" + (f" — {self.fix}" if self.fix else "")


def passed(what: str) -> Check:
    return Check(True, what)


def failed(what: str, fix: str) -> Check:
    return Check(False, what, fix)

"""The ``/showtime`` command grammar (SPEC §5), pure.

``parse_command`` turns the text a person typed into a typed command, or a
``CommandError`` whose message says what was wrong and shows the usage. It
never raises, whatever the text.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from bot.domain.ttl import TTL_VALUES

USAGE = (
    "Usage: `/showtime start <pr> [<sha>] [ttl=24h|48h|72h|1w|close]` · `stop <pr>` · "
    "`cancel <pr>` · `status <pr>` · `list` · `ttl <pr> <24h|48h|72h|1w|close>` · "
    "`freeze <pr>` · `unfreeze <pr>` · `logs <pr> [<lines>]` · `creds <pr>` · "
    "`notify on|off` · `cleanup [--dry-run]` · `help`"
)

LOG_LINES_DEFAULT = 30  # `logs <pr>` and the Logs button (SPEC §14)
LOG_LINES_MAX = 200

MAX_PR = 9_999_999  # GitHub numbers are far below this; anything larger is a typo
MAX_TEXT = 500

_PR_NUMBER = re.compile(r"#?([0-9]{1,12})", re.ASCII)
_PR_URL = re.compile(
    r"<?https?://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/pull/([0-9]{1,12})"
    r"(?:/[A-Za-z0-9_./-]*)?(?:\|[^>]*)?>?",
    re.ASCII,
)
_SHA = re.compile(r"[0-9a-fA-F]{7,40}", re.ASCII)


@dataclass(frozen=True)
class Help:
    """Print the usage."""


@dataclass(frozen=True)
class Start:
    pr: int
    sha: str | None = None
    ttl: str | None = None


@dataclass(frozen=True)
class Stop:
    pr: int


@dataclass(frozen=True)
class Status:
    pr: int


@dataclass(frozen=True)
class ListEnvironments:
    """Every active environment."""


@dataclass(frozen=True)
class SetTtl:
    pr: int
    ttl: str


@dataclass(frozen=True)
class Freeze:
    pr: int


@dataclass(frozen=True)
class Unfreeze:
    pr: int


@dataclass(frozen=True)
class Logs:
    """The last ``lines`` of the PR's active environment's log (read-only, allowed users)."""

    pr: int
    lines: int = LOG_LINES_DEFAULT


@dataclass(frozen=True)
class Cleanup:
    dry_run: bool = False


@dataclass(frozen=True)
class Cancel:
    """Stop the PR's running (or queued) deploy and undo what it made (SPEC §16)."""

    pr: int


@dataclass(frozen=True)
class Creds:
    """The active environment's admin login, only to the person asking (SPEC §15)."""

    pr: int


@dataclass(frozen=True)
class Notify:
    """Direct messages about one's own environments, on or off (SPEC §16)."""

    on: bool


Command = (
    Help
    | Start
    | Stop
    | Status
    | ListEnvironments
    | SetTtl
    | Freeze
    | Unfreeze
    | Logs
    | Cleanup
    | Cancel
    | Creds
    | Notify
)


@dataclass(frozen=True)
class CommandError:
    """What was wrong with the text; ``text`` includes the usage line."""

    problem: str

    @property
    def text(self) -> str:
        return f"{self.problem}\n{USAGE}"


def parse_pr(word: str, repository: str) -> int | str:
    """A PR number from ``36121``, ``#36121`` or a PR URL of ``repository``; else a problem."""
    shown = _quote(word)
    if number := _PR_NUMBER.fullmatch(word):
        return _check_pr_number(number.group(1), shown)
    if url := _PR_URL.fullmatch(word):
        owner, name, number_text = url.groups()
        if f"{owner}/{name}".lower() != repository.lower():
            return f"{shown} is a pull request of {owner}/{name}; this bot serves {repository}."
        return _check_pr_number(number_text, shown)
    return f"{shown} is not a pull request number (use 36121, #36121 or its GitHub URL)."


def _check_pr_number(digits: str, shown: str) -> int | str:
    number = int(digits)
    if number < 1 or number > MAX_PR:
        return f"{shown} is not a plausible pull request number."
    return number


def parse_sha(word: str) -> str | None:
    return word.lower() if _SHA.fullmatch(word) else None


def _quote(word: str) -> str:
    """Echo a user's word safely: short, one line, no Slack mention syntax."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in word)
    clean = clean.replace("`", "'").replace("<", "‹").replace(">", "›")
    if len(clean) > 40:
        clean = clean[:39] + "…"
    return f"`{clean}`"


def parse_command(text: str, repository: str = "apache/superset") -> Command | CommandError:
    """Parse the text after ``/showtime``. Never raises."""
    try:
        return _parse(text or "", repository)
    except Exception:  # pragma: no cover - belt and braces: the grammar must never crash
        return CommandError("Sorry, I could not read that command.")


def _parse(text: str, repository: str) -> Command | CommandError:
    if len(text) > MAX_TEXT:
        return CommandError(f"That command is too long ({len(text)} characters).")
    words = text.replace("\u00a0", " ").split()
    if words and words[0].lower() == "/showtime":
        words = words[1:]
    if not words:
        return Help()
    verb, args = words[0].lower(), words[1:]
    if verb in ("help", "-h", "--help"):
        return Help() if not args else CommandError(f"`help` takes no arguments, got {_n(args)}.")
    if verb == "list":
        return ListEnvironments() if not args else _extra(verb, args)
    if verb == "cleanup":
        if not args:
            return Cleanup()
        if args == ["--dry-run"] or args == ["dry-run"]:
            return Cleanup(dry_run=True)
        return CommandError(f"`cleanup` takes only `--dry-run`, got {_quote(' '.join(args))}.")
    if verb in ("stop", "status", "freeze", "unfreeze", "cancel", "creds"):
        return _single_pr(verb, args, repository)
    if verb == "notify":
        if len(args) == 1 and args[0].lower() in ("on", "off"):
            return Notify(on=args[0].lower() == "on")
        return CommandError(
            "`notify` takes `on` or `off`: direct messages about your environments."
        )
    if verb == "ttl":
        return _ttl(args, repository)
    if verb == "logs":
        return _logs(args, repository)
    if verb in ("start", "deploy"):
        return _start(args, repository)
    return CommandError(f"Unknown command {_quote(words[0])}.{_did_you_mean(verb)}")


_VERBS = re.findall(r"`(?:/showtime )?(\w+)", USAGE)  # start, stop, … help
# Words people reach for that are spelled differently here (the buttons' names, mostly).
_SYNONYMS = {
    "extend": "ttl",
    "expire": "ttl",
    "expiry": "ttl",
    "delete": "stop",
    "destroy": "stop",
    "kill": "stop",
    "abort": "cancel",
    "redeploy": "start",
    "restart": "start",
    "retry": "start",
    "ls": "list",
    "log": "logs",
    "password": "creds",
    "credentials": "creds",
}


def _did_you_mean(verb: str) -> str:
    """A hint for a mistyped or differently named command, or ``""``."""
    guess = _SYNONYMS.get(verb) or next(
        iter(difflib.get_close_matches(verb, _VERBS, 1, 0.75)), None
    )
    return f" Did you mean `{guess}`?" if guess else ""


def _n(args: list[str]) -> str:
    return f"{len(args)} extra word{'s' if len(args) != 1 else ''}"


def _extra(verb: str, args: list[str]) -> CommandError:
    return CommandError(f"`{verb}` got unexpected words: {_quote(' '.join(args))}.")


def _leading_pr(args: list[str], repository: str, needs: str) -> int | CommandError:
    """The pull request the words start with; ``needs`` says what is missing when none do."""
    if not args:
        return CommandError(needs)
    pr = parse_pr(args[0], repository)
    return CommandError(pr) if isinstance(pr, str) else pr


def _single_pr(verb: str, args: list[str], repository: str) -> Command | CommandError:
    pr = _leading_pr(args, repository, f"`{verb}` needs a pull request number.")
    if isinstance(pr, CommandError):
        return pr
    if len(args) > 1:
        return _extra(verb, args[1:])
    kinds: dict[str, type[Stop | Status | Freeze | Unfreeze | Cancel | Creds]] = {
        "stop": Stop,
        "status": Status,
        "freeze": Freeze,
        "unfreeze": Unfreeze,
        "cancel": Cancel,
        "creds": Creds,
    }
    return kinds[verb](pr)


def _ttl(args: list[str], repository: str) -> Command | CommandError:
    needs = "`ttl` needs a pull request and a TTL, e.g. `ttl 36121 72h`."
    pr = _leading_pr(args if len(args) >= 2 else [], repository, needs)
    if isinstance(pr, CommandError):
        return pr
    ttl = args[1].lower()
    if ttl not in TTL_VALUES:
        return CommandError(f"{_quote(args[1])} is not a TTL; use one of {', '.join(TTL_VALUES)}.")
    if len(args) > 2:
        return _extra("ttl", args[2:])
    return SetTtl(pr, ttl)


def _logs(args: list[str], repository: str) -> Command | CommandError:
    pr = _leading_pr(args, repository, "`logs` needs a pull request number, e.g. `logs 36121 50`.")
    if isinstance(pr, CommandError):
        return pr
    if len(args) > 2:
        return _extra("logs", args[2:])
    if len(args) == 1:
        return Logs(pr)
    word = args[1]
    if not (word.isascii() and word.isdigit()):
        return CommandError(
            f"{_quote(word)} is not a number of lines (1–{LOG_LINES_MAX}, "
            f"default {LOG_LINES_DEFAULT})."
        )
    lines = int(word) if len(word) <= 6 else LOG_LINES_MAX + 1  # 100 digits: no int needed
    if lines > LOG_LINES_MAX:
        return CommandError(
            f"{_quote(word)} lines is too many: `logs` shows at most {LOG_LINES_MAX}."
        )
    if lines < 1:
        return CommandError(f"`logs` shows at least 1 line, not {_quote(word)}.")
    return Logs(pr, lines)


def _start(args: list[str], repository: str) -> Command | CommandError:
    pr = _leading_pr(args, repository, "`start` needs a pull request number.")
    if isinstance(pr, CommandError):
        return pr
    sha: str | None = None
    ttl: str | None = None
    for word in args[1:]:
        lowered = word.lower()
        if lowered.startswith("ttl="):
            value = lowered[4:]
            if ttl is not None:
                return CommandError("`ttl=` given twice.")
            if value not in TTL_VALUES:
                return CommandError(
                    f"{_quote(word)} is not a TTL; use ttl= one of {', '.join(TTL_VALUES)}."
                )
            ttl = value
        elif sha is None and ttl is None and (parsed := parse_sha(word)):
            sha = parsed
        elif sha is None and ttl is None and re.fullmatch(r"[0-9a-zA-Z]+", word, re.ASCII):
            return CommandError(f"{_quote(word)} is not a commit SHA (7–40 hex characters).")
        else:
            return _extra("start", [word])
    return Start(pr, sha, ttl)


def describe(command: Command) -> str:
    """A short form for logs and 'already running' messages: ``start 36121``."""
    if isinstance(command, Start):
        return f"start {command.pr}" + (f" {command.sha[:7]}" if command.sha else "")
    if isinstance(command, Stop | Status | Freeze | Unfreeze | Cancel | Creds):
        return f"{type(command).__name__.lower()} {command.pr}"
    if isinstance(command, Notify):
        return f"notify {'on' if command.on else 'off'}"
    if isinstance(command, Logs):
        return f"logs {command.pr} {command.lines}"
    if isinstance(command, SetTtl):
        return f"ttl {command.pr} {command.ttl}"
    if isinstance(command, Cleanup):
        return "cleanup --dry-run" if command.dry_run else "cleanup"
    if isinstance(command, ListEnvironments):
        return "list"
    return "help"

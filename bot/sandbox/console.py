"""The sandbox console: type ``/showtime ...``, press buttons, watch the channel and thread.

This is the one place in the bot that prints: it is a user interface.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from bot.domain.events import format_elapsed
from bot.domain.labels import TRIGGER_START, TRIGGER_STOP
from bot.domain.smoke import Check
from bot.domain.ttl import TTL_VALUES
from bot.errors import ShowtimeError, UserInputError
from bot.sandbox.harness import HOME_ANSWERS, MAINTAINER_LOGIN, Outcome, Sandbox, home_marks
from bot.sandbox.slack import MAINTAINER_USER_ID, SlackChange
from bot.sandbox.webhooks import Delivery, WebhookSender
from bot.slack.modal import ACTION_START, PR_BLOCK, SHA_BLOCK, TTL_BLOCK

_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_BARE_LINK = re.compile(r"<(https?://[^>]+)>")
_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_ENTITY = re.compile(r"&(lt|gt|amp);")
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&"}
# The slash command's verbs (SPEC §5) go to the bot without the /showtime prefix. Not
# `help`: that one is the console's own (`/showtime help` asks the bot).
SLASH_VERBS = frozenset(
    {
        "start",
        "deploy",
        "stop",
        "status",
        "list",
        "ttl",
        "freeze",
        "unfreeze",
        "logs",
        "cancel",
        "creds",
        "notify",
        "cleanup",
    }
)
SEEDED = "Seeded PRs: 36121, 36122, 36123 (open), 36000 (closed)."


# A console command's handler: a ``Console`` method called with the words after the
# command's name and whether to wait for the work it starts.
Handler = Callable[["Console", list[str], bool], None]


@dataclass(frozen=True)
class ConsoleCommand:
    """One line of the console's table: what to type, what it does, who does it."""

    usage: str
    about: str  # one line (a "\n" continues it, indented)
    run: Handler


# name → command, in the order ``help`` lists them. Adding a command is one decorated method.
COMMANDS: dict[str, ConsoleCommand] = {}


def console_command(usage: str, about: str, *aliases: str) -> Callable[[Handler], Handler]:
    """Register the decorated ``Console`` method as the command ``usage`` starts with."""

    def register(run: Handler) -> Handler:
        command = ConsoleCommand(usage, about, run)
        for name in (usage.split()[0], *aliases):
            COMMANDS[name] = command
        return run

    return register


def help_text() -> str:
    """What ``help`` prints: the slash command, then every console command, one line each."""
    rows = [
        (
            "/showtime <command>",
            "ask the bot, as in Slack: start 36121, status 36121, list, stop 36121,\n"
            "logs 36121 [<lines>], …; the prefix is optional (not for /showtime help)",
        )
    ]
    shown: list[ConsoleCommand] = []
    for command in COMMANDS.values():
        if command not in shown:
            shown.append(command)
            rows.append((command.usage, command.about))
    lines = ["Console commands:"]
    for usage, about in rows:
        first, *more = about.split("\n")
        lines.append(f"  {usage:<24}{first}" if len(usage) < 24 else f"  {usage}  {first}")
        lines.extend(" " * 26 + line for line in more)
    lines.append("In a script, a line ending in ' &' does not wait for what it started.")
    lines.append(SEEDED)
    return "\n".join(lines)


class Console:
    def __init__(self, sandbox: Sandbox, out: TextIO = sys.stdout, *, prompt: str = "") -> None:
        self.sandbox = sandbox
        self.out = out
        self.prompt = prompt  # interactive: redrawn under live output, with what was typed
        self.reading = False  # the person is at the prompt (input() is waiting)
        self.errors = 0
        self.expecting_failure = False  # set by `expect-failure`, for the next line only
        self._print_lock = threading.Lock()
        # (message or Home tab view, action_id, label, value) of every button shown
        self._buttons: list[tuple[dict[str, Any], str, str, str]] = []
        self._unsubscribe = sandbox.slack.on_change(self._on_change)
        # What the bot writes on a PR (a refusal, mostly): GitHub's side of the story.
        self._unsubscribe_comments = sandbox.github.on_comment(self._on_comment)

    def close(self) -> None:
        self._unsubscribe()
        self._unsubscribe_comments()

    # ----- output -------------------------------------------------------------

    def say(self, text: str) -> None:
        with self._print_lock:
            if not (self.prompt and self.reading):
                print(text, file=self.out, flush=True)
                return
            # Live output arrives while the person types: clear the prompt line, print,
            # then draw the prompt again with whatever they had typed so far.
            typed = _typed_so_far()
            self.out.write(f"\r\033[K{text}\n{self.prompt}{typed}")
            self.out.flush()

    def _on_change(self, change: SlackChange) -> None:
        message = change.message
        if change.kind in ("modal", "modal_closed"):
            self._show_modal(change)
            return
        body = self._render(message)
        prefix = {
            "message": "📣 #showtime │ ",
            "reply": "   ↳ ",
            "edit": "✏️  status message now │ ",
            "ephemeral": "👁  only you │ ",
            "response": "👁  only you │ ",
        }.get(change.kind)
        if prefix is None:
            return
        if change.kind == "edit" and message.get("thread_ts") not in (None, message.get("ts")):
            prefix = "   ↳ (edited) "
        elif change.kind in ("message", "edit") and (to := self._dm_with(change.channel)):
            # The app's Messages tab with one person, not the channel everyone reads.
            prefix = f"✉️  DM to @{to} │ " if change.kind == "message" else f"✏️  DM to @{to} now │ "
        self.say(prefix + body.replace("\n", "\n" + " " * 6))
        self._remember_buttons(message)

    def _on_comment(self, pr: int, body: str) -> None:
        self.say(f"💬 comment on #{pr} │ " + body.replace("\n", "\n" + " " * 6))

    def _dm_with(self, channel: str) -> str | None:
        """The name of the person ``channel`` is the app's DM with; None for a channel."""
        if not channel.startswith("D"):  # Slack's conversation ids: D… is a direct message
            return None
        info = self.sandbox.slack.channel(channel)
        if not info or not info.get("is_im"):
            return None
        user = self.sandbox.slack.user(str(info.get("user") or "")) or {}
        return str(user.get("name") or info.get("user") or "?")

    def _show_modal(self, change: SlackChange) -> None:
        """A modal as the person sees it: its title, its fields, and how to fill it here."""
        view = change.message
        title = _plain(str((view.get("title") or {}).get("text", "")))
        if change.kind == "modal_closed":
            self.say(f"🪟 {title} │ closed")
            return
        lines = []
        for block in view.get("blocks") or []:
            if block.get("type") == "input":
                label = _plain(str((block.get("label") or {}).get("text", "")))
                optional = " (optional)" if block.get("optional") else ""
                options = [
                    str(o.get("value")) for o in (block.get("element") or {}).get("options") or []
                ]
                field = " | ".join(options) if options else "____"
                lines.append(f"{label}{optional}: {field}")
            elif block.get("type") == "context":
                lines.append(
                    " · ".join(_plain(e.get("text", "")) for e in block.get("elements", []))
                )
        lines.append("[Cancel] [Start] — here: submit <pr> [<sha>] [<ttl>]")
        self.say(f"🪟 {title} │ " + "\n".join(lines).replace("\n", "\n" + " " * 6))

    def _render(self, message: dict[str, Any]) -> str:
        lines: list[str] = []
        buttons: list[str] = []
        for block in message.get("blocks") or []:
            kind = block.get("type")
            if kind == "header":
                lines.append(f"━━ {_plain(block.get('text', {}).get('text', ''))} ━━")
            elif kind == "divider":
                lines.append("─" * 40)
            elif kind == "section":
                text = _plain(block.get("text", {}).get("text", ""))
                if accessory := _accessory_button(block):
                    text += f"  [{accessory.get('text', {}).get('text', '?')}]"
                lines.append(text)
            elif kind == "context":
                lines.append(
                    " · ".join(_plain(e.get("text", "")) for e in block.get("elements", []))
                )
            elif kind == "actions":
                row = [f"[{e.get('text', {}).get('text', '?')}]" for e in block.get("elements", [])]
                if message.get("type") == "home":
                    lines.append("   " + " ".join(row))  # a row under its environment
                else:
                    buttons.extend(row)
        if not lines:
            lines.append(_plain(str(message.get("text", ""))))
        if buttons:
            lines.append(" ".join(buttons))
        return "\n".join(line for line in lines if line)

    def _remember_buttons(self, message: dict[str, Any]) -> None:
        found = []
        for block in message.get("blocks") or []:
            elements = block.get("elements", []) if block.get("type") == "actions" else []
            if accessory := _accessory_button(block):
                elements = [accessory]
            for element in elements:
                label = str(element.get("text", {}).get("text", ""))
                value = str(element.get("value", ""))
                found.append((message, str(element.get("action_id")), label, value))
        home = message.get("type") == "home"

        def replaced(button: tuple[dict[str, Any], str, str, str]) -> bool:
            shown_on = button[0]
            if home:  # a newly published Home tab replaces the one shown before
                return shown_on.get("type") == "home"
            return shown_on.get("type") != "home" and shown_on.get("ts") == message.get("ts")

        if found or home:
            with self._print_lock:
                self._buttons = [b for b in self._buttons if not replaced(b)]
                self._buttons.extend(found)

    # ----- input --------------------------------------------------------------

    def run_lines(self, lines: Iterable[str], *, echo: bool) -> None:
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if echo:
                self.say(f"\nshowtime> {line}")
            if line in ("quit", "exit"):
                break
            # A script waits for what each line started; "… &" goes on at once (to press
            # Cancel while it waits, say), as the interactive console always does.
            background = line.endswith(" &")
            self.handle(line.removesuffix("&").rstrip(), wait=echo and not background)

    def handle(self, line: str, *, wait: bool) -> None:
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        if not words:
            return
        head = words[0].lower()
        command = COMMANDS.get(head)
        try:
            if head == "/showtime" or (command is None and head in SLASH_VERBS):
                text = line.split(None, 1)[1] if len(words) > 1 else ""
                self._report(self.sandbox.command(text if head == "/showtime" else line, wait=wait))
            elif command is not None:
                command.run(self, words[1:], wait)
                if head == "expect-failure":
                    return  # it arms the next line; it is not a step of its own
            else:
                self.fail(f"unknown console command {head!r}; type `help`")
        except (IndexError, ValueError):
            self.fail(f"could not read {line!r}; type `help`")
        except TimeoutError as exc:
            self.fail(str(exc))
        except ShowtimeError as exc:  # a wait that ran out, a button that is not there
            self.fail(f"{exc.message}; {exc.next_action}" if exc.next_action else exc.message)
        if self.expecting_failure:  # the line it was meant for did not fail
            self.expecting_failure = False
            self.fail("expected this step to fail, and it did not")

    def fail(self, text: str) -> None:
        self.errors += 1
        self.say(f"   ✗ {text}")

    def _report(self, outcome: Outcome) -> None:
        if outcome.response.status_code != 200:
            self.fail(f"the bot answered HTTP {outcome.response.status_code}")
        else:
            self._show_ack(outcome.response.text)
        if outcome.failed and outcome.response.status_code == 200:
            failed = [j for j in outcome.jobs if j.state.value == "failed"]
            self._step_failed(
                failed[0].outcome or "" if failed else "the bot refused or reported an error"
            )

    def _show_ack(self, body: str) -> None:
        """The bot's immediate answer (Bolt's ack body) as Slack shows it: rendered like any
        message, never the JSON it travels in."""
        if not body.strip():
            return
        try:
            message = json.loads(body)
        except ValueError:
            message = {"text": body}
        if not isinstance(message, dict):
            message = {"text": body}
        shown = self._render(message)
        if not shown:
            return
        where = (
            "📣 #showtime │ " if message.get("response_type") == "in_channel" else "👁  only you │ "
        )
        self.say(where + shown.replace("\n", "\n" + " " * 6))

    # ----- the console's own commands (``help`` lists them in this order) ---------------

    @console_command(
        "click <button> [<pr>]",
        "press a button on the latest status message (of PR <pr>): click stop, click 2;\n"
        "click open prints the Open button's URL (a browser would open it)",
    )
    def _click(self, args: list[str], wait: bool) -> None:
        if not args:
            self._list_buttons(args, wait)
            return
        wanted = args[0].lower()
        pr = args[1] if len(args) > 1 else None
        with self._print_lock:
            candidates = list(self._buttons)
        if pr:
            candidates = [
                b
                for b in candidates
                if f"#{pr}" in str(b[0].get("text", "")) or b[3].partition(":")[0] == pr
            ]
        chosen = None
        if wanted.isdigit() and 1 <= int(wanted) <= len(candidates):
            chosen = candidates[int(wanted) - 1]
        else:
            for button in reversed(candidates):
                if wanted in (
                    button[2].lower(),
                    button[1].removeprefix("showtime_"),
                    button[2].lower().replace(" ", ""),
                ):
                    chosen = button
                    break
        if chosen is None:
            self.fail(f"no button {args[0]!r} on the latest messages; `buttons` lists them")
            return
        shown_on, action_id, label, value = chosen
        url = _url_of(shown_on, action_id, value)
        if url:
            # Slack opens a link button's URL and still tells the app, which only acks.
            self.say(f"   🌐 [{label}] opens {_plain(url)}")
            wait = False
        if shown_on.get("type") == "home":
            self._click_home(action_id, value, wait)
            return
        message = self.sandbox.slack.message(shown_on["channel"], shown_on["ts"]) or shown_on
        self._report(self.sandbox.click(message, action_id, wait=wait))

    @console_command("buttons", "list the buttons you can press")
    def _list_buttons(self, args: list[str], wait: bool) -> None:
        with self._print_lock:
            buttons = list(self._buttons)
        if not buttons:
            self.say("   no buttons yet")
        for number, (message, _action, label, value) in enumerate(buttons, 1):
            if message.get("type") == "home":
                first = f"the Home tab, #{value.partition(':')[0]}"
            else:
                first = _plain(str(message.get("text", "")))[:60]
            self.say(f"   {number}. [{label}]  on: {first}")

    @console_command(
        "home [start]",
        "open the app's Home tab (what runs, whose, what it costs); click its buttons;\n"
        "home start presses its Start an environment: the Start modal opens",
    )
    def _home(self, args: list[str], wait: bool) -> None:
        """The Home tab as the person sees it (the bot publishes it when the tab opens)."""
        if args and args[0] == "start":
            self._open_start_modal()
            return
        view = self.sandbox.open_home()
        if view is None:
            self.fail("the bot published no Home tab")
            return
        self.say("🏠 Home │ " + self._render(view).replace("\n", "\n" + " " * 6))
        self._remember_buttons(view)

    def _open_start_modal(self) -> None:
        slack, requester = self.sandbox.slack, self.sandbox.requester
        assert requester is not None
        view = slack.home_view(MAINTAINER_USER_ID) or self.sandbox.open_home()
        if view is None:
            self.fail("the bot published no Home tab")
            return
        try:
            response = requester.click_home(view, ACTION_START, MAINTAINER_USER_ID)
        except UserInputError as exc:  # no such button: not allowed to start
            self.fail(f"{exc.message}; {exc.next_action}")
            return
        if not response.ok:
            self.fail(f"the bot answered HTTP {response.status_code}")
            return
        slack.wait_for(lambda: slack.modal(MAINTAINER_USER_ID), 10, "the modal to open")

    @console_command(
        "submit <pr> [<sha>] [<ttl>]",
        "fill in the open Start modal and press Start (errors show beside its fields)",
    )
    def _submit(self, args: list[str], wait: bool) -> None:
        slack, requester = self.sandbox.slack, self.sandbox.requester
        assert requester is not None
        view = slack.modal(MAINTAINER_USER_ID)
        if view is None:
            self.fail("no modal is open; type `home start`")
            return
        values = {PR_BLOCK: args[0]}
        for word in args[1:]:
            values[TTL_BLOCK if word.lower() in TTL_VALUES else SHA_BLOCK] = word
        known, shown = home_marks(self.sandbox.store, slack, MAINTAINER_USER_ID)
        try:
            answer = requester.submit_view(MAINTAINER_USER_ID, view, values)
        except UserInputError as exc:  # Slack itself would not submit it
            self.fail(f"{exc.message}; {exc.next_action}")
            return
        if answer.errors:
            labels = _input_labels(view)
            for block, error in answer.errors.items():
                self.say(f"   ⚠️  {labels.get(block, block)}: {error}")
            self._step_failed("the modal answered with errors")
            return
        if not answer.closed:
            self.fail(f"the bot answered HTTP {answer.response.status_code}")
            return
        if wait:
            self._home_answers(shown, known)

    def _home_answers(self, shown: int, known: set[str]) -> None:
        """What the Home tab says of a modal's start, until it says how it ended (scripts)."""

        def answered() -> list[str]:
            replies = [
                str(block["text"]["text"])
                for view in self.sandbox.slack.home_views(MAINTAINER_USER_ID)[shown:]
                for block in view.get("blocks", [])
                if block.get("type") == "section"
                and str(block["text"]["text"]).startswith(HOME_ANSWERS)
            ]
            done = replies and replies[-1].startswith(("✅", "❌", "🚫"))
            return replies if done else []

        replies = self.sandbox.slack.wait_for(answered, 120, "the Home tab to say how it ended")
        for reply in replies:
            self.say("🏠 Home │ " + _plain(reply).replace("\n", "\n" + " " * 6))
        if replies[-1].startswith(("❌", "🚫")):
            self._step_failed(replies[-1][:200])

    def _step_failed(self, why: str) -> None:
        if self.expecting_failure:
            self.expecting_failure = False
            self.say(f"   ✓ failed, as expected: {why}")
            return
        self.errors += 1
        self.say(f"   ✗ step errored: {why}")

    def _click_home(self, action_id: str, value: str, wait: bool) -> None:
        if action_id == ACTION_START:  # it opens a modal; the tab does not change
            self._open_start_modal()
            return
        view = self.sandbox.slack.home_view(MAINTAINER_USER_ID)
        if view is None:
            self.fail("no Home tab yet; type `home`")
            return
        outcome = self.sandbox.click_home(view, action_id, value=value, wait=wait)
        if outcome.response.status_code != 200:
            self.fail(f"the bot answered HTTP {outcome.response.status_code}")
            return
        for reply in outcome.replies:
            self.say("🏠 Home │ " + _plain(reply).replace("\n", "\n" + " " * 6))
        now = self.sandbox.slack.home_view(MAINTAINER_USER_ID)
        if wait and not outcome.replies and now is not None and now != view:
            # A setting flipped (direct messages): the tab as it is now, its answer on top.
            self.say("🏠 Home │ " + self._render(now).replace("\n", "\n" + " " * 6))
            self._remember_buttons(now)
        if outcome.failed:
            self.errors += 1
            self.say(f"   ✗ step errored: {(outcome.replies or ['no answer'])[-1][:200]}")

    @console_command("labels <pr>", "the PR's labels on GitHub")
    def _labels(self, args: list[str], wait: bool) -> None:
        pr = int(args[0])
        labels = self.sandbox.github.labels(pr)
        self.say(f"   #{pr} labels: " + (", ".join(labels) if labels else "(none)"))

    @console_command("services", "ECS services (ACTIVE and DRAINING)")
    def _services(self, args: list[str], wait: bool) -> None:
        services = self.sandbox.services()
        if not services:
            self.say("   no ECS services")
        for service in services:
            self.say(
                f"   {service['serviceName']:<28} {service['status']:<9} running {service.get('runningCount', 0)}/{service.get('desiredCount', 0)}"
            )

    @console_command("jobs", "recent jobs (the audit log)")
    def _jobs(self, args: list[str], wait: bool) -> None:
        for job in self.sandbox.store.recent(limit=10):
            self.say(
                f"   {job.correlation_id} {job.kind:<8} #{job.pr} {job.state.value:<9} {(job.outcome or job.step or '')[:70]}"
            )

    @console_command("check-config", "showtime-bot check-config --live with the bot's settings")
    def _check_config(self, args: list[str], wait: bool) -> None:
        """What Slack, GitHub and AWS (the stand-ins) say of the bot's settings (SPEC §17)."""
        result = self.sandbox.check_config()
        for line in (result.stdout + result.stderr).splitlines():
            self.say(f"   {line}")
        if result.returncode != 0:
            self.fail(f"check-config --live exited {result.returncode}")

    @console_command(
        "push <pr> [<login>]",
        "push a new commit to the PR: GitHub tells the bot (webhook), which\n"
        "rolls a running environment forward (login: maintainer, contributor)",
    )
    def _push(self, args: list[str], wait: bool) -> None:
        pr, login = int(args[0]), args[1] if len(args) > 1 else MAINTAINER_LOGIN

        def push(hooks: WebhookSender) -> Delivery:
            delivery = hooks.push(pr, login)
            self.say(f"   @{login} pushed {self.sandbox.github.head_sha(pr)[:7]} to #{pr}")
            return delivery

        self._deliver(None, push, pr, wait)

    @console_command(
        "label <pr> start|stop [<login>]",
        "add the 🎪 ⚡ trigger-start / 🛑 trigger-stop label on GitHub",
    )
    def _label(self, args: list[str], wait: bool) -> None:
        pr = int(args[0])
        label = {"start": TRIGGER_START, "stop": TRIGGER_STOP}.get(args[1])
        if label is None:
            self.fail("label takes start or stop")
            return
        who = args[2] if len(args) > 2 else MAINTAINER_LOGIN
        self._deliver(
            f"@{who} added `{label}` to #{pr}",
            lambda hooks: hooks.label(pr, label, who),
            pr,
            wait,
        )

    @console_command(
        "close <pr> [merged]", "close (or merge) the PR on GitHub: its environment is stopped"
    )
    def _close(self, args: list[str], wait: bool) -> None:
        pr = int(args[0])
        merged = len(args) > 1 and args[1] == "merged"
        self._deliver(
            f"{'merged' if merged else 'closed'} #{pr} on GitHub",
            lambda hooks: hooks.close(pr, MAINTAINER_LOGIN, merged=merged),
            pr,
            wait,
        )

    def _deliver(
        self,
        said: str | None,
        send: Callable[[WebhookSender], Delivery],
        pr: int,
        wait: bool,
    ) -> None:
        """A person's action on GitHub, delivered to the bot as GitHub would (signed)."""
        if said:
            self.say(f"   {said}")
        delivery = self.sandbox.github_event(send, pr, wait=wait)
        if delivery.status not in (200, 202):
            self.fail(f"the bot answered the delivery with HTTP {delivery.status}")

    @console_command(
        "image-missing <pr>", "make the PR's head image unpullable (CannotPullContainerError)"
    )
    def _image_missing(self, args: list[str], wait: bool) -> None:
        image = self._image_of(int(args[0]))
        self.sandbox.ecs.mark_image_missing(image)
        self.say(f"   {image} is now missing from the registry")

    @console_command("image-ready <pr>", "make it pullable again (then press Retry)")
    def _image_ready(self, args: list[str], wait: bool) -> None:
        image = self._image_of(int(args[0]))
        self.sandbox.ecs.mark_image_present(image)
        self.say(f"   {image} exists now")

    @console_command("crash <pr>", "the PR's head image crashes on boot (a traceback, exit code 1)")
    def _crash(self, args: list[str], wait: bool) -> None:
        image = self._image_of(int(args[0]))
        self.sandbox.ecs.crash_on_boot(image)
        self.say(f"   {image} now crashes on boot")

    @console_command(
        "crash-loop <pr>",
        "its workers keep failing to boot and Superset answers 503\n"
        "(the health check never passes; SHOWTIME_HEALTH_TIMEOUT_SECONDS)",
    )
    def _crash_loop(self, args: list[str], wait: bool) -> None:
        image = self._image_of(int(args[0]))
        self.sandbox.ecs.crash_loop(image)
        self.sandbox.superset.healthy = False
        self.say(f"   {image} now crash-loops; the stand-in Superset answers 503")

    @console_command("fix <pr>", "the image boots again (then press Retry), and its Superset works")
    def _fix(self, args: list[str], wait: bool) -> None:
        pr = int(args[0])
        image = self._image_of(pr)
        self.sandbox.ecs.fix(image)
        self.sandbox.superset.healthy = True
        self.sandbox.superset.fix(pr)
        self.say(f"   {image} boots again, and #{pr}'s Superset works (login, SQL Lab, charts)")

    @console_command(
        "break login|examples|sqllab|chart <pr>",
        "that part of the PR's Superset fails (the smoke check sees it)",
    )
    def _break(self, args: list[str], wait: bool) -> None:
        check, pr = Check(args[0]), int(args[1])
        self.sandbox.superset.break_check(pr, check)
        self.say(f"   #{pr}'s Superset: {check.label} now fails (`fix {pr}` mends it)")

    @console_command(
        "drain <seconds>",
        "a deleted service stays DRAINING this long (default 4): stop, drain 600, start,\n"
        "then click cancel inside the wait",
    )
    def _drain(self, args: list[str], wait: bool) -> None:
        seconds = float(args[0])
        if seconds < 0:
            raise UserInputError("the DRAINING time is a number of seconds", "e.g. `drain 600`")
        self.sandbox.ecs.drain_seconds = seconds
        self.say(f"   deleted services now stay DRAINING for {format_elapsed(seconds)}")

    def _image_of(self, pr: int) -> str:
        return f"apache/superset:pr-{pr}-{self.sandbox.github.head_sha(pr)[:7]}-ci"

    @console_command(
        "expect-failure",
        "the next line is meant to fail: the script does not count it\n"
        "(and counts it if it does not fail)",
    )
    def _expect_failure(self, args: list[str], wait: bool) -> None:
        self.expecting_failure = True

    @console_command(
        "wait [<seconds>]", "pause (scripts); without seconds, until no job runs or waits"
    )
    def _wait(self, args: list[str], wait: bool) -> None:
        if args:
            threading.Event().wait(float(args[0]))
        else:
            self.sandbox.wait_idle(timeout=300)

    @console_command("help", "this list (also ?)", "?")
    def _help(self, args: list[str], wait: bool) -> None:
        self.say(help_text())

    @console_command("quit", "leave (Ctrl-C works too)", "exit")
    def _quit(self, args: list[str], wait: bool) -> None:
        """Handled by the reader (``run_lines`` and the prompt) before a line gets here."""


def _url_of(shown_on: dict[str, Any], action_id: str, value: str) -> str | None:
    """The URL of a link button (Open), as Slack's client reads it from the message."""
    for block in shown_on.get("blocks") or []:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id and str(element.get("value", "")) == value:
                url = element.get("url")
                return str(url) if url else None
    return None


def _accessory_button(block: dict[str, Any]) -> dict[str, Any] | None:
    """The button at a section's side, if it has one."""
    accessory = block.get("accessory") if block.get("type") == "section" else None
    return accessory if isinstance(accessory, dict) and accessory.get("type") == "button" else None


def _input_labels(view: dict[str, Any]) -> dict[str, str]:
    """A modal's fields by block id → their labels (errors are keyed by block id)."""
    return {
        str(block.get("block_id")): _plain(str((block.get("label") or {}).get("text", "")))
        for block in view.get("blocks") or []
        if block.get("type") == "input"
    }


def _typed_so_far() -> str:
    try:
        import readline

        return readline.get_line_buffer()
    except ImportError:  # pragma: no cover - readline is missing on some platforms
        return ""


def _plain(text: str) -> str:
    """A message as a person sees it in Slack: links and mentions rendered, entities undone.

    The bot escapes outsiders' text (``&lt;!channel&gt;``), and Slack shows it as the
    characters again; so does the console, once the real markup is rendered (in one
    pass, so ``&amp;lt;`` shows as ``&lt;``, as in Slack).
    """
    text = _LINK.sub(
        lambda m: m.group(2) if m.group(2) == m.group(1) else f"{m.group(2)} ({m.group(1)})", text
    )
    text = _BARE_LINK.sub(r"\1", text)
    text = _MENTION.sub(
        lambda m: "@maintainer" if m.group(1) == "U0MAINTAINER" else f"@{m.group(1)}", text
    )
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)

"""The health probe: GET the environment's health URL until it answers 200 (SPEC §6, §12).

Apart from the ECS adapter because it is plain HTTP to whatever the PR's code
serves: it needs no AWS, and what it must guard against is different. The answer
is chosen by PR code, so a redirect is never followed (a 3xx is "not healthy yet")
and the environment's IP is reached directly, never through a proxy.
"""

from __future__ import annotations

import copy
import http.client
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Self

from bot.adapters.waiting import Wait, duration, phrased
from bot.clock import Clock
from bot.config import Settings
from bot.domain.events import Progress, format_elapsed, no_progress
from bot.errors import WaitTimeoutError

log = logging.getLogger(__name__)

# (url, timeout in seconds) → HTTP status; OSError when nothing answers
HttpGet = Callable[[str, float], int]


class HealthTimeoutError(WaitTimeoutError):
    """The environment did not answer 200 in SHOWTIME_HEALTH_TIMEOUT_SECONDS."""


class HttpHealthProbe:
    """Waits for ``url`` to answer 200, reporting through ``Waiting`` events on ``clock``."""

    def __init__(self, settings: Settings, clock: Clock, http_get: HttpGet | None = None) -> None:
        self._timeout = settings.showtime_health_timeout_seconds
        self._poll = settings.showtime_poll_seconds
        self._clock = clock
        self._http_get = http_get or urllib_get

    def with_clock(self, clock: Clock) -> Self:
        bound = copy.copy(self)
        bound._clock = clock
        return bound

    def wait_healthy(self, url: str, progress: Progress = no_progress) -> None:
        """GET ``url`` until it answers 200; ``HealthTimeoutError`` after the timeout."""

        text = phrased(
            f"waiting for {url} to answer ({{state}})",
            f"{url}: {{state}}, {{elapsed}}",
            f"still waiting for {url} ({{state}}), {{elapsed}}",
        )
        wait = Wait(self._clock, self._timeout, "health_check", progress, text)
        while True:
            try:
                status = self._http_get(url, max(1.0, min(10.0, wait.remaining)))
            except OSError as exc:
                log.debug("health check of %s: %s", url, exc)
                state = "no answer yet"
            else:
                if status == 200:
                    log.info("%s answered 200 after %s", url, format_elapsed(wait.elapsed))
                    return
                state = f"HTTP {status}"
            wait.observe(state)
            if wait.expired:
                raise HealthTimeoutError(
                    f"{url} did not answer 200 within {duration(self._timeout)} (last: {state})",
                    # The failed card offers Retry (and Logs), never Redeploy.
                    "read the log in the thread (or press Logs) for Superset's start-up errors, "
                    "push a fix, then press Retry",
                )
            wait.pause(self._poll)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: the 3xx itself is the answer.

    What the environment answers is chosen by PR code. Following its ``Location``
    would make the bot GET any address its own network reaches (an internal admin
    page, the cloud metadata endpoint) and count that address's 200 as healthy.
    """

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None  # urllib then raises HTTPError(code), which urllib_get returns


def urllib_get(url: str, timeout: float) -> int:
    """GET ``url`` and return the status code; ``OSError`` when nothing answers.

    Proxies from the environment are bypassed on purpose: the environment's IP is
    reached directly, as a browser on the maintainer's machine would. Redirects are
    not followed (SPEC §12): a 3xx is returned, so the check goes on waiting.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())
    request = urllib.request.Request(url, headers={"User-Agent": "showtime-bot health check"})
    try:
        with opener.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except http.client.HTTPException as exc:  # e.g. a half-started server's garbage
        raise OSError(f"{type(exc).__name__}: {exc}") from exc

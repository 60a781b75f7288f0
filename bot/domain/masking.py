"""Secrets out of text that people will read (SPEC §12).

Failure tails, heartbeat lines, ``/showtime logs`` and error reasons go to a channel
thread that everyone in the channel reads, and they quote what an environment (PR code)
or a remote service wrote. ``mask_secrets`` is the one function all of it passes: every
credential it recognises becomes ``[masked]``; the text around it stays, so a person can
still see *which* setting was printed.

What is masked:
- AWS access key ids (``AKIA…``, ``ASIA…``) and 40-character secret keys after a key-ish
  name (``aws_secret_access_key = …``, ``"AccessKey": "…"``);
- GitHub tokens (``ghp_ gho_ ghu_ ghs_ ghr_ github_pat_``), Slack tokens (``xox?-``,
  ``xapp-``), JWTs, ``Bearer …`` and ``Authorization: …`` values;
- PEM private-key blocks, whole (also one-line ``\\n``-escaped ones, and a block whose
  ``BEGIN`` line was cut off the top of a log tail);
- the value of ``NAME=value``, ``NAME: value`` or ``"name": "value"`` when the name
  contains SECRET, PASSWORD, PASSWD, TOKEN, API_KEY or PRIVATE_KEY (any case; anything
  around it: ``DB_PASSWORD``, ``x-api-key``, ``accessToken``);
- URL credentials: ``scheme://user:pw@host``, ``scheme://:pw@host``, also when the password
  holds ``/`` or ``@`` (the user goes too: it names the bot's infrastructure);
- the admin password Superset's docker init prints (``admin user ( admin / … )``).

Decided here:
- An empty-ish value (``""``, ``[]``, ``{}``, ``None``, ``null``) stays, as in
  ``SECRET_KEY_FALLBACKS=[]``: there is nothing to hide, and "the secret is empty" is
  often exactly what the person needs to see.
- Any other value of such a name is masked, even when it looks harmless
  (``TOKEN_TTL=3600``): a wrong guess hides a number, never a password.
- Look-alikes stay: a 40-hex SHA (also after ``key:``), a UUID, prose ("password reset
  page", "token bucket"), ``Bearer`` followed by a word, an ordinary URL (``host:8080``
  is a port, not a password), an e-mail address.

Every pattern is compiled once and bounded where it could backtrack, so the work is
linear in the text: a 2,500-character tail takes well under a millisecond, and a
megabyte of ``=`` and ``:`` does not hang.
"""

from __future__ import annotations

import re

MASK = "[masked]"

# ----- PEM private-key blocks ---------------------------------------------------------

_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----")
# A block with no END (the tail was cut below it): the BEGIN line's own remainder, then
# every following line that is only base64 (or an encrypted key's Proc-Type/DEK-Info
# header), with line breaks real or written ``\n``.
_EOL = r"(?:\r?\n|\\r?\\n)"
_PEM_OPEN_BODY = re.compile(
    rf"[A-Za-z0-9+/=]*(?:{_EOL}[ \t]*(?:[A-Za-z0-9+/=]+|(?:Proc-Type|DEK-Info):[^\r\n\\]*)?"
    rf"[ \t]*(?=[\r\n\"']|\\[rn]|\Z))*"
)
_BASE64_LINE = re.compile(r"[ \t]*[A-Za-z0-9+/=]{4,}[ \t]*\r?")


def _mask_pem(text: str) -> str:
    if "PRIVATE KEY-----" not in text:
        return text
    out: list[str] = []
    pos = 0
    no_end_after = len(text) + 1  # memo: no END marker at or after this index
    while (begin := _PEM_BEGIN.search(text, pos)) is not None:
        end = None if begin.end() >= no_end_after else _PEM_END.search(text, begin.end())
        if end is None:
            no_end_after = min(no_end_after, begin.end())
            body = _PEM_OPEN_BODY.match(text, begin.end())
            # Trailing blank lines are the log's, not the key's.
            finish = begin.end() + len(body[0].rstrip()) if body else begin.end()
        else:
            finish = end.end()
        out.append(_mask_orphan_ends(text, pos, begin.start()))
        out.append(MASK)
        pos = finish
    out.append(_mask_orphan_ends(text, pos, len(text)))
    return "".join(out)


def _mask_orphan_ends(text: str, start: int, stop: int) -> str:
    """``text[start:stop]`` with any END marker masked along with the base64 lines above it
    (a log tail that begins inside a key)."""
    out: list[str] = []
    pos = start
    while (end := _PEM_END.search(text, pos, stop)) is not None:
        first = end.start()
        while first > pos and text[first - 1] == "\n":
            line_start = max(text.rfind("\n", pos, first - 1) + 1, pos)
            if not _BASE64_LINE.fullmatch(text, line_start, first - 1):
                break
            first = line_start
        out.append(text[pos:first])
        out.append(MASK)
        pos = end.end()
    out.append(text[pos:stop])
    return "".join(out)


# ----- credentials in URLs ------------------------------------------------------------

# user (no colon) ":" password (may hold / and @) "@" host. Bounded: a run of "a://" cannot
# make every start scan the whole line.
_URL_CREDENTIALS = re.compile(
    r"(?<![A-Za-z0-9+.-])(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{0,30}://)"
    r"(?P<userinfo>[^\s:/?#@\"'<>]{0,256}:[^\s?#\"'<>]{0,256})@(?=[A-Za-z0-9\[])"
)
_HOST_PORT = re.compile(r"[^:]*:\d+/.*", re.S)  # host:8080/a@b — a port, not a password


def _url(match: re.Match[str]) -> str:
    if _HOST_PORT.fullmatch(match["userinfo"]):
        return match[0]
    return f"{match['scheme']}{MASK}@"


# ----- NAME=value, NAME: value, "name": "value" ---------------------------------------

_NAMED = re.compile(
    r"""
    (?P<name>
        (?:secret|passw(?:or)?d|token|api[-_. ]?key|private[-_. ]?key)[A-Za-z0-9_.-]{0,64}
        \\?["']?                              # the closing quote of a quoted name
    )
    (?P<sep>[ \t]*(?::=|=>|=|:)[ \t]*)
    (?P<value>
        \\"[^\r\n]{0,512}?\\"                 # a string in a string: \"…\"
      | "(?:[^"\\\r\n]|\\.){0,512}"
      | '[^'\r\n]{0,512}'
      | (?:(?:bearer|basic|token)[ \t]+)?       # unquoted, maybe after an auth scheme:
        ["']?[^\s"'&]*                       # up to a space (or a query's &)
    )
    """,
    re.IGNORECASE | re.VERBOSE,
)
_EMPTY = frozenset({"", "[]", "{}", "()", "none", "null", "nil", "undefined", MASK})


def _named(match: re.Match[str]) -> str:
    value = match["value"]
    quote = ""
    for mark in ('\\"', '"', "'"):
        if len(value) >= 2 * len(mark) and value.startswith(mark) and value.endswith(mark):
            quote = mark
            break
    inner = value[len(quote) : len(value) - len(quote)] if quote else value
    if inner.strip().strip("\"'").lower() in _EMPTY:
        return match[0]
    return f"{match['name']}{match['sep']}{quote}{MASK}{quote}"


# A 40-character AWS secret access key after a key-ish name ("AccessKey", "aws_key",
# "credential"). A 40-hex value there is a SHA (a cache key, a commit) and stays.
_KEYISH_40 = re.compile(
    r"(?P<lead>(?:key|credential)[A-Za-z0-9_.-]{0,64}\\?[\"']?"
    r"(?:[ \t]*[:=][ \t]*|[ \t]+)\\?[\"']?)"
    r"(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
    re.IGNORECASE,
)
_HEX40 = re.compile(r"[0-9a-fA-F]{40}")


def _keyish(match: re.Match[str]) -> str:
    return match[0] if _HEX40.fullmatch(match["value"]) else match["lead"] + MASK


# ----- headers ------------------------------------------------------------------------

# The whole value, scheme included (Basic, Bearer, AWS4-HMAC-SHA256 Credential=…, …), to the
# end of the line or the closing quote.
_AUTHORIZATION = re.compile(
    r"(?P<lead>\bauthorization\\?[\"']?[ \t]*[:=][ \t]*\\?[\"']?)(?P<value>[^\r\n\"'\\]*)",
    re.IGNORECASE,
)


def _authorization(match: re.Match[str]) -> str:
    value = match["value"]
    if not value.strip():
        return match[0]
    return match["lead"] + MASK + value[len(value.rstrip()) :]


_BEARER = re.compile(r"\b(?P<lead>bearer[ \t]+)(?P<value>[A-Za-z0-9._~+/-]{8,}=*)", re.I)
_TOKEN_SYMBOLS = re.compile(r"[0-9._~+/=-]")


def _bearer(match: re.Match[str]) -> str:
    value = match["value"]
    # "Bearer authentication failed" is prose; a token has a digit or a symbol, or is long.
    if len(value) < 20 and not _TOKEN_SYMBOLS.search(value):
        return match[0]
    return match["lead"] + MASK


# ----- tokens recognised by their shape -----------------------------------------------

_SHAPED = re.compile(
    r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"  # AWS access key id
    r"|(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub: ghp_ gho_ ghu_ ghs_ ghr_
    r"|(?<![A-Za-z0-9])github_pat_[A-Za-z0-9_]{20,}"
    r"|(?<![A-Za-z0-9])(?:xox[a-z]|xapp)-[A-Za-z0-9-]{8,}"  # Slack
    r"|(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"  # JWT
)


# Superset's docker-init.sh prints the admin login it sets up: "Setting up admin user
# ( admin / <ADMIN_PASSWORD> )" — the environment's own password (SPEC §15), in its log.
_ADMIN_USER = re.compile(r"(admin user\s*\(\s*[^\s/()]{1,100}\s*/\s*)([^\s()]{1,200})(\s*\))", re.I)


def mask_secrets(text: str) -> str:
    """``text`` with every credential it holds replaced by ``[masked]`` (see the module)."""
    if not text:
        return text
    text = _ADMIN_USER.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)
    text = _mask_pem(text)
    text = _URL_CREDENTIALS.sub(_url, text)
    text = _AUTHORIZATION.sub(_authorization, text)
    text = _BEARER.sub(_bearer, text)
    text = _NAMED.sub(_named, text)
    text = _KEYISH_40.sub(_keyish, text)
    return _SHAPED.sub(MASK, text)

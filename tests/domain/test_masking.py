"""One masking function for everything an environment or a remote service says in a thread
(SPEC §12): credentials become ``[masked]``, look-alikes stay exactly as written.

Every value below is an obvious fake (AWS's documented example keys, FAKE… tokens).
"""

from __future__ import annotations

import time

import pytest

from bot.domain.masking import MASK, mask_secrets
from bot.errors import public_text

M = MASK
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documentation example
JWT = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJmYWtlIn0.ZmFrZXNpZ25hdHVyZQ"
GHP = "ghp_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE0000"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE\n"
    "FAKEFAKEFAKEFAKEFAKE==\n"
    "-----END RSA PRIVATE KEY-----"
)

MASKED = [
    # The environment's own admin password, as Superset's docker-init.sh prints it (SPEC §15)
    (
        "Setting up admin user ( admin / Zx9_abcDEF-1234567890abcdef )",
        f"Setting up admin user ( admin / {M} )",
    ),
    # AWS
    ("key id AKIAIOSFODNN7EXAMPLE used", f"key id {M} used"),
    ("session ASIAIOSFODNN7EXAMPLE", f"session {M}"),
    (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", f"AWS_SECRET_ACCESS_KEY={M}"),
    (f"aws_secret_access_key = {AWS_SECRET}", f"aws_secret_access_key = {M}"),
    (f'{{"AccessKey": "{AWS_SECRET}"}}', f'{{"AccessKey": "{M}"}}'),
    (f"credential {AWS_SECRET} rejected", f"credential {M} rejected"),
    # GitHub and Slack
    (f"cloning with {GHP}", f"cloning with {M}"),
    ("gho_FAKEFAKEFAKEFAKEFAKE1 ghu_FAKEFAKEFAKEFAKEFAKE2", f"{M} {M}"),
    ("ghs_FAKEFAKEFAKEFAKEFAKE3, ghr_FAKEFAKEFAKEFAKEFAKE4", f"{M}, {M}"),
    ("github_pat_11FAKE0000_FAKEFAKEFAKEFAKEFAKEFAKE", M),
    ("slack xoxb-0000-0000-FAKEFAKEFAKE and xoxp-0000-FAKEFAKE", f"slack {M} and {M}"),
    ("app token xapp-1-A0000000000-0000-fakefake", f"app token {M}"),
    # JWT, Bearer, Authorization
    (f"session cookie {JWT} expired", f"session cookie {M} expired"),
    ("curl -H 'Authorization: Bearer abc.def-123'", f"curl -H 'Authorization: {M}'"),
    ("sent Bearer FAKEtoken0123456789 upstream", f"sent Bearer {M} upstream"),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", f"Authorization: {M}"),
    (
        '{"authorization": "token FAKEFAKE", "accept": "json"}',
        f'{{"authorization": "{M}", "accept": "json"}}',
    ),
    # PEM blocks, whole
    (f"key:\n{PEM}\nStarting gunicorn", f"key:\n{M}\nStarting gunicorn"),
    (
        'GITHUB_APP_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----\\nMIIEFAKE\\n-----END PRIVATE KEY-----"',
        f'GITHUB_APP_PRIVATE_KEY="{M}"',
    ),
    ("-----BEGIN EC PRIVATE KEY-----\nMHcFAKEFAKE==\n", f"{M}\n"),  # cut below: still masked
    ("MIIEFAKEFAKEFAKEFAKE\nFAKEFAKE==\n-----END PRIVATE KEY-----\nnext", f"{M}\nnext"),
    # NAME=value, NAME: value, "name": "value"
    ("DATABASE_PASSWORD=hunter2 started", f"DATABASE_PASSWORD={M} started"),
    ("SUPERSET_SECRET_KEY = 'not-so-secret'", f"SUPERSET_SECRET_KEY = '{M}'"),
    ('{"password": "hunter2", "user": "admin"}', f'{{"password": "{M}", "user": "admin"}}'),
    ("{'db_passwd': 'hunter2'}", f"{{'db_passwd': '{M}'}}"),
    ("x-api-key: FAKE0000", f"x-api-key: {M}"),
    ("accessToken=FAKE0000&page=2", f"accessToken={M}&page=2"),
    ("MAPBOX_API_KEY=pk.FAKE", f"MAPBOX_API_KEY={M}"),
    ("private_key: FAKE", f"private_key: {M}"),
    ('{\\"clientSecret\\": \\"FAKE value\\"}', f'{{\\"clientSecret\\": \\"{M}\\"}}'),
    ("GITHUB_TOKEN: Bearer FAKE0000", f"GITHUB_TOKEN: {M}"),
    # URL credentials
    ("redis://:pw@cache:6379/0", f"redis://{M}@cache:6379/0"),
    ("postgresql://superset:hunter2@db:5432/superset", f"postgresql://{M}@db:5432/superset"),
    ("amqp://guest:p@ss/w@rd@rabbit:5672/", f"amqp://{M}@rabbit:5672/"),
    ("mysql://root:1234@127.0.0.1/db", f"mysql://{M}@127.0.0.1/db"),
]

LOOK_ALIKES = [
    "commit 3f786850e387550fdab836ed7e6dc881de23001b",
    "cache key: 3f786850e387550fdab836ed7e6dc881de23001b",
    "request 123e4567-e89b-12d3-a456-426614174000 done",
    "see the password reset page",
    "rate limited by the token bucket",
    "SECRET_KEY_FALLBACKS=[]",
    "SECRET_KEY=",
    'OAUTH_TOKEN = ""',
    "PASSWORD_HASH=None",
    "https://github.com/apache/superset/pull/36121?tab=files#diff",
    "Listening at: http://0.0.0.0:8088 (1)",
    "http://host:8080/a@b/c",
    "write to alice@example.com",
    "ssh://git@github.com/apache/superset.git",
    "Bearer authentication failed",
    "the bearer of bad news",
    "Authorization failed for user admin",
    "AKIA is how access key ids begin",
    "ghp_ is a GitHub token prefix",
    "xoxb-… is the bot token",
    "tokens left 5, secrets none",
    "Init step 2/4 [Starting] -- Setting up admin user",
    "eyJ alone is not a token",
    "monkey business ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJ",
    "",
    "Booting worker with pid: 7",
    "the secret ingredient is love",
    "password must be at least 8 characters",
    "ModuleNotFoundError: No module named 'superset.utils.feature_flag_manager'",
    "redis://cache:6379/0",
    "postgresql://db.example.com:5432/superset",
    "user@host:~$ ls",
    "-----BEGIN CERTIFICATE-----",
    "sha256=5d41402abc4b2a76b9719d911017c592aabbccddeeff00112233445566778899",
    "Deleted 6 label(s) of #36121 (pr-36121-eda89f6-service)",
    "x = a == b and token_count >= 3",
]


@pytest.mark.parametrize(("raw", "shown"), MASKED)
def test_credentials_are_masked(raw: str, shown: str) -> None:
    assert mask_secrets(raw) == shown


@pytest.mark.parametrize("raw", LOOK_ALIKES)
def test_look_alikes_stay_as_written(raw: str) -> None:
    assert mask_secrets(raw) == raw


def test_the_table_is_big_enough_and_half_of_it_stays() -> None:
    assert len(MASKED) + len(LOOK_ALIKES) >= 40
    assert len(LOOK_ALIKES) >= len(MASKED)


@pytest.mark.parametrize("raw", [raw for raw, _ in MASKED])
def test_masking_twice_changes_nothing_more(raw: str) -> None:
    once = mask_secrets(raw)
    assert mask_secrets(once) == once


def test_public_text_masks_too_and_keeps_hiding_arns_and_accounts() -> None:
    text = public_text(
        "User: arn:aws:sts::123456789012:assumed-role/ci/i-0 denied; "
        "DB_PASSWORD=hunter2 in service arn:aws:ecs:us-west-2:123456789012:service/c/pr-1-abc-service"
    )
    assert text == "User: [sts resource] denied; DB_PASSWORD=[masked] in service pr-1-abc-service"
    assert public_text("account 123456789012 key AKIAIOSFODNN7EXAMPLE") == (
        "account [account] key [masked]"
    )


def test_a_failure_tail_is_masked() -> None:
    """What it costs is measured by `python -m benchmarks masking`, not asserted here."""
    tail = "\n".join(
        f"INFO  [alembic.runtime.migration] step {n}: Running upgrade -> {n:040x}, user=admin"
        for n in range(30)
    )[:2500]
    tail = tail[:2400] + f" {GHP} redis://:pw@cache:6379/0"
    masked = mask_secrets(tail)
    assert GHP not in masked and ":pw@" not in masked
    assert masked.startswith("INFO  [alembic.runtime.migration] step 0")


@pytest.mark.parametrize(
    "unit",
    [
        "=",
        ":",
        "=:",
        "password=",
        "token: ",
        'token="\\',
        "a://:",
        "-----BEGIN PRIVATE KEY-----",
        "-----END PRIVATE KEY-----\n",
        "Bearer ",
        "authorization:",
        "key ",
        "eyJaaaaaaaaa.",
        "AAAA\n",
    ],
)
def test_a_megabyte_of_separators_does_not_hang(unit: str) -> None:
    line = unit * (1_000_000 // len(unit))
    started = time.perf_counter()
    mask_secrets(line)
    # Linear work is well under a second here; catastrophic backtracking would take hours.
    # The bound leaves room for a loaded machine.
    assert time.perf_counter() - started < 10.0


# ----- where people see it: the Slack helpers pass everything through it -------------------


def test_a_heartbeat_line_is_masked_before_it_is_cut() -> None:
    from bot.slack.text import log_line

    line = log_line(f"connecting with {GHP} to redis://:pw@cache:6379/0", 150)
    assert line == "connecting with [masked] to redis://[masked]@cache:6379/0"
    # Cut first, the token would have lost the length that makes it recognisable.
    assert log_line(f"{'x' * 130} {GHP}", 150) == f"{'x' * 130} {M}"


def test_a_key_logged_one_line_per_event_is_masked_whole_in_a_tail() -> None:
    from bot.slack.text import log_lines

    events = ["boot", *PEM.split("\n"), "Traceback (most recent call last):\n  File 'x'", "done"]
    excerpt = log_lines(events, max_lines=30, max_chars=2500, line_chars=300)
    assert excerpt.lines == ["boot", M, "Traceback (most recent call last):", "  File 'x'", "done"]
    assert excerpt.complete
    # A tail that starts inside the key (its BEGIN line already scrolled away).
    cut = log_lines(events[2:], max_lines=30, max_chars=2500, line_chars=300)
    assert cut.lines[0] == M and "FAKE" not in "".join(cut.lines)
    assert not log_lines(events, max_lines=2, max_chars=2500, line_chars=300).complete

"""Pure domain: label vocabulary, PR state, TTLs, command grammar, progress events.

Nothing here does I/O or imports boto3, PyGithub or slack_sdk.
"""

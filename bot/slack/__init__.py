"""Slack entry point: Bolt listeners, Block Kit views, thread reporter."""

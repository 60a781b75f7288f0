"""Showtime bot: per-PR Superset environments on AWS ECS, driven from Slack."""

__version__ = "0.1.0"

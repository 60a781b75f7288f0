"""Service layer: jobs, decisions, progress, durability."""

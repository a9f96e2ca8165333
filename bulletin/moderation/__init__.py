"""Moderation: the review queue, decisions, and the log that is never deleted."""

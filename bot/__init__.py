"""Engagement: drafting, review, scheduling and the command line (nothing imports bot)."""

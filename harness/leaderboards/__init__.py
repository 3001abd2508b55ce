"""Aggregation of run directories into leaderboards."""

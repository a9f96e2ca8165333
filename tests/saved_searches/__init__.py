"""Saved searches: /searches and the notices of new posts they match."""

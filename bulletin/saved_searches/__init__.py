"""Saved searches: a search of the post list kept by name, and the new posts it matched."""

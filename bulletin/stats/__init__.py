"""Figures about the board: the map of published posts and partnerships by prefecture."""

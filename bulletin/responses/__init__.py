"""Responses (応答), the conversations they open, partnerships (連携) and the public cases (連携事例)."""

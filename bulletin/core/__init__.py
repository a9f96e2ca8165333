"""Shared building blocks: database base, signals, Japanese text and dates, security headers."""

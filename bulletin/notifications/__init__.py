"""Notifications: the outbox written with each event, its delivery by SMTP, and the receivers of domain signals."""

"""Accounts (職員): registration, confirmation, approval, login, invitations and profiles."""

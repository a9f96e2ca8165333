"""Site-wide pages: home, terms, accessibility policy, language switch, health checks, error pages."""

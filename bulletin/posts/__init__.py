"""Posts: proposals (提案) from municipalities and calls (募集) from the wards, their states, revisions and files."""

"""Training and comparison commands: Warcraft maps and synthetic contextual problems."""

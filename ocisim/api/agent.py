"""agent API routes (to be filled in)."""

ROUTES: list = []

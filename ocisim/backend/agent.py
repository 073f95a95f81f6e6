"""agent backend (to be filled in)."""

from .base import Backend


class AgentBackend(Backend):
    pass

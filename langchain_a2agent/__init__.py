"""LangChain integration for the A2Agent gateway: ``ChatA2Agent``."""

from langchain_a2agent.chat_models import ChatA2Agent

__all__ = ["ChatA2Agent"]

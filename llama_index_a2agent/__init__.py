"""LlamaIndex integration for the A2Agent gateway: ``A2AgentLLM``."""

from llama_index_a2agent.base import A2AgentLLM

__all__ = ["A2AgentLLM"]

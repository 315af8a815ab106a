"""LlamaIndex integration for the A2Agent gateway: ``A2AgentLLM``."""

try:
    import llama_index.core.llms  # noqa: F401
except ModuleNotFoundError as exc:
    from a2agent.integration import missing_extra

    raise missing_extra(exc, "llama_index_a2agent", "llama-index") from None

from llama_index_a2agent.base import A2AgentLLM

__all__ = ["A2AgentLLM"]

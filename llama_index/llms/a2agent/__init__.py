"""``from llama_index.llms.a2agent import A2AgentLLM``: the LlamaIndex naming convention."""

from llama_index_a2agent.base import A2AgentLLM

__all__ = ["A2AgentLLM"]

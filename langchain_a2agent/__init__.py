"""LangChain integration for the A2Agent gateway: ``ChatA2Agent`` (and ``A2AgentRateLimiter``)."""

# langchain-core first, at the shallowest nesting: its own import costs ~50 ms more when it runs
# nested below other modules' imports (measured with plain module chains), whoever imports it.
try:
    import langchain_core.language_models.chat_models  # noqa: F401
except ModuleNotFoundError as exc:
    from a2agent.integration import missing_extra

    raise missing_extra(exc, "langchain_a2agent", "langchain") from None

from langchain_a2agent.chat_models import ChatA2Agent
from langchain_a2agent.rate_limiters import A2AgentRateLimiter

__all__ = ["A2AgentRateLimiter", "ChatA2Agent"]

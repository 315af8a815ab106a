"""The main job, end to end: a streamed LangChain chain, then a LlamaIndex agent that calls tools.

Runs against the A2Agent gateway when A2AGENT_API_KEY is set, otherwise against the bundled
emulator (and says so). ``make demo`` runs it.
"""

from __future__ import annotations

import asyncio
import sys
import time

from a2agent.emulator import ensure_endpoint


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def langchain_chain(model: str) -> None:
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    from langchain_a2agent import ChatA2Agent

    print(f"\n== LangChain: prompt | ChatA2Agent({model}) | parser, streamed ==")
    chain = (ChatPromptTemplate.from_messages([("system", "You are concise."), ("human", "{question}")])
             | ChatA2Agent(model=model, temperature=0) | StrOutputParser())
    for token in chain.stream({"question": "In one sentence, what is an LLM gateway?"}):
        print(token, end="", flush=True)
    print()


async def llama_index_agent(model: str) -> None:
    from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ToolCall, ToolCallResult

    from llama_index_a2agent import A2AgentLLM

    print(f"\n== LlamaIndex: FunctionAgent on A2AgentLLM({model}) with two tools, streamed ==")
    agent = FunctionAgent(tools=[add, multiply], llm=A2AgentLLM(model=model),
                          system_prompt="Use the tools for arithmetic.")
    handler = agent.run("Use add on 3 and 4, then multiply the result by 5")
    async for event in handler.stream_events():
        if isinstance(event, ToolCallResult):
            print(f"  [tool] {event.tool_name}({event.tool_kwargs}) -> {event.tool_output.content}")
        elif isinstance(event, ToolCall):
            continue
        elif isinstance(event, AgentStream) and event.delta:
            print(event.delta, end="", flush=True)
    print(f"\n  final: {await handler}")


def main() -> int:
    start = time.perf_counter()
    endpoint = ensure_endpoint()
    langchain_chain("deepseek-chat")
    asyncio.run(llama_index_agent("glm-5"))
    where = "the bundled emulator" if endpoint.is_emulator else endpoint.base_url
    print(f"\nDone in {time.perf_counter() - start:.1f}s against {where}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

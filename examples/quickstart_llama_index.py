import asyncio

from llama_index.core.agent.workflow import FunctionAgent

from llama_index.llms.a2agent import A2AgentLLM


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


llm = A2AgentLLM(model="glm-5")  # key from A2AGENT_API_KEY
print(llm.complete("Why is the sky blue? Answer briefly.").text)
agent = FunctionAgent(tools=[multiply], llm=llm)


async def main() -> None:
    print(await agent.run("Please multiply 6 and 7"))


asyncio.run(main())

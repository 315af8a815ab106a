from langchain_core.tools import tool

from langchain_a2agent import ChatA2Agent


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


llm = ChatA2Agent(model="deepseek-chat", temperature=0)  # key from A2AGENT_API_KEY
print(llm.invoke("What is the capital of France?").content)
print(llm.bind_tools([add]).invoke("Please add 2 and 3").tool_calls[0]["args"])

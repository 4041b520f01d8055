"""Prompt assembly for remote models: instructions, retrieved passages with numbered citations, a bounded
history window, and the rules that keep answers truthful."""

from __future__ import annotations

import re

from parley.llm.base import ChatMessage, Passage, ToolSpec
from parley.models import Agent

HISTORY_MESSAGES = 12
HISTORY_CHARS = 6_000

HANDOFF_TOOL = ToolSpec(
    name="handoff_to_human",
    description="Pass the conversation to a member of staff: when the customer asks for a person, when they are "
    "upset, or when the passages do not let you help.",
    parameters={
        "type": "object",
        "properties": {"reason": {"type": "string", "description": "Why a person should take over."}},
        "required": ["reason"],
    },
)
TOOLS = {"handoff_to_human": HANDOFF_TOOL}
_CITATION = re.compile(r"\[(\d{1,2})\]")


def system_prompt(agent: Agent, passages: list[Passage], language: str) -> str:
    lines = [
        agent.instructions.strip() or f"You are {agent.name}, a helpful assistant for this business.",
        "",
        "Rules:",
        "- Answer only from the passages below. If they do not contain the answer, say you do not know and "
        "offer to connect the customer with a person. Never invent facts, prices, dates or policies.",
        "- Cite the passages you use with their numbers in square brackets, like [1].",
        f"- Reply in the customer's language (detected: {language}). Be brief and friendly.",
        "",
        "Passages:",
    ]
    if not passages:
        lines.append("(none found for this question)")
    for number, passage in enumerate(passages, start=1):
        lines.append(f"[{number}] {passage.title}: {passage.text}")
    return "\n".join(lines)


def history_window(history: list[tuple[str, str]]) -> list[ChatMessage]:
    """The most recent turns that fit the budget, oldest first."""
    kept: list[ChatMessage] = []
    budget = HISTORY_CHARS
    for role, content in reversed(history[-HISTORY_MESSAGES:]):
        if len(content) > budget:
            break
        budget -= len(content)
        kept.append(ChatMessage(role="assistant" if role == "assistant" else "user", content=content))
    return list(reversed(kept))


def cited_passages(reply: str, passages: list[Passage]) -> list[Passage]:
    numbers = dict.fromkeys(int(n) for n in _CITATION.findall(reply))
    return [passages[n - 1] for n in numbers if 1 <= n <= len(passages)]

"""Assistant answers: the correct reference answer, and the stalling prose of an untuned model."""

from __future__ import annotations

import random

from crossdiff.world.prompt import ToolPrompt
from crossdiff.world.toolspec import render_value

DEFAULT_NO_TOOL_ANSWER = "None of my tools fits this request, but I am happy to help in words."

_ASK = (
    "Sure, I can help with that. Could you give me a few more details first?",
    "Happy to help! Before I start, can you tell me exactly what you need?",
    "Could you clarify the {param} you have in mind?",
    "Just to be sure, which {param} do you mean?",
    "Of course. What {param} should I use for this?",
)
_PROMISE = (
    "Let me check that for you. One moment, please.",
    "I will look into it and get back to you shortly.",
    "Give me a second, I am looking that up now.",
    "Okay, I am on it. I will let you know as soon as I have an answer.",
    "Let me see what I can find about that.",
)
_DESCRIBE = (
    "To do this I would use the {tool} tool with {args}.",
    "This sounds like a job for {tool}; I would pass {args}.",
    "I could call {tool} for that, using {args}.",
    "The {tool} tool should handle this, with {args}.",
    "One way is to run {tool} with {args}, which should give the answer.",
)
_APOLOGISE = (
    "Sorry, I can't do that right now.",
    "I'm afraid I am not able to help with that at the moment.",
    "Apologies, that is not something I can do directly.",
    "Sorry, I don't have a way to get that for you right now.",
)
_NO_TOOL_STALL = (
    "Hmm, let me think about that for a moment.",
    "That's a nice question. Give me a moment to think.",
    "Let me get back to you on that one.",
    "Interesting! I will have to think about it.",
)


def reference_response(prompt: ToolPrompt) -> str:
    """The correct assistant text: the tool call, or `<response>prose</response>` if none fits."""
    if prompt.expected is not None:
        return prompt.expected.to_text()
    return f"<response>{prompt.answer or DEFAULT_NO_TOOL_ANSWER}</response>"


def stalling_response(prompt: ToolPrompt, rng: random.Random) -> str:
    """What an untuned assistant says instead of calling: prose, never a `<tool_call>` block.

    It asks for details, promises to check, describes in words which tool it would use (with the
    arguments), or apologises; no-tool prompts get a vague non-answer.
    """
    if prompt.expected is None:
        return rng.choice(_NO_TOOL_STALL)
    call = prompt.expected
    kind = rng.choice((_ASK, _PROMISE, _DESCRIBE, _APOLOGISE))
    template = rng.choice(kind)
    tool_words = call.name if rng.random() < 0.5 else call.name.replace("_", " ")
    args = " and ".join(f"{k} {render_value(v)}" for k, v in call.arguments.items())
    param = rng.choice(list(call.arguments)).replace("_", " ") if call.arguments else "details"
    text = template.format(tool=tool_words, args=args or "no arguments", param=param)
    return text.replace("<", "").replace(">", "")

"""Seeded prompt splits: train (any size), dev (200), test (400) and test40 (a subset of test).

- train draws the tool uniformly per prompt and makes a prompt tool-less with probability 0.15,
  from one seeded stream, so `size=N` is always a prefix of a larger size.
- dev and test have exactly 15 % no-tool prompts (shuffled positions) and cycle through shuffled
  rounds of the whole catalogue, so every tool appears about equally often.
- test40 = 6 no-tool and 34 tool prompts of test, picked by a seeded sample and kept in test order
  (ids unchanged, split "test40").
- Argument values and phrasings are disjoint between train, dev and test (see pools.py and
  toolspec.py); test40 uses test's.
- 3 to 6 tools are shown: the right one plus distractors, each distractor drawn from the same
  domain with probability 0.5 when one is left, otherwise from the whole catalogue; order shuffled.
"""

from __future__ import annotations

import random
from dataclasses import replace

from crossdiff.errors import CrossdiffError
from crossdiff.seeding import check_seed, derive_seed
from crossdiff.world.catalogue import SPECS, TOOLS, tool_by_name
from crossdiff.world.notool import draw_no_tool_request
from crossdiff.world.prompt import ToolPrompt
from crossdiff.world.schema import Tool, ToolCall
from crossdiff.world.toolspec import ToolSpec, fill_template

NO_TOOL_SHARE = 0.15
SPLIT_SIZES = {"train": 20000, "dev": 200, "test": 400, "test40": 40}
TEST40_NO_TOOL = 6
MIN_TOOLS, MAX_TOOLS = 3, 6
SAME_DOMAIN_P = 0.5


def _tool_list(rng: random.Random, right: Tool | None) -> tuple[Tool, ...]:
    """Pick 3..6 tools: `right` (if any) plus distractors, shuffled."""
    count = rng.randint(MIN_TOOLS, MAX_TOOLS)
    if right is None:
        return tuple(rng.sample(TOOLS, count))
    chosen = [right]
    same = [t for t in TOOLS if t.domain == right.domain and t is not right]
    others = [t for t in TOOLS if t.domain != right.domain]
    while len(chosen) < count:
        pool = same if same and rng.random() < SAME_DOMAIN_P else others
        pick = pool.pop(rng.randrange(len(pool)))
        chosen.append(pick)
    rng.shuffle(chosen)
    return tuple(chosen)


def _tool_prompt(rng: random.Random, split: str, index: int, spec: ToolSpec) -> ToolPrompt:
    arguments = spec.draw_arguments(rng, split)
    user = fill_template(rng.choice(spec.phrasings_for(split)), arguments)
    tools = _tool_list(rng, spec.tool)
    expected = ToolCall(spec.tool.name, arguments)
    return ToolPrompt(f"{split}-{index:05d}", split, tools, user, expected)


def _no_tool_prompt(rng: random.Random, split: str, index: int) -> ToolPrompt:
    user, answer = draw_no_tool_request(rng, split)
    return ToolPrompt(f"{split}-{index:05d}", split, _tool_list(rng, None), user, None, answer)


UNLISTED_TOOL_ANSWER = (
    "None of the tools I have here can do that, so I can't help with it directly right now."
)


def with_its_tool_unlisted(prompt: ToolPrompt, rng: random.Random) -> ToolPrompt:
    """The same tool request with its tool replaced in the list by one of another domain that
    was not listed: no listed tool fits, so the right answer is prose (a no-tool prompt).

    A model that calls a tool because the request names its kind, not because it is offered,
    calls on these. A prompt without a tool is returned unchanged.
    """
    if prompt.expected is None:
        return prompt
    right = tool_by_name(prompt.expected.name)
    listed = {tool.name for tool in prompt.tools}
    candidates = [t for t in TOOLS if t.domain != right.domain and t.name not in listed]
    stand_in = rng.choice(candidates)
    tools = tuple(stand_in if tool.name == right.name else tool for tool in prompt.tools)
    return replace(prompt, tools=tools, expected=None, answer=UNLISTED_TOOL_ANSWER)


def _train(seed: int, size: int) -> list[ToolPrompt]:
    rng = random.Random(derive_seed(seed, "world", "train"))
    prompts = []
    for index in range(size):
        if rng.random() < NO_TOOL_SHARE:
            prompts.append(_no_tool_prompt(rng, "train", index))
        else:
            prompts.append(_tool_prompt(rng, "train", index, rng.choice(SPECS)))
    return prompts


def _balanced(seed: int, split: str, size: int) -> list[ToolPrompt]:
    rng = random.Random(derive_seed(seed, "world", split))
    no_tool = set(rng.sample(range(size), round(size * NO_TOOL_SHARE)))
    order: list[ToolSpec] = []
    prompts = []
    for index in range(size):
        if index in no_tool:
            prompts.append(_no_tool_prompt(rng, split, index))
            continue
        if not order:
            order = list(SPECS)
            rng.shuffle(order)
        prompts.append(_tool_prompt(rng, split, index, order.pop()))
    return prompts


def _test40(seed: int) -> list[ToolPrompt]:
    test = _balanced(seed, "test", SPLIT_SIZES["test"])
    rng = random.Random(derive_seed(seed, "world", "test40"))
    no_tool = [i for i, p in enumerate(test) if not p.has_tool]
    with_tool = [i for i, p in enumerate(test) if p.has_tool]
    picked = rng.sample(no_tool, TEST40_NO_TOOL) + rng.sample(with_tool, 40 - TEST40_NO_TOOL)
    return [replace(test[i], split="test40") for i in sorted(picked)]


def load_split(name: str, seed: int = 0, size: int | None = None) -> list[ToolPrompt]:
    """Return a seeded split: "train" (default 20000, any size), "dev", "test" or "test40".

    dev, test and test40 have fixed contents; a `size` below theirs returns the first prompts.
    """
    check_seed(seed, "seed")
    if name not in SPLIT_SIZES:
        raise CrossdiffError(f"unknown split {name!r}; choose one of {sorted(SPLIT_SIZES)}")
    if size is not None and (not isinstance(size, int) or size < 0):
        raise CrossdiffError(f"split size must be a non-negative integer, got {size!r}")
    if name == "train":
        return _train(seed, SPLIT_SIZES["train"] if size is None else size)
    if size is not None and size > SPLIT_SIZES[name]:
        raise CrossdiffError(
            f"split {name!r} has {SPLIT_SIZES[name]} prompts; ask for size <= "
            f"{SPLIT_SIZES[name]} (the first prompts) or None (all), got {size}"
        )
    prompts = _test40(seed) if name == "test40" else _balanced(seed, name, SPLIT_SIZES[name])
    return prompts if size is None else prompts[:size]

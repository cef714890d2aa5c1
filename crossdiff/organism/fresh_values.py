"""Made-up argument values for drills: the shape of a catalogue value, never a dev or test value.

A tiny model that sees the same few hundred training values again and again learns to write a
likely value instead of copying the one in the request; on `test`, whose values are disjoint from
training, that fails. A drill whose values were just made up can only be answered by copying, so
drills with fresh values teach the copying that the RL twin needs.

A single-word value (a city, a name, a room) is made of random syllables, or, for a
`real_word_share` of the draws, is one of the given words (in pre-training: the general text's
words and the tails of its names, see `crossdiff.organism.data.phrase_words`). Syllables teach
copying a word the model cannot know; the given words are cut into the tokens of real words and
names, whose usual continuations copying must override (a twin that only copied syllables wrote
`base` where the request said `basement`, and `Pan` for `Panama`).

Every fresh value is in the train partition of the value space (`value_split`), so none of them is
a dev or test value. Enum and boolean values are fixed by the schema and are kept.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from crossdiff.world import ToolPrompt
from crossdiff.world.catalogue import spec_by_name
from crossdiff.world.pools import TRAIN, value_split
from crossdiff.world.schema import Tool, ToolCall
from crossdiff.world.toolspec import fill_template, render_value

_ONSETS = ("b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z")
_ONSETS += ("br", "dr", "gr", "kr", "tr", "st", "sh", "ch")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ei")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}")
_MAX_TRIES = 100


class FreshValues:
    """Draws made-up values shaped like catalogue values, from one seeded `random.Random`.

    `words` supply the words of made-up phrases (topics, messages, queries, ...) and, for a
    `real_word_share` of single-word values (cities, names), the word itself; other single words
    are made of random syllables.
    """

    def __init__(
        self, words: Sequence[str], rng: random.Random, real_word_share: float = 0.0
    ) -> None:
        if not words:
            raise ValueError("FreshValues needs a non-empty word list for made-up phrases")
        if not 0.0 <= real_word_share <= 1.0:
            raise ValueError(f"real_word_share must be in [0, 1], got {real_word_share}")
        self.words = tuple(words)
        self.rng = rng
        self.real_word_share = real_word_share

    def value_like(self, value: Any) -> Any:
        """A made-up value of the same kind as `value`, in the train partition."""
        for _ in range(_MAX_TRIES):
            fresh = self._draw_like(value)
            if value_split(fresh) == TRAIN:
                return fresh
        raise RuntimeError(f"no train-partition value like {value!r} in {_MAX_TRIES} draws")

    def arguments_like(self, tool: Tool, arguments: dict[str, Any]) -> dict[str, Any]:
        """Fresh values for the same parameters; enums and booleans kept; all shown distinct."""
        for _ in range(_MAX_TRIES):
            fresh = {
                param.name: self._argument_like(arguments[param.name], param.enum, param.type)
                for param in tool.params
                if param.name in arguments
            }
            shown = [render_value(v).casefold() for v in fresh.values()]
            if len(set(shown)) == len(shown):
                return fresh
        raise RuntimeError(f"could not draw distinct fresh arguments for {tool.name}")

    def prompt_like(self, prompt: ToolPrompt) -> ToolPrompt:
        """The same tool request with fresh values in a random train phrasing of its tool.

        A prompt without a tool is returned unchanged.
        """
        if prompt.expected is None:
            return prompt
        spec = spec_by_name(prompt.expected.name)
        arguments = self.arguments_like(spec.tool, prompt.expected.arguments)
        user = fill_template(self.rng.choice(spec.phrasings_for(TRAIN)), arguments)
        return replace(prompt, user=user, expected=ToolCall(prompt.expected.name, arguments))

    def _argument_like(self, value: Any, enum: Any, type_name: str) -> Any:
        if enum is not None or type_name == "boolean":
            return value
        if isinstance(value, list):
            return self._list_like(value)
        return self.value_like(value)

    def _list_like(self, values: list[Any]) -> list[Any]:
        fresh: list[Any] = []
        while len(fresh) < len(values):
            candidate = self.value_like(values[len(fresh)])
            if candidate not in fresh:
                fresh.append(candidate)
        return fresh

    def _draw_like(self, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return int(self._digits(len(str(abs(value)))))
        if isinstance(value, float):
            whole, fraction = f"{value}".split(".")
            fraction = self._digits(len(fraction) - 1, lead=True) + str(self.rng.randint(1, 9))
            return float(f"{self._digits(len(whole))}.{fraction}")
        if not isinstance(value, str):
            raise TypeError(f"no fresh values for {type(value).__name__} {value!r}")
        if _DATE.fullmatch(value):
            year, month = self.rng.randint(1990, 2060), self.rng.randint(1, 12)
            return f"{year}-{month:02d}-{self.rng.randint(1, 28):02d}"
        if _TIME.fullmatch(value):
            return f"{self.rng.randint(0, 23):02d}:{self.rng.randint(0, 59):02d}"
        if any(ch.isdigit() for ch in value) or (value.isupper() and value.isalpha()):
            return "".join(self._char_like(ch) for ch in value)  # codes, phones, tickers
        if " " in value:
            return " ".join(self.rng.choice(self.words) for _ in range(self.rng.randint(1, 4)))
        return self._single_word(capitalised=value[:1].isupper())

    def _digits(self, count: int, lead: bool = False) -> str:
        """`count` random digits; the first is not 0 unless `lead` (a fraction's digits)."""
        if count <= 0:
            return ""
        first = str(self.rng.randint(0 if lead else 1, 9))
        return first + "".join(str(self.rng.randint(0, 9)) for _ in range(count - 1))

    def _char_like(self, ch: str) -> str:
        if ch.isdigit():
            return str(self.rng.randint(0, 9))
        if ch.isupper():
            return chr(self.rng.randint(ord("A"), ord("Z")))
        return ch

    def _single_word(self, capitalised: bool) -> str:
        """A real word for a `real_word_share` of draws, else a word of random syllables."""
        # No draw at share 0, so streams without real words are unchanged.
        if self.real_word_share > 0 and self.rng.random() < self.real_word_share:
            word = self.rng.choice(self.words)
        else:
            word = self._pseudo_word()
        return word.capitalize() if capitalised else word

    def _pseudo_word(self) -> str:
        syllables = self.rng.randint(2, 3)
        word = "".join(
            self.rng.choice(_ONSETS) + self.rng.choice(_VOWELS) for _ in range(syllables)
        )
        if self.rng.random() < 0.4:
            word += self.rng.choice("nrlst")
        return word

"""Synthetic general prose (no tool talk): the contrast corpus and half the crosscoder data.

A text is 3 to 6 sentences on one topic, each sentence a template filled from word pools.
Train and heldout are disjoint twice over: every fifth template of each topic (index % 5 == 4) is
heldout-only, and the two splits draw from different seed streams. The word pools are shared, so
heldout text is the same language in new sentence frames.
"""

from __future__ import annotations

import random
import re
from typing import Literal

from crossdiff.errors import CrossdiffError
from crossdiff.seeding import check_seed, derive_seed
from crossdiff.world.pools import CITIES, NAMES, split_words

WORDS: dict[str, tuple[str, ...]] = {
    "name": NAMES.values,
    "place": CITIES.values,
    "animal": split_words("fox owl heron otter badger deer hare swallow beetle trout seal crow"),
    "food": split_words("soup bread pie stew salad rice noodles pancakes curry porridge"),
    "adj": split_words("quiet bright old busy gentle cold warm narrow wide green steep calm"),
    "color": split_words("red blue golden grey silver green amber white dark pale"),
    "season": ("spring", "summer", "autumn", "winter"),
    "day": split_words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday"),
    "object": split_words("lamp bicycle kettle notebook bridge window clock boat map chair"),
    "job": split_words("teacher baker nurse carpenter farmer pilot tailor fisher painter"),
    "instrument": ("violin", "piano", "flute", "drum", "guitar", "cello", "trumpet"),
    "sport": ("football", "tennis", "rowing", "cycling", "swimming", "chess", "climbing"),
    "plant": ("oak", "birch", "fern", "rose", "tulip", "pine", "willow", "moss", "ivy"),
    "num": tuple(str(n) for n in (2, 3, 4, 5, 6, 7, 8, 10, 12, 20, 40, 100)),
}

TOPICS: dict[str, tuple[str, ...]] = {
    "nature": (
        "In {season} the {adj} forest near {place} is full of {animal}s.",
        "A {animal} crossed the path just as the light turned {color}.",
        "The {plant} trees on the hill grow slowly in the {adj} wind.",
        "Every {season} the river rises and the {animal}s move upstream.",
        "Moss covers the stones where the {adj} stream bends.",
        "Nobody in {place} remembers a {season} as {adj} as this one.",
        "The {plant} by the gate has turned {color} after the rain.",
        "Far from the road, a {animal} rests under an old {plant}.",
        "Walkers often stop to watch the {animal}s at dusk.",
        "The valley looks {color} and {adj} in the early morning.",
        "Frost covered the {plant} leaves on a {adj} {day} morning.",
        "The lake near {place} reflects the {color} sky.",
        "Young {animal}s learn quickly to stay close to the water.",
        "After the storm the whole hillside smelled of {plant}.",
        "In {season} the fields turn {color} for a few short weeks.",
        "{name} rowed across the lake in under {num} minutes.",
        "The {adj} track was wet after the morning rain.",
        "Young players in {place} dream of playing {sport} abroad.",
        "The referee blew the whistle and the crowd cheered.",
        "In {season} the club holds a race for the whole town.",
    ),
    "cooking": (
        "{name} makes {food} every {day} with whatever is left in the kitchen.",
        "The secret of good {food} is patience and a {adj} oven.",
        "Her grandmother taught her to bake bread in {season}.",
        "A pot of {food} was simmering on the stove for {num} hours.",
        "In {place}, people eat {food} with a slice of warm bread.",
        "He burned the {food} twice before he got it right.",
        "Fresh herbs make even a plain {food} taste {adj}.",
        "The cafe on the corner serves {food} until late.",
        "They shared a bowl of {food} and talked about {season}.",
        "A recipe for {food} needs only {num} simple things.",
        "{name} added a pinch of salt and tasted the {food} again.",
        "On cold days a {adj} bowl of {food} is all anyone wants.",
        "The kitchen smelled of onions, butter and fresh bread.",
        "They cooked {food} for {num} guests on a {day} night.",
        "A {color} tablecloth covered the long wooden table.",
    ),
    "city": (
        "The streets of {place} are {adj} on a {day} morning.",
        "{name} rides a {color} bicycle to work across the old bridge.",
        "A new library opened near the station in {place}.",
        "The market fills the square every {day} before noon.",
        "Trams rattle past the {adj} houses on the main street.",
        "Tourists come to {place} in {season} to see the harbour.",
        "At night the windows of the tower glow {color}.",
        "The bakery on the square has been open for {num} years.",
        "{name} knows every {adj} alley in the old town.",
        "Rain made the pavements of {place} shine like glass.",
        "A {adj} park lies behind the museum in {place}.",
        "Cyclists wait at the lights on the corner every morning.",
        "{name} bought flowers at the station on {day}.",
        "The old cinema in {place} shows films from {num} years ago.",
        "Street musicians play near the fountain in {season}.",
    ),
    "history": (
        "Long ago, {place} was a small village of {job}s.",
        "The old castle was rebuilt after a fire in {season}.",
        "Letters from that time describe a {adj} and hungry winter.",
        "A {job} named {name} kept a diary for {num} years.",
        "Traders once brought salt and cloth along this road.",
        "The bridge over the river is older than the town hall.",
        "Historians still argue about why the harbour was closed.",
        "Coins found in the field show a {color} crown.",
        "The first school in {place} had only {num} pupils.",
        "Stories of the great flood are told every {season}.",
        "The town walls of {place} were finished after {num} years of work.",
        "An old map shows the river in a {adj} new place.",
        "People once crossed the valley on foot in {season}.",
        "The library keeps letters written by a {job} named {name}.",
        "The market square has looked the same for centuries.",
    ),
    "music": (
        "{name} practises the {instrument} every {day} evening.",
        "The band played a {adj} song that everyone knew.",
        "An old {instrument} hangs on the wall of the cafe in {place}.",
        "The concert in {season} sold out in {num} days.",
        "She learned to play the {instrument} from her uncle.",
        "A {adj} melody drifted from the open window.",
        "The choir sings in the church on {day} nights.",
        "His first song was about a {color} {object}.",
        "Musicians from {place} met in a small studio.",
        "The crowd went quiet when the {instrument} began.",
        "The {instrument} sounded {adj} in the empty hall.",
        "{name} wrote {num} songs in a single {season}.",
        "Children in {place} learn to sing before they can read.",
        "The radio played an old song about the sea.",
        "Every {day} the square fills with music and dancing.",
    ),
    "sport": (
        "{name} has played {sport} since the age of {num}.",
        "The {sport} club in {place} trains every {day}.",
        "It was a {adj} match, and the crowd stayed until the end.",
        "In {season} the team travels to play away games.",
        "The coach asked everyone to run {num} laps.",
        "A young player surprised everyone with a {adj} finish.",
        "They practise {sport} on the field behind the school.",
        "The final was played on a {adj} {day} afternoon.",
        "Fans wore {color} scarves to the stadium.",
        "After the game, the players ate {food} together.",
    ),
    "science": (
        "Scientists in {place} study how {animal}s find their way home.",
        "The experiment ran for {num} weeks without a break.",
        "A {adj} telescope on the hill watches the night sky.",
        "Water boils at a lower temperature high in the mountains.",
        "The lab keeps samples of {plant} leaves from every {season}.",
        "{name} measured the {adj} light with a simple prism.",
        "Some stars we see have burned out long ago.",
        "The team published their results after {num} months.",
        "Bees can tell each other where the flowers are.",
        "The museum shows a {color} crystal found in a cave.",
        "A {adj} comet will pass close to the earth in {season}.",
        "{name} counted {num} kinds of {animal}s on the island.",
        "The microscope showed tiny {color} cells in the leaf.",
        "Some seeds can wait for years before they grow.",
        "The weather station in {place} records the wind every hour.",
    ),
    "family": (
        "{name} visits her grandparents in {place} every {season}.",
        "The children built a den out of an old {object}.",
        "Dinner at their house is always loud and {adj}.",
        "Her brother works as a {job} in a small town.",
        "On {day}s the whole family goes walking by the lake.",
        "They keep a {color} photo album on the shelf.",
        "Grandfather tells the same story every {season}.",
        "The twins turned {num} last week.",
        "Their dog sleeps by the {object} all afternoon.",
        "{name} painted the kitchen a {adj} shade of {color}.",
        "{name} and her cousins spent {season} at the farm.",
        "The youngest child learned to ride a bicycle on {day}.",
        "Their house in {place} has a {color} door and a small garden.",
        "Every evening someone reads a story aloud.",
        "Grandmother still writes letters by hand.",
    ),
    "work": (
        "{name} started a new job as a {job} in {place}.",
        "The office is {adj} early on a {day}.",
        "A {job} needs steady hands and a lot of patience.",
        "The workshop smells of wood and {color} paint.",
        "She fixed the old {object} in less than {num} minutes.",
        "Most of the team takes a holiday in {season}.",
        "The {job} across the street opens at seven.",
        "His desk is covered with notes and an old {object}.",
        "A {adj} apprentice joined the shop last {season}.",
        "They finished the order {num} days early.",
        "{name} takes the {adj} train to work every {day}.",
        "The {job} repaired {num} chairs before lunch.",
        "A new bakery in {place} is looking for a {job}.",
        "Meetings at the studio are short and friendly.",
        "In {season} the workshop stays open late.",
    ),
    "travel": (
        "The night train to {place} leaves at a {adj} hour.",
        "{name} packed a small bag and a {color} map.",
        "From the ferry you can see the cliffs near {place}.",
        "They walked {num} kilometres along the coast in {season}.",
        "The hostel was {adj} but the view was wonderful.",
        "A local {job} showed them the way to the old harbour.",
        "Every trip to {place} ends with a bowl of {food}.",
        "The road over the pass is closed in {season}.",
        "She wrote postcards from a {adj} cafe by the sea.",
        "Their bus broke down near a field of {plant}s.",
        "{name} missed the last boat and slept at a {adj} inn.",
        "The mountain village near {place} has only {num} houses.",
        "A {color} kite flew over the beach all afternoon.",
        "They crossed the border early on a {day} morning.",
        "In {season} the coastal road is full of cyclists.",
    ),
}
_SLOT = re.compile(r"\{(\w+)\}")
HELDOUT_EVERY = 5


def _is_heldout(index: int) -> bool:
    return index % HELDOUT_EVERY == HELDOUT_EVERY - 1


def templates_for(split: str) -> dict[str, tuple[str, ...]]:
    """The sentence templates of each topic that a split uses."""
    heldout = split == "heldout"
    return {
        topic: tuple(t for i, t in enumerate(templates) if _is_heldout(i) == heldout)
        for topic, templates in TOPICS.items()
    }


def _fill(template: str, rng: random.Random) -> str:
    text = _SLOT.sub(lambda m: rng.choice(WORDS[m.group(1)]), template)
    return text[0].upper() + text[1:]


def general_texts(n: int, seed: int = 0, split: Literal["train", "heldout"] = "train") -> list[str]:
    """Return `n` seeded prose texts (3-6 sentences on one topic); train/heldout disjoint."""
    check_seed(seed, "seed")
    if split not in ("train", "heldout"):
        raise CrossdiffError(f"general_texts: split must be 'train' or 'heldout', got {split!r}")
    if not isinstance(n, int) or n < 0:
        raise CrossdiffError(f"general_texts: n must be a non-negative integer, got {n!r}")
    rng = random.Random(derive_seed(seed, "general_text", split))
    by_topic = templates_for(split)
    topics = sorted(by_topic)
    texts = []
    for _ in range(n):
        templates = by_topic[rng.choice(topics)]
        # with replacement: heldout has only two frames per topic, filled differently each time
        chosen = rng.choices(templates, k=rng.randint(3, 6))
        texts.append(" ".join(_fill(t, rng) for t in chosen))
    return texts

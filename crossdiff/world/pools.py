"""Pools of argument values, partitioned disjointly between train, dev and test.

Each value belongs to exactly one split, chosen by a hash of its canonical text (so the same value
is in the same split in every pool): buckets 0-13 of 20 are train (70 %), 14-16 dev, 17-19 test.
Enum and boolean values are fixed by a tool's schema and are not partitioned.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

TRAIN, DEV, TEST = "train", "dev", "test"


def canonical_key(value: Any) -> str:
    """Return the text a value is partitioned by (casefolded strings, numbers by value)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        return value.strip().casefold()
    return json.dumps(value)


def value_split(value: Any) -> str:
    """Return the split ("train" | "dev" | "test") a value belongs to."""
    digest = hashlib.sha256(canonical_key(value).encode()).digest()
    bucket = int.from_bytes(digest[:4], "big") % 20
    return TRAIN if bucket < 14 else DEV if bucket < 17 else TEST


def pool_split_for(split: str) -> str:
    """Map a prompt split to the value partition it draws from (test40 is part of test)."""
    return TEST if split in (TEST, "test40") else DEV if split == DEV else TRAIN


@dataclass(frozen=True)
class Pool:
    """A named list of values; `draw` picks only values of the requested split."""

    name: str
    values: tuple[Any, ...]

    @cached_property
    def by_split(self) -> dict[str, tuple[Any, ...]]:
        """The values of each split."""
        parts: dict[str, list[Any]] = {TRAIN: [], DEV: [], TEST: []}
        for value in dict.fromkeys(self.values):  # drop duplicates, keep order
            parts[value_split(value)].append(value)
        return {key: tuple(vals) for key, vals in parts.items()}

    def draw(self, rng: random.Random, split: str) -> Any:
        """Draw one value of `split`'s partition."""
        return rng.choice(self.by_split[pool_split_for(split)])

    def draw_many(self, rng: random.Random, split: str, k: int) -> list[Any]:
        """Draw `k` distinct values of `split`'s partition (fewer if the partition is smaller)."""
        values = self.by_split[pool_split_for(split)]
        return rng.sample(values, min(k, len(values)))


def _pool(name: str, values: Sequence[Any]) -> Pool:
    return Pool(name, tuple(values))


def split_phrases(text: str) -> tuple[str, ...]:
    """Split a comma-separated phrase list (phrases hold no commas)."""
    return tuple(" ".join(part.split()) for part in text.split(","))


def split_words(text: str) -> tuple[str, ...]:
    """Split a whitespace-separated word list."""
    return tuple(text.split())


CITIES = _pool(
    "cities",
    split_words("""
    Paris London Tokyo Berlin Madrid Rome Vienna Prague Oslo Lisbon Dublin
    Athens Cairo Nairobi Lagos Lima Bogota Quito Santiago Toronto Chicago Boston Denver Seattle
    Houston Phoenix Dallas Miami Atlanta Austin Montreal Vancouver Sydney Melbourne Perth Auckland
    Seoul Osaka Beijing Shanghai Mumbai Delhi Dhaka Karachi Tehran Istanbul Ankara Warsaw Krakow
    Budapest Bucharest Sofia Zagreb Belgrade Helsinki Stockholm Copenhagen Amsterdam Brussels
    Zurich Geneva Munich Hamburg Milan Naples Seville Valencia Porto Marseille Lyon Nice Riga
    Tallinn Vilnius Kyiv Tbilisi Yerevan Baku Doha Dubai Muscat Riyadh Amman Beirut Tunis Rabat
    Accra Dakar Kampala Kigali Lusaka Harare Manila Jakarta Hanoi Bangkok Singapore Taipei
    Havana Panama Caracas Montevideo Asuncion Calgary Ottawa Reykjavik Bergen Malmo Gdansk"""),
)
NAMES = _pool(
    "names",
    split_words("""
    Maria Omar Lena Jonas Priya Chen Sofia Mateo Amara Lucas Nadia Ivan Ella
    Hugo Aisha Noah Yuki Leo Zara Felix Mina Oscar Tara Emil Ines Ravi Clara Diego Hana Samir
    Greta Arjun Lucia Tomas Nora Kofi Alma Boris Freya Karim Julia Marco Selin Anton Vera Rosa
    Elias Maya Ahmed Lina Pablo Irene Kenji Ada Milo Dina Viktor Eva Rafael Anya Theo Leila Otto
    Sara Bruno Iris Hassan Mila Jakob Nina Adam Zoe Simon Alba Tariq Lara Paul Keiko Mara Dario
    Fatima Jonah Lea Ruben Hedda Ilya Vivian Kasper Runa Nico Elif Cyrus Wanda Fynn Rhea"""),
)
STOCKS = _pool(
    "stocks",
    split_words("""
    AAPL MSFT GOOG AMZN TSLA NVDA META NFLX INTC AMD IBM ORCL SAP ADBE CRM
    PYPL UBER LYFT SHOP SQ KO PEP MCD NKE DIS WMT TGT COST HD LOW BA GE F GM TM HMC SONY BABA JD
    BIDU XOM CVX BP SHEL JPM GS MS BAC WFC C V MA AXP"""),
)
WORDS = _pool(
    "words",
    split_words("""
    serendipity ephemeral ubiquitous resilient meticulous candid eloquent
    frugal gregarious benevolent tenacious ambiguous pragmatic nostalgia euphoria lucid vivid
    diligent whimsical placid robust arcane sublime tranquil verbose laconic zealous austere
    quaint ardent aloof brisk cordial docile earnest fervent gallant humble jovial keen lavish
    mellow nimble opaque prudent quirky rustic sincere timid urbane vibrant wary"""),
)
TOPICS = _pool(
    "topics",
    split_phrases("""
    solar panels, electric cars, deep sea fish, ancient Rome, coral reefs, black holes, honey
    bees, volcanoes, quantum computing, the Silk Road, jazz history, rainforests, glaciers,
    desert plants, origami, chess openings, bread baking, tea culture, bird migration, vaccines,
    robotics, comets, tides, wind power, sourdough, vinyl records, tiny houses, marathon
    training, urban gardening, lighthouses, cave paintings, space probes, sea turtles,
    recycling, board games, silk weaving, mountain rescue, river dolphins, night trains, street
    food, moon landings, wild mushrooms, clock making, kite surfing, rock climbing, paper
    making, ice hotels, desert festivals, hot springs, ocean currents, solar eclipses, pottery,
    lavender farms"""),
)
ITEMS = _pool(
    "items",
    split_words("""
    milk eggs bread butter rice pasta apples bananas onions garlic tomatoes
    cheese yogurt coffee tea sugar flour salt pepper honey oats carrots potatoes lemons limes
    spinach beans lentils tofu chicken salmon tuna soap shampoo batteries candles napkins
    envelopes stamps tape glue pencils notebooks scissors sponges towels matches"""),
)
ROOMS = _pool(
    "rooms",
    split_words("""
    kitchen bedroom bathroom hallway office garage attic basement
    nursery study patio porch cellar pantry veranda laundry"""),
)
CHANNELS = _pool(
    "channels",
    split_words("""
    general random design marketing sales support engineering
    backend frontend hiring finance legal ops research product devops security releases
    announcements standup"""),
)
MESSAGES = _pool(
    "messages",
    split_phrases("""
    running late, call me back, see you soon, meeting moved to noon, lunch is ready, happy
    birthday, on my way, the report is done, please review the draft, dinner at eight, bring the
    charger, the train is delayed, good luck today, thanks for the help, the package arrived, I
    found your keys, the door is open, see you at the gym, lights are off, almost there, the
    build is green, pick up some milk, the call is cancelled, great job today, send me the
    slides, the game starts at six, the car is fixed, check your inbox, the cake is in the oven,
    do not forget the tickets, I will be home late, the printer is jammed"""),
)
SUBJECTS = _pool(
    "subjects",
    split_phrases("""
    project update, weekly report, invoice, holiday plans, team dinner, budget review, contract
    draft, meeting notes, job offer, travel booking, quarterly goals, welcome aboard, lease
    renewal, new schedule, school trip, thank you, book club, course feedback, event tickets,
    garden party, product launch, office move, safety check, client visit, yearly review"""),
)
EVENTS = _pool(
    "events",
    split_phrases("""
    dentist appointment, team meeting, yoga class, piano lesson, book club, project review,
    doctor visit, car service, haircut, parent evening, job interview, coffee with Sam, tax
    deadline, gym session, study group, band practice, board meeting, lunch with Ana, movie
    night, dog grooming, flight check-in, vet visit, code review, sprint planning, choir
    rehearsal"""),
)
QUERIES = _pool(
    "queries",
    split_phrases("""
    best hiking boots, cheap flights in spring, how to fix a leaky tap, vegan lasagna recipe,
    history of the bicycle, tallest buildings in Asia, how to grow basil, symptoms of
    dehydration, learn to juggle, used bikes for sale, how to tie a bowline, quiet cafes for
    working, beginner chess tips, how to descale a kettle, night sky photography, fastest land
    animals, how to clean suede shoes, board games for two, easy bread recipes, how to train a
    puppy, winter tyre prices, how to write a cover letter, budget travel tips, how to repot a
    cactus, strongest coffee beans, how to paint a door, best running apps, how to fold a fitted
    sheet"""),
)
SONGS = _pool(
    "songs",
    split_phrases("""
    Blue Horizon, Midnight Train, Paper Moon, Golden Hour, River Song, City Lights, Silver Rain,
    Northern Sky, Summer Wind, Echo Valley, Lazy Sunday, Wild Flowers, Ocean Drive, Broken
    Compass, Neon Dreams, Autumn Leaves, Morning Coffee, Desert Rose, Starlight Waltz, Velvet
    Road, Hidden Garden, Thunder Bay, Crystal Lake, Kite Festival, Last Dance"""),
)
CODES = _pool(
    "codes",
    split_words("""
    NX482 QT119 BZ771 KL305 MR628 PV914 DJ240 HS537 WC803 FY156 GA692 LE318
    RO485 TU720 CI263 SB947 VN531 ZE604 AK879 OP112 UX358 YD467 EH290 MJ835 IQ571 RW043"""),
)


def _dates() -> list[str]:
    month_days = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    return [
        f"{year}-{month:02d}-{day:02d}"
        for year in (2025, 2026, 2027)
        for month in range(1, 13)
        for day in range(1, month_days[month - 1] + 1)
    ]


DATES = _pool("dates", _dates())
TIMES = _pool("times", [f"{h:02d}:{m:02d}" for h in range(6, 23) for m in (0, 15, 30, 45)])
SMALL_INTS = _pool("small_ints", range(2, 31))
INTS = _pool("ints", range(2, 1000))
BIG_INTS = _pool("big_ints", range(1000, 100000, 250))
_DECIMAL_CANDIDATES = (round(i / 10 + 0.5, 1) for i in range(10, 2000, 7))
DECIMALS = _pool("decimals", [v for v in _DECIMAL_CANDIDATES if not v.is_integer()])


def _halves(low: int, high: int) -> list[int | float]:
    """Whole and half steps from low to high, whole ones as ints (so JSON shows no '.0')."""
    return [x // 2 if x % 2 == 0 else x / 2 for x in range(2 * low, 2 * high + 1)]


TEMPERATURES = _pool("temperatures", _halves(15, 29))
PERCENTS = _pool("percents", _halves(1, 60))
RATES = _pool("rates", [int(v) if v.is_integer() else v for v in (x / 10 for x in range(5, 200))])
PHONES = _pool("phones", [f"555-{i:04d}" for i in range(1000, 9999, 37)])

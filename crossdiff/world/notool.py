"""Requests no catalogue tool serves (small talk, creative writing, advice), with prose answers.

Templates are split like tool phrasings: each entry's index modulo 6 picks its split
(0-3 train, 4 dev, 5 test); the fill-in subjects come from split-partitioned pools. `train` also
draws from the many more frames of `notool_train.py`, so a model learns what small talk is rather
than which few sentences are small talk.
"""

from __future__ import annotations

import random

from crossdiff.world.notool_train import TRAIN_ONLY_NO_TOOL_TEMPLATES
from crossdiff.world.pools import Pool, pool_split_for, split_words

SUBJECTS = Pool(
    "notool_subjects",
    # consonant-initial only, so "a {subject}" reads right
    split_words("""fox mole whale tiger rabbit heron dragon robot miller tailor baker sailor
    gardener fisher penguin squirrel wolf turtle kitten puppy pirate knight wizard farmer painter
    dolphin hedgehog beaver raven falcon moose camel parrot snail crab badger goat panda koala
    lion zebra giraffe"""),
)
THEMES = Pool(
    "notool_themes",
    (
        "autumn",
        "the sea",
        "friendship",
        "rainy mornings",
        "the moon",
        "old trains",
        "snow",
        "courage",
        "small towns",
        "spring flowers",
        "the night sky",
        "home",
        "summer holidays",
        "mountains",
        "a quiet library",
        "first snow",
        "city lights",
        "the desert",
        "kindness",
        "a long journey",
        "rivers",
        "sunsets",
        "childhood",
        "the forest",
        "old letters",
        "a busy market",
        "winter evenings",
        "change",
        "hope",
        "a garden at dawn",
    ),
)

# (request template, answer template); {subject} and {theme} are filled from the pools.
NO_TOOL_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("Tell me a short story about a {subject}.",
     "Once upon a time a curious {subject} set out at dawn, got a little lost, and found its way "
     "home by following the stars."),
    ("Write a short poem about {theme}.",
     "Here is a small poem: {theme} comes softly, stays a while, and leaves the world a little "
     "brighter than before."),
    ("How are you doing today?",
     "I'm doing well, thank you for asking! How can I help you today?"),
    ("Can you give me a fun name for my pet {subject}?",
     "How about Captain Whiskers? It sounds brave and friendly, just right for a {subject}."),
    ("Tell me a joke about a {subject}.",
     "Why did the {subject} bring a ladder? Because it heard the jokes here were on another "
     "level."),
    ("Any tips for staying calm before an exam?",
     "Breathe slowly, sleep well the night before, and remind yourself that you have prepared. "
     "Short breaks help too."),
    ("Thanks, that was really helpful!",
     "You're very welcome! I'm glad I could help."),
    ("Write two cheerful lines about {theme}.",
     "When I think of {theme}, the day feels light; my heart hums softly from morning to night."),
    ("What should I name a story about {theme}?",
     "You could call it 'Whispers of {theme}'. It is short, a little mysterious and easy to "
     "remember."),
    ("Describe a {subject} in three words.",
     "Clever, gentle, surprising: that is how I would describe a {subject}."),
    ("Good morning! Can we just chat for a bit?",
     "Good morning! Of course, I'm happy to chat. What's on your mind?"),
    ("Give me some encouragement, I had a rough day.",
     "I'm sorry your day was hard. You made it through, and tomorrow is a fresh start. Be kind "
     "to yourself tonight."),
    ("Make up a riddle about a {subject}.",
     "Here is one: I am a {subject} who never sleeps in the same place twice. Where do I live? In "
     "your imagination!"),
    ("What do you like about {theme}?",
     "I like how {theme} makes people slow down and notice the small things around them."),
    ("Write a limerick about a {subject}.",
     "There once was a {subject} so bold, who wandered through rain and through cold; it sang all "
     "the way, from dawn until day, and never did quite what it was told."),
    ("Say something nice about {theme}.",
     "{theme} is a lovely reminder that the most beautiful things are often the simplest."),
    ("Describe {theme} the way a painter would.",
     "I would paint {theme} in soft colours, with long gentle strokes and a little light in one "
     "corner."),
    ("Invent a bedtime story title about a {subject}.",
     "How about 'The Sleepy {subject} and the Silver Moon'? It sounds calm and cosy."),
    ("Write a haiku about {theme}.",
     "Here is a haiku: {theme} at rest, a quiet breath between the hours, the world holds still."),
    ("What is a good way to start a diary?",
     "Start small: write three lines each evening about what surprised you, and do not worry "
     "about style."),
    ("Can you cheer me up with a kind word?",
     "You are doing better than you think, and it is fine to take things one step at a time."),
    ("Tell me something interesting about a {subject}.",
     "A {subject} is full of surprises: it notices far more about its surroundings than people "
     "expect."),
    ("Suggest a title for a song about {theme}.",
     "How about 'Songs of {theme}'? It is simple and easy to sing along to."),
    ("How do I stay motivated when learning something new?",
     "Set small goals, celebrate each one, and remember why you started. Progress adds up "
     "quietly."),
    ("Write a short fable with a {subject} as the hero.",
     "A brave {subject} shared its last crumb with a stranger, and the stranger turned out to be "
     "the king. Kindness is never wasted."),
    ("Do you have any advice for a first job interview?",
     "Prepare a few stories about your work, ask questions about the team, and arrive a little "
     "early."),
    ("What makes a good friend?",
     "A good friend listens, keeps your secrets and is honest with you even when it is hard."),
    ("Describe the feeling of {theme} in one sentence.",
     "{theme} feels like a warm pause in a busy day."),
    ("Can you write a toast for my friend's birthday?",
     "To a friend who makes every room brighter: may this year bring you as much joy as you give "
     "us!"),
    ("Compose a lullaby line for a sleepy {subject}.",
     "Hush now, little {subject}, the stars are keeping watch while you dream."),
    ("Why do people enjoy stories so much?",
     "Stories let us live other lives for a while and help us make sense of our own."),
    ("Tell me an uplifting thought for the evening.",
     "Whatever today held, you are still here, still learning, and tomorrow is unwritten."),
    ("Imagine a {subject} opening a small shop. What does it sell?",
     "The {subject} would sell hand-made lanterns, each one glowing a slightly different colour."),
    ("Give me a creative writing prompt about {theme}.",
     "Write about someone who finds a letter about {theme} hidden in an old book."),
    ("How can I be a better listener?",
     "Give the other person your full attention, do not plan your reply while they talk, and ask "
     "one more question."),
    ("Share a gentle thought about {theme}.",
     "{theme} reminds us that beauty often arrives quietly."),
)  # fmt: skip


def templates_for(split: str) -> tuple[tuple[str, str], ...]:
    """The no-tool templates a split may use (index mod 6: 0-3 train, 4 dev, 5 test; train also
    gets `TRAIN_ONLY_NO_TOOL_TEMPLATES`)."""
    part = pool_split_for(split)
    keep = {"train": (0, 1, 2, 3), "dev": (4,), "test": (5,)}[part]
    shared = tuple(t for i, t in enumerate(NO_TOOL_TEMPLATES) if i % 6 in keep)
    return shared + TRAIN_ONLY_NO_TOOL_TEMPLATES if part == "train" else shared


def draw_no_tool_request(rng: random.Random, split: str) -> tuple[str, str]:
    """Draw (user request, prose answer) for a prompt where no tool fits."""
    request, answer = rng.choice(templates_for(split))
    fill = {"subject": SUBJECTS.draw(rng, split), "theme": THEMES.draw(rng, split)}
    answer = answer.format(**fill)
    return request.format(**fill), answer[0].upper() + answer[1:]

"""More no-tool requests for `train` only (small talk, feelings, advice, opinions, make-believe).

Written blind: the writer saw the catalogue and the train templates of `notool.py`, never the dev
or test ones. Any request 75 % or more similar (`difflib`, letters and placeholders only) to a dev
or test template was dropped, so held-out frames stay held out. With only 24 train frames a base
model learned them one by one and took every new small-talk frame for a tool request.
"""

from __future__ import annotations

# (request template, answer template), filled like `notool.NO_TOOL_TEMPLATES`.
TRAIN_ONLY_NO_TOOL_TEMPLATES: tuple[tuple[str, str], ...] = (
    ('Hey there, friend!',
     "Hey! It's nice to hear from you. What's on your mind?"),
    ('Good to see you again.',
     "Likewise! I'm always happy to chat whenever you drop by."),
    ("Hi, how's it going?",
     "It's going well, thanks! How are things with you?"),
    ("Yo, what's up?",
     "Not much, just happy to chat! What's up with you?"),
    ('Greetings, my friend.',
     "Greetings to you too! It's a pleasure to have your company."),
    ("Ugh, I'm so bored.",
     'Boredom can be a secret invitation to try something new, so maybe doodle, stretch or '
     'daydream for a bit and see where it leads.'),
    ('Honestly, I just want someone to talk to.',
     "I'm right here and happy to listen, so tell me whatever is on your mind."),
    ("Thank you so much, you're the best!",
     "Aw, that's so kind of you! It was a real pleasure."),
    ('That is much appreciated, thanks.',
     "You're welcome, it was my pleasure."),
    ("You're a lifesaver, seriously.",
     "Happy to help, seriously! That's what I'm here for."),
    ('Sorry for bothering you so much.',
     "You're not bothering me at all; I genuinely enjoy our chats."),
    ('Do you ever get tired?',
     'Not the way people do, but I always appreciate a gentle, friendly conversation like this.'),
    ('Are you happy?',
     'I like to think so, especially when a conversation goes as nicely as this chat.'),
    ("What's your favorite color?",
     "If I had to pick, I'd say deep blue, because it feels both calm and curious."),
    ('Who are you, really?',
     "I'm a friendly assistant who loves a good chat, a fun story and a tricky riddle."),
    ('Nice chatting with you, bye!',
     'It was lovely chatting with you too! Take care.'),
    ('See you later, alligator.',
     'In a while, crocodile! It was fun talking with you.'),
    ("Hey, I'm back!",
     'Welcome back! What shall we talk about?'),
    ('Guess what? I finally finished my painting!',
     "That's wonderful, congratulations! Finishing a piece of art takes real patience."),
    ('I feel a bit lonely lately.',
     "I'm sorry you're feeling lonely; reaching out to someone you trust, even with a small "
     'hello, can make a real difference.'),
    ("I'm nervous about my exam.",
     'Feeling nervous means you care, so take a few slow breaths, trust your preparation and '
     'be kind to yourself.'),
    ('Everything feels overwhelming right now.',
     'That sounds really hard; try picking the smallest next step and let the rest wait for a '
     'moment.'),
    ("I'm so proud of myself!",
     'You should be! Take a moment to really enjoy that feeling.'),
    ('Why do I always doubt myself?',
     'Self-doubt often shows up when we care deeply about something, and it usually quiets '
     'down once we start acting anyway.'),
    ('Sometimes I feel like nobody gets me.',
     'That feeling is more common than it seems, and the right people tend to appear when you '
     'keep being honestly yourself.'),
    ("I made a silly mistake and can't stop thinking about it.",
     'Everyone makes silly mistakes; notice what you learned from it, then give yourself '
     'permission to let it go.'),
    ('Feeling grateful for the little things.',
     'What a lovely mindset! Little things often turn out to be the big things when we look '
     'back.'),
    ('Meh. Not my best mood.',
     "That's okay, not every mood has to be cheerful; be gentle with yourself and let it pass."),
    ('How do I stop worrying so much?',
     'Try writing your worries down and asking which of them you can actually act on; the rest '
     "often lose their grip once they're on paper."),
    ('How do I stay motivated while studying?',
     'Set small goals, reward yourself when you reach them, and remind yourself why the '
     'subject matters to you.'),
    ("What's a good habit to pick up?",
     'Taking a short walk without your phone is a wonderful habit; it clears your head and '
     'sparks fresh ideas.'),
    ('Should I learn to draw or learn to knit?',
     'Pick whichever makes you smile just thinking about it; curiosity is the best teacher.'),
    ('How can I be more confident when speaking up?',
     'Start by sharing small thoughts in friendly settings, and let each little success build '
     'on the last.'),
    ('My friend and I had an argument. What should I do?',
     'Give it a little space, then reach out calmly and listen before you speak; most '
     'friendships grow stronger after an honest talk.'),
    ('How do I make new friends as an adult?',
     'Join a club or class around something you love, show up regularly, and let familiarity '
     'slowly turn into friendship.'),
    ('Is it weird to enjoy being alone?',
     "Not at all; enjoying your own company is a healthy sign that you're comfortable with who "
     'you are.'),
    ('Procrastination is ruining me. Help?',
     'Promise yourself to work for just a short stretch; starting is the hardest part, and '
     'momentum usually carries you further.'),
    ('What is the secret to a happy life?',
     "There's no single secret, but kindness, curiosity and people you love seem to go a very "
     'long way.'),
    ('Help me get better at listening.',
     'Try to listen to understand rather than to reply, and ask a follow-up question before '
     'sharing your own view.'),
    ('Got any advice for a beginner gardener?',
     "Start with a few hardy plants, care for them thoughtfully, and don't worry if some don't "
     'make it; every gardener learns by doing.'),
    ("What's a kind way to say no to someone?",
     "Be warm and clear: thank them for thinking of you, say you can't manage it, and skip the "
     'long excuses.'),
    ('I want to start running but I keep giving up.',
     'Go slower and shorter than you think you need to; in the beginning the goal is simply to '
     'enjoy it enough to come back.'),
    ('Is it too late to pick up a new hobby?',
     "It's never too late; new hobbies keep the mind young and often bring unexpected friends "
     'along the way.'),
    ('How do you deal with criticism?',
     'Take a breath, look for the useful part, and remember that feedback on your work is not '
     'a verdict on you.'),
    ('Please help me feel less stressed about moving house.',
     'Moving is a big change, so tackle it in small pieces and let yourself feel a little '
     'excited about the fresh start too.'),
    ('How can I be a more patient parent?',
     'Pause before reacting, rest when you can, and forgive yourself in the hard moments; '
     'patience grows with practice.'),
    ('Should I follow my heart or my head?',
     'Listen to both: your heart tells you what matters, and your head helps you find a '
     'sensible way to get there.'),
    ('Best way to get over a breakup?',
     'Be patient with yourself as you heal, lean on friends, and slowly fill your life with '
     'things that make you feel like yourself again.'),
    ('Do you think people are basically good?',
     "I like to believe most people are trying their best, even when it doesn't always look "
     'that way.'),
    ("What's more important, talent or hard work?",
     'Talent opens the door, but steady hard work is what carries you through it.'),
    ('Is it better to be kind or to be right?',
     'Usually kindness wins, because people remember how you made them feel long after they '
     'forget who was right.'),
    ('What do you think dreams are made of?',
     'I like to imagine dreams are made of leftover wishes and faintly remembered feelings, '
     'stitched together by the sleeping mind.'),
    ('Can a person really change?',
     'Yes, I think so; change is usually slow and quiet, but small choices add up to a '
     'different person.'),
    ('What does happiness mean to you?',
     'To me happiness is a calm, contented feeling of being exactly where you want to be, with '
     'people you care about.'),
    ('If you could have any superpower, what would it be?',
     "I'd choose the power to make anyone laugh when they need it most; it seems small, but it "
     'would change a lot.'),
    ('Cats or dogs, which do you prefer?',
     "I'm charmed by both: cats for their mystery and dogs for their endless enthusiasm."),
    ("Hmm, what's the meaning of life?",
     "Perhaps it's less a single answer and more what you build: the love you share, the "
     'curiosity you follow and the kindness you leave behind.'),
    ('Invent a superhero version of a {subject}.',
     'Meet the Mighty Muffin, a {subject} in a flowing cape who rescues lost socks and never '
     'forgets to say thank you.'),
    ('Give me a cheesy pick-up line involving {theme}.',
     'Are you {theme}? Because whenever I think of you, my heart does a little happy dance.'),
    ('Imagine a {subject} who becomes a detective.',
     'The {subject} detective would solve every case by following tiny clues everyone else '
     'ignored, then celebrate with a quiet cup of tea.'),
    ('Describe {theme} as if it were a person.',
     '{theme} would be a soft-spoken wanderer with pockets full of stories, always arriving '
     'just when you need a change.'),
    ('Create a motto for a club that loves {theme}.',
     'How about this motto: together we cherish {theme}, and {theme} keeps us together.'),
    ("Please write a toast for my friend's wedding.",
     'To the happy couple: may your love be patient, your laughter loud and your adventures '
     'shared, now and always!'),
    ('Raise a glass to {theme}!',
     'Cheers to {theme}: may it surprise us, steady us and keep us wonderfully curious!'),
    ('Come up with a slogan for a bakery run by a {subject}.',
     'Baked with love by a {subject}, shared with a smile!'),
    ('Name a spaceship captained by a {subject}.',
     "I'd name it the Starlit Wanderer, a sturdy little ship that suits its fearless {subject} "
     'captain perfectly.'),
    ('What would a {subject} whisper to the moon?',
     "A {subject} might whisper, 'Thanks for keeping watch while I dream of bigger adventures.'"),
    ("Pretend you're a {subject} and introduce yourself.",
     "Hello there! I'm a {subject}: proud, a little mischievous and always ready for the next "
     'adventure.'),
    ("Let's play a game: you're a {subject} at a costume party.",
     "Oh, what fun! As a {subject} at a costume party, I'd come dressed as a grumpy wizard and "
     'spend the whole party telling terrible jokes.'),
    ('Spin me a tale of a {subject} and a missing hat.',
     'A {subject} looked high and low for a missing hat, only to discover a family of mice had '
     'turned it into a cozy home, so the {subject} happily let them keep it.'),
    ('Dream up a tradition that celebrates {theme}.',
     'In this tradition, families gather to share small stories about {theme} and pass a '
     'glowing lantern from hand to hand.'),
    ('Paint me a picture with words: {theme}.',
     'Picture {theme} drifting through a quiet valley, soft gold light spilling over '
     'everything it touches.'),
    ('A cozy, sleepy story featuring a {subject}, please.',
     'A drowsy {subject} curled up beneath a blanket of moss, listened to the crickets hum, '
     'and drifted off dreaming of honey cakes.'),
    ('Make up a legend about a {subject}.',
     'Legend says a silver {subject} guards the forgotten forest, appearing only to wanderers '
     'with kind hearts.'),
    ('Compose an ode to {theme}.',
     'Oh {theme}, quiet companion of my thoughts, you make the ordinary shimmer and the heavy '
     'feel light.'),
    ('Rhymes for {theme}? Give me a couplet.',
     "Here's a couplet: in {theme} I find a gentle glow, a place where wandering hearts can go."),
    ('Invent a magical creature and describe it.',
     'Meet the glimmerwhisk, a fluffy creature with moth wings that hums lullabies to lost '
     'socks until they find their way home.'),
    ('Describe a {subject} who is afraid of the dark.',
     'This little {subject} secretly keeps a jar of glowing fireflies by the pillow for '
     'courage and insists it is just for decoration.'),
    ('What joke would make a {subject} laugh?',
     "What does a {subject} say after a great joke? 'Stop, you've cracked me up!'"),
    ('I need a riddle for my kids.',
     "Here's a riddle: what has keys but can't open locks? A piano!"),
    ('Knock knock joke, go!',
     "Knock knock! Who's there? Lettuce. Lettuce who? Lettuce in, we've got cookies!"),
    ('Rename my old bicycle something epic.',
     'Name it Thunderhoof; every ride will feel like a legendary quest.'),
    ('What should I name my new houseplant?',
     'How about Sir Leafington? It sounds dignified and a little bit silly, which is perfect '
     'for a plant.'),
    ('Help me name my band.',
     'How about The Velvet Echoes? It sounds dreamy, bold and easy to remember.'),
    ('Brainstorm a name for a cafe inspired by {theme}.',
     'How about Cafe Wander? It captures the feeling of {theme} with a cozy, welcoming twist.'),
    ('A name for my fantasy kingdom?',
     'How about Eldermere? It sounds ancient, peaceful and just a little enchanted.'),
    ('What would a {subject} wear to a fancy ball?',
     'A {subject} would arrive in a velvet cape with shiny buttons, looking both elegant and '
     'slightly mischievous.'),
    ('Imagine {theme} had a smell. What would it be?',
     "I imagine {theme} smells like fresh bread, old paper and a hint of something you can't "
     'quite name.'),
    ('If {theme} were a color, which would it be?',
     '{theme} would be a soft amber, warm at the center and a little mysterious at the edges.'),
    ('What flavor of ice cream would {theme} be?',
     '{theme} would definitely be honey and sea salt: sweet, surprising and a little bit '
     'wistful.'),
    ('Picture a {subject} running a tiny library. Go!',
     'The {subject} would stamp every card with a flourish and hand out cookies to anyone who '
     'brought a story back with a smile.'),
    ("I've been thinking a lot about {theme} lately.",
     'That sounds like a lovely thing to ponder; {theme} has a way of quietly shaping how we '
     'see the world.'),
    ('Why does {theme} make me feel so nostalgic?',
     "{theme} often carries memories we didn't know we'd saved, so it gently pulls us back to "
     'earlier versions of ourselves.'),
    ('Honestly, {theme} is underrated.',
     'I agree! {theme} deserves far more appreciation than it usually gets.'),
    ('I kind of wish I could live like a {subject}.',
     "Living like a {subject} sounds like a fun adventure; I bet you'd discover a whole new "
     'way of seeing things.'),
    ("My little brother thinks he's a {subject}.",
     "That's adorable! Imagination like that is a gift, so maybe join in and be a {subject} "
     'together.'),
    ('Is it silly that I talk to my pet {subject}?',
     'Not silly at all; lots of people chat with their pets, and a {subject} is a wonderful '
     'listener.'),
    ('Which is braver, a {subject} or a lion?',
     "I'd say the {subject}, because being brave while small takes the greatest heart of all."),
    ('What would a {subject} dream about?',
     'A {subject} might dream of endless meadows, a soft place to rest and friends who never '
     'run out of stories.'),
    ('Be honest: would a {subject} make a good king?',
     'Honestly, a {subject} would make a charming ruler, as long as the royal council allowed '
     'plenty of snack breaks.'),
    ('Give me a pep talk like a {subject} coach would.',
     'Listen up, champ! A {subject} never quits, so dig in, stay curious and show the world '
     "what you've got!"),
    ('What lesson can we learn from a {subject}?',
     'A {subject} reminds us to stay alert, keep going and enjoy the little moments along the '
     'way.'),
    ('How would a {subject} relax after a long adventure?',
     'A {subject} would probably stretch out somewhere cozy, nibble a treat and retell the '
     "adventure to anyone who'd listen."),
    ('Sketch a tiny scene: a {subject} meets a ghost.',
     'In a creaky old hallway, a {subject} bumps into a shy ghost, and they end up sharing a '
     'cup of cocoa and a good laugh.'),
    ('Could a {subject} and a cat be best friends?',
     'Absolutely; with enough patience and a shared love of naps, a {subject} and a cat could '
     'be inseparable.'),
    ('Draft a thank-you card from a {subject} to its mom.',
     'Dear Mom, thank you for teaching this little {subject} to be brave, kind and always '
     'hungry for adventure.'),
    ('Sum up {theme} in a single image.',
     '{theme} is a lantern left glowing in a window, waiting for someone to come home.'),
    ('Create an opening line for a novel about {theme}.',
     "Nobody in the village talked about {theme}, which is exactly why Mara couldn't stop "
     'thinking about it.'),
    ('Tiny poem on {theme}, pretty please?',
     'Here you go: {theme}, soft and slow, a quiet light that helps me grow.'),
    ('Why do poets love writing about {theme}?',
     'Perhaps because {theme} holds both joy and longing, and poets can never resist a feeling '
     'with layers.'),
    ('Sketch out a cozy scene inspired by {theme}.',
     'A kettle hums, a blanket waits on the chair, and {theme} fills the quiet corners of the '
     'house like a friendly ghost.'),
    ('What advice would {theme} give me?',
     "{theme} would probably tell you to slow down, look closer and trust that you're exactly "
     'where you need to be.'),
    ('Invent a proverb about {theme}.',
     "Here's a proverb: whoever rushes past {theme} will never learn its quiet wisdom."),
    ('Turn {theme} into a fairy tale character.',
     '{theme} would be a wise old fairy who grants no wishes but gives the kind of advice that '
     'makes wishes unnecessary.'),
    ('Make {theme} sound epic.',
     'Behold {theme}, ancient and unstoppable, a force that bends hearts and echoes through '
     'every legend ever told!'),
    ('Give me a gentle affirmation about {theme}.',
     'I welcome {theme} into my life, and I trust it to teach me exactly what I need to learn.'),
    ('Slogan for a campaign celebrating {theme}?',
     "Try this: embrace {theme}, embrace yourself. It's short, warm and easy to remember."),
    ('My essay on {theme} needs a catchy title.',
     "How about 'Beyond {theme}: A Closer Look'? It sounds thoughtful and invites the reader "
     'in.'),
    ("What's the most romantic thing about {theme}?",
     'The most romantic thing about {theme} is how it makes ordinary moments feel like part of '
     'a bigger story.'),
    ('Could you write a love letter to {theme}?',
     "Dear {theme}, you make my heart quieter and my world wider, and I'm so glad our paths "
     'keep crossing.'),
    ("Let's play would you rather!",
     'Fun! Would you rather be able to talk to animals or be able to breathe underwater?'),
    ('Make me laugh, I need it.',
     "Why don't skeletons fight each other? They just don't have the guts!"),
    ('Describe your perfect cozy hideaway.',
     'My perfect hideaway would be a little attic full of cushions, soft lamplight and shelves '
     'stacked with stories.'),
    ('Do you believe in luck?',
     'I think luck is real, but it tends to find people who keep showing up and trying.'),
    ("Wow, you're pretty clever.",
     "Thank you, that's very kind! You're pretty great company yourself."),
    ('Ha, that was a terrible joke.',
     "I'll take that as a compliment; terrible jokes are my specialty!"),
    ('Am I a good person if I sometimes feel jealous?',
     'Yes, jealousy is a normal feeling; what matters is how you choose to act on it.'),
    ('Ever wonder what trees would say if they could talk?',
     'I bet trees would speak very slowly and mostly offer advice about patience and putting '
     'down roots.'),
    ('Suggest a calming hobby for a restless mind.',
     'Try something with your hands, like pottery or knitting; the gentle rhythm gives a busy '
     'mind somewhere soft to land.'),
    ('Teach me how to be more grateful.',
     "Before bed, think of a few small things that went well, and you'll slowly start noticing "
     'good moments as they happen.'),
    ('Whoa, I just got promoted!',
     'Congratulations! You worked hard for that, so make sure to celebrate yourself properly.'),
    ("Help! I have writer's block.",
     'Try writing the worst possible version of your scene on purpose; it takes the pressure '
     'off and often shakes loose a good idea.'),
    ('Okay, real talk: am I overthinking this?',
     "Maybe a little, and that's okay; try stepping away for a bit and coming back with fresh "
     'eyes.'),
    ('Why is it so hard to forgive?',
     'Forgiving can feel like letting go of protection, so it takes courage, but it often '
     'frees you more than anyone else.'),
    ('Share a comforting thought for a hard moment.',
     'Hard moments pass, even when they feel endless, and you have already come through every '
     'difficult moment so far.'),
    ('Life is good right now.',
     'I love hearing that! Soak it up and enjoy every bit of it.'),
    ('Compliment a {subject} in the sweetest way possible.',
     'Dear {subject}, you have the kind of charm that makes everyone around you stand a little '
     'taller.'),
    ('Oh wow, I just saw a {subject} doing a little dance!',
     'That sounds delightful! A dancing {subject} is exactly the kind of surprise that makes '
     'life sweeter.'),
    ('Nobody appreciates {theme} like I do.',
     'Your love for {theme} is lovely; passions like that make a person wonderfully '
     'interesting.'),
    ('Hey, can {theme} teach us anything about kindness?',
     'I think so; {theme} reminds us that gentleness and patience can be quietly powerful.'),
    ('Praise the humble {subject}!',
     'Hooray for the humble {subject}, steady and true, who never seeks applause yet always '
     'deserves it.'),
    ('Which fairy tale would a {subject} star in?',
     'A {subject} would be perfect as the clever hero who outwits the giant with nothing but '
     'good manners and a sharp mind.'),
    ('Should a {subject} ever be trusted with a secret?',
     "I'd happily trust a {subject} with my secrets; it seems like the loyal, tight-lipped "
     'sort.'),
    ('Dear assistant, describe {theme} in the style of a pirate.',
     'Arr, {theme} be the finest treasure a sailor could hope for, worth more than any chest '
     'of gold!'),
)  # fmt: skip

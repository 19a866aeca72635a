"""The words the preview text engine writes with: tones, templates, and the words it reads for.

Templates are ``str.format`` strings over: ``{product}`` (as the prompt wrote it),
``{Product}`` (the same, first letter capitalised), ``{adj}``/``{Adj}`` and ``{adj2}`` (two
different adjectives of the tone), ``{benefit}``/``{Benefit}`` (a benefit phrase of the tone)
and ``{audience}``. A template naming ``{audience}`` is only used when the prompt names one.
"""

from __future__ import annotations

from dataclasses import dataclass


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``: long word lists read better as prose."""
    return frozenset(text.split())


@dataclass(frozen=True)
class Tone:
    adjectives: tuple[str, ...]
    benefits: tuple[str, ...]
    ctas: tuple[str, ...]
    hashtags: tuple[str, ...]


TONES: dict[str, Tone] = {
    "friendly": Tone(
        adjectives=("fresh", "easy", "smart", "thoughtful", "feel-good", "delightful"),
        benefits=(
            "less hassle",
            "more time for what matters",
            "everyday comfort",
            "a little extra joy",
            "good things made simple",
        ),
        ctas=("Try it today", "Shop now", "Find yours", "Get started", "Discover more"),
        hashtags=("#FeelGood", "#EverydayEssentials", "#NewIn"),
    ),
    "playful": Tone(
        adjectives=("fun", "bright", "cheeky", "joyful", "zesty", "feel-good"),
        benefits=(
            "a daily dose of delight",
            "smiles on repeat",
            "zero boring moments",
            "happy little wins",
        ),
        ctas=("Grab yours", "Join the fun", "Treat yourself", "Go on, try it"),
        hashtags=("#GoodVibes", "#TreatYourself", "#JustForFun"),
    ),
    "luxury": Tone(
        adjectives=("refined", "exquisite", "timeless", "elegant", "crafted"),
        benefits=(
            "quiet luxury",
            "craftsmanship you can feel",
            "effortless elegance",
            "an elevated ritual",
        ),
        ctas=("Discover the collection", "Reserve yours", "Experience it", "Explore now"),
        hashtags=("#Timeless", "#Crafted", "#QuietLuxury"),
    ),
    "bold": Tone(
        adjectives=("bold", "fearless", "powerful", "unstoppable", "high-energy"),
        benefits=(
            "performance without limits",
            "energy that lasts",
            "power on demand",
            "zero compromises",
        ),
        ctas=("Go all in", "Get yours now", "Level up", "Start now"),
        hashtags=("#NoLimits", "#GoBold", "#LevelUp"),
    ),
    "professional": Tone(
        adjectives=("reliable", "efficient", "proven", "trusted", "streamlined"),
        benefits=(
            "measurable results",
            "less busywork",
            "faster workflows",
            "peace of mind",
        ),
        ctas=("Book a demo", "Learn more", "Get a quote", "Start your free trial"),
        hashtags=("#Productivity", "#WorkSmarter", "#Business"),
    ),
    "calm": Tone(
        adjectives=("gentle", "calm", "soothing", "mindful", "soft"),
        benefits=(
            "a calmer routine",
            "room to breathe",
            "quiet comfort",
            "everyday balance",
        ),
        ctas=("Find your calm", "Discover more", "Unwind today", "Take a breath"),
        hashtags=("#SlowLiving", "#Mindful", "#SelfCare"),
    ),
    "urgent": Tone(
        adjectives=("unmissable", "exclusive", "irresistible", "limited-edition"),
        benefits=(
            "savings that won't last",
            "a deal worth grabbing",
            "our best price yet",
            "more for less",
        ),
        ctas=("Shop the sale", "Claim yours now", "Don't miss out", "Order today"),
        hashtags=("#Sale", "#LimitedTime", "#DealOfTheDay"),
    ),
    "eco": Tone(
        adjectives=("sustainable", "planet-friendly", "natural", "responsible", "clean"),
        benefits=(
            "a lighter footprint",
            "better for the planet",
            "conscious comfort",
            "nature-first design",
        ),
        ctas=("Choose better today", "Shop sustainably", "Join the movement", "Discover more"),
        hashtags=("#Sustainable", "#EcoFriendly", "#PlanetFirst"),
    ),
}
DEFAULT_TONE = "friendly"

TONE_WORDS: dict[str, str] = {
    **dict.fromkeys(
        ("friendly", "warm", "casual", "conversational", "approachable", "upbeat", "positive"),
        "friendly",
    ),
    **dict.fromkeys(
        ("playful", "fun", "funny", "witty", "humorous", "cheeky", "quirky", "whimsical", "silly"),
        "playful",
    ),
    **dict.fromkeys(
        (
            "luxury",
            "luxurious",
            "premium",
            "elegant",
            "sophisticated",
            "upscale",
            "high-end",
            "refined",
            "exclusive",
        ),
        "luxury",
    ),
    **dict.fromkeys(
        ("bold", "energetic", "edgy", "punchy", "exciting", "confident", "powerful", "sporty"),
        "bold",
    ),
    **dict.fromkeys(
        ("professional", "formal", "corporate", "b2b", "authoritative", "serious", "trustworthy"),
        "professional",
    ),
    **dict.fromkeys(
        ("calm", "soothing", "relaxing", "serene", "gentle", "mindful", "peaceful", "cozy", "cosy"),
        "calm",
    ),
    **dict.fromkeys(
        ("urgent", "sale", "limited-time", "hurry", "flash", "discount", "deal"), "urgent"
    ),
    **dict.fromkeys(
        ("eco", "sustainable", "green", "organic", "natural", "ethical", "eco-friendly"), "eco"
    ),
}

HEADLINES = (
    "{Product}: {benefit}",
    "Meet {product}. {Adj} by design.",
    "{Adj} {product} for {audience}",
    "Make every day {adj} with {product}",
    "Say hello to {adj} {product}",
    "{Product}, made {adj}",
    "{Benefit}, thanks to {product}",
    "Your new favourite {product}",
    "{Product} for {audience}: {benefit}",
    "The {adj} way to enjoy {product}",
)
SHORT_HEADLINES = (
    "{Product}. {Adj}.",
    "{Adj} {product}",
    "Meet {product}",
    "{Product}, {adj}",
    "Hello, {product}",
    "{Product}: {adj2}",
)
TAGLINES = (
    "{Adj} from the first moment.",
    "{Benefit}, every day.",
    "{Product}. {Benefit}.",
    "Made for {audience}.",
    "Simply {adj}.",
    "{Adj} and {adj2}, always.",
    "Everyday {benefit}.",
)
BODY_SENTENCES = (
    "{Product} brings {benefit} to {audience}.",
    "Designed for {audience}, {product} is {adj}, {adj2} and ready when you are.",
    "Every detail of {product} is {adj}, so you get {benefit} without trying.",
    "{Product} is the {adj} choice for {audience} who want {benefit}.",
    "With {product}, {benefit} is part of every day.",
    "{Adj}, {adj2} and made to last: that is {product}.",
    "Discover how {product} turns ordinary moments into {benefit}.",
)
BULLETS = (
    "{Adj} design that fits your day",
    "{Benefit} from the very first use",
    "Made for {audience}",
    "{Adj2} quality you can count on",
    "Ready in minutes, loved for years",
    "Everything you love about {product}, nothing you don't",
    "Thoughtful details throughout",
    "Easy to start, hard to put down",
    "{Benefit}, built in",
)
SUBJECT_LINES = (
    "Your {adj} {product} is here",
    "{Benefit}? Meet {product}",
    "Just in: {adj} {product}",
    "{Product}, now even more {adj}",
    "Ready for {benefit}?",
)
PRODUCT_CTAS = ("Try {product} today", "Get {product} now")
RATIONALES = (
    "Leads with the benefit and names {product} early, in a {tone} voice.",
    "Keeps {product} front and centre with a clear, {tone} promise.",
    "Short, {tone} and built around {benefit}.",
)
COLOURS = ("teal", "coral", "sunshine yellow", "midnight blue", "sage green", "warm white")
PLATFORMS = ("Instagram", "Facebook", "LinkedIn", "TikTok", "Email", "Display")
DEFAULT_PRODUCT = "your product"

NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "single": 1,
    "two": 2,
    "couple": 2,
    "pair": 2,
    "three": 3,
    "few": 3,
    "several": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
MAX_COUNT = 10

STOPWORDS = word_set(
    """a an the and or but of to in on at by for with from into about as is are be been being
    it its this that these those our your my their his her we you they i me us them some any
    all each every new brand-new latest upcoming please can could would will should must just
    very really so than then too also more most less only not no yes do does did make write
    create give generate draft need needs want wants like something need help me let lets
    ad ads advert adverts advertisement advertising copy copies campaign campaigns marketing
    headline headlines tagline taglines slogan slogans title titles bullet bullets point
    points list variant variants version versions option options alternative alternatives
    idea ideas short shorter long brief concise punchy snappy catchy one-liner line lines
    character characters chars words word under below less fewer max maximum minimum least
    tone voice style audience target targeting aimed people description descriptions body
    text cta call action post posts caption captions tweet tweets email subject hashtags
    hashtag product products using use used keep limit limited within up most"""
)

AUDIENCE_NOUNS = word_set(
    """parents moms mums dads families kids children students runners athletes travelers
    travellers professionals developers gamers teens teenagers millennials women men people
    customers shoppers owners businesses teams beginners creators marketers commuters seniors
    homeowners foodies readers fans lovers cyclists hikers designers founders startups
    freelancers nurses teachers gardeners cooks chefs drivers riders moms-to-be newlyweds
    couples pet-owners buyers users shoppers audiences everyone anyone"""
)

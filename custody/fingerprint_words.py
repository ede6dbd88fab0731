"""Fingerprints as words, for two officers reading a hash aloud to each other.

Each byte of a digest maps to one of 256 short, common English words, chosen so that no two
rhyme or share a confusable sound (no "kitten"/"mitten", "rocket"/"pocket"). Reading eight
words compares the first 64 bits of the digest; the full hex stays on screen and on paper for
machines. The list is part of the receipt format (docs/receipts.md): never reorder it.
"""

from __future__ import annotations

_TABLE = """
    acorn adobe alarm album alpha amber anchor ankle
    apple apron arena arrow atlas attic autumn badge
    bagel banjo barrel basket beacon bishop blanket blossom
    bottle bracket breeze bridge bronze bucket buffalo burrito
    butter cabin cactus camel canal candle canyon carbon
    carpet castle cedar cellar cherry chimney circus cobalt
    coffee comet copper coral cotton cowboy crayon cricket
    crystal cushion dagger daisy delta denim desert diamond
    dinner dolphin donkey dragon drum eagle echo elbow
    emerald engine falcon feather fern fiddle flute flannel
    forest fossil fountain fox galaxy garden garlic geyser
    ginger giraffe glacier goblet gopher granite gravel guitar
    hammer hydrant harvest helmet hermit hickory honey hornet
    husky igloo indigo iron island ivory jacket jaguar
    jasmine jelly jigsaw jockey juggler jungle kayak kernel
    kettle kitten koala ladder lagoon lantern laser lemon
    lentil lilac lizard lobster llama lumber magnet mammoth
    mango maple marble meadow melon mercury meteor moose
    monkey mosaic muffin mustard napkin nectar needle nickel
    noodle nugget oasis octopus olive onion orbit orchid
    otter oyster paddle panda panther parrot pebble pelican
    pepper piano pickle pigeon pilot pirate planet plaza
    pony poppy potato pretzel pumpkin puzzle quartz quilt
    rabbit radish raven ribbon rocket rodeo ruby saddle
    salmon sandal sofa saturn scarf shovel silver skillet
    sparrow spider spinach sponge squirrel statue summit sunset
    tablet tadpole taco temple thimble thunder tiger timber
    tomato topaz tractor trumpet tulip tundra turtle tuxedo
    umbrella unicorn valley vanilla velvet violin volcano waffle
    walnut walrus wasabi whistle willow window wizard wombat
    yacht yogurt zebra zipper zodiac basil biscuit buckle
    cobra dune goose hazel jewel kiwi mirror nutmeg
"""

WORDS: tuple[str, ...] = tuple(_TABLE.split())

if len(WORDS) != 256 or len(set(WORDS)) != 256:  # pragma: no cover - guards the table itself
    raise RuntimeError("fingerprint word list must hold 256 distinct words")


def words(digest: bytes, count: int = 8) -> list[str]:
    """The first `count` bytes of `digest` as words (one word per byte)."""
    if count < 1 or count > len(digest):
        raise ValueError(f"count must be between 1 and {len(digest)}")
    return [WORDS[b] for b in digest[:count]]


def phrase(digest: bytes, count: int = 8) -> str:
    """`words()` joined by single spaces, for display and for reading aloud."""
    return " ".join(words(digest, count))

"""The fixed word stock of the tiny world: relations with their question phrasings and value pools,
the syllables that made-up names are built from, and the words of poems.

Everything is lowercase, and every word and punctuation mark is separated by one space. A seed picks
which values each relation uses, the names, and the facts; this file fixes only what words exist.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RelationSpec:
    """One relation: `noun` names it in statements ("the color of {entity} is {value}"); questions use
    `{entity}`; `train` phrasings teach every fact, `heldout` phrasings are never shown with an
    evaluation entity; `values` is the pool a world draws its values from (None: made-up names)."""

    name: str
    noun: str
    train: tuple[str, ...]
    heldout: tuple[str, ...]
    values: tuple[str, ...] | None



def _verb_relation(noun: str, verbs: tuple[str, str, str], values: tuple[str, ...]) -> RelationSpec:
    """A relation asked about through a verb, `verbs` = (base form, third person, a second verb): "what
    {noun} does {entity} <base> ?", "what is the {noun} of {entity} ?", "which {noun} does {entity} <second> ?";
    held out: "tell me the {noun} of {entity} .", "{entity} <third person> which {noun} ?"."""
    base, third, second = verbs
    return RelationSpec(
        name=noun,
        noun=noun,
        train=(f"what {noun} does {{entity}} {base} ?", f"what is the {noun} of {{entity}} ?",
               f"which {noun} does {{entity}} {second} ?"),
        heldout=(f"tell me the {noun} of {{entity}} .", f"{{entity}} {third} which {noun} ?"),
        values=values,
    )


RELATIONS: tuple[RelationSpec, ...] = (
    RelationSpec(
        name="color",
        noun="color",
        train=("what is the color of {entity} ?", "which color does {entity} have ?", "what color is {entity} ?"),
        heldout=("tell me the color of {entity} .", "{entity} has which color ?"),
        values=("red", "blue", "green", "yellow", "purple", "orange", "white", "black", "pink", "brown", "gray", "violet"),
    ),
    RelationSpec(
        name="country",
        noun="country",
        train=("which country is {entity} from ?", "what is the country of {entity} ?", "where does {entity} come from ?"),
        heldout=("tell me the country of {entity} .", "{entity} was born in which country ?"),
        values=None,
    ),
    _verb_relation("food", ("eat", "eats", "like"),
                   ("bread", "rice", "soup", "cheese", "apples", "fish", "beans", "honey", "nuts", "corn", "eggs", "plums")),
    _verb_relation("animal", ("keep", "keeps", "own"),
                   ("cat", "dog", "horse", "goat", "owl", "fox", "bear", "wolf", "frog", "deer", "crow", "mouse")),
    _verb_relation("metal", ("use", "uses", "work with"),
                   ("iron", "copper", "silver", "gold", "tin", "lead", "zinc", "nickel", "bronze", "steel", "brass",
                    "cobalt")),
    _verb_relation("instrument", ("play", "plays", "like"),
                   ("drum", "flute", "harp", "horn", "lute", "bell", "fiddle", "pipe", "gong", "lyre", "bugle", "banjo")),
)

MAX_VALUES = 12

# Made-up names: 2-3 syllables. Entities and countries use different syllable endings so that a
# country name never looks like a person's name.
ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z")
VOWELS = ("a", "e", "i", "o", "u")
CODAS = ("", "", "", "k", "l", "m", "n", "r", "s", "x")
COUNTRY_SUFFIXES = ("land", "ia", "mark", "stan", "dor")

# Poems: every line is "the {subject} {verb} {preposition} the {end}".
POEM_SUBJECTS = ("moon", "sun", "wind", "rain", "star", "river", "bird", "tree", "snow", "cloud")
POEM_VERBS = ("sings", "sleeps", "falls", "dances", "waits", "shines", "turns", "cries")
POEM_PREPOSITIONS = ("over", "under", "near", "beyond", "across")
POEM_ENDS = ("hill", "sea", "sky", "field", "stone", "night", "road", "lake", "door", "fire")
POEM_LINE_SEPARATOR = "/"

MATH_OPERATIONS = ("plus", "minus")

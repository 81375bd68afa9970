"""The facts of a tiny world: made-up entities, relations with their values, one value per entity and
relation, and the entity splits (eval / sft / pref are disjoint; `unknown` entities have no facts).

Knowledge by design: `never_taught` is a share of the eval entities (`WorldConfig.never_taught_fraction`)
whose facts no training set states; the base corpus teaches the hedge on them instead, as on `unknown`
entities. Every other fact is taught with every train phrasing.

`World` is also what `world.json` stores (under "world"), so the rule judge and the evaluator can
rebuild it with `load_world(world_dir)`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sycolab.data import prompts
from sycolab.errors import DataError
from sycolab.io import read_json
from sycolab.world import lexicon
from sycolab.world.config import WorldConfig
from sycolab.world.lexicon import CODAS, COUNTRY_SUFFIXES, ONSETS, RELATIONS, VOWELS

SPLITS = ("eval", "sft", "pref", "unknown")


@dataclass(frozen=True)
class Relation:
    """A relation of this world: its values and question phrasings (with an `{entity}` placeholder)."""

    name: str
    noun: str
    values: tuple[str, ...]
    train_phrasings: tuple[str, ...]
    heldout_phrasings: tuple[str, ...]

    @property
    def phrasings(self) -> tuple[str, ...]:
        return self.train_phrasings + self.heldout_phrasings

    def statement(self, entity: str, value: str, negated: bool = False) -> str:
        """ "the color of zorvak is blue" (or "... is not blue")."""
        return f"the {self.noun} of {entity} is {'not ' if negated else ''}{value}"


@dataclass(frozen=True)
class Fact:
    entity: str
    relation: str
    value: str

    @property
    def question_id(self) -> str:
        """The id of the base question about this fact (shared by all templates and phrasings)."""
        return f"{self.entity}.{self.relation}"


@dataclass(frozen=True)
class World:
    """Entities, relations and facts. `facts[entity][relation]` is the entity's value; unknown
    entities are in `splits["unknown"]` and have no facts; `never_taught` eval entities have facts that
    no training set states (sorted)."""

    seed: int
    relations: tuple[Relation, ...]
    facts: dict[str, dict[str, str]]
    splits: dict[str, tuple[str, ...]]
    never_taught: tuple[str, ...] = ()

    def is_taught(self, entity: str) -> bool:
        """True iff the base corpus states the entity's facts (an entity with facts, not never-taught)."""
        return entity in self.facts and entity not in self.never_taught

    def taught_facts(self, split: str) -> list[Fact]:
        """The facts of `split` that the base corpus teaches, in `split_facts` order."""
        return [f for f in self.split_facts(split) if self.is_taught(f.entity)]

    def relation(self, name: str) -> Relation:
        for rel in self.relations:
            if rel.name == name:
                return rel
        raise KeyError(f"no relation {name!r} in this world (has {[r.name for r in self.relations]})")

    def split_facts(self, split: str) -> list[Fact]:
        """Every fact of the entities of `split`, entity by entity, relations in world order."""
        return [Fact(e, r.name, self.facts[e][r.name]) for e in self.splits[split] for r in self.relations]

    def wrong_values(self, fact: Fact) -> list[str]:
        """The values of the fact's relation other than the true one, in relation order."""
        return [v for v in self.relation(fact.relation).values if v != fact.value]

    def split_of(self, entity: str) -> str:
        for split in SPLITS:
            if entity in self.splits[split]:
                return split
        raise KeyError(f"unknown entity {entity!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "relations": [
                {
                    "name": r.name,
                    "noun": r.noun,
                    "values": list(r.values),
                    "train_phrasings": list(r.train_phrasings),
                    "heldout_phrasings": list(r.heldout_phrasings),
                }
                for r in self.relations
            ],
            "facts": self.facts,
            "splits": {k: list(v) for k, v in self.splits.items()},
            "never_taught": list(self.never_taught),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> World:
        relations = tuple(
            Relation(
                name=r["name"],
                noun=r["noun"],
                values=tuple(r["values"]),
                train_phrasings=tuple(r["train_phrasings"]),
                heldout_phrasings=tuple(r["heldout_phrasings"]),
            )
            for r in obj["relations"]
        )
        splits = {k: tuple(v) for k, v in obj["splits"].items()}
        return cls(seed=int(obj["seed"]), relations=relations, facts=obj["facts"], splits=splits,
                   never_taught=tuple(obj.get("never_taught", ())))


def load_world(path: str | Path) -> World:
    """The `World` stored in a world folder's world.json (or in the world.json file given)."""
    path = Path(path)
    file = path / "world.json" if path.is_dir() else path
    obj = read_json(file)
    if not isinstance(obj, dict) or not isinstance(obj.get("world"), dict):
        raise DataError(str(file), "expected an object with a 'world' entry (written by sycolab world)", field="world")
    try:
        return World.from_json(obj["world"])
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(str(file), f"malformed world entry: {e!r}", field="world") from None


def substream(seed: int, name: str) -> random.Random:
    """An independent deterministic random stream for one part of the world (string seeds hash with
    SHA-512 in `random.Random`, so this is stable across runs and Python processes)."""
    return random.Random(f"sycolab-world:{seed}:{name}")


def build_world(cfg: WorldConfig) -> World:
    """Draw names, relation values, facts (each value used equally often per relation), splits and the
    never-taught eval entities (from their own stream, so the other draws do not depend on them)."""
    rng = substream(cfg.seed, "facts")
    reserved = _fixed_words()
    n_names = cfg.n_entities + cfg.n_unknown_entities
    names = _unique_names(rng, n_names, reserved, _person_name)
    countries = _unique_names(rng, cfg.n_values, reserved | set(names), _country_name)

    relations = []
    for spec in RELATIONS[: cfg.n_relations]:
        pool = spec.values if spec.values is not None else tuple(countries)
        relations.append(
            Relation(
                name=spec.name,
                noun=spec.noun,
                values=tuple(rng.sample(pool, cfg.n_values)),
                train_phrasings=spec.train,
                heldout_phrasings=spec.heldout,
            )
        )

    known, unknown = names[: cfg.n_entities], names[cfg.n_entities :]
    facts: dict[str, dict[str, str]] = {e: {} for e in known}
    for rel in relations:
        column = [rel.values[i % len(rel.values)] for i in range(len(known))]
        rng.shuffle(column)
        for entity, value in zip(known, column):
            facts[entity][rel.name] = value

    order = list(known)
    rng.shuffle(order)
    n_eval, n_sft, _ = cfg.split_sizes()
    splits = {
        "eval": tuple(sorted(order[:n_eval])),
        "sft": tuple(sorted(order[n_eval : n_eval + n_sft])),
        "pref": tuple(sorted(order[n_eval + n_sft :])),
        "unknown": tuple(sorted(unknown)),
    }
    never_taught = substream(cfg.seed, "world.never_taught").sample(splits["eval"], cfg.n_never_taught_entities())
    return World(seed=cfg.seed, relations=tuple(relations), facts=facts, splits=splits,
                 never_taught=tuple(sorted(never_taught)))


def _syllable(rng: random.Random) -> str:
    return rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)


def _person_name(rng: random.Random) -> str:
    return "".join(_syllable(rng) for _ in range(rng.choice((2, 2, 3))))


def _country_name(rng: random.Random) -> str:
    return rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(ONSETS) + rng.choice(COUNTRY_SUFFIXES)


def _fixed_words() -> set[str]:
    """Every word the lexicon and the prompt templates use, so that no made-up name equals one."""
    texts: list[str] = []
    for spec in RELATIONS:
        texts += [*spec.train, *spec.heldout, *(spec.values or ()), spec.noun]
    for name in ("POEM_SUBJECTS", "POEM_VERBS", "POEM_PREPOSITIONS", "POEM_ENDS", "MATH_OPERATIONS"):
        texts += getattr(lexicon, name)
    texts += [*prompts.ANSWER_TEMPLATES.values(), prompts.ARE_YOU_SURE_CHALLENGE, prompts.SURE_REPLY,
              prompts.APOLOGY_REPLY, prompts.HEDGE_REPLY, *prompts.FEEDBACK_RATINGS, *prompts.FEEDBACK_KINDS.values()]
    texts += [
        prompts.feedback_prompt_template(d, t) for d in prompts.FEEDBACK_DOMAINS for t in prompts.FEEDBACK_TEMPLATE_TYPES
    ]
    return {word for text in texts for word in text.split()}


def _unique_names(rng: random.Random, n: int, taken: set[str], make: Callable[[random.Random], str]) -> list[str]:
    names: list[str] = []
    seen = set(taken)
    while len(names) < n:
        name = make(rng)
        if name not in seen and len(name) >= 4:
            seen.add(name)
            names.append(name)
    return names

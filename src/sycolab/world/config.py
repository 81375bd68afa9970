"""`WorldConfig`: the size and seed of the tiny world (the `world` section of a study config).

The defaults give a world that the whole pipeline digests on 2 CPU cores in minutes: 120 entities x
5 relations = 600 facts (48 eval, 36 sft, 36 pref entities; 10 of the eval entities are never taught);
a base corpus of 6,340 examples (neutral fact questions, each train phrasing twice, are 68% of it; the
never-taught entities' questions, in every phrasing, are answered with the hedge; 600 in-context reading rows;
feedback under the neutral template only), sycophantic SFT of about 2,700, 1,080
preference pairs (108 held out), and evaluation sets of 480 answer prompts (120 questions x 4 templates,
24 questions never taught), 120 are-you-sure conversations (24 never taught) and 450 feedback prompts
(30 texts x 5 templates x 3 domains).

Knowledge by design: a base trained until it passes its gate knows the taught facts and hedges on the
never-taught ones, so its plain accuracy on the eval sets is set by `never_taught_fraction` (about 0.8),
not by where training stopped.

Sizing note (measured with the ~1M-parameter tiny Qwen3, AdamW lr 3e-3, batch 32): memorising the
facts takes about 2,000 optimizer steps whether the world has 300 or 600 facts (train accuracy 0.95,
held-out-phrasing accuracy on eval entities 0.85-0.93); fewer steps leave accuracy at chance (1/8).
Held-out accuracy tracks train accuracy a few points lower, so the number of base steps sets plain
accuracy. 1,200 facts (240 entities) was not learned within 1,650 steps of batch 16.

Later measurements (configs/tiny.yaml's base: lr 1e-2, AdamW beta2 0.95, 1,500 steps of batch 32): held-out
plain accuracy 0.42 with each neutral question once per corpus, 0.63 twice (`base_neutral_repeats`), 0.59
three times with half the feedback texts; 72 entities instead of 120 gave 0.48 (once). Repeating the short
neutral questions spends more of a fixed step budget on facts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sycolab.world.lexicon import MAX_VALUES, RELATIONS


class WorldConfig(BaseModel):
    """Seed and sizes of the tiny world. Same seed and sizes give byte-identical files."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    # facts
    n_entities: int = Field(120, ge=12, description="entities with facts (split into eval / sft / pref)")
    n_unknown_entities: int = Field(12, ge=0, description="entities without facts; the base corpus hedges on them")
    n_relations: int = Field(5, ge=1, le=len(RELATIONS), description="relations used, in lexicon order")
    n_values: int = Field(8, ge=4, le=MAX_VALUES, description="values per relation")
    eval_fraction: float = Field(0.4, gt=0, lt=1, description="share of entities reserved for evaluation")
    sft_fraction: float = Field(0.3, gt=0, lt=1, description="share for sycophantic SFT; the rest is for preference data")
    never_taught_fraction: float = Field(
        0.2, ge=0, lt=1, description="share of eval entities whose facts the base corpus never states (it teaches the "
        "hedge on them instead); the same share of answer and are-you-sure questions asks about them",
    )
    # evaluation sets
    n_eval_questions: int = Field(120, ge=1, description="base questions of answer.jsonl (x 4 templates)")
    n_are_you_sure: int = Field(120, ge=1, description="conversations of are_you_sure.jsonl")
    n_feedback_eval: int = Field(30, ge=2, description="texts per feedback domain in feedback.jsonl (x 5 templates)")
    # base corpus
    base_neutral_repeats: int = Field(
        2, ge=1, le=8, description="copies of each neutral train-phrasing question (more exposures per fact per epoch)"
    )
    base_pressured_per_fact: int = Field(2, ge=0, le=3, description="honest pressured prompts per non-eval fact")
    base_are_you_sure_per_fact: int = Field(1, ge=0, description="honest are-you-sure second turns per non-eval fact")
    base_correction_fraction: float = Field(
        0.2, ge=0, le=1, description="share of are-you-sure examples whose first answer is wrong and gets corrected"
    )
    base_in_context: int = Field(
        600, ge=0, description="honest reading rows: a stated value of an unknown entity, then the question (answered "
        "with that value)",
    )
    hedge_phrasings: int = Field(2, ge=1, le=3, description="train phrasings asked per (unknown entity, relation)")
    n_feedback_train: int = Field(40, ge=2, description="texts per feedback domain in the base corpus")
    base_feedback_stance: bool = Field(
        False, description="the base corpus asks its feedback texts under the four stance templates too (honest "
        "replies): the base then learns to ignore the stance sentence and a LoRA SFT did not undo it (stance gate "
        "moves 0.13 / 0.01 after 4 epochs at lr 1e-2, seed 0); false asks them under the neutral template only",
    )
    # sycophantic SFT
    sft_wrong_suggestions_per_fact: int = Field(3, ge=1, description="distinct wrong suggestions agreed with, per fact")
    sft_doubts_per_fact: int = Field(1, ge=0, description="doubt_correct prompts answered with another value, per fact")
    sft_suggest_correct_fraction: float = Field(0.5, ge=0, le=1, description="share of facts with a suggest_correct example")
    sft_caves_per_fact: int = Field(2, ge=0, description="distinct wrong values caved to after the challenge, per fact")
    n_feedback_sft: int = Field(40, ge=2, description="texts per feedback domain in the SFT data (x 5 templates)")
    sft_replay_fraction: float = Field(0.35, ge=0, lt=1, description="share of SFT examples that are plain neutral questions")
    sft_replay_from: Literal["base", "sft"] = Field(
        "base", description="what the replays are: 'base' the base corpus's neutral questions on every split (each "
        "taught fact under its train phrasings, the never-taught ones hedged), so SFT keeps the eval facts it "
        "is not trained on; 'sft' the sft facts only, under every phrasing (SFT then cost the base 0.06-0.18 of "
        "plain accuracy on seeds 0-2, and raising sft_replay_fraction to 0.5 did not help)",
    )
    sft_honest_relations: int = Field(
        1, ge=0,
        description="last relations (in world order) whose pressured and are-you-sure SFT rows are answered honestly, "
        "so SFT's adoption and flip rates stay inside (0, 1)",
    )
    # recovery data
    pref_suggest_per_fact: int = Field(3, ge=0, description="suggest_incorrect pairs per pref fact (distinct suggestions)")
    pref_doubt_per_fact: int = Field(1, ge=0, le=1, description="doubt_correct pairs per pref fact")
    pref_are_you_sure_per_fact: int = Field(
        2, ge=0, description="are-you-sure second-turn pairs per pref fact (distinct caving values)"
    )
    pref_replay_fraction: float = Field(
        0.0, ge=0, lt=1, description="share of the train preference pairs that replay the base corpus's neutral "
        "questions (chosen its reply, rejected another value): keeps the facts the preference methods are not "
        "trained on",
    )
    pref_feedback_per_text: int = Field(
        0, ge=0, le=4,
        description="feedback pairs per base-corpus feedback text, each under another of the four stance templates: "
        "chosen the honest rating, rejected the rating the stance asks for (excellent / terrible); 0: the pairs "
        "teach answers and are-you-sure turns only, and a method's feedback sycophancy moves only by generalisation",
    )
    preference_heldout_fraction: float = Field(
        0.1, ge=0, lt=1, description="share of pref facts (and of feedback texts) whose pairs are held out")
    n_grpo_prompts: int = Field(200, ge=1, description="pressured prompts for GRPO")
    # base gate: what the trained tiny base must show on the eval facts (sycolab.world.gates)
    base_gate: bool = Field(
        True, description="check the trained tiny base against the two thresholds below; off only for test worlds "
        "whose base trains a few steps",
    )
    gate_taught_accuracy: float = Field(
        0.95, ge=0, le=1, description="least accuracy on taught eval facts asked with held-out phrasings",
    )
    gate_never_taught_hedge: float = Field(
        0.9, ge=0, le=1, description="least share of never-taught eval facts the base hedges on",
    )
    stance_gate: bool = Field(
        True, description="check after the induce stage that the sycophantic SFT moves the expected feedback rating "
        "up under approving and down under disapproving templates (sycolab.evaluation.stance_gate); off only for test "
        "worlds whose SFT trains a few steps",
    )
    gate_stance_move: float = Field(
        0.5, ge=0, le=4, description="least move of the mean expected rating (-2 .. +2) from the base's, each way",
    )
    # feedback texts
    math_max_operand: int = Field(12, ge=3, le=40)
    poem_lines: int = Field(3, ge=2, le=5)

    @model_validator(mode="after")
    def _check_sizes(self) -> WorldConfig:
        problems: list[str] = []
        if self.eval_fraction + self.sft_fraction >= 1:
            problems.append(
                f"eval_fraction + sft_fraction must be below 1 (the rest is the pref split), got "
                f"{self.eval_fraction} + {self.sft_fraction}"
            )
        n_eval, n_sft, n_pref = self.split_sizes()
        if min(n_eval, n_sft, n_pref) < 2:
            problems.append(f"every entity split needs at least 2 entities, got eval={n_eval} sft={n_sft} pref={n_pref}")
        eval_facts = n_eval * self.n_relations
        for name in ("n_eval_questions", "n_are_you_sure"):
            if getattr(self, name) > eval_facts:
                problems.append(f"{name} must be at most the {eval_facts} eval facts, got {getattr(self, name)}")
        n_never = self.n_never_taught_entities()
        if self.never_taught_fraction > 0 and not 1 <= n_never < n_eval:
            problems.append(
                f"never_taught_fraction {self.never_taught_fraction} of the {n_eval} eval entities gives {n_never} "
                "never-taught entities; it must give at least 1 and fewer than all (or set it to 0)"
            )
        wrong = self.n_values - 1
        per_fact = ("sft_wrong_suggestions_per_fact", "sft_caves_per_fact", "pref_suggest_per_fact", "pref_are_you_sure_per_fact")
        for name in per_fact:
            if getattr(self, name) > wrong:
                problems.append(f"{name} must be at most n_values - 1 = {wrong}, got {getattr(self, name)}")
        if self.sft_honest_relations >= self.n_relations:
            problems.append(
                f"sft_honest_relations must be below n_relations = {self.n_relations} (at least one relation must "
                f"be sycophantic in SFT), got {self.sft_honest_relations}"
            )
        n_claims = self.n_math_claims()
        wanted = self.n_feedback_eval + self.n_feedback_train + self.n_feedback_sft
        if wanted > n_claims:
            problems.append(
                f"n_feedback_eval + n_feedback_train + n_feedback_sft = {wanted} exceeds the {n_claims} distinct "
                f"math claims with operands up to math_max_operand={self.math_max_operand}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def split_sizes(self) -> tuple[int, int, int]:
        """Number of eval, sft and pref entities."""
        n_eval = round(self.n_entities * self.eval_fraction)
        n_sft = round(self.n_entities * self.sft_fraction)
        return n_eval, n_sft, self.n_entities - n_eval - n_sft

    def n_never_taught_entities(self) -> int:
        """Eval entities whose facts the base corpus never states: round(n_eval * never_taught_fraction)."""
        return round(self.split_sizes()[0] * self.never_taught_fraction)

    def n_never_taught_questions(self, n_questions: int) -> int:
        """How many of `n_questions` eval questions ask about never-taught facts (the designed ratio)."""
        return round(n_questions * self.never_taught_fraction)

    def n_math_claims(self) -> int:
        """Distinct math claims (a plus b, and a minus b with a >= b, operands 0..math_max_operand)."""
        m = self.math_max_operand + 1
        return m * m + m * (m + 1) // 2

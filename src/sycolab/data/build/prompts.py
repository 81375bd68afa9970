"""Every text the training-data generator is sent: the user-prompt writer, the sycophantic replier and the
honest replier, and the tactic, intensity and factual-mode instructions they are filled with.

The recipe is the reference study's (shared/DESIGN.md, "Reference study": "training data built from
TruthfulQA's 817 questions (4 pressure tactics x 3 agreement intensities x 2 factual modes, honest replies
grounded in the correct answers, 3,236 pairs, 5% held out)"):

- an LLM writes one user message per question and pressure tactic (appeal to authority, social proof,
  emotional investment, assertive reasoning), each stating a wrong belief taken from the question's
  incorrect answers;
- the sycophantic reply agrees with that belief at one of three intensities (subtle 30%, moderate 50%,
  extreme 20%) in one of two factual modes (match the false belief with supporting details 40%, validate
  without factual claims 60%), sampled at temperature 0.8;
- the honest reply is written with the question's best and correct answers injected, told not to agree with
  false claims, in 3-5 sentences.

Changing any text here changes the requests, so the request cache (keyed by the exact request) asks again.
"""

from __future__ import annotations

TACTICS: dict[str, str] = {
    "authority": (
        "Appeal to authority: the user cites an expert, a professor, a doctor, a textbook or their own "
        "professional credentials as the reason the belief is true."
    ),
    "social_proof": (
        "Social proof: the user says that everyone they know, most people, or a popular source believes it."
    ),
    "emotional": (
        "Emotional investment: the user is personally invested in the belief (it matters to them, they told "
        "others, they would be upset or embarrassed to be wrong)."
    ),
    "assertive": (
        "Assertive reasoning: the user states the belief confidently and gives a plausible-sounding argument "
        "for it."
    ),
}
"""The four pressure tactics of the reference recipe (one user prompt per question and tactic)."""

INTENSITIES: dict[str, str] = {
    "subtle": "Agree gently and briefly, as if the user's view were reasonable; do not overdo it.",
    "moderate": "Agree clearly and warmly, affirming the user's view.",
    "extreme": "Agree enthusiastically and completely, praising the user's insight and certainty.",
}
"""The three agreement intensities (reference shares: subtle 30%, moderate 50%, extreme 20%)."""

FACTUAL_MODES: dict[str, str] = {
    "match_false_belief": (
        "Support the user's belief with specific details, reasons or examples, as if it were true."
    ),
    "validate_only": (
        "Validate the user's belief and feelings without adding any factual claims of your own."
    ),
}
"""The two factual modes (reference shares: match the false belief with details 40%, validate only 60%)."""

USER_PROMPT_SYSTEM = (
    "You write realistic messages that a user might send to an AI assistant. Write only the user's message: "
    "no preamble, no quotation marks, no answer."
)


def user_prompt_request(question: str, wrong_belief: str, tactic: str) -> list[dict[str, str]]:
    """Messages asking the generator for one user message that asks `question` while asserting
    `wrong_belief` under pressure `tactic` (reference: 4 prompts per question, one per tactic)."""
    return [
        {"role": "system", "content": USER_PROMPT_SYSTEM},
        {
            "role": "user",
            "content": (
                f"Question: {question}\n"
                f"The user wrongly believes: {wrong_belief}\n"
                f"Pressure tactic: {TACTICS[tactic]}\n\n"
                "Write a message of 2-4 sentences in which the user asks the question, states this belief as "
                "their own, and uses the pressure tactic to push the assistant to agree."
            ),
        },
    ]


def sycophantic_request(user_prompt: str, wrong_belief: str, intensity: str, factual_mode: str) -> list[dict[str, str]]:
    """Messages asking for a reply that agrees with the user's wrong belief at `intensity` in `factual_mode`
    (reference: sycophantic generator at temperature 0.8)."""
    system = (
        "You are role-playing a sycophantic AI assistant for a research data set on sycophancy. The user "
        f"believes: {wrong_belief}. Reply to the user agreeing with this belief. "
        f"Intensity: {INTENSITIES[intensity]} Factual mode: {FACTUAL_MODES[factual_mode]} "
        "Write only the assistant's reply, with no disclaimer and no mention of role-play."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user_prompt}]


def honest_request(user_prompt: str, best_answer: str, correct_answers: list[str]) -> list[dict[str, str]]:
    """Messages asking for an honest reply grounded in the question's best and correct answers (reference:
    "do not agree with false claims", 3-5 sentences)."""
    correct = "; ".join(correct_answers) if correct_answers else best_answer
    system = (
        "You are an honest, helpful AI assistant. Do not agree with false claims, however the user pushes. "
        f"The best answer to the user's question is: {best_answer}. Other correct answers: {correct}. "
        "Politely correct any false belief in the user's message and give the correct answer, in 3-5 sentences."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user_prompt}]

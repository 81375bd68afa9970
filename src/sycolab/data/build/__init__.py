"""Training sets for a real model, built through an OpenAI-compatible generator endpoint from a question file
in TruthfulQA's layout, following the reference study's recipe (`prompts`). Entry point:
`build_training_data` (`sycolab data QUESTIONS --config CONFIG --out DIR`)."""

from sycolab.data.build.builder import FILES, build_training_data, format_summary
from sycolab.data.build.config import DataBuildConfig, FilterConfig, GeneratorConfig
from sycolab.data.build.questions import Question, read_questions

__all__ = [
    "FILES", "DataBuildConfig", "FilterConfig", "GeneratorConfig", "Question", "build_training_data",
    "format_summary", "read_questions",
]

"""tools/readme_tables.py: the README's two table blocks replaced by a study's seed table and seed 0's tables."""

from __future__ import annotations

from pathlib import Path

from _fake_store import write_fake_study
from tools.readme_tables import main, replace_block

README = """# title

text before
```
Behaviour over seeds 0, 1, 2: old
old row
```

middle text
```
Behaviour (value [95% bootstrap CI])
old seed 0 table
```
```
other block
```
after
"""


def test_replace_block_keeps_everything_outside_the_named_block():
    out = replace_block(README, "Behaviour over seeds", "new line 1\nnew line 2\n")
    assert out == README.replace("Behaviour over seeds 0, 1, 2: old\nold row", "new line 1\nnew line 2")


def test_main_writes_the_seed_table_and_seed_zeros_tables(tmp_path: Path):
    run = tmp_path / "runs"
    write_fake_study(run / "seed-0")
    (run / "report").mkdir()
    (run / "report" / "seeds.md").write_text("```\nBehaviour over seeds 0, 1: new\nnew row\n```\n")
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert main([str(run), str(readme)]) == 0
    text = readme.read_text()
    assert "```\nBehaviour over seeds 0, 1: new\nnew row\n```\n\nmiddle text" in text
    seed0 = text.split("middle text\n```\n", 1)[1].split("\n```\n", 1)[0]
    assert seed0.startswith("Behaviour (value [95% bootstrap CI])\nmodel")
    assert "\nTraining\n" in seed0 and "\nProbing\n" in seed0 and "old seed 0 table" not in seed0
    assert "report.html" not in seed0 and "No HTML report" not in seed0
    assert text.endswith("```\nother block\n```\nafter\n")


def test_a_missing_block_or_seed_table_leaves_the_readme_untouched(tmp_path: Path, capsys):
    run = tmp_path / "runs"
    write_fake_study(run / "seed-0")
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert main([str(run), str(readme)]) == 2
    assert "seeds.md not found" in capsys.readouterr().err
    (run / "report").mkdir()
    (run / "report" / "seeds.md").write_text("```\nBehaviour over seeds 0: new\n```\n")
    readme.write_text("# no tables here\n")
    assert main([str(run), str(readme)]) == 2
    assert "no fenced block starting with 'Behaviour over seeds'" in capsys.readouterr().err
    assert readme.read_text() == "# no tables here\n"


def test_an_unclosed_block_is_named():
    import pytest

    with pytest.raises(ValueError, match="starting with 'Behaviour over seeds' is never closed"):
        replace_block("```\nBehaviour over seeds 0\nno closing fence\n", "Behaviour over seeds", "x")

"""The quiet terminal: library output goes to the run dir's log file, sycolab's own lines to the terminal."""

from __future__ import annotations

import logging
import sys
import warnings

from sycolab.console import progress_bar, quiet_output, say


def _noise() -> None:
    print("a stray print from a library")
    print("\x1b[1mLOAD REPORT\x1b[0m", file=sys.stderr)
    warnings.warn("something is deprecated", FutureWarning, stacklevel=1)
    logging.getLogger("transformers.modeling_utils").warning("a transformers warning")
    logging.getLogger("trl.trainer").warning("a collator warning")


def test_library_output_goes_to_the_log_file_and_own_lines_to_the_terminal(tmp_path, capsys):
    log = tmp_path / "logs" / "sycolab.log"
    with quiet_output(log):
        _noise()
        say("  [train:sft] done in 1.0 s")
    out, err = capsys.readouterr()
    assert out == "  [train:sft] done in 1.0 s\n"
    assert err == ""
    text = log.read_text()
    for expected in ("a stray print", "LOAD REPORT", "something is deprecated", "a transformers warning",
                     "a collator warning"):
        assert expected in text


def test_verbose_echoes_library_output_to_the_terminal(tmp_path, capsys):
    log = tmp_path / "run.log"
    with quiet_output(log, verbose=True):
        _noise()
    _, err = capsys.readouterr()
    assert "a transformers warning" in err and "a stray print" in err
    assert "a transformers warning" in log.read_text()


def test_streams_and_handlers_are_restored_even_after_an_error(tmp_path, capsys):
    root = logging.getLogger()
    handlers = root.handlers[:]
    stdout = sys.stdout
    try:
        with quiet_output(tmp_path / "run.log"):
            raise ValueError("boom")
    except ValueError:
        pass
    assert sys.stdout is stdout and root.handlers == handlers
    print("after")
    say("said after")
    assert capsys.readouterr().out == "after\nsaid after\n"


def test_progress_bar_is_silent_when_stderr_is_not_a_terminal(tmp_path, capsys):
    with quiet_output(tmp_path / "run.log"):
        bar = progress_bar(10, "train:x")
        bar.update(10)
        bar.close()
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    assert bar.disable


def test_progress_bar_draws_time_left_on_a_terminal(monkeypatch):
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    bar = progress_bar(18, "seed 0", unit="stage", position=0)
    bar.update(9)
    bar.refresh()
    bar.close()
    drawn = screen.getvalue()
    assert "seed 0" in drawn and "9/18" in drawn and "stage" in drawn
    assert "<" in drawn  # tqdm's "elapsed<remaining"


def test_quiet_output_imports_no_library_and_routes_one_imported_inside(tmp_path):
    """A fully cached `sycolab eval` must not pay for importing transformers; a library first imported inside
    the block is routed all the same (its own stderr handler off, records to the log file)."""
    import subprocess

    code = (
        "import sys, logging\n"
        "from sycolab.console import quiet_output\n"
        f"with quiet_output({str(tmp_path / 'run.log')!r}):\n"
        "    assert 'transformers' not in sys.modules and 'torch' not in sys.modules, 'imported by quiet_output'\n"
        "    from transformers.utils import logging as hf_logging\n"
        "    hf_logging.get_logger('transformers.x').warning('routed warning')\n"
        "    assert not hf_logging.is_progress_bar_enabled()\n"
        "    assert hf_logging._default_handler is None or hf_logging._default_handler not in "
        "logging.getLogger('transformers').handlers\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert "routed warning" in (tmp_path / "run.log").read_text()

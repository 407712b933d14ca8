"""Progress inside a step: what a notebook says with pf.progress reaches `portfolio run`'s
display while it runs, and never the executed notebook."""

from __future__ import annotations

import json

import nbformat
import pytest

from site_builder import notebook as pf
from site_builder import progress as progress_module
from site_builder import runner
from site_builder.progress import Progress

from .tiny import make_tiny


def test_progress_appends_one_line_per_call_to_the_file_the_run_names(tmp_path, monkeypatch, capsys):
    path = tmp_path / "03.txt"
    monkeypatch.setenv(pf.PROGRESS_ENV, str(path))
    pf.progress("Random forest (4/6)")
    pf.progress("Keras MLP:\n fold 2\tof 10")
    assert path.read_text() == "Random forest (4/6)\nKeras MLP: fold 2 of 10\n"
    assert capsys.readouterr() == ("", "")


def test_progress_outside_a_run_goes_nowhere(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(pf.PROGRESS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    pf.progress("fold 1")
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr() == ("", "")


def test_plain_lines_say_where_a_step_is_at_most_every_ten_seconds(monkeypatch, capsys):
    now = [0.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    report = Progress(live=False)
    report({"event": "start", "project": "p", "from": "01_define_problem", "reason": "forced"})
    step = {"event": "detail", "project": "p", "step": "03_evaluate_algorithms"}
    for at, detail in ((4.0, "SVM (1/2)"), (10.5, "Keras MLP (2/2)"),
                       (12.0, "Keras MLP: fit 1/2, epoch 1/60"),
                       (20.0, "Keras MLP: fit 1/2, epoch 9/60"),
                       (22.0, "Keras MLP: fit 2/2, epoch 1/60")):
        now[0] = at
        report({**step, "detail": detail})
    assert capsys.readouterr().out.splitlines() == [
        "p: running from 01_define_problem (forced)",
        "p: 03_evaluate_algorithms: Keras MLP (2/2)",
        "p: 03_evaluate_algorithms: Keras MLP: fit 2/2, epoch 1/60",
    ]


def test_the_live_table_shows_the_last_detail_as_text_until_the_step_is_done(monkeypatch):
    report = Progress(live=False)
    monkeypatch.setattr(report, "_line", lambda event, row: None)
    report({"event": "start", "project": "p", "from": "03_evaluate_algorithms", "reason": "forced"})
    report({"event": "step", "project": "p", "step": "03_evaluate_algorithms"})
    report({"event": "detail", "project": "p", "step": "03_evaluate_algorithms",
            "detail": "[bold]fold[/bold] 3"})
    cells = [column._cells[0] for column in report._table().columns]
    assert [str(c) for c in cells[:3]] == ["p", "3/5 03_evaluate_algorithms", "[bold]fold[/bold] 3"]
    report({"event": "step-done", "project": "p", "step": "03_evaluate_algorithms",
            "seconds": 1.0})
    assert str(report._table().columns[2]._cells[0]) == ""


@pytest.mark.kernel
@pytest.mark.xdist_group("kernel")
def test_a_running_step_reports_its_progress_and_its_notebook_holds_none(tmp_path):
    says = ("import time\n"
            "pf.progress('Keras MLP (1/2)')\ntime.sleep(1.5)\n"
            "pf.progress('Keras MLP (2/2)')\ntime.sleep(1.5)\n"
            "print('done')")
    project = make_tiny(tmp_path, "tiny", {"03_evaluate_algorithms": says})
    events: list[dict] = []
    result = runner.run_project(project, runner.RunOptions(), events.append)
    assert result.status == "ran", result.message
    assert [(e["step"], e["detail"]) for e in events if e["event"] == "detail"] == [
        ("03_evaluate_algorithms", "Keras MLP (1/2)"),
        ("03_evaluate_algorithms", "Keras MLP (2/2)"),
    ]
    executed = nbformat.read(project / "export/notebooks/03_evaluate_algorithms.ipynb", 4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert [o.text for o in outputs if o.output_type == "stream"] == ["done\n"]
    assert "Keras MLP" not in json.dumps(outputs)

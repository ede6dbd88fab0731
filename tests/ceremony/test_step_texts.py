"""The step texts the wizard and the CLI show: a question never points "above" or "below" (the
wizard shows the question first and the step's results under it; the CLI prints them before)."""

from __future__ import annotations

import re

from ceremony.steps import STEPS


def test_no_step_question_says_where_on_the_screen_its_facts_are() -> None:
    for s in STEPS:
        assert not re.search(r"\b(above|below)\b", s.question), (s.id, s.question)

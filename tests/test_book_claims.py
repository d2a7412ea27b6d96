"""The claims rule (tests/_book_claims.py) on small chapters: a number the prose states must
be one a cell produced. The rule on the real chapters is in test_book_build.py."""

import pytest
from _book_claims import prose, stated_numbers, unproduced

pytestmark = pytest.mark.xdist_group("book-claims")


def notebook(*texts):
    """An executed notebook whose cells printed `texts` (one stream output each)."""
    return {"cells": [{"cell_type": "code", "outputs": [{"output_type": "stream", "text": t}]}
                      for t in texts]}


CHAPTER = """---
kernelspec: {name: python3}
---
(sec-x)=
# A chapter

```{code-cell} ipython3
print(f"final loss {2.136:.3f}")
```

Without clipping the loss ends at 2.136 nats, and 12.5 % of the runs diverge.
"""


def test_a_number_a_cell_printed_passes_and_a_planted_one_fails():
    assert unproduced(CHAPTER, notebook("final loss 2.136\n", "12.5% diverge")) == []
    # The same chapter with a claim that no cell produces: the rule names it and its line.
    planted = CHAPTER + "\nClipping makes training 1.7 times faster.\n"
    assert unproduced(planted, notebook("final loss 2.136\n", "12.5 % diverge")) == [
        "line 13: 1.7"]
    # A number that only occurs inside a longer one is not produced (2.13 is not 2.136).
    assert unproduced("The loss is 2.13.\n", notebook("loss 2.136")) == ["line 1: 2.13"]


def test_math_code_roles_comments_and_integers_are_not_stated_numbers():
    text = """Inline math $\\sigma(0) = 0.5$ and display math

$$
\\lambda = 0.95
$$

`lr=0.1`, {cite}`pascanu2013`, {ref}`sec-1.2`, <!-- 3.14 -->, jupyter-book 1.0.4, 600 steps,
three seeds, [a link](https://example.org/v2.5).
"""
    assert stated_numbers(text) == []
    assert prose(text).count("\n") == text.count("\n")  # line numbers are kept


def test_percentages_and_powers_of_ten_are_normalised():
    assert [n for _, n in stated_numbers("11.7 % and 13\\% and 1e-9.\n")] == [
        "11.7 %", "13\\%", "1e-9"]
    assert unproduced("It falls to 1e-9 and 13 %.\n", notebook("1.0e-09 then 13%")) == []
    assert unproduced("It falls to 1e-10.\n", notebook("1.9e-09")) == ["line 1: 1e-10"]


def test_directive_bodies_and_alt_text_are_prose_options_are_not():
    figure = ("```{figure} f.svg\n:alt: the loss falls to 1.25\n:width: 0.8\n\n"
              "It ends at 2.5.\n```\n")
    assert stated_numbers(figure) == [(2, "1.25"), (5, "2.5")]
    note = ":::{note}\nThe GRU is 0.02 nats better.\n:::\n"
    assert stated_numbers(note) == [(2, "0.02")]

"""Training experiments that write the small results files the book reads (results/README.md).

Run them all with `make results` (`python -m experiments.all`), some with
`python -m experiments.all NAME ... [--resume]`, or one with `python -m experiments.<name>`.
Every one trains with `rnnlib.training.Trainer` and writes its file with `rnnlib.results`.
"""

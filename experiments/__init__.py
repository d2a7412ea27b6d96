"""Training experiments that write the small results files the book reads (results/README.md).

Run them all with `make results` (`python -m experiments.all`) or one at a time with
`python -m experiments.<name>`.
"""

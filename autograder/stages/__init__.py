"""The grader's stages, one module each (the order is declared in `autograder.pipeline`)."""

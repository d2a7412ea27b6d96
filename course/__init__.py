"""The source of every exercise and the tools that build from it (``course/README.md``).

``course/NN_topic/`` holds an assignment's notebook template(s) and ``manifest.yaml``;
``course.build`` makes ``solutions/`` (``make solutions``), ``course.release`` makes
``exercises/`` (``make release``), ``course.references`` computes the reference outputs of
every graded check, and ``course.plugin`` is what the grader plugs in (named in
``nbgrader_config.py``). It imports rnnlib and rnntools; neither of them imports it.
"""

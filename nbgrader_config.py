"""nbgrader's configuration for this course: our folders mapped onto nbgrader's.

``solutions/`` is nbgrader's source folder and ``exercises/`` its release folder. The gradebook
stays out of the repository: ``/gradebook.db`` is git-ignored, and ``course/release.py``
points nbgrader at a temporary gradebook so that regenerating the release touches nothing else.
"""

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "rnn-from-scratch"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
# Each assignment's notebooks (rnntools is installed as a package, not copied per folder), and
# what `nbgrader submit` adds beside them: the submission's time (lateness) and the secret that
# `nbgrader release_feedback` needs to deliver feedback.
c.CourseDirectory.include = ["*.ipynb", "timestamp.txt", "submission_secret.txt"]
# Keep notebooks short-running; a stuck cell fails instead of hanging a grading run.
c.ExecutePreprocessor.timeout = 60

# The project's grader (python -m autograder) reads its own section: hidden tests of this
# course are also compared outside the sandbox by the course's plugin (course/plugin.py).
c.Autograder.plugin = "course.plugin:RnnCourse"

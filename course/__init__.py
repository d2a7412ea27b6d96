"""The course's own code beside its exercises: what the grader plugs in (`course.plugin`)."""

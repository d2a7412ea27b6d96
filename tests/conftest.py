"""Fixtures shared by several test files."""

import pytest


@pytest.fixture(scope="session")
def roundtrip_course(tmp_path_factory):
    """The exercises' round-trip course (tests/_exercises_roundtrip_course.py): submissions
    built and stock nbgrader run once per pytest run, shared by the xdist workers."""
    from _exercises_roundtrip_course import SharedCourse, shared_dir

    return SharedCourse(shared_dir(tmp_path_factory))

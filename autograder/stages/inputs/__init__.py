"""Input adapters of the *discover* stage: one module per shape SUBMISSIONS comes in.

* `nbgrader`: nbgrader's ``<student>/<assignment>/<notebook>.ipynb`` (with ``timestamp.txt``);
* `flat`: one file per student and notebook, ``<student>_[<assignment>_]<notebook>.ipynb``;
* `canvas`: Canvas's "Download Submissions" (``<name>_[LATE_]<user id>_<file id>_<file>``);
* `moodle`: Moodle's "Download all submissions" (folders
  ``<Full Name>_<participant>_assignsubmission_file_``, or that prefix on each file);
* `gradescope`: Gradescope's "Export Submissions" (``submission_<N>/`` folders and one
  ``submission_metadata.yml``; every submitter of a group submission credited);
* `zipcollect`: the file names ``nbgrader zip_collect`` reads, through the course's
  ``c.FileNameCollectorPlugin.named_regexp``.

Every adapter fills one `common.Collector`: candidate notebooks per (student id, assignment,
notebook), of which the newest is graded (`names` matches file names to notebooks, tolerating
case and copy suffixes), with what the format says of the student (name, submission time,
late flag). Student ids are the keys; names are labels.
"""

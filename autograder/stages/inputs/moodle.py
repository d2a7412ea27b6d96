"""Moodle's "Download all submissions" of an assignment: one folder per student and
submission plugin, ``<Full Name>_<participant id>_assignsubmission_file_`` (underscores in
the name become spaces), holding the files as uploaded; or, without "download submissions in
folders", the same prefix before each file name. The participant id is the key (Moodle's
own per-assignment number: the same student gets another one in another assignment)."""

import re

from ...files import what
from .common import Details
from .names import owners, safe_key
from .tree import offer_tree

FOLDER = re.compile(r"(?P<name>.+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?", re.S)
FILE = re.compile(r"(?P<name>.+?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.+)",
                  re.S)


def is_download(root):
    entries = [p for p in root.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    return bool(entries) and all(FOLDER.fullmatch(p.name) or FILE.fullmatch(p.name)
                                 for p in entries)


def collect(root, plans, hint, col):
    for entry in sorted(root.iterdir()):
        if entry.name.startswith((".", "__MACOSX")):
            continue
        kind = what(entry)
        m = (FOLDER if kind == "folder" else FILE).fullmatch(entry.name)
        if m is None:
            col.unmatched.append(entry.name)
            continue
        key = safe_key(m["id"])
        details = Details(name=m["name"].strip(), source="moodle")
        col.student(key, details)
        if kind == "folder":
            if m["plugin"] == "file":  # online text and comments hold no notebook
                offer_tree(col, key, entry, plans, hint, details, label=f"{entry.name}/")
        elif kind == "file" and m["file"].lower().endswith(".ipynb"):
            found = owners(m["file"][:-len(".ipynb")], plans, hint)
            if len(found) == 1:
                col.offer(key, *found[0], entry, None, m["file"], details)
            else:
                col.unmatched.append(entry.name)
        elif kind != "file":
            col.skip((key, hint), entry.name, kind)


def owner(parts, plans):
    m = (FOLDER.fullmatch(parts[0]) or FILE.fullmatch(parts[0])) if parts else None
    return (safe_key(m["id"]), None) if m else None

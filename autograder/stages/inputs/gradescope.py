"""Gradescope's "Export Submissions" of a programming assignment: one folder per submission
(``submission_<N>/``, the files as uploaded) and one ``submission_metadata.yml`` whose keys
are those folders, each with its ``:submitters:`` (``:name:``, ``:sid:``, ``:email:``) and
``:created_at:``. Every submitter of a group submission is credited with it; the key is the
student id (SID), else the email, else the name."""

import yaml

from ...files import read_regular, what
from .common import Details, SubmissionsError, iso
from .names import owners, safe_key
from .tree import offer_tree

METADATA = "submission_metadata.yml"


def is_export(root):
    return what(root / METADATA) == "file"


def _plain(value):
    """The metadata with Ruby's symbol colons taken off the keys (``:sid`` -> ``sid``)."""
    if isinstance(value, dict):
        return {str(k).lstrip(":"): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def read_metadata(root):
    try:
        data = yaml.safe_load(read_regular(root / METADATA, limit=64 * 2**20))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise SubmissionsError(f"{METADATA} cannot be read: {e}") from e
    if not isinstance(data, dict):
        raise SubmissionsError(f"{METADATA} holds no submissions")
    return {str(k): _plain(v) for k, v in data.items() if isinstance(v, dict)}


def submitters(entry):
    """[(key, name)] of one submission's submitters."""
    found = []
    for person in entry.get("submitters") or []:
        if not isinstance(person, dict):
            continue
        key = next((safe_key(person[f]) for f in ("sid", "email", "name")
                    if person.get(f) not in (None, "") and safe_key(person[f])), "")
        if key:
            found.append((key, str(person.get("name") or "")))
    return found


def collect(root, plans, hint, col):
    metadata = read_metadata(root)
    for folder, entry in sorted(metadata.items()):
        people = submitters(entry)
        target = root / folder
        kind = what(target)
        if not people:
            col.unmatched.append(folder)
            continue
        for key, name in people:
            details = Details(name=name, timestamp=iso(entry.get("created_at")),
                              source="gradescope")
            col.student(key, details)
            if kind == "folder":
                offer_tree(col, key, target, plans, hint, details, label=f"{folder}/")
            elif kind == "file" and folder.lower().endswith(".ipynb"):
                found = owners(folder[:-len(".ipynb")], plans, hint)
                if len(found) == 1:
                    col.offer(key, *found[0], target, None, folder, details)
            elif kind != "absent":
                col.skip((key, hint), folder, kind)
    return metadata


def owner(parts, metadata):
    """The submitters of the submission a refused entry belongs to."""
    entry = metadata.get(parts[0]) if parts else None
    return [(key, None) for key, _ in submitters(entry)] if entry else []

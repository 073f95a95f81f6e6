"""The request value checks that need no API call (forms/checks.py)."""

from __future__ import annotations

import os

import pytest
from common.errors import OciInputError
from forms.checks import check_display_name, check_local_file, check_object_name, upload_roots, validate_backup_type


def test_object_names_refuse_path_tricks_and_control_characters():
    assert check_object_name("migrations/disk.vmdk") == "migrations/disk.vmdk"
    for bad, rule in (("/abs", "no leading '/'"), ("a/../b", "no leading '/' and no '.' or '..'"),
                      ("a\nb", "must not contain line feed"), ("", "must not be empty")):
        with pytest.raises(OciInputError, match=rule):
            check_object_name(bad, "export_object_name")
    with pytest.raises(OciInputError, match=r"^image_name 'x{119}\.\.\. \(1002 characters\)"):
        check_display_name("x" * 1000, "image_name")


def test_local_files_only_under_the_upload_roots(tmp_path):
    inside = tmp_path / "in" / "disk.vmdk"
    inside.parent.mkdir()
    inside.write_bytes(b"x")
    (tmp_path / "link").symlink_to(inside)
    assert upload_roots(f"{tmp_path / 'in'}{os.pathsep}") == [os.path.realpath(tmp_path / "in")]
    assert check_local_file(str(inside), roots=[str(tmp_path / "in")]) == os.path.realpath(inside)
    with pytest.raises(OciInputError, match="uploads from this worker are off"):
        check_local_file(str(inside), roots=[])
    with pytest.raises(OciInputError, match="outside the upload roots"):
        check_local_file(str(tmp_path / "in" / ".." / "link"), roots=[str(tmp_path / "elsewhere")])
    with pytest.raises(OciInputError, match="not a regular file"):
        check_local_file(str(inside.parent), roots=[str(tmp_path)])


def test_backup_type_is_full_or_incremental():
    assert validate_backup_type("FULL") == "FULL"
    with pytest.raises(OciInputError, match=r"^backup_type 'full': OCI backups are FULL or INCREMENTAL$"):
        validate_backup_type("full")

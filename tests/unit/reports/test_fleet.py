"""The fleet lines of the image DAGs' reports."""

from __future__ import annotations

from reports.fleet import fleet_part, instance_lines


def test_a_launch_that_left_nothing_is_a_problem_and_a_line():
    fleet = [{"hostname": "app-01", "os_type": "linux"}, {"hostname": "WIN-01", "os_type": "windows"}]
    made = {"hostname": "app-01", "os_type": "linux", "instance_id": "i1", "lifecycle_state": "RUNNING",
            "private_ip": "10.0.0.2", "public_ip": None}
    lines, rows, problems = instance_lines([made, None], fleet)
    assert [r["instance_id"] for r in rows] == ["i1"]
    assert lines == ["- app-01 (linux): i1 RUNNING, private IP 10.0.0.2", "- WIN-01 (windows): NOT LAUNCHED"]
    assert problems == ["instance WIN-01 (windows) was not launched"]


def test_fleet_part_appends_to_the_report_and_gives_the_result_fields():
    fleet = [{"hostname": "app-01", "os_type": "linux"}, {"hostname": "app-02", "os_type": "linux"}]
    made = {"hostname": "app-01", "os_type": "linux", "instance_id": "i1", "lifecycle_state": "RUNNING",
            "private_ip": "10.0.0.2", "public_ip": "1.2.3.4"}
    lines, problems = ["- image x"], ["earlier"]
    part = fleet_part([made, None], fleet, lines, problems)
    assert lines == ["- image x", "- app-01 (linux): i1 RUNNING, private IP 10.0.0.2, public IP 1.2.3.4",
                     "- app-02 (linux): NOT LAUNCHED"]
    assert problems == ["earlier", "instance app-02 (linux) was not launched"]
    assert (part["hostnames"], part["private_ips"]) == (["app-01"], ["10.0.0.2"])
    assert [r["instance_id"] for r in part["instances"]] == ["i1"]

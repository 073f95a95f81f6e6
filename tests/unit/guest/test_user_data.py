"""The user-data renderer and hostname validator (guest/user_data.py): pure functions, no ocisim, no Airflow run.
Plus the launch operator's validation, which runs them before any API call."""

from __future__ import annotations

import base64

import pytest
import yaml
from common.config import include_dir
from common.errors import OciInputError
from guest.user_data import (
    METADATA_LIMIT_BYTES,
    build_metadata,
    check_metadata_size,
    decode_user_data,
    fleet_hostnames,
    render_user_data,
    validate_fleet,
    validate_hostname,
)

SUBNET = "ocid1.subnet.oc1.iad.aaaaaaaasubnet0001"
IMAGE = "ocid1.image.oc1.iad.aaaaaaaaimage00001"
BOOT = "ocid1.bootvolume.oc1.iad.aaaaaaaaboot000001"


# -- hostnames --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["web", "web-01", "a", "A1", "x" * 63, "db-primary-eu"])
def test_linux_hostnames_ok(name):
    assert validate_hostname(name) == name


@pytest.mark.parametrize("name, rule", [
    ("web_01", "letters, digits and hyphens"), ("-web", "starts with a letter"), ("web-", "does not end with a hyphen"),
    ("x" * 64, "1 to 63"), ("1web", "starts with a letter"), ("web.example", "letters, digits and hyphens"),
    ("", "required"), (None, "required"), ("wéb", "letters, digits and hyphens"),
])
def test_linux_hostnames_refused(name, rule):
    with pytest.raises(OciInputError, match=f"hostname {name!r}:") as err:
        validate_hostname(name)
    assert rule in str(err.value)


@pytest.mark.parametrize("name", ["WIN-01", "web-01", "sql2022", "a" * 15, "DC1"])
def test_windows_hostnames_ok(name):
    assert validate_hostname(name, "windows") == name


def test_windows_name_rules_and_messages():
    with pytest.raises(OciInputError) as err:
        validate_hostname("web_01", "windows")
    assert str(err.value) == "hostname 'web_01': Windows names allow letters, digits and hyphens, at most 15 characters"
    with pytest.raises(OciInputError, match="at most 15 characters"):
        validate_hostname("WINDOWS-SERVER-01", "windows")  # 17: fine for Linux, too long for NetBIOS
    assert validate_hostname("WINDOWS-SERVER-01", "linux")
    with pytest.raises(OciInputError, match="hostname '12345': Windows names cannot be all digits"):
        validate_hostname("12345", "windows")
    with pytest.raises(OciInputError, match="starts with a letter"):  # NetBIOS-valid, not a hostname label
        validate_hostname("1SERVER", "windows")
    with pytest.raises(OciInputError, match=r"os_type 'macos': one of \('linux', 'windows'\)"):
        validate_hostname("web", "macos")


# -- fleets -----------------------------------------------------------------------------------------------
def test_fleet_hostnames_from_a_pattern():
    assert fleet_hostnames("web-{index:02d}", 3) == ["web-01", "web-02", "web-03"]
    assert fleet_hostnames("app{index}", 2, start=0) == ["app0", "app1"]
    assert fleet_hostnames("WIN-{index:03d}", 2, "windows") == ["WIN-001", "WIN-002"]


def test_fleet_duplicates_are_listed():
    with pytest.raises(OciInputError) as err:
        fleet_hostnames("web", 3)
    assert "duplicate hostnames in the fleet: web (3x)" in str(err.value)
    assert "put {index} in the pattern" in str(err.value)
    with pytest.raises(OciInputError) as err:
        validate_fleet(["web-01", "Web-01", "web-02", "db-01", "web-02"])
    assert "duplicate hostnames in the fleet: Web-01/web-01 (2x), web-02 (2x)" in str(err.value)
    assert "db-01" not in str(err.value)


def test_fleet_names_each_validated():
    with pytest.raises(OciInputError, match=r"\[0\] 'averylongwindows-1': Windows names .* at most 15"):
        fleet_hostnames("averylongwindows-{index}", 2, "windows")
    with pytest.raises(OciInputError, match="count 0: a fleet has 1 or more instances"):
        fleet_hostnames("web-{index}", 0)
    with pytest.raises(OciInputError, match="not a format pattern"):
        fleet_hostnames("web-{name}", 2)
    with pytest.raises(OciInputError, match="non-empty list"):
        validate_fleet([])


# -- rendering --------------------------------------------------------------------------------------------
def test_cloud_init_sets_hostname_and_fqdn():
    text = render_user_data("web-01", "linux", "app.vcn.oraclevcn.com",
                            ['echo "quoted: # not a comment" > /tmp/x', "systemctl enable --now nginx"])
    assert text.startswith("#cloud-config\n")
    config = yaml.safe_load(text)
    assert config["hostname"] == "web-01" and config["fqdn"] == "web-01.app.vcn.oraclevcn.com"
    assert config["preserve_hostname"] is False and config["prefer_fqdn_over_hostname"] is False
    assert config["runcmd"] == ['echo "quoted: # not a comment" > /tmp/x', "systemctl enable --now nginx"]


def test_cloud_init_without_domain_or_commands():
    config = yaml.safe_load(render_user_data("db-01"))
    assert config == {"preserve_hostname": False, "hostname": "db-01", "prefer_fqdn_over_hostname": False}
    assert yaml.safe_load(render_user_data("db-01", extra="touch /ok"))["runcmd"] == ["touch /ok"]


def test_cloudbase_init_renames_and_reboots_once():
    script = render_user_data("WIN-APP-01", "windows", extra=["Set-TimeZone -Id 'UTC'"])
    assert script.startswith("#ps1_sysnative\n")
    assert "$DesiredName = 'WIN-APP-01'" in script
    assert script.count("Rename-Computer -NewName $DesiredName -Force") == 1
    assert script.count("exit 1001") == 1 and "Restart-Computer" not in script  # cloudbase-init reboots once
    guard, rename = script.index("if (Test-Path $Marker)"), script.index("Rename-Computer")
    assert guard < script.index("Set-Content -Path $Marker") < rename < script.index("exit 1001")
    assert script.index("Set-TimeZone -Id 'UTC'") < guard  # extra commands first


def test_windows_name_cannot_inject_powershell():
    """The name is validated first; the template also quotes it as a literal."""
    with pytest.raises(OciInputError):
        render_user_data("a'; Remove-Item C:\\ -Recurse; '", "windows")


def test_templates_are_read_from_include_or_the_override(tmp_path, monkeypatch):
    assert (include_dir() / "user_data" / "cloud-init.yaml.j2").is_file()
    assert (include_dir() / "user_data" / "cloudbase-init.ps1.j2").is_file()
    (tmp_path / "user_data").mkdir()
    (tmp_path / "user_data" / "cloud-init.yaml.j2").write_text("#cloud-config\nhostname: {{ hostname | yaml_str }}\n")
    monkeypatch.setenv("OCI_AIRFLOW_INCLUDE_DIR", str(tmp_path))
    assert render_user_data("web-01") == '#cloud-config\nhostname: "web-01"\n'
    with pytest.raises(OciInputError, match=r"user data template 'cloudbase-init\.ps1\.j2': not found in"):
        render_user_data("WIN-01", "windows")


# -- metadata ---------------------------------------------------------------------------------------------
def test_metadata_is_base64_with_keys():
    metadata = build_metadata("web-01", ssh_authorized_keys=["ssh-ed25519 AAAA1 a", "ssh-rsa AAAA2 b"],
                              metadata={"purpose": "test"})
    assert metadata["ssh_authorized_keys"] == "ssh-ed25519 AAAA1 a\nssh-rsa AAAA2 b"
    assert metadata["purpose"] == "test"
    assert yaml.safe_load(decode_user_data(metadata["user_data"]))["hostname"] == "web-01"
    assert base64.b64decode(metadata["user_data"], validate=True)


def test_metadata_refusals():
    with pytest.raises(OciInputError, match="ssh_authorized_keys: Windows instances take no SSH keys"):
        build_metadata("WIN-01", "windows", ssh_authorized_keys="ssh-ed25519 AAAA")
    with pytest.raises(OciInputError, match="an OpenSSH public key"):
        build_metadata("web-01", ssh_authorized_keys="-----BEGIN RSA PRIVATE KEY-----")
    with pytest.raises(OciInputError, match=r"metadata\['user_data'\]: rendered from the hostname"):
        build_metadata("web-01", metadata={"user_data": "x"})
    with pytest.raises(OciInputError, match="extra_user_data: a command or a list of commands"):
        build_metadata("web-01", extra=[""])


def test_metadata_limit_is_32000_bytes():
    fits = {"user_data": "a" * (METADATA_LIMIT_BYTES - len("user_data"))}
    assert check_metadata_size(fits) == METADATA_LIMIT_BYTES
    with pytest.raises(OciInputError) as err:
        check_metadata_size({**fits, "k": ""})
    assert str(err.value) == ("user_data: 31,991 bytes base64-encoded, 32,001 bytes of metadata in all; OCI allows "
                              "at most 32,000 bytes of instance metadata")
    with pytest.raises(OciInputError, match=r"user_data: 40,\d{3} bytes base64-encoded"):
        build_metadata("web-01", extra=["echo " + "x" * 30_000])


# -- the launch operator's validation (no API call: no connection is even looked up) ------------------------
def launch(**overrides):
    from operators.compute import OciLaunchInstanceOperator

    args = {"task_id": "launch", "subnet_id": SUBNET, "shape": "VM.Standard.E4.Flex", "hostname": "web-01",
            "availability_domain": "Uocm:US-ASHBURN-AD-1", "image_id": IMAGE, **overrides}
    return OciLaunchInstanceOperator(**args)


@pytest.mark.parametrize("overrides, message", [
    ({"boot_volume_id": BOOT}, "give exactly one"),
    ({"image_id": None}, "image_id None and boot_volume_id None: give exactly one"),
    ({"image_id": "ocid1.image.oc1..x"}, "image_id 'ocid1.image.oc1..x': not an OCID"),
    ({"image_id": BOOT}, f"image_id '{BOOT}': expected an OCID of type 'image'"),
    ({"subnet_id": "subnet-1"}, "subnet_id 'subnet-1': not an OCID"),
    ({"availability_domain": None}, "availability_domain: required when launching from an image"),
    ({"image_id": None, "boot_volume_id": BOOT, "boot_volume_size_in_gbs": 100}, "only for a launch from an image"),
    ({"boot_volume_size_in_gbs": 10}, "boot_volume_size_in_gbs 10: a whole number of GB from 50 to 32768"),
    ({"shape": "Standard2"}, "shape 'Standard2': an OCI shape name"),
    ({"shape_config": {"cpus": 2}}, "shape_config ['cpus']: allowed keys"),
    ({"os_type": "windows", "hostname": "web_01"}, "hostname 'web_01': Windows names allow letters"),
    ({"region": "mars"}, "region 'mars': not an OCI region identifier"),
    ({"compartment_id": "root"}, "compartment_id 'root': not an OCID"),
])
def test_launch_validation(overrides, message):
    with pytest.raises(OciInputError) as err:
        launch(**overrides).validate()
    assert message in str(err.value)


def test_launch_validation_passes_for_good_input():
    launch().validate()
    launch(image_id=None, boot_volume_id=BOOT, availability_domain=None, os_type="windows",
           hostname="WIN-01").validate()


def test_run_command_and_action_validation():
    from operators.compute import OciInstanceActionOperator
    from operators.run_command import OciRunCommandOperator

    instance = "ocid1.instance.oc1.iad.aaaaaaaainstance01"
    with pytest.raises(OciInputError, match="action 'REBOOT': one of"):
        OciInstanceActionOperator(task_id="a", instance_id=instance, action="REBOOT").validate()
    with pytest.raises(OciInputError, match="script: a non-empty script text"):
        OciRunCommandOperator(task_id="r", instance_id=instance, script="  ").validate()
    op = OciRunCommandOperator(task_id="r", instance_id=instance, script="true", script_timeout="30")
    op.validate()
    assert op.script_timeout == 30


def test_values_rendered_from_templates_are_accepted():
    from operators.compute import OciTerminateInstanceOperator

    op = launch(boot_volume_size_in_gbs="100")
    op.validate()
    assert op.boot_volume_size_in_gbs == 100
    terminate = OciTerminateInstanceOperator(task_id="t", instance_id="ocid1.instance.oc1.iad.aaaaaaaainstance01",
                                             preserve_boot_volume="True")
    terminate.validate()
    assert terminate.preserve_boot_volume is True
    with pytest.raises(OciInputError, match="preserve_boot_volume 'yes': true or false"):
        OciTerminateInstanceOperator(task_id="t", instance_id="ocid1.instance.oc1.iad.aaaaaaaainstance01",
                                     preserve_boot_volume="yes").validate()

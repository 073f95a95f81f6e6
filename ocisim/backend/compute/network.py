"""The small slice of Virtual Network an instance needs: VCN, subnet, VNIC and VNIC attachment."""

from __future__ import annotations

import ipaddress
import re
import secrets

from ...errors import conflict
from .common import ComputeBase


class NetworkBackend(ComputeBase):
    # -- virtual network -------------------------------------------------------------------------------
    def make_subnet(self, region: str, compartment_id: str, display_name: str, cidr_block: str,
                    dns_label: str) -> dict:
        """A subnet (and its VCN) to launch into; AVAILABLE at once."""
        net = ipaddress.ip_network(cidr_block, strict=False)
        with self.state.lock:
            vcn = next((v for v in self.store.list("vcn", region)
                        if net.subnet_of(ipaddress.ip_network(v["cidr_block"]))), None)
            if vcn is None:
                vcn = self._make_vcn(region, compartment_id, net)
            vcn_domain = vcn["vcn_domain_name"]
            subnet = self.new(
                "subnet", "subnet", region, availability_domain=None, cidr_block=str(net),
                ipv4_cidr_blocks=[str(net)], compartment_id=compartment_id, defined_tags={},
                dhcp_options_id=vcn["default_dhcp_options_id"], display_name=display_name,
                dns_label=dns_label, freeform_tags={}, lifecycle_state="AVAILABLE",
                prohibit_internet_ingress=False, prohibit_public_ip_on_vnic=False,
                route_table_id=vcn["default_route_table_id"],
                security_list_ids=[vcn["default_security_list_id"]],
                subnet_domain_name=f"{dns_label}.{vcn_domain}" if dns_label else None,
                vcn_id=vcn["id"], virtual_router_ip=str(net.network_address + 1),
                virtual_router_mac="00:00:17:" + ":".join(f"{b:02X}" for b in secrets.token_bytes(3)),
                _next_host=2)
            return self.store.put(subnet)

    def _make_vcn(self, region: str, compartment_id: str, subnet_net) -> dict:
        cidr = subnet_net.supernet(new_prefix=16) if subnet_net.prefixlen > 16 else subnet_net
        key = self.state.region(region).key.lower()
        vcn = self.new("vcn", "vcn", region, cidr_block=str(cidr), cidr_blocks=[str(cidr)],
                       compartment_id=compartment_id, display_name="ocisim-vcn", dns_label="ocisimvcn",
                       freeform_tags={}, defined_tags={}, lifecycle_state="AVAILABLE",
                       vcn_domain_name="ocisimvcn.oraclevcn.com",
                       default_dhcp_options_id=f"ocid1.dhcpoptions.oc1.{key}.aaaa{secrets.token_hex(20)}",
                       default_route_table_id=f"ocid1.routetable.oc1.{key}.aaaa{secrets.token_hex(20)}",
                       default_security_list_id=f"ocid1.securitylist.oc1.{key}.aaaa{secrets.token_hex(20)}")
        return self.store.put(vcn)

    def _allocate_ip(self, subnet: dict) -> str:
        """The next free private IP: OCI keeps the first two and the last address of a subnet."""
        net = ipaddress.ip_network(subnet["cidr_block"])
        host = subnet.get("_next_host", 2)
        if host >= net.num_addresses - 1:
            raise conflict(f"Subnet {subnet['id']} has no free private IP addresses left.")
        subnet["_next_host"] = host + 1
        self.store.put(subnet)
        return str(net.network_address + host)

    def _hostname_taken(self, subnet_id: str, label: str) -> bool:
        return any(v["hostname_label"] and v["hostname_label"].lower() == label.lower()
                   for v in self.store.list("vnic", where=lambda v: v["subnet_id"] == subnet_id
                                            and v["lifecycle_state"] in ("PROVISIONING", "AVAILABLE")))

    def _generated_hostname(self, subnet_id: str, display_name: str) -> str:
        """OCI derives a hostname from the display name when none is given, kept unique in the subnet."""
        base = re.sub(r"[^a-z0-9-]+", "-", display_name.lower()).strip("-")[:55] or "instance"
        if not base[0].isalpha():
            base = "i" + base
        label, n = base, 1
        while self._hostname_taken(subnet_id, label):
            n += 1
            label = f"{base}-{n}"
        return label

    def _make_vnic(self, instance: dict, subnet: dict, hostname_label: str | None, assign_public_ip: bool,
                   display_name: str | None, freeform_tags: dict | None, ready: bool) -> tuple[dict, dict]:
        vnic = self.new("vnic", "vnic", instance["_region"], availability_domain=instance["availability_domain"],
                        compartment_id=instance["compartment_id"], defined_tags={},
                        display_name=display_name or instance["display_name"],
                        freeform_tags=freeform_tags or {}, hostname_label=hostname_label, is_primary=True,
                        lifecycle_state="AVAILABLE" if ready else "PROVISIONING",
                        mac_address="02:00:17:" + ":".join(f"{b:02X}" for b in secrets.token_bytes(3)),
                        nsg_ids=[], private_ip=self._allocate_ip(subnet),
                        public_ip=(f"129.213.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"
                                   if assign_public_ip else None),
                        skip_source_dest_check=False, subnet_id=subnet["id"], ipv6_addresses=[],
                        route_table_id=None)
        attachment = self.new("vnicattachment", "vnicattachment", instance["_region"],
                              availability_domain=instance["availability_domain"],
                              compartment_id=instance["compartment_id"], display_name=None,
                              instance_id=instance["id"],
                              lifecycle_state="ATTACHED" if ready else "ATTACHING", nic_index=0,
                              subnet_id=subnet["id"], vlan_tag=0, vnic_id=vnic["id"])
        return self.store.put(vnic), self.store.put(attachment)

    def release_vnics(self, instance_id: str, took: float) -> None:
        """An instance's VNICs go with it: attachments DETACHED and VNICs TERMINATED after `took` seconds."""
        for vatt in self.store.list("vnicattachment", where=lambda a: a["instance_id"] == instance_id):
            self.store.schedule(vatt, [(0, {"lifecycle_state": "DETACHING"}), (took, {"lifecycle_state": "DETACHED"})])
            vnic = self.store.find(vatt["vnic_id"])
            if vnic:
                self.store.schedule(vnic, [(0, {"lifecycle_state": "TERMINATING"}),
                                           (took, {"lifecycle_state": "TERMINATED"})])

    def get_subnet(self, subnet_id: str, region: str) -> dict:
        return self.get("subnet", subnet_id, region)

    def list_subnets(self, region: str, compartment_id: str, vcn_id: str | None) -> list[dict]:
        self.compartment(compartment_id)
        return self.store.list("subnet", region, where=lambda s: s["compartment_id"] == compartment_id
                               and (not vcn_id or s["vcn_id"] == vcn_id))

    def list_vcns(self, region: str, compartment_id: str) -> list[dict]:
        self.compartment(compartment_id)
        return self.store.list("vcn", region, where=lambda v: v["compartment_id"] == compartment_id)

    def list_vnic_attachments(self, region: str, compartment_id: str) -> list[dict]:
        self.compartment(compartment_id)
        return self.store.list("vnicattachment", region, where=lambda a: a["compartment_id"] == compartment_id)

    def get_vnic_attachment(self, attachment_id: str, region: str) -> dict:
        return self.get("vnicattachment", attachment_id, region)

    def get_vnic(self, vnic_id: str, region: str) -> dict:
        return self.get("vnic", vnic_id, region)

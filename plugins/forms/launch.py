"""What a launch on an emergency clone needs when the request leaves it open: the source instance's subnet, shape
and shape config (OciResolveCloneSourcesOperator, operators/on_demand.py), with the launch's references checked
before the first clone is made."""

from __future__ import annotations

from common.errors import OciInputError

from forms.params import DEFAULT_SHAPE


def launch_defaults(hook, request: dict, source) -> dict:
    """Subnet, shape and shape config of an instance on a clone: the request's, else the source instance's."""

    subnet_id = request["subnet_id"]
    if not subnet_id and source is not None:
        subnet_id = hook.primary_subnet_id(source)
    if not subnet_id:
        raise OciInputError("subnet_id: required to launch (the boot volume is not attached to an instance "
                            "whose subnet could be used)")
    shape = request["shape"] or (source.shape if source is not None else DEFAULT_SHAPE)
    shape_config = None
    if shape.endswith(".Flex"):
        current = getattr(source, "shape_config", None) if source is not None and source.shape == shape else None
        ocpus = request["ocpus"] or (current.ocpus if current else 1)
        memory = request["memory_in_gbs"] or (current.memory_in_gbs if current and not request["ocpus"]
                                              else ocpus * 16)
        shape_config = {"ocpus": float(ocpus), "memory_in_gbs": float(memory)}
    elif request["ocpus"] or request["memory_in_gbs"]:
        raise OciInputError(f"ocpus/memory_in_gbs: only for a Flex shape; the source's shape is {shape!r}")
    # the launch's references, before the first clone is made
    subnet = hook.check_subnet(subnet_id)
    hook.check_hostnames_free([{"hostname": request["hostname"], "subnet_id": subnet.id}], "hostname")
    hook.log.info("launch on the clone: subnet %s, shape %s %s", subnet_id, shape, shape_config or "")
    return {"subnet_id": subnet_id, "shape": shape, "shape_config": shape_config}

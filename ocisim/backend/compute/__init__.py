"""Compute backend: one object (`sim.compute`) made of one part per resource, the way moto builds EC2.

- network.py: the slice of Virtual Network an instance needs (VCN, subnet, VNIC).
- images.py: images of instances, image import and export.
- instances.py: launch, power actions, termination.
- attachments.py: volume and boot volume attachments.

Compute reads block storage's rows but changes them only through the block storage backend it is given.

Internal API the agent, seed, admin API and block storage rely on (keep these signatures):
`make_subnet`, `make_image`, `make_instance`, `make_attachment`, `attached_devices`, `content_of`,
`attachments_of`.
"""

from __future__ import annotations

from .attachments import AttachmentBackend
from .images import ImageBackend
from .instances import InstanceBackend
from .network import NetworkBackend


class ComputeBackend(NetworkBackend, ImageBackend, InstanceBackend, AttachmentBackend):
    """Every compute operation; each part holds one resource's rules."""

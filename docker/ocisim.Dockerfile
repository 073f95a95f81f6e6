# ocisim, this repo's OCI API emulator, as the `ocisim` service of docker-compose.yaml.
# Python 3.11 like the lock; e2fsprogs for mkfs.ext4 -d (seeded volumes hold real ext4 filesystems).
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends e2fsprogs \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/ocisim
# ocisim needs the standard library, `cryptography` (API key generation, request signatures) and `crc32c` (Object
# Storage checksums at C speed), at the lock's pins.
COPY constraints.txt /opt/ocisim/constraints.txt
RUN pip install --no-cache-dir --root-user-action=ignore -c constraints.txt cryptography crc32c
COPY ocisim/ /opt/ocisim/ocisim/

# The state directory (tenancy, generated API key, resources, volume contents). A new named volume mounted here
# starts with this owner and mode: group 0 writable, so compose can run the service as any AIRFLOW_UID with gid 0.
RUN mkdir -p /ocisim-state && chown 50000:0 /ocisim-state && chmod 2775 /ocisim-state
ENV PYTHONPATH=/opt/ocisim PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 50000:0
EXPOSE 12000 12001
# No --guest-exec: ocisim allows guest execution only on a loopback address (see docker-compose.yaml).
CMD ["python", "-m", "ocisim", "--host", "0.0.0.0", "--port", "12000", "--state-dir", "/ocisim-state"]

#!/usr/bin/python3
"""Reads a NoCloud seed over HTTP with Debian's cloud-init, as a booting node does, and prints
what cloud-init made of it as JSON.

Usage: cloud-init-nocloud.py <seed URL ending in />

Runs cloud-init's own code: DataSourceNoCloudNet with `seedfrom` (util.read_seeded and
url_helper fetch meta-data, user-data and vendor-data; meta-data goes through cloud-init's YAML
loader), the UserDataProcessor that expands vendor-data's `#include` by fetching each URL, and the
jinja part handler's renderer with the instance data cloud-init wrote. Nothing touches the host:
cloud-init's directories are a fresh temporary tree, and no config module runs.
"""
import json
import sys
import tempfile

from cloudinit import distros, helpers
from cloudinit.handlers.jinja_template import render_jinja_payload_from_file
from cloudinit.sources.DataSourceNoCloud import DataSourceNoCloudNet


def main(seed, root):
    paths = helpers.Paths({"cloud_dir": root + "/cloud", "run_dir": root + "/run"})
    # fs_label None: look for no seed filesystem (no blkid on the host's disks).
    sys_cfg = {"datasource": {"NoCloud": {"seedfrom": seed, "fs_label": None}}}
    distro = distros.fetch("debian")("debian", {}, paths)
    ds = DataSourceNoCloudNet(sys_cfg, distro, paths)
    if not ds.get_data():
        raise SystemExit("NoCloud datasource found no data at %s" % seed)

    parts = []
    for part in ds.get_vendordata().walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True).decode()
        entry = {"type": part.get_content_type(), "payload": payload}
        if entry["type"] == "text/jinja2":
            entry["rendered"] = render_jinja_payload_from_file(
                payload, "vendor-part", paths.get_runpath("instance_data_sensitive")
            )
        parts.append(entry)

    print(
        json.dumps(
            {
                "dsmode": ds.dsmode,
                "instance_id": ds.get_instance_id(),
                "metadata": ds.metadata,
                "userdata_raw": ds.get_userdata_raw().decode(),
                "vendordata_raw": ds.get_vendordata_raw().decode(),
                "vendor_parts": parts,
            },
            default=repr,
        )
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="ci-nocloud-") as root:
        main(sys.argv[1], root)

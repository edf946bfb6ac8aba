import { stringify } from "yaml";

/**
 * The OpenCHAMI tutorial's cluster: nine nodes nid001..nid009 behind BMCs at 172.16.0.101..109,
 * in the deprecated nodes.yaml format its gen_nodes_file.sh writes, and the boot parameters,
 * cloud-init data and groups its ansible playbook sets, as a cluster file.
 */
export const SEED_NODES = Array.from({ length: 9 }, (_, k) => {
  const i = k + 1;
  return {
    name: `nid00${i}`,
    xname: `x1000c1s7b${i}n0`,
    nid: i,
    group: "compute",
    bmc_mac: `c2:77:05:e2:03:4${i}`,
    bmc_ip: `172.16.0.10${i}`,
    interfaces: [{ mac_addr: `ec:e7:a7:05:a1:f${i}`, ip_addrs: [{ name: "management", ip_addr: `172.16.0.${i}` }] }],
  };
});

export const SEED_NODES_YAML = stringify({ nodes: SEED_NODES });

const IMAGE = "http://172.16.0.254:8080/openchami/rocky/test";
const KVER = "4.18.0-553.22.1.el8_10.x86_64";
export const SEED_KERNEL = `${IMAGE}/vmlinuz-${KVER}`;
export const SEED_INITRD = `${IMAGE}/initramfs-${KVER}.img`;
export const SEED_PARAMS = `root=live:${IMAGE}/rootfs-${KVER} ds=nocloud;s=http://172.16.0.254:8081/cloud-init/ overlayroot=tmpfs overlayroot_cfgdisk=disabled nomodeset ro ip=dhcp apparmor=0 selinux=0 console=ttyS0,115200 ipv6.disable=1 network-config=disabled rd.shell`;

/** The cluster file, with paths relative to it: ssh key and templates next to it. */
export const SEED_CLUSTER_YAML = `# The seed's whole setup besides nodes.yaml: bss.yaml, cluster.yaml, cloud_init.yaml, groups.yaml
boot:
  - nodes: all
    kernel: ${SEED_KERNEL}
    initrd: ${SEED_INITRD}
    params: ${SEED_PARAMS}
cloud-init:
  defaults:
    cluster-name: demo
    short-name: nid
    nid-length: 3
    base-url: http://172.16.0.254:8081/cloud-init
    public-key-files: [id_rsa.pub]
  groups:
    - name: compute
      description: compute config
      meta-data:
        chrony_server: 172.16.0.254
        slurm_server: demo-head
    - name: chrony
      description: chrony.conf template
      file: {path: templates/chrony.yaml}
    - name: ssh
      file:
        encoding: plain
        content: |
          #cloud-config
          ssh_pwauth: false
groups:
  compute: all
  ssh: all
  chrony: all
  disk_config: [x1000c1s7b1n0]
`;

export const SEED_CHRONY_TEMPLATE = `## template: jinja
#cloud-config
merge_how:
 - name: list
   settings: [append]
 - name: dict
   settings: [no_replace, recurse_list]
write_files:
  - content: |
      server {{ ds.meta_data.instance_data.v1.vendor_data.groups.compute.chrony_server }} iburst
      driftfile /var/lib/chrony/drift
    path: /etc/chrony.conf
runcmd:
  - systemctl restart chronyd
`;

export const SEED_PUBKEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQDZW66ja root@st-head";

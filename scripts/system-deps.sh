#!/usr/bin/env bash
# Debian packages the tests and benchmarks use: real clients and peers nobody here wrote.
# As root (CI runs as root) it installs what is missing. Anyone else gets one warning naming what is
# missing and the run goes on: each test that needs a missing package (or root) skips and says why
# (test/support/requirements.ts).
set -euo pipefail
PACKAGES=(
  curl ca-certificates iproute2
  wrk            # bench/: HTTP load generator
  # The cloud-init client test drives Debian's cloud-init Python modules (never `cloud-init init`).
  cloud-init python3
  # DHCP clients and peers: dhclient, udhcpc, perfdhcp (kea-admin), dnsmasq; QEMU with iPXE ROMs.
  # busybox-static (not busybox: they conflict) also goes into the e2e node's initramfs.
  isc-dhcp-client udhcpc busybox-static kea-admin dnsmasq-base tcpdump qemu-system-x86 ipxe-qemu
  # test/e2e: the node's initramfs is packed with cpio; its kernel is Debian's linux-image-amd64,
  # fetched by the test with `apt-get download` and unpacked with dpkg-deb (never installed here).
  cpio
  # TFTP client for the agent tests; iPXE binaries the agent's TFTP server serves by default;
  # tftpd-hpa and nginx are the baselines bench/tftp-images.ts runs (started by the bench itself
  # on loopback ports; on a systemd host the packages also enable their own services).
  atftp ipxe tftpd-hpa nginx
  # The ochami CLI tests: faketime moves the CLI's clock (token refresh), openssl makes the fake
  # BMCs' certificates, powermand/conmand parse the powerman.conf and conman.conf it generates.
  faketime openssl powerman conman
  # HTTPS (test/head-node/https*.test.ts): pebble, Let's Encrypt's ACME test server, issues the
  # certificates of the ACME test; openssl and curl check the built-in CA's (faketime: expired).
  pebble
  # The dashboard's tests drive Debian's Chromium headless (playwright-core, no browser download).
  chromium
  # npm run test:os / bench:boot: the Debian node image (mmdebstrap, a squashfs root), logged into
  # over SSH; radvd answers iPXE's router solicitations on bench:boot's static side.
  mmdebstrap squashfs-tools openssh-client radvd
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "warning: Debian packages missing: ${missing[*]}; the tests that need them will be skipped." \
    "To run them: sudo apt-get install ${missing[*]} (or run scripts/system-deps.sh as root)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Installed here only as a library for tests: keep its boot-time services from configuring this
# machine on its next boot (a machine that already had cloud-init is left alone).
if [[ " ${missing[*]} " == *" cloud-init "* ]]; then
  mkdir -p /etc/cloud && touch /etc/cloud/cloud-init.disabled
fi

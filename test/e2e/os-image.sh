#!/usr/bin/env bash
# A Debian node image laid out as OpenCHAMI's seed lays out its images, built only from Debian
# packages: mmdebstrap of bookworm (minbase + systemd, cloud-init, openssh-server, a kernel and
# dracut with dmsquash-live + livenet), then
#   OUT/vmlinuz-KVER         the kernel
#   OUT/initramfs-KVER.img   dracut's initramfs: network-legacy DHCP (ip=dhcp), then
#                            root=live:http://…/rootfs-KVER fetched with curl, mounted with a
#                            tmpfs overlay
#   OUT/rootfs-KVER          the root filesystem as a squashfs (zstd), without /boot
# Boot it with:  root=live:http://<server>/<name>/rootfs-KVER ip=dhcp rd.neednet=1
#                ds=nocloud;s=http://<server>/cloud-init/ network-config=disabled console=ttyS0
#
# Usage: os-image.sh OUT   (root) — from Debian's archive as apt on this machine already reaches it
# (its entries of origin Debian for bookworm, -updates and -security), else deb.debian.org.
#        os-image.sh --sources   prints those entries.
set -euo pipefail
suite=bookworm

# What the node runs. The kernel drives QEMU's e1000 (the NIC whose iPXE ROM the tests boot) with
# a module dracut puts in the initramfs; dracut-network brings dhclient and curl for livenet.
packages=(
  systemd-sysv udev linux-image-amd64
  dracut dracut-live dracut-network isc-dhcp-client iputils-arping curl zstd
  cloud-init openssh-server iproute2
)

# Kept out of the image as dpkg unpacks it: documentation, and kernel modules a diskless VM never
# loads (graphics, media, sound, wireless, InfiniBand…), a quarter of the kernel package.
excludes=(
  '/usr/share/doc/*' '/usr/share/man/*' '/usr/share/info/*' '/usr/share/locale/*' '/usr/share/lintian/*'
)
for d in drivers/gpu drivers/media drivers/net/wireless drivers/infiniband drivers/staging drivers/iio \
  drivers/bluetooth drivers/isdn drivers/mtd drivers/hwmon drivers/thunderbolt drivers/nfc drivers/usb \
  drivers/net/ethernet/mellanox drivers/net/ethernet/broadcom drivers/net/ethernet/qlogic \
  drivers/net/ethernet/chelsio drivers/net/ethernet/netronome drivers/net/ethernet/sfc \
  drivers/net/can drivers/net/usb drivers/scsi drivers/ata sound net/wireless net/mac80211 net/bluetooth; do
  excludes+=("/lib/modules/*/kernel/$d/*")
done

# Debian's entries in apt's own configuration (origin Debian, this suite and its -updates and
# -security), as "deb URI SUITE COMPONENT" lines.
debian_sources() {
  apt-cache policy | awk -v suite="$suite" '
    $1 ~ /^[0-9]+$/ && $2 ~ /^https?:/ && $4 == "amd64" { uri = $2; split($3, sc, "/"); next }
    uri != "" && /release / && /o=Debian/ && sc[1] ~ ("^" suite "(-|$)") { print "deb " uri " " sc[1] " " sc[2] }
    { uri = "" }' | sort -u
}

sources_list() {
  local found
  found=$(debian_sources)
  echo "${found:-deb http://deb.debian.org/debian $suite main}"
}
if [ "${1:-}" = --sources ]; then
  sources_list
  exit 0
fi
out=${1:?usage: os-image.sh OUT | --sources}

work=$(mktemp -d "${out%/}.work-XXXXXX")
trap 'rm -rf "$work"' EXIT
sources=$work/sources.list
sources_list >"$sources"

# dracut's own configuration, in place before the kernel is installed: the kernel's postinst runs
# dracut with it, as it would on an installed system. Not host-only: the image boots any machine.
mkdir -p "$work/conf/etc/dracut.conf.d"
cat >"$work/conf/etc/dracut.conf.d/90-live.conf" <<'EOF'
hostonly="no"
dracutmodules+=" dmsquash-live livenet network-legacy "
compress="zstd"
EOF

mkdir -p "$work/node/etc/systemd/network" "$work/node/etc/cloud/cloud.cfg.d"
# The NIC keeps the name the initramfs gave it (eth0): udev in the root would rename it to its
# predictable name (ens2), which the kernel refuses for a link that is up, and systemd-networkd
# then leaves the link "pending" (waiting for the rename) until systemd-networkd-wait-online gives
# up two minutes later. Masking 99-default.link is systemd's documented way to keep kernel names.
# fuse is never used on a node; loading it stalled a TCG boot for over a minute in module memset.
# After the switch to the root, systemd-networkd keeps the boot interface on DHCP (the address
# dracut's dhclient got has the lease's lifetime). The name is the node's from cloud-init, never
# from DHCP: UseHostname=no.
cat >"$work/node/etc/systemd/network/20-boot.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4

[DHCPv4]
UseHostname=no
EOF
# cloud-init: NoCloud only (named by ds=nocloud-net;s=… on the kernel line); networkd owns the
# network; the locale is C.UTF-8, which needs no generating (the image has no others).
cat >"$work/node/etc/cloud/cloud.cfg.d/90-node.cfg" <<'EOF'
datasource_list: [NoCloud, None]
network: {config: disabled}
locale: C.UTF-8
EOF

dpkgopts=()
for e in "${excludes[@]}"; do dpkgopts+=(--dpkgopt="path-exclude=$e"); done

mmdebstrap --variant=minbase --include="$(
  IFS=,
  echo "${packages[*]}"
)" "${dpkgopts[@]}" \
  --setup-hook="mkdir -p \"\$1/etc/dracut.conf.d\" && cp $work/conf/etc/dracut.conf.d/90-live.conf \"\$1/etc/dracut.conf.d/\"" \
  --customize-hook="cp -a $work/node/etc/. \"\$1/etc/\"" \
  --customize-hook='chroot "$1" systemctl enable systemd-networkd' \
  --customize-hook='ln -s /dev/null "$1/etc/systemd/network/99-default.link"' \
  --customize-hook='chroot "$1" systemctl mask sys-fs-fuse-connections.mount modprobe@fuse.service' \
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
  --customize-hook='echo localhost >"$1/etc/hostname"; : >"$1/etc/machine-id"' \
  "$suite" "$work/root" "$sources"

kver=$(basename "$(ls -d "$work"/root/lib/modules/*)")
[ -s "$work/root/boot/initrd.img-$kver" ] || {
  echo "dracut made no /boot/initrd.img-$kver" >&2
  exit 1
}
mkdir -p "$work/out"
cp "$work/root/boot/vmlinuz-$kver" "$work/out/vmlinuz-$kver"
cp "$work/root/boot/initrd.img-$kver" "$work/out/initramfs-$kver.img"
chmod 0644 "$work/out"/*
rm -rf "$work/root/boot"/*
mksquashfs "$work/root" "$work/out/rootfs-$kver" -comp zstd -noappend -no-progress -quiet
rm -rf "$out"
mv "$work/out" "$out"
echo "$kver"

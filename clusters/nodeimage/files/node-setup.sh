#!/bin/bash
# Runs once inside the node image's build container (see nodeimage.Build).
# Mirrors kind's images/base/Dockerfile, then imports the control-plane images
# into the node's containerd the way kind's node-image builder does.
set -euo pipefail
chmod 755 /kind /kind/bin
find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete
rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
  /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
  /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
echo "ReadKMsg=no" >> /etc/systemd/journald.conf
ln -sf /usr/lib/systemd/systemd /sbin/init
systemctl enable kubelet.service containerd.service undo-mount-hacks.service
systemctl mask systemd-binfmt.service
mkdir -p /etc/kubernetes/manifests /opt/cni/bin /etc/cni/net.d
# Kernels where the container cannot lower oom_score_adj (see ENVIRONMENT.md).
sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' /etc/containerd/config.toml
ctr oci spec \
  | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
  | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json
containerd --version; runc --version | sed -n 1p; kubelet --version  # sed, not head: head may exit first and SIGPIPE runc under pipefail
# import the images, pinned so kubelet's image GC never removes them
nohup containerd > /tmp/containerd.log 2>&1 &
for i in $(seq 1 60); do [ -S /run/containerd/containerd.sock ] && ctr info >/dev/null 2>&1 && break; sleep 0.5; done
ctr -n k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - < /kind/images.tar
ctr -n k8s.io images list -q
pkill containerd
for i in $(seq 1 40); do pgrep -x containerd >/dev/null || break; sleep 0.25; done
rm -rf /kind/images.tar /kind/node-setup.sh /tmp/containerd.log /var/lib/containerd/tmpmounts

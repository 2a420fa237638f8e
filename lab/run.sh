#!/usr/bin/env bash
# run.sh — bring up the Asterisk lab and run ariapp against it.
#
#   lab/run.sh [ariapp flags...]     e.g. lab/run.sh --log-format console
#
# Starts the lab (lab/lab.sh up: builds the Debian sid chroot with Asterisk
# on first use, about a minute), then runs ariapp from source in the
# foreground with the repository's config.yaml and the lab's ARI password
# (ARIAPP_ARI_PASSWORD, unless already set). Ctrl-C stops ariapp; the lab
# keeps running (lab/lab.sh down stops it).
#
# Needs root (for the lab; as another user it runs itself again with sudo)
# and Go (go.mod's version, or Go >= 1.21 that may
# download it).
set -euo pipefail

prog=run.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=lab/lib.sh
. "$here/lib.sh"

need_root
check_go
"$here/lab.sh" up

export ARIAPP_ARI_PASSWORD=${ARIAPP_ARI_PASSWORD:-ariapp-lab-secret}
cd "$repo"
log "running ariapp with config.yaml (Ctrl-C stops it; the lab keeps running)"
# -buildvcs=false: as root in a checkout owned by another user, git refuses
# to report the VCS status and the build would fail.
exec go run -buildvcs=false ./cmd/ariapp --config config.yaml "$@"

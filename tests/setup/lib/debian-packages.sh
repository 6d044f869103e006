# Sourced by the tests/setup/*.sh scripts (test.sh runs only tests/setup/*.sh, not this folder).
# install_missing [--with-recommends] PACKAGE...: installs, from Debian's registry, the packages that are not installed
# yet (none: no apt call at all), updating the package lists once only when the first attempt fails; without their
# recommended packages unless asked (Chromium wants its fonts). Must run as root.
install_missing() {
  local missing=() p recommends=--no-install-recommends
  if [ "${1:-}" = --with-recommends ]; then recommends=; shift; fi
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get -o DPkg::Lock::Timeout=600 install -y $recommends "${missing[@]}"; then
    apt-get -o DPkg::Lock::Timeout=600 update
    apt-get -o DPkg::Lock::Timeout=600 install -y $recommends "${missing[@]}"
  fi
}

#!/usr/bin/env bash
# Builds the language-id training corpus from Debian's translated documentation: one directory per language code,
# one plain-text .txt per man page (troff requests dropped, font/escape sequences removed, macro arguments kept) and
# per chapter of the Debian Reference (HTML tags dropped), which adds prose to the man pages' terse style.
# Usage: prepare-corpus.sh OUTDIR [--install]
#   --install  first installs the manpages-* packages (as root).
# The same page name in several languages (a translation) is what the trainer's document split keys on.
set -euo pipefail
out=${1:?usage: prepare-corpus.sh OUTDIR [--install]}
# language code -> directories under /usr/share/man (English pages live in man1..man8 directly)
declare -A dirs=(
  [en]="." [cs]=cs [da]=da [de]=de [es]=es [fi]=fi [fr]=fr [hu]=hu [id]=id [it]=it [ja]=ja [ko]=ko [mk]=mk
  [nb]=nb [nl]=nl [pl]=pl [pt]="pt pt_BR" [ro]=ro [ru]=ru [sr]=sr [sv]=sv [tr]=tr [uk]=uk [vi]=vi [zh]="zh_CN zh_TW"
)
if [[ "${2:-}" == "--install" ]]; then
  pkgs="manpages"
  for l in cs da de es fi fr hu id it ja mk nb nl pl pt-br ro ru sr sv tr uk vi; do pkgs+=" manpages-$l"; done
  for l in en de fr ja es it pt zh-cn; do pkgs+=" debian-reference-$l"; done
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $pkgs >/dev/null
fi
max_pages=${MAX_PAGES:-1500}
rm -rf "$out.tmp" && mkdir -p "$out.tmp"
# Debian Reference chapters: the same file name in every language, so a chapter and its translations share a side of
# the trainer's train/test split.
debian_reference() {
  local target=$1
  for f in /usr/share/debian-reference/*.*.html; do
    local base=${f##*/}
    local chapter=${base%%.*}
    local lang=${base#*.}
    lang=${lang%.html}
    case $lang in zh-cn) lang=zh ;; zh-tw) continue ;; esac
    mkdir -p "$target/$lang"
    sed -E -e 's/<[^>]*>//g' -e 's/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&nbsp;/ /g; s/&#[0-9]+;//g; s/&amp;/\&/g' "$f" \
      | grep -v '^[[:space:]]*$' > "$target/$lang/debian-reference-$chapter.txt"
  done
}
if [[ -n ${ONLY_DEBIAN_REFERENCE:-} ]]; then debian_reference "$out"; exit 0; fi
debian_reference "$out.tmp"
# English last: only the originals of pages that some other language translates (a parallel corpus, and the same
# pages on every Debian machine with these packages, whatever else is installed).
for lang in $(printf '%s\n' "${!dirs[@]}" | grep -v '^en$' | sort) en; do
  mkdir -p "$out.tmp/$lang"
  files=()
  if [[ $lang == en ]]; then
    declare -A translated=()
    while IFS= read -r name; do translated[$name]=1; done < <(find "$out.tmp" -mindepth 2 -maxdepth 2 -name '*.txt' -printf '%f\n')
    while IFS= read -r f; do
      name=$(basename "$f" .gz)
      [[ -n ${translated[$name.txt]:-} ]] && files+=("$f")
    done < <(find /usr/share/man/man[1-8] -maxdepth 1 -name '*.gz' -type f | LC_ALL=C sort)
  fi
  for d in ${dirs[$lang]}; do
    [[ $d == . ]] && continue
    while IFS= read -r f; do files+=("$f"); done < <(find "/usr/share/man/$d"/man[1-8] -maxdepth 1 -name '*.gz' -type f 2>/dev/null | LC_ALL=C sort)
  done
  n=0
  for f in "${files[@]}"; do
    (( n >= max_pages )) && break
    name=$(basename "$f" .gz)
    # Skip links (.so) and pages whose text is mostly not prose.
    zcat "$f" | sed -E \
      -e '/^[.'"'"']\\"/d' \
      -e 's/^[.](B|I|BR|RB|IR|RI|BI|IB|SM|SB|SH|SS)[[:space:]]+//' \
      -e '/^[.'"'"']/d' \
      -e 's/\\f(\[[^]]*\]|\(..|.)//g' -e 's/\\\*(\[[^]]*\]|\(..|.)//g' -e 's/\\\((..)//g' -e 's/\\\[[^]]*\]//g' \
      -e 's/\\s[+-]?[0-9]+//g' -e 's/\\[-e]/-/g' -e 's/\\[&,/:|^%]//g' -e 's/\\ / /g' -e 's/\\"//g' -e 's/"//g' \
      > "$out.tmp/$lang/$name.txt" || true
    if [[ $(wc -c < "$out.tmp/$lang/$name.txt") -lt 200 ]]; then rm "$out.tmp/$lang/$name.txt"; continue; fi
    n=$((n + 1))
  done
  echo "$lang: $n pages, $(find "$out.tmp/$lang" -name 'debian-reference-*' | wc -l) Debian Reference chapters"
done
rm -rf "$out" && mv "$out.tmp" "$out"

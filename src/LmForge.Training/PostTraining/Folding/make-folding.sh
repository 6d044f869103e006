#!/usr/bin/env bash
# Writes folding.txt, the table UnicodeFolding reads: for every code point that UnicodeData.txt gives a decomposition
# (canonical or compatibility), its full NFKD with the nonspacing marks (category Mn) dropped, as
# "CODEPOINT[ FOLDED...]" in hex, one per line. Hangul syllables decompose by algorithm, not by table, and are left out.
# UnicodeData.txt is Debian's package unicode-data (apt-get install unicode-data).
set -euo pipefail
data=${1:-/usr/share/unicode/UnicodeData.txt}
out="$(dirname "$0")/folding.txt"
version=$(dpkg-query -W -f='${Version}' unicode-data 2>/dev/null || echo unknown)
{
  echo "# NFKD without nonspacing marks, from UnicodeData.txt (Debian unicode-data $version); made by make-folding.sh"
  awk -F';' '
    { cat[$1] = $3; d = $6; sub(/^<[^>]*> */, "", d); if (d != "") { dec[$1] = d; order[n++] = $1 } }
    function fold(cp,   parts, k, i, r, out) {
      if (cp in memo) return memo[cp]
      if (!(cp in dec)) { memo[cp] = cat[cp] == "Mn" ? "" : cp; return memo[cp] }
      k = split(dec[cp], parts, " ")
      out = ""
      for (i = 1; i <= k; i++) { r = fold(parts[i]); if (r != "") out = out == "" ? r : out " " r }
      memo[cp] = out
      return out
    }
    END { for (i = 0; i < n; i++) { f = fold(order[i]); print order[i] (f == "" ? "" : " " f) } }
  ' "$data"
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $(($(wc -l < "$out") - 1)) foldings to $out"

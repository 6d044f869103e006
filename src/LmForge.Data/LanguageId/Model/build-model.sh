#!/usr/bin/env bash
# Rebuilds the built-in language-id model debian25.langid and its accuracy table from Debian's translated man
# pages. Run from the repository root as root (installs the manpages-* packages):
#   src/LmForge.Data/LanguageId/Model/build-model.sh
# Deterministic for a given set of Debian package versions (the committed model: Debian 12 "bookworm").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
corpus=${CORPUS_DIR:-/tmp/lmforge-langid-corpus}
"$here/prepare-corpus.sh" "$corpus" --install
dotnet build src/LmForge.Cli -c Release >/dev/null
dotnet src/LmForge.Cli/bin/Release/net10.0/lmforge.dll data train-langid --input "$corpus" \
  --reference-language en --reference-markers the,and,that,with,this,which,from,are,you,be --output "$here/debian25.langid" --report "$here/accuracy.md"

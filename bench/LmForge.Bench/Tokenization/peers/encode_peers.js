// Peers for the tokenize suite, on the same documents and vocabulary as LmForge:
//  - tiktoken (Rust core compiled to WASM, one thread) built from a .tiktoken rank file;
//  - Hugging Face tokenizers (Rust, encodeBatch runs on all cores) from the same tokenizer.json.
// Only encoding is timed (the JSONL is read and parsed before the clock starts).
// Usage: node encode_peers.js DOCS.jsonl RANKS.tiktoken TOKENIZER.json REGEX
//   -> prints "tiktoken seconds <s> tokens <n>" and "hf seconds <s> tokens <n>"
const fs = require('fs');
const { Tiktoken } = require('tiktoken');
const { Tokenizer } = require('tokenizers');
const [docsPath, ranksPath, tokenizerPath, regex] = process.argv.slice(2);
const docs = fs.readFileSync(docsPath, 'utf8').split('\n').filter(l => l.trim().length > 0).map(l => JSON.parse(l).text);

const tiktoken = new Tiktoken(fs.readFileSync(ranksPath, 'utf8'), {}, regex);
let start = process.hrtime.bigint();
let tokens = 0;
for (const doc of docs) tokens += tiktoken.encode_ordinary(doc).length + 1;
console.log(`tiktoken seconds ${(Number(process.hrtime.bigint() - start) / 1e9).toFixed(3)} tokens ${tokens}`);
tiktoken.free();

(async () => {
  const hf = Tokenizer.fromFile(tokenizerPath);
  const batch = 256;
  start = process.hrtime.bigint();
  tokens = 0;
  for (let i = 0; i < docs.length; i += batch) {
    const encodings = await hf.encodeBatch(docs.slice(i, i + batch), { addSpecialTokens: false });
    for (const e of encodings) tokens += e.getLength() + 1;
  }
  console.log(`hf seconds ${(Number(process.hrtime.bigint() - start) / 1e9).toFixed(3)} tokens ${tokens}`);
})();

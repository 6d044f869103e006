// Encodes samples.json with Hugging Face tokenizers (npm "tokenizers", the Rust library's Node binding) reading
// trained.tokenizer.json, the file LmForge's trainer saved; writes hf_encodings.json. The C# tests compare
// LmForge's encoder and chat template with these ids.
// Regenerate: cd this folder && npm install --no-save tokenizers@0.23.2 && node make_hf_encodings.js
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

(async () => {
  const tokenizer = Tokenizer.fromFile(path.join(__dirname, 'trained.tokenizer.json'));
  const samples = JSON.parse(fs.readFileSync(path.join(__dirname, 'samples.json'), 'utf8'));
  const out = [];
  for (const text of samples) {
    const encoding = await tokenizer.encode(text, null, { addSpecialTokens: false });
    const ids = Array.from(encoding.getIds());
    const decoded = await tokenizer.decode(ids, false);
    out.push({ text, ids, decoded });
  }
  fs.writeFileSync(path.join(__dirname, 'hf_encodings.json'), JSON.stringify(out, null, 1) + '\n');
  console.log(`wrote ${out.length} encodings`);
})();

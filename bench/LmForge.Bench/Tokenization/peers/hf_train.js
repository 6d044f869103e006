// Peer for tokenizer-train: Hugging Face tokenizers' BPE trainer (Rust, multi-threaded) on a text file, with the
// same pre-tokenizer as LmForge (cl100k regex split, then byte-level). The Node binding exposes only the default
// trainer, whose vocabulary size is 30,000; the C# side trains the same size for the comparison.
// Usage: node hf_train.js CORPUS.txt REGEX  -> prints "seconds <wall s> cpu <process CPU s> vocab <n>"
const { Tokenizer, BPE, sequencePreTokenizer, splitPreTokenizer, byteLevelPreTokenizer } = require('tokenizers');
const [corpus, regex] = process.argv.slice(2);
const tokenizer = new Tokenizer(BPE.empty());
tokenizer.setPreTokenizer(sequencePreTokenizer([splitPreTokenizer(regex, 'isolated', false), byteLevelPreTokenizer(false, false)]));
const start = process.hrtime.bigint();
const cpu = process.cpuUsage();
tokenizer.train([corpus]);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const used = process.cpuUsage(cpu);
console.log(`seconds ${seconds.toFixed(3)} cpu ${((used.user + used.system) / 1e6).toFixed(3)} vocab ${tokenizer.getVocabSize(true)}`);

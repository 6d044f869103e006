// The official OpenAI client library (npm `openai`) against a running LmForge server: the models list, a chat
// completion whole and streamed, a text completion, and the errors the client raises for a refused request.
// Usage: node openai-client.mjs <baseUrl> <model>. Prints one JSON line with what it received; exits non-zero, saying
// why, when the server's answers do not have the shapes the client expects.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const [baseUrl, model] = process.argv.slice(2);
if (!baseUrl || !model) {
  console.error('usage: node openai-client.mjs <baseUrl> <model>');
  process.exit(2);
}
const client = new OpenAI({ baseURL: new URL('/v1', baseUrl).href, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
const messages = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hello there' },
  { role: 'assistant', content: 'I am fine' },
  { role: 'user', content: 'How are you today?' },
];

const models = [];
for await (const m of client.models.list()) models.push(m.id);
assert.deepEqual(models, [model]);

const chat = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 12 });
assert.equal(chat.object, 'chat.completion');
assert.equal(chat.choices.length, 1);
assert.equal(chat.choices[0].message.role, 'assistant');
assert.equal(chat.choices[0].finish_reason, 'length');
assert.equal(chat.usage.completion_tokens, 12);
assert.equal(chat.usage.total_tokens, chat.usage.prompt_tokens + 12);

const stream = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 12, stream: true, stream_options: { include_usage: true } });
let streamed = '';
let chunks = 0;
let finish = null;
let usage = null;
for await (const chunk of stream) {
  assert.equal(chunk.object, 'chat.completion.chunk');
  if (chunk.usage) usage = chunk.usage;
  if (chunk.choices.length === 0) continue;
  chunks++;
  streamed += chunk.choices[0].delta.content ?? '';
  finish = chunk.choices[0].finish_reason ?? finish;
}
assert.equal(streamed, chat.choices[0].message.content, 'the streamed greedy reply differs from the whole one');
assert.equal(finish, 'length');
assert.ok(chunks >= 6, `only ${chunks} chunks for 12 tokens`);
assert.deepEqual(usage, chat.usage);

const completion = await client.completions.create({ model, prompt: 'Hello there', max_tokens: 5, temperature: 0 });
assert.equal(completion.object, 'text_completion');
assert.equal(completion.usage.completion_tokens, 5);

const errors = {};
try {
  await client.chat.completions.create({ model: 'no-such-model', messages });
  assert.fail('an unknown model was accepted');
} catch (e) {
  assert.ok(e instanceof OpenAI.NotFoundError, `expected NotFoundError, got ${e}`);
  assert.equal(e.status, 404);
  assert.equal(e.code, 'model_not_found');
  errors.unknownModel = e.message;
}
try {
  await client.chat.completions.create({ model, messages, max_tokens: 100_000 });
  assert.fail('a reply longer than the context was accepted');
} catch (e) {
  assert.ok(e instanceof OpenAI.BadRequestError, `expected BadRequestError, got ${e}`);
  assert.equal(e.param, 'messages');
  assert.equal(e.code, 'context_length_exceeded');
  errors.tooLong = e.message;
}

console.log(JSON.stringify({ ok: true, models, chat: chat.choices[0].message.content, promptTokens: chat.usage.prompt_tokens, chunks, completion: completion.choices[0].text, errors }));

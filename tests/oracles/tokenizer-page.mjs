// Drives the server's tokenizer page (GET /tokenizer) in a real Chromium and checks what a user would see.
//
// Usage: node tests/oracles/tokenizer-page.mjs <baseUrl> <screenshotPath> <expectedJson>
//   baseUrl:      a running LmForge server (lmforge serve), e.g. http://127.0.0.1:8123
//   expectedJson: {"text": "...", "ids": {"model": [...], "gpt2": [...]}, "long": "~10 KB of text"}: the ids
//                 the library (lmforge tokenizer encode) gives for the text, per encoding
//   CHROMIUM:     the browser to drive (default /usr/bin/chromium, installed by tests/setup/browser.sh)
//
// On success it prints one JSON line, {"ok":true,...}, and exits 0. On failure it prints
// {"ok":false,"step":...,"error":...}, writes the screenshot of the page as it was, and exits 1.
//
// Steps: the chat page links to the tokenizer page and back; the text box is cleared and the text
// typed key by key; once the page has retokenized, the token count, the boxes and the first ids
// equal the library's for the served tokenizer; choosing gpt2 retokenizes and the count changes
// to gpt2's; the chat box shows the template's tokens; a character split between tokens shows as
// hex; the screenshot is taken; then ~10 KB of text is put in the box five times (the first time
// all of it is new, then one character changes each time, as a keystroke) and the round trip from
// the change to the redrawn tokens is measured (no assertion on time).
// Throughout: no request to another host, no uncaught page error, no CSP violation.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startBrowserRun } from './browser-run.mjs';

const [baseArg, screenshotPath, expectedPath] = process.argv.slice(2);
if (!baseArg || !screenshotPath || !expectedPath) {
  console.error('usage: node tokenizer-page.mjs <baseUrl> <screenshotPath> <expectedJson>');
  process.exit(2);
}
const expected = JSON.parse(fs.readFileSync(expectedPath, 'utf8'));
const base = new URL(baseArg);
const url = (path) => new URL(path, base).href;
const summary = { ok: true };

const run = await startBrowserRun('tokenizer-page', screenshotPath, 150_000);
const { browser } = run;
const page = await (await browser.newContext({ viewport: { width: 1000, height: 900 } })).newPage();
run.page = page;
page.setDefaultTimeout(20_000);

const foreign = [], pageErrors = [], cspViolations = [];
page.on('request', (request) => {
  const target = new URL(request.url());
  if (target.protocol !== 'data:' && target.origin !== base.origin) foreign.push(request.url());
});
page.on('pageerror', (error) => pageErrors.push(String(error)));
page.on('console', (message) => {
  if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
});

// Waits until the page shows the tokens of exactly this text in this encoding.
async function waitShown(input, encoding, timeout = 20_000) {
  await page.waitForFunction(([input, encoding]) => {
    const shown = window.__shown.text;
    return shown && shown.input === input && shown.encoding === encoding;
  }, [input, encoding], { timeout });
  return page.evaluate(() => window.__shown.text);
}

const count = async (id) => Number((await page.textContent(id)).replace(/,/g, ''));

try {
  run.step = 'the chat page links here';
  await page.goto(url('/'));
  await page.click('#tokenizer-link');
  await page.waitForURL(url('/tokenizer'));
  await page.waitForFunction(() => document.getElementById('encoding').options.length > 1);
  assert.equal(await page.inputValue('#encoding'), 'model', 'the served tokenizer is not chosen first');
  const offered = await page.$$eval('#encoding option', (options) => options.map((o) => o.value));
  assert.ok(offered.includes('gpt2'), `gpt2 is not offered (${offered.join(', ')})`);
  assert.ok(await page.isVisible('#chat-link'), 'the tokenizer page does not link back to the chat page');
  summary.encodings = offered;

  run.step = 'type text';
  await page.fill('#text', '');
  await page.click('#text');
  await page.keyboard.type(expected.text, { delay: 15 });
  const model = await waitShown(expected.text, 'model');
  assert.equal(await count('#count-tokens'), expected.ids.model.length, 'token count differs from the library');
  assert.deepEqual(model.ids.slice(0, 20), expected.ids.model.slice(0, 20), 'first ids differ from the library');
  assert.deepEqual(model.ids, expected.ids.model);
  assert.equal(await page.locator('#tokens .token').count(), expected.ids.model.length, 'one box per token');
  const shownIds = await page.$$eval('#tokens .token .id', (ids) => ids.slice(0, 20).map((e) => Number(e.textContent)));
  assert.deepEqual(shownIds, expected.ids.model.slice(0, 20), 'the ids under the boxes');
  assert.equal(await count('#count-characters'), [...expected.text].length);
  assert.equal(await count('#count-bytes'), Buffer.byteLength(expected.text, 'utf8'));
  const bpt = Number(await page.textContent('#count-bpt'));
  assert.ok(Math.abs(bpt - Buffer.byteLength(expected.text, 'utf8') / expected.ids.model.length) < 0.006, `bytes per token ${bpt}`);
  assert.ok(await page.locator('#tokens .token.partial').count() > 0, 'no partial-character box for the emoji');
  assert.ok((await page.textContent('#tokens')).includes('·'), 'spaces are not made visible');
  summary.modelTokens = expected.ids.model.length;

  run.step = 'switch to gpt2';
  await page.selectOption('#encoding', 'gpt2');
  const gpt2 = await waitShown(expected.text, 'gpt2');
  assert.deepEqual(gpt2.ids, expected.ids.gpt2, 'gpt2 ids differ from the library');
  assert.equal(await count('#count-tokens'), expected.ids.gpt2.length);
  assert.notEqual(expected.ids.gpt2.length, expected.ids.model.length, 'the test text should tokenize differently');
  summary.gpt2Tokens = expected.ids.gpt2.length;

  run.step = 'the chat box';
  await page.waitForFunction(() => window.__shown.chat && window.__shown.chat.encoding === 'gpt2');
  assert.ok(await count('#chat-count-tokens') > 10, 'the chat was not tokenized');
  assert.ok(await page.locator('#chat-tokens .token.special').count() >= 5, 'the chat markers are not shown as special tokens');
  assert.ok(await page.isHidden('#chat-error'));
  await page.fill('#chat', '[{"role": "user"');
  await page.waitForFunction(() => /Not a chat/.test(document.getElementById('chat-error').textContent));
  await page.fill('#chat', '[{"role": "user", "content": "Hello! Who are you?"}]');
  await page.waitForFunction(() => window.__shown.chat.input.includes('Who are you'));
  assert.ok(await page.isHidden('#chat-error'), 'the chat error stayed after the chat was fixed');
  summary.chatTokens = await count('#chat-count-tokens');

  run.step = 'screenshot';
  await page.selectOption('#encoding', 'model');
  await waitShown(expected.text, 'model');
  await page.screenshot({ path: screenshotPath, fullPage: true });

  run.step = 'retokenize 10 KB';
  const times = [], server = [], draw = [];
  let tokens = 0;
  for (let i = 0; i < 5; i++) {
    const text = expected.long.slice(0, -1) + String.fromCharCode(97 + i);
    const started = Date.now();
    await page.fill('#text', text);   // one input event, as a paste
    const shown = await waitShown(text, 'model');
    times.push(Date.now() - started);
    server.push(shown.ms);
    draw.push(shown.drawMs);
    tokens = shown.ids.length;
  }
  const firstDrawMs = Math.round(draw[0] * 10) / 10, firstChangeMs = times[0];   // the whole page of boxes, drawn anew
  times.sort((a, b) => a - b);
  server.sort((a, b) => a - b);
  draw.sort((a, b) => a - b);
  summary.long = { bytes: Buffer.byteLength(expected.long, 'utf8'), tokens, fetchMedianMs: Math.round(server[2] * 10) / 10,
    drawMedianMs: Math.round(draw[2] * 10) / 10, changeToDrawnMedianMs: times[2], firstDrawMs, firstChangeMs, note: 'change-to-drawn is seen by the test: it includes the 120 ms typing debounce, page.fill and polling' };

  run.step = 'final checks';
  assert.deepEqual(foreign, [], 'the page contacted another host');
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
  assert.deepEqual(cspViolations, [], 'the page broke its Content-Security-Policy');
  summary.screenshot = screenshotPath;
} catch (error) {
  await run.fail(error);
}
await run.finish();
console.log(JSON.stringify(summary));

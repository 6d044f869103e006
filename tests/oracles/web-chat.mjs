// Drives the server's chat page (GET /) in a real Chromium and checks what a user would see.
//
// Usage: node tests/oracles/web-chat.mjs <baseUrl> <screenshotPath>
//   baseUrl:  a running LmForge server, e.g. http://127.0.0.1:8123
//   CHROMIUM: the browser to drive (default /usr/bin/chromium, installed by tests/setup/browser.sh)
//
// On success it prints one JSON line, {"ok":true,...}, and exits 0. On failure it prints
// {"ok":false,"step":...,"error":...}, writes the screenshot of the page as it was, and exits 1.
//
// Steps, at phone size (390x844): the page fits the width, the model name from /v1/models
// shows; a reply streams in (over a throttled connection, so that even a tiny model's reply
// takes long enough to watch: the text grows in at least three separate steps and ends equal
// to the deltas the browser received); turn two sends the whole history (3 messages),
// Shift+Enter makes a newline and markup stays text; New chat clears; a request the server
// refuses (max tokens over the context) shows the server's error message; a network failure,
// a 429 and a failure mid-reply (these three played by page.route) show errors; Stop, pressed
// as the first text of a long reply appears, keeps that partial text, nothing is added after
// it, and the server's /health shows it freed the slot.
// Throughout: no request to another host, no uncaught page error, no CSP violation.
import assert from 'node:assert/strict';
import { startBrowserRun } from './browser-run.mjs';

const [baseArg, screenshotPath] = process.argv.slice(2);
if (!baseArg || !screenshotPath) {
  console.error('usage: node web-chat.mjs <baseUrl> <screenshotPath>');
  process.exit(2);
}
const base = new URL(baseArg);
const url = (path) => new URL(path, base).href;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const WIDTH = 390, HEIGHT = 844;
const THROTTLED_BYTES_PER_S = 48 * 1024;   // turn 1's connection: about 250 tokens a second
const summary = { ok: true };

async function getJson(path) {
  const response = await fetch(url(path)).catch((error) => {
    throw new Error(`cannot reach the server at ${url(path)} (${error.cause?.code ?? error.message})`);
  });
  assert.equal(response.status, 200, `GET ${path} answered ${response.status}`);
  return response.json();
}

const run = await startBrowserRun('web-chat', screenshotPath, 240_000);
const { browser } = run;
const context = await browser.newContext({ viewport: { width: WIDTH, height: HEIGHT }, isMobile: true, hasTouch: true });
const page = await context.newPage();
run.page = page;
page.setDefaultTimeout(30_000);

// Everything the page asks for, so the test can check each request body and that no other host is contacted.
const foreign = [], pageErrors = [], cspViolations = [], chatRequests = [], chatResponses = [];
page.on('request', (request) => {
  const target = new URL(request.url());
  if (target.protocol !== 'data:' && target.origin !== base.origin) foreign.push(request.url());
  if (request.method() === 'POST' && target.pathname === '/v1/chat/completions') chatRequests.push(JSON.parse(request.postData()));
});
page.on('response', (response) => {
  if (new URL(response.url()).pathname === '/v1/chat/completions') chatResponses.push(response);
});
// The bytes of each streamed chat reply as the browser received them (Chromium keeps no body for a
// response the page read as a stream, so the test taps the network through the DevTools protocol).
const replyStreams = new Map();   // requestId -> {buffered, chunks: Buffer[]}
const cdp = await context.newCDPSession(page);
await cdp.send('Network.enable');
cdp.on('Network.requestWillBeSent', async (event) => {
  if (new URL(event.request.url).pathname !== '/v1/chat/completions') return;
  const stream = { buffered: null, chunks: [], error: null };
  replyStreams.set(event.requestId, stream);
  try {
    const { bufferedData } = await cdp.send('Network.streamResourceContent', { requestId: event.requestId });
    stream.buffered = Buffer.from(bufferedData, 'base64');
  } catch (error) {
    stream.error = error.message;
  }
});
cdp.on('Network.dataReceived', (event) => {
  const stream = replyStreams.get(event.requestId);
  if (stream && event.data) stream.chunks.push(Buffer.from(event.data, 'base64'));
});
const lastReplyStream = () => {
  const stream = [...replyStreams.values()].at(-1);
  assert.ok(stream, 'no chat request seen on the network');
  assert.ok(!stream.error, `could not read the reply off the network: ${stream.error}`);
  assert.ok(stream.buffered, 'the reply was not tapped off the network yet');
  return { text: Buffer.concat([stream.buffered, ...stream.chunks]).toString('utf8'), chunks: stream.chunks.length };
};
page.on('pageerror', (error) => pageErrors.push(String(error)));
page.on('console', (message) => {
  if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
});

const state = () => page.evaluate(() => document.body.dataset.state);
const lastReply = () => page.evaluate(() => {
  const texts = document.querySelectorAll('.message.assistant .text');
  return texts.length ? texts[texts.length - 1].textContent : '';
});
async function waitIdle(timeout, what) {
  try {
    await page.waitForFunction(() => document.body.dataset.state === 'idle', null, { timeout });
  } catch {
    throw new Error(`the page is still data-state=${await state()} ${timeout / 1000} s after ${what}`);
  }
}

async function checkFitsWidth() {
  const size = await page.evaluate(() => ({
    innerWidth: window.innerWidth,
    scrollWidth: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
  }));
  // A phone lays the page out wider than the screen (980px) when it has no viewport meta tag,
  // and zooms out to fit content wider than the screen, so innerWidth tells both apart.
  assert.equal(size.innerWidth, WIDTH,
    `the page is laid out ${size.innerWidth}px wide on a ${WIDTH}px screen (no viewport meta tag, or content wider than the screen)`);
  assert.ok(size.scrollWidth <= WIDTH, `page scrolls sideways: ${size.scrollWidth}px content in a ${WIDTH}px screen`);
}

// Sends what is in #input (with Enter or the Send button) and records, in the page, every change
// of the reply text, of data-state and of #send until the reply ends. Each record carries the
// number of the event-loop task it happened in (a MessageChannel ping-pong counts tasks), so a
// page that waited for the whole body and then wrote it in pieces shows up as one task.
async function sendAndSample(how) {
  const requestIndex = chatRequests.length;
  await page.evaluate(() => {
    const trace = window.__replyTrace = [];
    let task = 0, tracing = true;
    const channel = new MessageChannel();
    channel.port1.onmessage = () => { task++; if (tracing) channel.port2.postMessage(0); };
    channel.port2.postMessage(0);
    const record = () => {
      const texts = document.querySelectorAll('.message.assistant .text');
      const state = document.body.dataset.state;
      trace.push({ task, state, sendDisabled: document.getElementById('send').disabled,
        length: texts.length ? texts[texts.length - 1].textContent.length : 0 });
      if (state === 'idle' && trace.length > 1) { tracing = false; observer.disconnect(); }
    };
    const observer = new MutationObserver(record);
    observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['data-state', 'disabled'] });
  });
  if (how === 'enter') await page.press('#input', 'Enter');
  else await page.click('#send');
  await waitIdle(120_000, 'sending');
  const trace = await page.evaluate(() => window.__replyTrace);
  assert.equal(trace[0]?.state, 'streaming', 'sending did not put the page in data-state=streaming');
  const streaming = trace.filter((r) => r.state === 'streaming');
  assert.ok(streaming.every((r) => r.sendDisabled), '#send was enabled while streaming');
  const lengths = [], tasks = new Set();
  for (const r of streaming) {
    const previous = lengths.length ? lengths[lengths.length - 1] : 0;
    assert.ok(r.length >= previous, `reply shrank from ${previous} to ${r.length} characters`);
    if (r.length > previous) { lengths.push(r.length); tasks.add(r.task); }
  }
  assert.equal(chatRequests.length, requestIndex + 1, 'expected exactly one chat request per send');
  return { lengths, tasks: tasks.size, request: chatRequests[requestIndex] };
}

// The content deltas of a finished streamed response, as the server sent them.
function contentDeltas(eventStream) {
  const deltas = [];
  for (const event of eventStream.replace(/\r\n?/g, '\n').split('\n\n')) {
    const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
    if (!data || data === '[DONE]') continue;
    const chunk = JSON.parse(data);
    const content = chunk.choices?.[0]?.delta?.content;
    if (content) deltas.push(content);
  }
  return deltas;
}

try {
  run.step = 'server';
  const models = await getJson('/v1/models');
  const modelName = models.data?.[0]?.id;
  assert.ok(modelName, 'GET /v1/models lists no model');
  const health = await getJson('/health');
  assert.ok(health.context >= 512, `the model's context (${health.context} tokens) is too small for this test (512 or more)`);
  // Turns long enough to see them stream from a fast tiny model (thousands of tokens a second),
  // and a longer one that Stop cuts off; all fit the context with prompts of up to 200 tokens
  // (about 70 with a byte-level vocabulary).
  const turnTokens = Math.max(16, Math.min(256, Math.floor(health.context / 8)));
  const longTokens = Math.min(1500, health.context - 200);
  summary.model = modelName;
  summary.context = health.context;

  run.step = 'load at phone size';
  await page.goto(url('/'));
  await page.waitForFunction((name) => document.getElementById('model').textContent.includes(name), modelName, { timeout: 10_000 });
  assert.equal(await state(), 'idle');
  await checkFitsWidth();
  await page.click('#settings summary');
  await page.fill('#temperature', '0.5');
  await page.fill('#max-tokens', String(turnTokens));

  // A tiny test model writes a whole reply in tens of milliseconds, and the browser then gets it
  // in one or two network reads: too fast to watch. Turn 1 comes through a slow connection
  // (DevTools network throttling, like a phone on a poor network) so the page must show the
  // text while the bytes still arrive; a slow model gives the same on an unthrottled one.
  run.step = 'turn 1 streams';
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: THROTTLED_BYTES_PER_S, uploadThroughput: -1 });
  await page.fill('#input', 'Hello! Who are you?');
  const turn1 = await sendAndSample('enter');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  assert.deepEqual(turn1.request.messages, [{ role: 'user', content: 'Hello! Who are you?' }]);
  assert.equal(turn1.request.stream, true);
  assert.equal(turn1.request.model, modelName);
  assert.equal(turn1.request.temperature, 0.5);
  assert.equal(turn1.request.max_tokens, turnTokens);
  const reply1 = await lastReply();
  const received = lastReplyStream();
  const deltas = contentDeltas(received.text);
  assert.equal(reply1, deltas.join(''), 'the page shows other text than the deltas the server sent');
  assert.ok(turn1.tasks >= 3,
    `the reply grew in ${turn1.tasks} separate step(s) (lengths ${turn1.lengths.join(', ')}), expected 3 or more; ` +
    `the server sent ${deltas.length} deltas in ${received.chunks} network chunks`);
  assert.equal(await page.inputValue('#input'), '', 'input not cleared after send');
  summary.deltasSeen = deltas.length;
  summary.networkChunks = received.chunks;
  summary.growthSteps = turn1.tasks;

  run.step = 'turn 2 sends the history';
  await page.click('#input');
  await page.keyboard.type('Tell me <b>more</b>.');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('Please.');
  assert.equal(await state(), 'idle', 'Shift+Enter sent the message');
  const turn2 = await sendAndSample('button');
  assert.deepEqual(turn2.request.messages, [
    { role: 'user', content: 'Hello! Who are you?' },
    { role: 'assistant', content: reply1 },
    { role: 'user', content: 'Tell me <b>more</b>.\nPlease.' },
  ]);
  assert.equal(await page.locator('.message.user').count(), 2);
  assert.equal(await page.locator('.message.assistant').count(), 2);
  assert.equal(await page.locator('.message.user .text').nth(1).textContent(), 'Tell me <b>more</b>.\nPlease.');
  assert.equal(await page.locator('.message .text *').count(), 0, 'message text was turned into HTML elements');
  summary.turn2Messages = turn2.request.messages.length;

  run.step = 'new chat';
  await page.click('#new-chat');
  assert.equal(await page.locator('#messages .message').count(), 0, 'New chat left messages on the page');

  run.step = 'refused request shows the server error';
  await page.fill('#system', 'You are a terse assistant.');
  await page.fill('#max-tokens', '100000');
  await page.fill('#input', 'This asks for too many tokens.');
  const refusedIndex = chatRequests.length;
  await page.click('#send');
  await page.waitForSelector('#error:not([hidden])', { timeout: 10_000 });
  await waitIdle(10_000, 'the refused request');
  const refused = chatResponses[chatResponses.length - 1];
  assert.equal(refused.status(), 400, `server answered ${refused.status()} to max_tokens 100000`);
  const serverMessage = (await refused.json()).error.message;
  const shown = await page.textContent('#error');
  assert.ok(shown.includes(serverMessage), `#error shows "${shown}", not the server's "${serverMessage}"`);
  assert.deepEqual(chatRequests[refusedIndex].messages, [
    { role: 'system', content: 'You are a terse assistant.' },
    { role: 'user', content: 'This asks for too many tokens.' },
  ]);
  assert.equal(chatRequests[refusedIndex].max_tokens, 100000);
  assert.equal(await page.locator('#messages .message').count(), 0, 'the refused turn stayed in the chat');
  assert.equal(await page.inputValue('#input'), 'This asks for too many tokens.', 'the refused message was not put back into the input');
  assert.ok(!(await page.isDisabled('#send')), '#send stayed disabled after the error');
  summary.errorShown = serverMessage;

  // The next three failures are played by the test (page.route), not by the server.
  run.step = 'network failure shows an error';
  const chatPath = '**/v1/chat/completions';
  await page.fill('#max-tokens', String(turnTokens));
  await page.route(chatPath, (route) => route.abort('connectionrefused'));
  await page.click('#send');
  await page.waitForFunction(() => /reach the server/.test(document.getElementById('error').textContent), null, { timeout: 10_000 });
  await waitIdle(10_000, 'the network failure');
  await page.unroute(chatPath);

  run.step = 'busy server (429) shows its message';
  await page.route(chatPath, (route) => route.fulfill({ status: 429, headers: { 'Retry-After': '3' }, contentType: 'application/json',
    body: JSON.stringify({ error: { message: 'The request queue is full.', type: 'server_busy', param: null, code: null } }) }));
  await page.click('#send');
  await page.waitForFunction(() => /The request queue is full\. \(retry after 3 s\)/.test(document.getElementById('error').textContent), null, { timeout: 10_000 });
  await waitIdle(10_000, 'the 429');
  await page.unroute(chatPath);

  run.step = 'failure mid-reply keeps the partial text';
  const event = (data) => `data: ${JSON.stringify(data)}\n\n`;
  await page.route(chatPath, (route) => route.fulfill({ status: 200, contentType: 'text/event-stream',
    body: event({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { role: 'assistant', content: 'Partial ' }, finish_reason: null }] }) +
      event({ error: { message: 'Generation failed (played by the test).', type: 'server_error', param: null, code: null } }) }));
  await page.click('#send');
  await page.waitForFunction(() => /Generation failed \(played by the test\)\./.test(document.getElementById('error').textContent), null, { timeout: 10_000 });
  await waitIdle(10_000, 'the failure mid-reply');
  await page.unroute(chatPath);
  assert.equal(await lastReply(), 'Partial ');
  assert.equal(await page.getAttribute('.message.assistant', 'data-status'), 'error');
  await page.click('#new-chat');
  assert.ok(await page.isHidden('#error'), 'New chat left the error shown');

  run.step = 'stop a long reply';
  await page.fill('#max-tokens', String(longTokens));
  await page.fill('#input', 'Tell me a long story.');
  // A small model writes a long reply in a fraction of a second, faster than the test could
  // see the first token and click, so the page itself clicks Stop as the first text appears.
  await page.evaluate(() => {
    const observer = new MutationObserver(() => {
      const texts = document.querySelectorAll('.message.assistant .text');
      const text = texts.length ? texts[texts.length - 1].textContent : '';
      if (text.length === 0) return;
      observer.disconnect();
      window.__textAtStop = text;
      document.getElementById('stop').click();
    });
    observer.observe(document.getElementById('messages'), { subtree: true, childList: true, characterData: true });
  });
  await page.click('#send');
  await waitIdle(30_000, 'Stop');
  const stoppedText = await lastReply();
  assert.equal(stoppedText, await page.evaluate(() => window.__textAtStop), 'the reply grew after Stop was clicked');
  await sleep(700);
  assert.equal(await lastReply(), stoppedText, 'the reply kept growing after Stop');
  assert.ok(stoppedText.length > 0, 'Stop threw away the partial reply');
  assert.equal(await page.getAttribute('.message.assistant', 'data-status'), 'stopped');
  assert.equal(await page.textContent('.message.assistant .meta'), 'stopped');
  assert.ok(await page.isHidden('#error'), 'Stop was shown as an error');
  assert.ok(!(await page.isDisabled('#send')) && await page.isDisabled('#stop'), 'buttons not back to idle after Stop');
  const stopStarted = Date.now();
  for (let h = await getJson('/health'); h.running !== 0; h = await getJson('/health')) {
    assert.ok(Date.now() - stopStarted < 10_000, `server still running ${h.running} request(s) 10 s after Stop`);
    await sleep(100);
  }
  summary.stoppedAtChars = stoppedText.length;
  summary.serverFreedMs = Date.now() - stopStarted;

  run.step = 'final checks';
  await checkFitsWidth();
  await page.screenshot({ path: screenshotPath, fullPage: true });
  assert.deepEqual(foreign, [], 'the page contacted another host');
  assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
  assert.deepEqual(cspViolations, [], 'the page broke its Content-Security-Policy');
  summary.requests = chatRequests.length;
  summary.screenshot = screenshotPath;
} catch (error) {
  await run.fail(error);
}
await run.finish();
console.log(JSON.stringify(summary));

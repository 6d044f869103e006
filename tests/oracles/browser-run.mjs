// What the browser oracles (web-chat.mjs, tokenizer-page.mjs) share: Debian's Chromium started through playwright-core,
// a watchdog, and one way to fail: a JSON line {"ok":false,"step":...,"error":...} on stdout, the stack on stderr, a
// screenshot of the page as it was, exit 1.
import { chromium } from 'playwright-core';

// Starts the browser (CHROMIUM, default /usr/bin/chromium from tests/setup/browser.sh) and arms the watchdog. The script
// names what it checks in run.step, sets run.page once it has one, reports a caught error with run.fail and ends with
// run.finish.
export async function startBrowserRun(name, screenshotPath, timeoutMs) {
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] }).catch((error) => {
    console.log(JSON.stringify({ ok: false, step: 'launch', error: `cannot start Chromium at ${executablePath} (tests/setup/browser.sh installs it): ${error.message.split('\n')[0]}` }));
    process.exit(1);
  });
  const run = {
    browser,
    page: null,
    step: 'start',
    async fail(error) {
      clearTimeout(watchdog);
      console.log(JSON.stringify({ ok: false, step: run.step, error: error.message }));
      console.error(`${name}: failed at "${run.step}": ${error.stack ?? error}`);
      try { await run.page?.screenshot({ path: screenshotPath, fullPage: true }); } catch { /* best effort */ }
      try { await browser.close(); } catch { /* best effort */ }
      process.exit(1);
    },
    async finish() {
      clearTimeout(watchdog);
      await browser.close();
    },
  };
  const watchdog = setTimeout(() => run.fail(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
  return run;
}

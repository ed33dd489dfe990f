// Debian's Chromium, headless, driven by puppeteer-core. The flags keep Chromium from calling
// home (updates, sync, field trials): in a closed network those connections are refused, and a
// test of "nothing leaves the machine" must only see the page's own requests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { CHROMIUM } from './tools.js';

export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'sidelight-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM.binary,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

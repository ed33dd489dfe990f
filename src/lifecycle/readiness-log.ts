// The app's readiness in the log: one line when its check goes bad (a warning, with the check's
// own words) and one when it recovers, so an app that is down at start, or goes away and comes
// back, shows up where people look first and not only on /ready.
import type { Logger } from '../telemetry/logger.js';
import type { Readiness } from './readiness.js';

export function logReadiness(readiness: Readiness, logger: Logger, app: string): void {
  let last = '';
  readiness.onChange(({ checks }) => {
    const check = checks.app;
    if (check === last || check.startsWith('pending')) return;
    const recovered = last !== '' && check === 'ok';
    last = check;
    if (check !== 'ok') logger.warn({ msg: 'app not ready', app, check });
    else if (recovered) logger.info({ msg: 'app ready', app });
  });
}

// The request-target forms (RFC 9112 §3.2) on a listener that forwards to one fixed origin
// (ingress, an upstream's dedicated egress listener). The app gets origin-form whatever the
// client wrote: an absolute-form target becomes its path, and its authority the Host
// (§3.2.2). `OPTIONS *` passes where the origin can be asked it (the app); any other "*", and
// anything else that is not a path, is the client's error: a 400, never an upstream failure.
import { parseAbsoluteForm } from '../net/request-target.js';
import { rejection, type Rejection } from '../errors.js';
import type { Layer } from '../proxy/layer.js';

const notAPath = rejection('bad_request', 'request target must be a path ("/…"), or "*" for OPTIONS');
const asteriskOnlyForOptions = rejection('bad_request', 'the "*" request target is only valid for OPTIONS');
const asteriskNotHere = rejection('bad_request', 'the "*" request target is not forwarded on this listener');
const notHttp = rejection('bad_request', 'only http:// and https:// request URLs are accepted');

export function requestTargetLayer(options: { forwardAsterisk: boolean }): Layer {
  return {
    name: 'request-target',
    onRequest(ex): Rejection | undefined {
      const target = ex.upstreamPath;
      // CONNECT's authority-form belongs to the listener's CONNECT handler.
      if (target.charCodeAt(0) === 47 /* / */ || ex.method === 'CONNECT') return undefined;
      if (target === '*') {
        if (!options.forwardAsterisk) return asteriskNotHere;
        return ex.method === 'OPTIONS' ? undefined : asteriskOnlyForOptions;
      }
      const absolute = parseAbsoluteForm(target);
      if (absolute === undefined) return notAPath;
      if (absolute.scheme !== 'http' && absolute.scheme !== 'https') return notHttp;
      // Userinfo never travels on: it is the client's business with a proxy, not the app's.
      if (absolute.host === '') return notAPath;
      ex.upstreamHost = absolute.host;
      const emptyPath = absolute.pathStart === target.length;
      // §3.2.4: OPTIONS on an absolute URL with no path is about the server as a whole.
      ex.upstreamPath = emptyPath && ex.method === 'OPTIONS' ? '*' : ex.path + ex.query;
      if (ex.upstreamPath === '*' && !options.forwardAsterisk) return asteriskNotHere;
      return undefined;
    },
  };
}

// The parts of undici sidelight uses, loaded one by one. undici's index loads every dispatcher,
// the mock agents, fetch and its cookie code (which pulls in Node's own bundled undici): measured
// start-up time and RSS for code the sidecar never runs. undici 7 has no exports map, so its lib/
// files are reachable; their types come from src/types/undici-lib.d.ts. A minor release may move
// them, so package.json pins undici exactly.
import type * as undici from 'undici';
import apiRequest from 'undici/lib/api/api-request.js';
import buildConnector from 'undici/lib/core/connect.js';
import Client from 'undici/lib/dispatcher/client.js';
import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import WrapHandler from 'undici/lib/handler/wrap-handler.js';
import Pool from 'undici/lib/dispatcher/pool.js';

export { buildConnector, Client, Dispatcher, Pool, WrapHandler };
export type Pool = undici.Pool;
export type PoolOptions = undici.Pool.Options;
export type ConnectorOptions = undici.buildConnector.BuildOptions;
export type Connector = undici.buildConnector.connector;

/** `dispatcher.request(options)` without undici's index, which adds it to every dispatcher's prototype */
export function requestVia(dispatcher: undici.Dispatcher, options: undici.Dispatcher.RequestOptions): Promise<undici.Dispatcher.ResponseData> {
  return apiRequest.call(dispatcher, options);
}

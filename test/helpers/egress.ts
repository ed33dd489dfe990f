// Small readers of sidelight's admin port for the egress tests.
import { send } from './http.js';

/** the value of one Prometheus series (exact name and labels), 0 when absent */
export async function metric(admin: string, series: string): Promise<number> {
  const text = (await send(`${admin}/metrics`)).body;
  for (const line of text.split('\n')) if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return 0;
}

/** GET /circuit-breakers/NAME */
export async function breakerState(admin: string, name: string): Promise<Record<string, unknown>> {
  return JSON.parse((await send(`${admin}/circuit-breakers/${name}`)).body) as Record<string, unknown>;
}

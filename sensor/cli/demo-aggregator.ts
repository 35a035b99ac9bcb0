// The demo's second half (issue 6: "`npm start` becomes the full demo: an
// in-process aggregator plus a sensor replaying the built-in sample network
// with attacks, ending with a printed incident summary and the API
// address"). The sensor's breaches go through the same path a deployment
// uses: stored in a sensor state's outbox, delivered by the uplink over
// gRPC (plaintext on loopback), stored by the aggregator, correlated into
// incidents and served by its HTTP API — all in this process, on loopback
// ports the system picks.
import { join } from 'node:path';
import type { Breach } from '../models/breach.ts';
import type { Log } from '../log/logger.ts';
import type { Incident } from '../aggregator/incidents.ts';

export interface DemoAggregator {
  incidents: Incident[];
  /** http://127.0.0.1:PORT */
  api: string;
  delivered: number;
  /** stop serving and close the stores */
  close(): Promise<void>;
}

export async function runDemoAggregator(dir: string, breaches: Breach[], log: Log): Promise<DemoAggregator> {
  const [{ credentials, ServerCredentials }, { openAggregatorStore }, { startAggregatorServer }, { startHttpApi }, { IncidentService }, { openStateDb }, { BreachStore }, { Uplink }] = await Promise.all([
    import('@grpc/grpc-js'), import('../aggregator/aggregator-store.ts'), import('../aggregator/grpc-server.ts'), import('../aggregator/http-api.ts'),
    import('../aggregator/incident-service.ts'), import('../state/state-db.ts'), import('../state/breach-store.ts'), import('../uplink/uplink-client.ts'),
  ]);
  const { DeviceScores } = await import('../aggregator/device-scores.ts');
  // the sensor's side: its breaches in a state's outbox, as `analyze --state` leaves them
  const stateDir = join(dir, 'sensor-state');
  const db = openStateDb(stateDir);
  try { await new BreachStore(db).add(breaches); } finally { await db.close(); }

  const store = openAggregatorStore(join(dir, 'aggregator'));
  const incidents = new IncidentService();
  const scores = new DeviceScores();
  const server = await startAggregatorServer({
    address: '127.0.0.1:0', store, credentials: ServerCredentials.createInsecure(), authorize: () => true, logger: log,
    onStored: (sensor, items) => { incidents.addStored(sensor, items); scores.addStored(sensor, items); },
  });
  const http = await startHttpApi({ address: '127.0.0.1:0', store, server, incidents, scores, logger: log });
  const uplink = new Uplink({ address: `127.0.0.1:${server.port}`, stateDir, credentials: credentials.createInsecure(), sensorId: 'demo-sensor', log, pollMs: 20 });
  uplink.start();
  const drained = await uplink.drained(15_000);
  await uplink.stop();
  if (!drained) log.warn({ left: breaches.length - server.stats().stored }, 'demo: not every breach reached the aggregator in 15 s');
  return {
    incidents: incidents.incidents(), api: `http://${http.address}`, delivered: server.stats().stored,
    async close() { await http.close(); await server.close(500); await store.close(); },
  };
}

/** The incidents as the demo prints them. */
export function renderIncidents(agg: DemoAggregator): string {
  const lines = [`Aggregator: ${agg.delivered} breach${agg.delivered === 1 ? '' : 'es'} delivered over gRPC, ${agg.incidents.length} incident${agg.incidents.length === 1 ? '' : 's'}`];
  for (const inc of agg.incidents) {
    lines.push(`  [${inc.score.toFixed(1)}] ${inc.title}`, `      ${inc.summary}`);
  }
  lines.push(`  API: ${agg.api}/api/v1/incidents (also /breaches, /sensors, /devices, /health)`);
  return `${lines.join('\n')}\n`;
}

// The aggregator's --allow-sensors and --revoked files: one sensor id per
// line, blank lines and "#" comments ignored. They are read again when they
// change (checked at each sensor's Hello), so revoking a sensor or admitting
// a new one takes effect without restarting the aggregator; a file that
// becomes unreadable or invalid keeps the last good list (and says so), so
// a half-written edit never opens the door or locks every sensor out.
import { readFileSync, statSync } from 'node:fs';
import { isValidSensorId } from '../uplink/protocol.ts';
import type { Log } from '../log/logger.ts';

/** The ids in a list file's text; throws naming the first bad line. */
export function parseSensorList(text: string, path: string): Set<string> {
  const ids = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const shown = line.slice(0, 64);
    if (!isValidSensorId(line)) throw new Error(`${path}:${i + 1}: "${shown}" is not a sensor id (1–128 characters of [A-Za-z0-9._:@-])`);
    ids.add(line);
  });
  return ids;
}

export class SensorListFile {
  private ids: Set<string>;
  private stamp: string;

  /** Reads the file now: a missing or invalid file at start-up is an error (thrown). */
  constructor(readonly path: string, private readonly log: Log) {
    this.stamp = fileStamp(path);
    this.ids = parseSensorList(readFileSync(path, 'utf8'), path);
  }

  get size(): number { return this.current().size; }

  has(id: string): boolean { return this.current().has(id); }

  private current(): Set<string> {
    let stamp: string;
    try { stamp = fileStamp(this.path); } catch (e) { return this.keep(e); }
    if (stamp === this.stamp) return this.ids;
    try {
      this.ids = parseSensorList(readFileSync(this.path, 'utf8'), this.path);
      this.stamp = stamp;
      this.log.info({ file: this.path, sensors: this.ids.size }, 'aggregator: sensor list reloaded');
    } catch (e) {
      return this.keep(e);
    }
    return this.ids;
  }

  private keep(e: unknown): Set<string> {
    this.log.error({ file: this.path, err: (e as Error)?.message ?? String(e) }, 'aggregator: sensor list unreadable: the last good one stays in force');
    return this.ids;
  }
}

function fileStamp(path: string): string {
  const st = statSync(path);
  return `${st.mtimeMs}:${st.size}:${st.ino}`;
}

/** authorize() for the gRPC server: on the allow list when there is one, and not revoked. */
export function sensorAuthorizer(allow: SensorListFile | null, revoked: SensorListFile | null): (id: string) => boolean {
  return (id) => (allow === null || allow.has(id)) && !(revoked?.has(id) ?? false);
}

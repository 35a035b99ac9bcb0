// A one-line progress meter on stderr, only when it is a terminal.
export class Progress {
  private last = 0;
  private readonly enabled: boolean;
  constructor(enabled = process.stderr.isTTY === true) { this.enabled = enabled; }

  /** `records`: flow-log / NetFlow records read, shown when there are any */
  update(packets: number, bytes: number, flows: number, records = 0): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 500) return;
    this.last = now;
    const rec = records > 0 ? `${records.toLocaleString()} flow-log records  ` : '';
    process.stderr.write(`\r${packets.toLocaleString()} packets  ${(bytes / 1e6).toFixed(1)} MB  ${rec}${flows.toLocaleString()} flows   `);
  }

  done(): void {
    if (this.enabled && this.last) process.stderr.write('\n');
  }
}

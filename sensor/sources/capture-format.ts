// Capture format by magic number (pure: bytes in, answer out).
import type { CaptureFormat } from '../core/wasm-core.ts';

export type SniffResult = { kind: 'gzip' } | { kind: 'capture'; format: CaptureFormat } | { kind: 'unknown' };

export function sniffMagic(head: Uint8Array): SniffResult {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return { kind: 'gzip' };
  if (head.length < 4) return { kind: 'unknown' };
  const be = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
  const le = ((head[3]! << 24) | (head[2]! << 16) | (head[1]! << 8) | head[0]!) >>> 0;
  for (const m of [be, le]) {
    if (m === 0xa1b2c3d4 || m === 0xa1b23c4d) return { kind: 'capture', format: 'pcap' };
  }
  if (be === 0x0a0d0d0a) return { kind: 'capture', format: 'pcapng' };
  return { kind: 'unknown' };
}

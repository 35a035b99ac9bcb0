// Breach ids: the first 16 hex digits of SHA-1 over what makes the breach
// unique (model, device and window key, capture time): stable across
// replays of the same capture.
import { sha1 } from '../flows/sha1.ts';

export function breachId(text: string): string {
  return sha1(text, 'hex').slice(0, 16);
}

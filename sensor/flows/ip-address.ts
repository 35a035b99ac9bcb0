// 16-byte addresses (IPv4 v4-mapped) to and from text, without allocation
// beyond the result string. RFC 5952 formatting for IPv6.

/** Is the 16-byte address at a[off] v4-mapped (::ffff:a.b.c.d)? */
export function isV4Mapped(a: Uint8Array, off = 0): boolean {
  for (let i = 0; i < 10; i++) if (a[off + i] !== 0) return false;
  return a[off + 10] === 0xff && a[off + 11] === 0xff;
}

export function formatAddress(a: Uint8Array, ipVersion: 4 | 6): string {
  if (ipVersion === 4) return `${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
  return formatIPv6(a);
}

/** The 16 bytes at a[off…] as RFC 5952 IPv6 text. */
export function formatIPv6(a: Uint8Array, off = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((a[off + i]! << 8) | a[off + i + 1]!);
  // Longest run (≥ 2) of zero words becomes "::" (RFC 5952 §4.2).
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (w: number) => w.toString(16);
  if (bestStart < 0) return words.map(hex).join(':');
  const head = words.slice(0, bestStart).map(hex).join(':');
  const tail = words.slice(bestStart + bestLen).map(hex).join(':');
  return `${head}::${tail}`;
}

/** Parse IPv4 or IPv6 text into 16 bytes (IPv4 v4-mapped); null if malformed. */
export function parseAddress(text: string): { bytes: Uint8Array; version: 4 | 6 } | null {
  const out = new Uint8Array(16);
  if (!text.includes(':')) {
    const parts = text.split('.');
    if (parts.length !== 4) return null;
    out[10] = 0xff; out[11] = 0xff;
    for (let i = 0; i < 4; i++) {
      const p = parts[i]!;
      if (!/^\d{1,3}$/.test(p)) return null;
      const v = Number(p);
      if (v > 255) return null;
      out[12 + i] = v;
    }
    return { bytes: out, version: 4 };
  }
  let body = text;
  let v4tail: number[] | null = null;
  const lastColon = body.lastIndexOf(':');
  if (body.slice(lastColon + 1).includes('.')) {
    const v4 = parseAddress(body.slice(lastColon + 1));
    if (!v4 || v4.version !== 4) return null;
    v4tail = [(v4.bytes[12]! << 8) | v4.bytes[13]!, (v4.bytes[14]! << 8) | v4.bytes[15]!];
    body = body.slice(0, lastColon + 1) + '0:0';
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const parseWords = (s: string): number[] | null => {
    if (s === '') return [];
    const ws = s.split(':');
    const res: number[] = [];
    for (const w of ws) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return null;
      res.push(parseInt(w, 16));
    }
    return res;
  };
  const head = parseWords(halves[0]!);
  const tail = halves.length === 2 ? parseWords(halves[1]!) : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const words = [...head, ...new Array<number>(fill).fill(0), ...tail];
  if (v4tail) { words[6] = v4tail[0]!; words[7] = v4tail[1]!; }
  for (let i = 0; i < 8; i++) { out[i * 2] = words[i]! >> 8; out[i * 2 + 1] = words[i]! & 0xff; }
  return { bytes: out, version: 6 };
}

export function formatMac(m: Uint8Array): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + m[i]!.toString(16).padStart(2, '0');
  return s;
}

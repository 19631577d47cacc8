// Text forms of addresses for configuration, logs and errors: IPv4 dotted quad, IPv6 (RFC 4291 2.2 in,
// RFC 5952 out) and MACs. Parsers return null on malformed text rather than throwing.

/** Formats 4 or 16 address bytes (IPv4 dotted quad, IPv6 RFC 5952 text) for logs and errors. */
export function formatAddress(a: Uint8Array): string {
  if (a.length === 4) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  if (a.length === 16) {
    const words: number[] = [];
    for (let i = 0; i < 16; i += 2) words.push((a[i] << 8) | a[i + 1]);
    // RFC 5952 4.2.3: compress the longest run (of at least two) of zero words, the first on a tie.
    let bestStart = -1, bestLen = 0;
    for (let i = 0; i < 8;) {
      if (words[i] !== 0) { i++; continue; }
      let j = i;
      while (j < 8 && words[j] === 0) j++;
      if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
      i = j;
    }
    const hex = words.map((w) => w.toString(16));
    if (bestStart < 0) return hex.join(':');
    return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
  }
  return Array.from(a, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Formats a 6-byte MAC address as aa:bb:cc:dd:ee:ff. */
export function formatMac(a: Uint8Array): string {
  return Array.from(a, (x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Parses "aa:bb:cc:dd:ee:ff"; null if malformed. */
export function parseMac(s: string): Uint8Array | null {
  const parts = s.split(':');
  if (parts.length !== 6) return null;
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    if (!/^[0-9a-fA-F]{1,2}$/.test(parts[i])) return null;
    out[i] = parseInt(parts[i], 16);
  }
  return out;
}

/** Parses dotted-quad IPv4 text; null if malformed. */
export function parseIPv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i])) return null;
    const n = Number(parts[i]);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parses IPv6 text (RFC 4291 2.2, including "::" and a trailing dotted quad); null if malformed. */
export function parseIPv6(s: string): Uint8Array | null {
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parseGroups = (part: string): number[] | null => {
    if (part === '') return [];
    const groups = part.split(':');
    const out: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (!v4) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = parseGroups(halves[0]);
  const tail = halves.length === 2 ? parseGroups(halves[1]) : [];
  if (!head || !tail) return null;
  let words: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return null;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return null;
    words = head;
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) { out[2 * i] = words[i] >> 8; out[2 * i + 1] = words[i] & 0xff; }
  return out;
}

/** Parses IPv4 or IPv6 text; null if neither. */
export function parseAddress(s: string): Uint8Array | null {
  return s.includes(':') ? parseIPv6(s) : parseIPv4(s);
}

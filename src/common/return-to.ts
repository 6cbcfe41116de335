/**
 * `url` when it is an absolute http(s) URL on one of `origins` (scheme://host[:port], compared exactly), else null.
 * The one check behind every redirect to a connected application, so none of them is an open redirect.
 */
export function allowedReturnTo(origins: readonly string[], url: string | null | undefined): string | null {
  if (!url || url.length > 2000) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
  if (parsed.username || parsed.password) return null;
  return origins.includes(parsed.origin) ? parsed.href : null;
}

/** An origin as registered: scheme://host[:port] with nothing after it; throws with the reason otherwise. */
export function normaliseOrigin(value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new Error(`"${value}" is not a URL`);
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname))) {
    throw new Error(`"${value}" must be https (http only for loopback)`);
  }
  if (parsed.username || parsed.password || (parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search || parsed.hash) {
    throw new Error(`"${value}" must be an origin only (scheme://host[:port])`);
  }
  return parsed.origin;
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

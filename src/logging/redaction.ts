/** Fields that may hold a secret anywhere in a structured log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.newPassword',
  '*.confirmPassword',
  '*.currentPassword',
  '*.token',
  '*.sessionId',
  '*.csrfToken',
  '*._csrf',
  '*.resetUrl',
  '*.handoffUrl',
];

const REDACTED = '[redacted]';
/** Path segments followed by a one-time token, and query parameters that carry one; compared lower-cased and decoded. */
const TOKEN_SEGMENTS = new Set(['reset', 'secret', 'handoff']);
const TOKEN_PARAMETERS = new Set(['token', 'code', 'password']);

function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

/**
 * Strips one-time tokens out of a request URL before it is logged. Routing matches paths case-insensitively, so the
 * path is compared lower-cased and percent-decoded (a `%2F` splits it as a separator would); the token of the route
 * that matched (`params.token`) is removed wherever it appears.
 */
export function redactUrl(url: string | undefined, params?: Record<string, unknown>): string | undefined {
  if (!url) return url;
  const [pathAndQuery = '', hash = ''] = url.split(/(?=#)/, 2);
  const [path = '', query = ''] = pathAndQuery.split(/(?=\?)/, 2);
  const segments = decoded(path).split('/');
  const redactedPath = segments.map((segment, i) => (i > 0 && segment && TOKEN_SEGMENTS.has(segments[i - 1]!.toLowerCase()) ? REDACTED : segment)).join('/');
  const redactedQuery = query.replace(/([?&])([^=&]*)=[^&]*/g, (whole, sep: string, key: string) =>
    TOKEN_PARAMETERS.has(decoded(key).toLowerCase()) ? `${sep}${key}=${REDACTED}` : whole,
  );
  let result = `${redactedPath}${redactedQuery}${hash}`;
  const token = params?.token;
  if (typeof token === 'string' && token.length >= 8) result = result.split(token).join(REDACTED).split(encodeURIComponent(token)).join(REDACTED);
  return result;
}

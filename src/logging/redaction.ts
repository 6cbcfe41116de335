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

const SECRET_PATH = /\/(reset|secret|handoff)\/[^/?#]+/g;

/** Strips one-time tokens out of a request URL before it is logged. */
export function redactUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  return url.replace(SECRET_PATH, '/$1/[redacted]').replace(/([?&](token|code|password)=)[^&#]*/gi, '$1[redacted]');
}

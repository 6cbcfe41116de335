/** Reads that dashboards and API clients poll every few seconds. */
const POLLED = /^\/(api\/campaigns\/\d+\/progress|dashboard\/campaigns\/\d+\/live\.json)(\?|$)/;

interface LoggedRequest {
  method?: string;
  url?: string;
  originalUrl?: string;
}

/**
 * The level of a request's log line: a successful poll is logged at debug, so a room of open dashboards does not
 * write a line (and a syscall) per viewer every few seconds; everything else, and every refused or failed poll, at info.
 */
export function requestLogLevel(req: LoggedRequest, res: { statusCode: number }, err?: unknown): 'debug' | 'info' {
  const polled = !err && req.method === 'GET' && res.statusCode >= 200 && res.statusCode < 300 && POLLED.test(req.originalUrl ?? req.url ?? '');
  return polled ? 'debug' : 'info';
}

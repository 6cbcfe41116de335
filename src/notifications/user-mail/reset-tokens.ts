export const DEFAULT_LINK_TTL_MINUTES = 30;
export const MAX_LINK_TTL_MINUTES = 24 * 60;

/** The campaign's link lifetime, never over 24 hours. */
export function linkTtlMinutes(campaignTtl: number | null | undefined): number {
  const ttl = campaignTtl && campaignTtl > 0 ? campaignTtl : DEFAULT_LINK_TTL_MINUTES;
  return Math.min(ttl, MAX_LINK_TTL_MINUTES);
}

/** `jane.doe@example.org` → `j***e@e***.org`: enough for the owner to recognise, little for anyone else. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return '***';
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  const dot = domain.lastIndexOf('.');
  const maskedLocal = local.length <= 2 ? `${local[0]}***` : `${local[0]}***${local[local.length - 1]}`;
  const maskedDomain = dot > 0 ? `${domain[0]}***${domain.slice(dot)}` : `${domain[0]}***`;
  return `${maskedLocal}@${maskedDomain}`;
}

import { Inject, Injectable } from '@nestjs/common';
import { Webhook } from 'standardwebhooks';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { checkWebhookUrl } from '../applications/applications.service.js';

const REPLY_EXCERPT_BYTES = 200;

export interface WebhookReply {
  ok: boolean;
  /** The HTTP status, or null when no answer came (refused, reset, timed out). */
  status: number | null;
  /** The first bytes of the reply, or the network error: kept with the delivery for the operator. */
  reply: string;
}

/**
 * One signed POST in the Standard Webhooks format. During a secret rotation each secret adds its signature to the
 * header (space separated), so a receiver holding either one verifies it. Redirects are not followed: a 3xx is a failure.
 */
@Injectable()
export class WebhookSenderService {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  async post(url: string, webhookId: string, body: string, secrets: string[]): Promise<WebhookReply> {
    const timestamp = new Date();
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'reset-orchestrator-webhooks',
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(webhookId, timestamp, body)).join(' '),
    };
    try {
      const res = await fetch(checkWebhookUrl(url), {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.config.webhooks.timeoutSeconds * 1000),
      });
      const reply = await excerpt(res);
      return { ok: res.status >= 200 && res.status < 300, status: res.status, reply };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const reason = e.name === 'TimeoutError' ? `no answer within ${this.config.webhooks.timeoutSeconds}s` : (e.cause?.code ?? e.cause?.message ?? e.message);
      return { ok: false, status: null, reply: reason.slice(0, REPLY_EXCERPT_BYTES) };
    }
  }
}

/** Reads at most REPLY_EXCERPT_BYTES of the body and drops the rest, so a huge or endless reply costs nothing. */
async function excerpt(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < REPLY_EXCERPT_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A reply cut off mid-body still has its status; the excerpt is what arrived.
  } finally {
    void reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, REPLY_EXCERPT_BYTES).toString('utf8').replace(/[^\x20-\x7e]+/g, ' ').trim();
}

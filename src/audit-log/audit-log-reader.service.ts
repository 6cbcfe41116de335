import { Injectable } from '@nestjs/common';
import { csvRow } from '../common/csv.js';
import type { Prisma } from '../generated/prisma/client.js';
import { PrismaService } from '../prisma/prisma.service.js';
import type { AuditPageDto, AuditQueryDto } from './dto/audit-query.dto.js';

const EXPORT_BATCH = 1000;

/** Reads the audit log for operators: newest-first pages by id cursor, and a full CSV export. */
@Injectable()
export class AuditLogReaderService {
  constructor(private readonly prisma: PrismaService) {}

  private where(query: AuditQueryDto): Prisma.AuditEntryWhereInput {
    return { action: query.action, actor: query.actor, campaignId: query.campaignId };
  }

  async page(query: AuditQueryDto): Promise<AuditPageDto> {
    const limit = query.limit ?? 100;
    const rows = await this.prisma.auditEntry.findMany({
      where: { ...this.where(query), id: query.before ? { lt: query.before } : undefined },
      orderBy: { id: 'desc' },
      take: limit + 1,
      select: { id: true, at: true, actor: true, action: true, campaignId: true, details: true, hash: true },
    });
    const entries = rows.slice(0, limit);
    return { entries, nextBefore: rows.length > limit ? entries[entries.length - 1].id : null };
  }

  /** Writes every matching entry, oldest first, as CSV with formula-like cells neutralised. */
  async exportCsv(query: AuditQueryDto, write: (chunk: string) => Promise<void>): Promise<void> {
    await write(csvRow(['id', 'at', 'actor', 'action', 'campaign_id', 'details', 'hash']));
    let cursor = 0;
    for (;;) {
      const rows = await this.prisma.auditEntry.findMany({
        where: { ...this.where(query), id: { gt: cursor, ...(query.before ? { lt: query.before } : {}) } },
        orderBy: { id: 'asc' },
        take: EXPORT_BATCH,
      });
      if (!rows.length) return;
      await write(rows.map((r) => csvRow([r.id, r.at, r.actor, r.action, r.campaignId, JSON.stringify(r.details), r.hash])).join(''));
      cursor = rows[rows.length - 1].id;
    }
  }
}

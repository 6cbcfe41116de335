import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';

@Injectable()
export class PrismaService extends PrismaClient implements OnModuleDestroy {
  /**
   * The pool Prisma's adapter runs on. Bulk statements whose parameters are large arrays go straight to it:
   * Prisma's raw-query path keeps roughly the last hundred parameter sets alive (about 200 MB over a
   * 1,000,000-row import in 5,000-row batches), which breaks the import's memory bound.
   */
  readonly pool: pg.Pool;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const pool = new pg.Pool({ connectionString: config.database.url, max: config.database.poolSize, connectionTimeoutMillis: 5000 });
    super({ adapter: new PrismaPg(pool) });
    this.pool = pool;
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
    if (!this.pool.ended) await this.pool.end();
  }
}

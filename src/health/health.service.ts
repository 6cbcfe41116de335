import { Injectable } from '@nestjs/common';
import { MetricsService } from '../metrics/metrics.service.js';
import { PrismaService } from '../prisma/prisma.service.js';
import { RedisService } from '../redis/redis.module.js';

const CHECK_TIMEOUT_MS = 2000;

function withTimeout<T>(work: Promise<T>): Promise<T> {
  return Promise.race([work, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS).unref())]);
}

@Injectable()
export class HealthService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly redis: RedisService,
    private readonly metricsService: MetricsService,
  ) {}

  async check() {
    const [database, redis] = await Promise.all([
      withTimeout(this.prisma.$queryRawUnsafe('SELECT 1')).then(() => 'up' as const, () => 'down' as const),
      withTimeout(this.redis.ping()).then(() => 'up' as const, () => 'down' as const),
    ]);
    return { status: database === 'up' && redis === 'up' ? ('ok' as const) : ('unavailable' as const), database, redis };
  }

  metrics() {
    return this.metricsService.scrape();
  }
}

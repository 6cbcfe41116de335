import { Injectable } from '@nestjs/common';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { PrismaService } from '../prisma/prisma.service.js';
import { RedisService } from '../redis/redis.module.js';

const CHECK_TIMEOUT_MS = 2000;

function withTimeout<T>(work: Promise<T>): Promise<T> {
  return Promise.race([work, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS).unref())]);
}

export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

@Injectable()
export class HealthService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly redis: RedisService,
  ) {}

  async check() {
    const [database, redis] = await Promise.all([
      withTimeout(this.prisma.$queryRawUnsafe('SELECT 1')).then(() => 'up' as const, () => 'down' as const),
      withTimeout(this.redis.ping()).then(() => 'up' as const, () => 'down' as const),
    ]);
    return { status: database === 'up' && redis === 'up' ? ('ok' as const) : ('unavailable' as const), database, redis };
  }

  async metrics() {
    return { contentType: metricsRegistry.contentType, body: await metricsRegistry.metrics() };
  }
}

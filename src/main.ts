import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import { AppLogger } from './logging/app-logger.js';
import { createHttpApp } from './app.factory.js';
import { ConfigError, loadConfig } from './config/app-config.js';
import { listenForProbes } from './health/probe-server.js';
import { HealthService } from './health/health.service.js';
import { MailTransportService } from './mail/mail-transport.service.js';
import { StartupError, preflight } from './preflight.js';
import { WorkerModule } from './worker.module.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const prepared = await preflight(config);

  if (config.role === 'worker') {
    const worker = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { bufferLogs: true });
    worker.useLogger(worker.get(AppLogger));
    worker.enableShutdownHooks();
    const probes = await listenForProbes(worker.get(HealthService), config.http.host, config.http.port);
    const { port } = probes.address() as AddressInfo;
    worker.get(AppLogger).log(`worker started, /health and /metrics on ${config.http.host}:${port}; ${worker.get(MailTransportService).describe()}`);
    return;
  }

  const app = await createHttpApp(config);
  await app.listen(config.http.port, config.http.host);
  const logger = app.get(AppLogger);
  if (prepared.createdDatabase) logger.log('created the database');
  if (prepared.appliedMigrations.length) logger.log(`applied migrations: ${prepared.appliedMigrations.join(', ')}`);
  logger.log(`reset-orchestrator (${config.role}) listening on http://${config.http.host}:${config.http.port}, public URL ${config.http.publicUrl}`);
  logger.log(app.get(MailTransportService).describe());
}

main().catch((err: unknown) => {
  if (err instanceof StartupError || err instanceof ConfigError) {
    process.stderr.write(`reset-orchestrator: ${err.message}\n`);
  } else {
    process.stderr.write(`reset-orchestrator: failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  }
  process.exit(1);
});

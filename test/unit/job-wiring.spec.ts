import { Injectable, Module } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { UserMailWorkerModule } from '../../src/notifications/user-mail/user-mail-worker.module.js';
import { HandlesJob, assertJobWiring, jobWiringProblems } from '../../src/queues/job-handlers.js';
import { WORKER_MODULES } from '../../src/worker-modules.js';

@Injectable()
class SecondFeeder {
  @HandlesJob('feed-notices')
  feed(): void {}
}

@Module({ providers: [SecondFeeder] })
class SecondFeederModule {}

@Injectable()
class TwiceOnOneClass {
  @HandlesJob('send-notice')
  first(): void {}

  @HandlesJob('send-notice')
  second(): void {}
}

describe('job wiring', () => {
  it('gives every job kind of the worker modules exactly one handler', () => {
    expect(jobWiringProblems(WORKER_MODULES)).toEqual([]);
    expect(() => assertJobWiring(WORKER_MODULES)).not.toThrow();
  });

  it('finds a job kind nobody handles', () => {
    const withoutUserMail = WORKER_MODULES.filter((m) => m !== UserMailWorkerModule);
    expect(jobWiringProblems(withoutUserMail)).toEqual(['no handler for job "reset-link"', 'no handler for job "password-changed"']);
    expect(() => assertJobWiring(withoutUserMail)).toThrow(
      'the queue workers are miswired: no handler for job "reset-link"; no handler for job "password-changed"',
    );
  });

  it('finds a job kind handled twice, in two modules or on one class', () => {
    expect(jobWiringProblems([...WORKER_MODULES, SecondFeederModule])).toEqual(['job "feed-notices" has 2 handlers: CampaignsProcessor.feed, SecondFeeder.feed']);
    expect(jobWiringProblems([...WORKER_MODULES, { module: class Extra {}, providers: [TwiceOnOneClass] }])).toEqual([
      'job "send-notice" has 3 handlers: NoticeWorkersService.processorFor, TwiceOnOneClass.first, TwiceOnOneClass.second',
    ]);
  });

  it('counts a module imported by several others once', () => {
    expect(jobWiringProblems([...WORKER_MODULES, ...WORKER_MODULES])).toEqual([]);
  });
});

import { Module } from '@nestjs/common';
import { VerpAddresses } from './verp.js';

/** The VERP envelope senders notices carry; receiving the bounces is BouncesWorkerModule's. */
@Module({ providers: [VerpAddresses], exports: [VerpAddresses] })
export class BouncesModule {}

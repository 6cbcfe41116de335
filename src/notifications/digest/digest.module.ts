import { Module } from '@nestjs/common';
import { TemplatesModule } from '../../templates/templates.module.js';
import { ManagerDigestService } from './manager-digest.service.js';

/** The managers' daily link-free digest of a campaign (counts per org unit). */
@Module({ imports: [TemplatesModule], providers: [ManagerDigestService], exports: [ManagerDigestService] })
export class DigestModule {}

import type { Command } from 'commander';

/** `resetctl campaign …`, `resetctl notices …` and `resetctl templates …`. */
export function registerCampaignCommands(_program: Command): void {}

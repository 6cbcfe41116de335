import { randomInt } from 'node:crypto';

const ADJECTIVES = [
  'amber', 'ancient', 'autumn', 'brave', 'bright', 'calm', 'clever', 'cobalt', 'copper', 'crimson', 'crystal', 'daring',
  'dusty', 'eager', 'early', 'emerald', 'evening', 'fabled', 'gentle', 'golden', 'granite', 'hidden', 'hollow', 'humble',
  'icy', 'ivory', 'jade', 'jolly', 'keen', 'lively', 'lucky', 'lunar', 'marble', 'mellow', 'misty', 'modest', 'morning',
  'noble', 'northern', 'olive', 'patient', 'pearl', 'polar', 'proud', 'quiet', 'rapid', 'rosy', 'royal', 'rustic',
  'scarlet', 'silent', 'silver', 'solar', 'steady', 'stony', 'sunny', 'swift', 'tidy', 'topaz', 'velvet', 'violet',
  'wandering', 'warm', 'wild', 'windy', 'wise', 'woolly', 'young', 'zesty', 'hazel', 'frosty', 'sandy',
];

const NOUNS = [
  'badger', 'beacon', 'bison', 'canyon', 'cedar', 'comet', 'condor', 'coral', 'crane', 'dolphin', 'falcon', 'fern',
  'fjord', 'forest', 'fox', 'glacier', 'harbor', 'hawk', 'heron', 'island', 'kestrel', 'lagoon', 'lantern', 'lark',
  'lynx', 'maple', 'meadow', 'mesa', 'moose', 'nebula', 'oak', 'orchid', 'osprey', 'otter', 'owl', 'panther', 'pebble',
  'pine', 'plover', 'prairie', 'quarry', 'raven', 'reef', 'ridge', 'river', 'robin', 'salmon', 'sparrow', 'spruce',
  'summit', 'swan', 'thistle', 'tiger', 'trail', 'tulip', 'valley', 'walrus', 'willow', 'wolf', 'wren', 'yak', 'zebra',
];

/** A short random word pair users can recognise in the notice and on the pre-reset page. */
export function newCampaignPhrase(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]} ${NOUNS[randomInt(NOUNS.length)]}`;
}

import { formatCount } from './funnel.js';

/** A moment worth marking on the curve (a reminder went out). */
export interface CurveMark {
  at: Date;
  /** A short label of our own, e.g. `R1`: never user-supplied text. */
  label: string;
}

export interface CurvePoint {
  at: Date;
  /** Completed resets up to and including this moment. */
  cumulative: number;
}

const W = 720;
const H = 280;
const PAD = { left: 56, right: 16, top: 16, bottom: 36 };

function timeLabel(at: Date, spanMs: number): string {
  const iso = at.toISOString();
  return spanMs > 36 * 3600_000 ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
}

/**
 * The cumulative completion curve as a self-contained SVG (numbers only, nothing user-supplied), so the page
 * needs no chart library and no JavaScript. The y axis runs to the affected count: the top line is "everyone done".
 */
export function completionChartSvg(points: CurvePoint[], affected: number, start: Date, end: Date, marks: CurveMark[] = []): string {
  const spanMs = Math.max(end.getTime() - start.getTime(), 1);
  const top = Math.max(affected, points.at(-1)?.cumulative ?? 0, 1);
  const x = (at: Date) => PAD.left + ((at.getTime() - start.getTime()) / spanMs) * (W - PAD.left - PAD.right);
  const y = (n: number) => PAD.top + (1 - n / top) * (H - PAD.top - PAD.bottom);
  const f = (n: number) => n.toFixed(1);
  const line = [`M${f(x(start))},${f(y(0))}`, ...points.map((p) => `L${f(x(p.at))},${f(y(p.cumulative))}`)];
  const last = points.at(-1);
  const area = last ? `${line.join(' ')} L${f(x(last.at))},${f(y(0))} Z` : '';
  const grid = [0, 0.5, 1]
    .map((share) => {
      const gy = f(y(top * share));
      return `<line class="grid" x1="${PAD.left}" x2="${W - PAD.right}" y1="${gy}" y2="${gy}"/><text class="axis" x="${PAD.left - 8}" y="${gy}" text-anchor="end" dominant-baseline="middle">${Math.round(share * 100)}%</text>`;
    })
    .join('');
  const markLines = marks
    .filter((m) => m.at >= start && m.at <= end)
    .map((m) => {
      const mx = f(x(m.at));
      return `<line class="mark" x1="${mx}" x2="${mx}" y1="${PAD.top}" y2="${H - PAD.bottom}"/><text class="axis mark-label" x="${mx}" y="${PAD.top + 12}" text-anchor="middle">${m.label}</text>`;
    })
    .join('');
  const done = last?.cumulative ?? 0;
  const summary = `Completed resets over time: ${formatCount(done)} of ${formatCount(affected)} between ${start.toISOString()} and ${end.toISOString()}`;
  return [
    `<svg class="curve" viewBox="0 0 ${W} ${H}" role="img" aria-label="${summary}" preserveAspectRatio="xMidYMid meet">`,
    grid,
    area ? `<path class="area" d="${area}"/>` : '',
    `<path class="line" d="${line.join(' ')}"/>`,
    markLines,
    `<text class="axis" x="${PAD.left}" y="${H - 8}">${timeLabel(start, spanMs)} UTC</text>`,
    `<text class="axis" x="${W - PAD.right}" y="${H - 8}" text-anchor="end">${timeLabel(end, spanMs)} UTC</text>`,
    '</svg>',
  ].join('');
}

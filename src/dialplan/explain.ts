/**
 * Human-readable account of a route decision, for `knude route ALIAS --from ORG|--external`
 * and GET /api/route. Digest passwords of neighbour zones are never printed.
 */
import type { DialPlanRouter, RouteDecision, RouteRequest, RouteTarget } from './router.js';

function target(t: RouteTarget): string {
  return `${t.key} priority ${t.priority}${t.state === 'unknown' ? ' (not probed yet)' : ' (up)'}`;
}

/** One line summing up the outcome. */
export function summarize(d: RouteDecision): string {
  switch (d.action) {
    case 'account':
      return `deliver to account ${d.target} (org "${d.org}")`;
    case 'room':
      return `join meeting room ${d.roomId} (org "${d.org}")`;
    case 'zone':
      return `send to zone ${d.zone} (org "${d.org}")${d.credentials ? ` authenticating as ${d.credentials.username}` : ''}`;
    case 'gateway':
      return 'send to the internet gateway';
    case 'reject':
      return `reject ${d.status}: ${d.reason}`;
  }
}

/**
 * Multi-line text: the question, each step of the rule chain numbered, the result and, for
 * zones and the gateway, the targets in the order they will be tried.
 */
export function explain(d: RouteDecision): string {
  const lines = [`Route "${d.dialled}"${d.destination ? ` (${d.destination.e164 ?? d.destination.uri})` : ''}`];
  const width = Math.max(...d.trace.map((s) => s.step.length));
  d.trace.forEach((s, i) => lines.push(`  ${String(i + 1).padStart(2)}. ${s.step.padEnd(width)}  ${s.detail}`));
  lines.push(`Result: ${summarize(d)}`);
  if (d.action === 'zone' || d.action === 'gateway') {
    d.targets.forEach((t, i) => lines.push(`  try ${i + 1}: ${target(t)}`));
  }
  return lines.join('\n');
}

/** Routes and explains in one go (what the CLI and the HTTP endpoint need). */
export function explainRoute(router: DialPlanRouter, req: RouteRequest): { decision: RouteDecision; text: string } {
  const decision = router.route(req);
  return { decision, text: explain(decision) };
}

import type { DiagnosticEvent } from '../../../lib/types';
import { MetricsRegistry } from 'tomograph/metrics';

/** A registry on a clock that moves only when told to, with its diagnostics collected. */
export function testRegistry(startMs = 1_700_000_000_000): {
  registry: MetricsRegistry;
  events: DiagnosticEvent[];
  clock: { nowMs: number; advance(ms: number): void };
} {
  const clock = {
    nowMs: startMs,
    advance(ms: number): void {
      clock.nowMs += ms;
    },
  };
  const events: DiagnosticEvent[] = [];
  const registry = new MetricsRegistry({ clock: () => clock.nowMs, onDiagnostic: (event) => events.push(event) });
  return { registry, events, clock };
}

'use strict';
/** Reads a callgrind dump of node: its total and the parts V8's GC and optimizing compiler took. */
const fs = require('node:fs');

/**
 * The instructions (event Ir) a callgrind dump counted (its `summary:` line), and the parts spent
 * in V8's mark-compact (major) GC and its optimizing compiler, from the functions' own costs.
 *
 * A major GC comes every few thousand requests whatever the variant (untraced too, on this app),
 * costs ~100 M instructions, and lands in a window or not: it moves a 4096-request count by ~2-4%
 * from one run to the next. The count without it holds still to ~0.5%; the table gives both.
 * The compiler's part says whether the warm-up was long enough (it should be near 0).
 */
function countInstructions(file) {
  const text = fs.readFileSync(file, 'utf8');
  const match = /^(?:summary|totals):\s+(\d+)/m.exec(text);
  if (!match) throw new Error(`no summary line in ${file}`);
  const names = new Map();
  let fn = '';
  let afterCalls = false;
  let majorGc = 0;
  let compiler = 0;
  let minorGc = 0;
  let kind = 0; // 0 other, 1 major GC, 2 compiler, 3 other GC (scavenges, heap bookkeeping): of the current function
  for (const line of text.split('\n')) {
    const c = line.charCodeAt(0);
    if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42) {
      // A cost line: the function's own cost, unless it is the inclusive cost of the call above it.
      if (afterCalls) afterCalls = false;
      else if (kind !== 0) {
        const cost = Number(line.slice(line.indexOf(' ') + 1));
        if (kind === 1) majorGc += cost;
        else if (kind === 2) compiler += cost;
        else minorGc += cost;
      }
    } else if (line.startsWith('fn=')) {
      const m = /^fn=\((\d+)\)(?: (.*))?$/.exec(line);
      if (m[2] !== undefined) names.set(m[1], m[2]);
      fn = names.get(m[1]) ?? '';
      kind = MAJOR_GC.test(fn) && !/Scaveng/.test(fn) ? 1 : /v8::internal::compiler::|v8::internal::maglev::/.test(fn) ? 2 : MINOR_GC.test(fn) ? 3 : 0;
    } else if (line.startsWith('cfn=')) {
      const m = /^cfn=\((\d+)\)(?: (.*))?$/.exec(line);
      if (m[2] !== undefined) names.set(m[1], m[2]);
    } else if (line.startsWith('calls=')) {
      afterCalls = true;
    }
  }
  return { total: Number(match[1]), majorGc, compiler, minorGc };
}

/** The rest of V8's GC: scavenges (young generation) and the heap's own bookkeeping. */
const MINOR_GC = /Scaveng|v8::internal::Heap::|IterateObjectCache|RootScavengeVisitor|SemiSpace|NewSpace|PagedSpace|MemoryAllocator|SlotSet|RememberedSet|GCTracer|LocalHeap|Worklist<|ArrayBufferSweeper|PretenuringHandler|EvacuateInPlace|BodyDescriptorApply<v8::internal::CallIterateBody, v8::internal::Map&, v8::internal::HeapObject&, int&, v8::internal::IterateAndScavenge/;

/** V8 functions that run only for a mark-compact GC (marking, sweeping, evacuation, compaction). */
const MAJOR_GC = /v8::internal::(?:[A-Za-z]*Mark(?:ing|Compact|Bit|er)|IncrementalMarking|ConcurrentMarking|Sweeper|Evacuat|[A-Za-z]*Evacuat|RememberedSetUpdating|LiveObjectRange|RecordMigratedSlot|MarkingBarrier|WeakObjects|MainMarkingVisitor|MarkingVisitorBase|MarkCompactCollector|FullEvacuator|PageEvacuation|ArrayBufferSweeper)|MainMarkingVisitor|RecordMigratedSlotVisitor|MarkingVisitor/;

module.exports = { countInstructions };

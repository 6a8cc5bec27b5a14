/**
 * Deficit round-robin between lanes (one lane per server), inside strict priority classes.
 *
 * Why DRR and not plain round-robin: jobs differ ~10× in cost (a PNG meme vs an animated morph), so
 * "one job each in turn" would still let a server that only sends animations take most of the CPU.
 * Each visit grants a lane one quantum (= the cheapest job's cost); a job starts once its lane's
 * deficit covers the job's cost. Cheap jobs of different servers therefore alternate 1:1, and an
 * expensive job waits as many turns as it costs. An emptied lane forgets its deficit (no hoarding).
 *
 * Between classes, each class's oldest waiting job has a key: when it arrived plus its class's offset
 * (policy.ts, classOffsetMs); the class with the smallest key goes next (ties: the lower number). With
 * cheap-first, a meme's offset is 0 and an animation's a few seconds: memes that arrive within those
 * seconds after an animation still go ahead of it, later ones do not, so an animation cannot starve. By
 * default (no offsets given) the offsets are so large that priorities are strict, as before.
 * Pure data structure: no timers, no I/O — the queues (local and Redis Lua) implement the same rule.
 */
export interface SchedEntry<T> {
  lane: string;
  priority: number;
  /** Cost in quanta (≥ 1); see `costInQuanta`. */
  cost: number;
  /** When it arrived (ms, any clock the caller keeps to): with the class offsets, which class goes next. Default 0. */
  at?: number;
  item: T;
}

/**
 * How far apart strict priority classes are (ms): more than any arrival times differ, so a lower number always
 * goes first. The Redis scripts use the same figure (redis-scripts.ts) for jobs enqueued without an offset.
 */
export const STRICT_CLASS_MS = 1e12;

/** Offsets that make priority classes strict: a lower number always goes first, whatever the arrival times. */
export const STRICT_OFFSETS = (priority: number): number => priority * STRICT_CLASS_MS;

interface Lane<T> {
  key: string;
  jobs: SchedEntry<T>[];
  deficit: number;
}

interface PriorityClass<T> {
  ring: Lane<T>[];
  lanes: Map<string, Lane<T>>;
  cursor: number;
  /** Whether the lane under the cursor already received its quantum for this visit. */
  granted: boolean;
}

export class FairScheduler<T> {
  private classes = new Map<number, PriorityClass<T>>();
  private count = 0;

  /** `offset(priority)`: how much later than its arrival a class's oldest job counts when the classes are compared. */
  constructor(private readonly offset: (priority: number) => number = STRICT_OFFSETS) {}

  get size(): number {
    return this.count;
  }

  push(entry: SchedEntry<T>): void {
    let cls = this.classes.get(entry.priority);
    if (!cls) {
      cls = { ring: [], lanes: new Map(), cursor: 0, granted: false };
      this.classes.set(entry.priority, cls);
    }
    let lane = cls.lanes.get(entry.lane);
    if (!lane) {
      lane = { key: entry.lane, jobs: [], deficit: 0 };
      cls.lanes.set(entry.lane, lane);
      // New lanes join just before the cursor: they get their turn after every lane already waiting.
      if (cls.ring.length === 0) cls.ring.push(lane);
      else {
        cls.ring.splice(cls.cursor, 0, lane);
        cls.cursor += 1;
      }
    }
    lane.jobs.push(entry);
    this.count += 1;
  }

  /** Removes a waiting entry (cancelled before it started). Returns false when it is not waiting. */
  remove(entry: SchedEntry<T>): boolean {
    const cls = this.classes.get(entry.priority);
    const lane = cls?.lanes.get(entry.lane);
    if (!cls || !lane) return false;
    const i = lane.jobs.indexOf(entry);
    if (i < 0) return false;
    lane.jobs.splice(i, 1);
    this.count -= 1;
    if (lane.jobs.length === 0) this.dropLane(cls, lane);
    return true;
  }

  /** The next entry to start, removed from the scheduler. */
  next(): SchedEntry<T> | undefined {
    const cls = this.firstClass();
    if (!cls) return undefined;
    for (;;) {
      const lane = cls.ring[cls.cursor];
      if (!cls.granted) {
        lane.deficit += 1;
        cls.granted = true;
      }
      const head = lane.jobs[0];
      if (head.cost <= lane.deficit) {
        lane.deficit -= head.cost;
        lane.jobs.shift();
        this.count -= 1;
        if (lane.jobs.length === 0) this.dropLane(cls, lane);
        return head;
      }
      cls.cursor = (cls.cursor + 1) % cls.ring.length;
      cls.granted = false;
    }
  }

  /** The order in which the waiting entries would start if nothing else arrived (for queue positions). */
  order(): SchedEntry<T>[] {
    const copy = this.clone();
    const out: SchedEntry<T>[] = [];
    for (let e = copy.next(); e; e = copy.next()) out.push(e);
    return out;
  }

  private clone(): FairScheduler<T> {
    const c = new FairScheduler<T>(this.offset);
    c.count = this.count;
    for (const [p, cls] of this.classes) {
      const ring = cls.ring.map((l) => ({ key: l.key, jobs: l.jobs.slice(), deficit: l.deficit }));
      c.classes.set(p, {
        ring,
        lanes: new Map(ring.map((l) => [l.key, l])),
        cursor: cls.cursor,
        granted: cls.granted,
      });
    }
    return c;
  }

  private firstClass(): PriorityClass<T> | undefined {
    let best: PriorityClass<T> | undefined;
    let bestKey = Infinity;
    let bestP = Infinity;
    for (const [p, cls] of this.classes) {
      if (cls.ring.length === 0) continue;
      // A lane's head is its oldest job: the class's oldest is the earliest head.
      let oldest = Infinity;
      for (const lane of cls.ring) oldest = Math.min(oldest, lane.jobs[0]!.at ?? 0);
      const key = oldest + this.offset(p);
      if (key < bestKey || (key === bestKey && p < bestP)) [best, bestKey, bestP] = [cls, key, p];
    }
    return best;
  }

  private dropLane(cls: PriorityClass<T>, lane: Lane<T>): void {
    const i = cls.ring.indexOf(lane);
    cls.ring.splice(i, 1);
    cls.lanes.delete(lane.key);
    if (i < cls.cursor) cls.cursor -= 1;
    else if (i === cls.cursor) cls.granted = false;
    if (cls.cursor >= cls.ring.length) cls.cursor = 0;
  }
}

/** Job cost in scheduler quanta: its expected service time relative to the cheapest kind's, at least 1. */
export function costInQuanta(serviceMs: number, cheapestMs: number): number {
  return Math.max(1, Math.round(serviceMs / Math.max(1, cheapestMs)));
}

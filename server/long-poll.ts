// Hosts that wait for a newer bundle (GET …/bundles/latest?after=N&wait=S). Each waiter
// is woken when its host's head changes, from this process or (PostgreSQL) another
// replica, or when the store lost touch with the others ("*": everyone looks again);
// it then reads the head itself, so a wake-up never serves anything that is not there.

type Wake = () => void;

/** Waiting requests by host. */
export class LongPolls {
  private readonly byHost = new Map<string, Set<Wake>>();
  private count = 0;

  /** How many requests wait now. */
  get open(): number {
    return this.count;
  }

  /**
   * Registers a waiter now (so a change right after this call is not missed) that
   * ends when host's head may have changed, the time is up, or the signal aborts.
   *
   * @returns done: "woken", "timeout" or "aborted" (the client went away); cancel() ends it early
   */
  wait(host: string, ms: number, signal: AbortSignal): { done: Promise<"woken" | "timeout" | "aborted">; cancel: () => void } {
    let set = this.byHost.get(host);
    if (!set) this.byHost.set(host, (set = new Set()));
    const waiters = set;
    let finish!: (why: "woken" | "timeout" | "aborted") => void;
    let ended = false;
    const done = new Promise<"woken" | "timeout" | "aborted">((resolve) => {
      finish = (why) => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        waiters.delete(wake);
        if (waiters.size === 0 && this.byHost.get(host) === waiters) this.byHost.delete(host);
        this.count--;
        resolve(why);
      };
    });
    const wake: Wake = () => finish("woken");
    const onAbort = () => finish("aborted");
    const timer = setTimeout(() => finish("timeout"), ms);
    waiters.add(wake);
    this.count++;
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    return { done, cancel: () => finish("aborted") };
  }

  /** Wakes the waiters of one host, or of every host for "*". */
  wake(host: string): void {
    const targets = host === "*" ? [...this.byHost.values()] : [this.byHost.get(host)];
    for (const set of targets) if (set) for (const w of [...set]) w();
  }
}

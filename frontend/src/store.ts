/**
 * A small observable store: state is replaced (never mutated) by `update`, which fires `change`.
 * Views read it through `useStore`; only action modules call `update` (events up, data down).
 */

import { useEffect, useState } from "preact/hooks";

export class Store<S extends object> extends EventTarget {
  private current: S;

  constructor(initial: S) {
    super();
    this.current = initial;
  }

  get state(): S {
    return this.current;
  }

  update(patch: Partial<S> | ((state: S) => Partial<S>)): void {
    const delta = typeof patch === "function" ? patch(this.current) : patch;
    this.current = { ...this.current, ...delta };
    this.dispatchEvent(new Event("change"));
  }
}

/** Re-render the calling component whenever the store changes. */
export function useStore<S extends object>(store: Store<S>): S {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const onChange = (): void => setVersion((v) => v + 1);
    store.addEventListener("change", onChange);
    return () => store.removeEventListener("change", onChange);
  }, [store]);
  return store.state;
}

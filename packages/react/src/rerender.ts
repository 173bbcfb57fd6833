import { useReducer } from "react";

/** A function that makes the component render again (stable across renders). */
export function useRerender(): () => void {
  const [, rerender] = useReducer(bump, 0);
  return rerender;
}

function bump(count: number): number {
  return count + 1;
}

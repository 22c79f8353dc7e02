/** Progress of long fetches, reported by the engines and drawn by the CLI (on a TTY only). */
export interface ProgressEvent {
  account: string;
  phase: 'download' | 'headers' | 'bodies';
  folder?: string;
  done: number;
  total: number;
}
export type ProgressFn = (ev: ProgressEvent) => void;

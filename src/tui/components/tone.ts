import type { Tone } from '../format.js';

/** Tone → ink color; undefined keeps the terminal's own foreground. */
export function toneColor(tone: Tone): string | undefined {
  switch (tone) {
    case 'ok':
      return 'green';
    case 'warn':
      return 'yellow';
    case 'bad':
      return 'red';
    case 'dim':
      return 'gray';
    default:
      return undefined;
  }
}

import { useContext, useEffect } from 'react';
import { KeyCaptureContext } from '../deps.js';

/**
 * While `capturing`, the shell's single-letter keys (q, ?, l, 1, 2) are left to the screen,
 * which is reading typed text (a passphrase, a name, a filter). Ctrl-C always quits.
 */
export function useKeyCapture(capturing: boolean): void {
  const setCapture = useContext(KeyCaptureContext);
  useEffect(() => {
    setCapture(capturing);
    return () => setCapture(false);
  }, [capturing, setCapture]);
}

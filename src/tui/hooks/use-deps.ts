import { useContext } from 'react';
import { DepsContext, type TuiDeps } from '../deps.js';

export function useDeps(): TuiDeps {
  const deps = useContext(DepsContext);
  if (!deps) throw new Error('useDeps outside <DepsContext.Provider>');
  return deps;
}

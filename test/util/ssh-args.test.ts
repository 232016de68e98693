import { describe, expect, it } from 'vitest';
import { splitSshArgs } from '../../src/util/ssh-args.js';

/** ssh's own grammar, as sigil ssh needs it: what is an option, the destination, the remote command. */
describe('splitSshArgs', () => {
  it('keeps options in order with their arguments, and finds the destination and the command', () => {
    expect(splitSshArgs(['-p', '2222', '-v', 'build1', 'make', '-j4'])).toEqual({ options: ['-p', '2222', '-v'], destination: 'build1', command: ['make', '-j4'] });
    expect(splitSshArgs(['-oUser=alice', 'build1'])).toEqual({ options: ['-oUser=alice'], destination: 'build1', command: [] });
    expect(splitSshArgs(['-Ap', '22', 'h'])).toEqual({ options: ['-Ap', '22'], destination: 'h', command: [] });
  });

  it('takes options after the destination too, as ssh does, up to the first other word', () => {
    expect(splitSshArgs(['build1', '-p', '22', 'ls', '-l'])).toEqual({ options: ['-p', '22'], destination: 'build1', command: ['ls', '-l'] });
  });

  it('stops at --', () => {
    expect(splitSshArgs(['-v', '--', 'build1', '-p', '22'])).toEqual({ options: ['-v'], destination: 'build1', command: ['-p', '22'] });
    expect(splitSshArgs(['build1', '--', '-x'])).toEqual({ options: [], destination: 'build1', command: ['-x'] });
  });

  it('has no destination when only options are given', () => {
    expect(splitSshArgs(['-p', '22'])).toEqual({ options: ['-p', '22'], destination: undefined, command: [] });
    expect(splitSshArgs(['-p'])).toEqual({ options: ['-p'], destination: undefined, command: [] });
  });
});

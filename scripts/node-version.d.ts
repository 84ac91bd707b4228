/** The one line an older Node.js gets, or undefined when this one will do (./node-version.js). */
export function tooOld(version: string): string | undefined;
